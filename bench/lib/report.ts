/** The benchmark table: one row per figure, printed aligned and saved as JSON. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export interface Row {
  readonly section: string;
  readonly figure: string;
  readonly value: number;
  readonly unit: string;
  /** The goal as text (e.g. "≥ 15000"), if the figure has one. */
  readonly goal?: string;
  /** Whether the goal is met. */
  readonly met?: boolean;
  /** Ratio to the machine's ceiling or to a peer measured in the same run, with what it is. */
  readonly ratio?: { value: number; to: string };
}

export class Report {
  readonly rows: Row[] = [];
  readonly notes: string[] = [];

  add(row: Row): void {
    this.rows.push(row);
    const ratio = row.ratio ? `  (${row.ratio.value.toFixed(2)}× ${row.ratio.to})` : '';
    const goal = row.goal
      ? `  goal ${row.goal}${row.met === undefined ? '' : row.met ? ' ✓' : ' ✗'}`
      : '';
    process.stderr.write(
      `  ${row.section} · ${row.figure}: ${format(row.value)} ${row.unit}${goal}${ratio}\n`,
    );
  }

  note(text: string): void {
    this.notes.push(text);
    process.stderr.write(`  note: ${text}\n`);
  }

  print(): void {
    const header = ['section', 'figure', 'value', 'unit', 'goal', 'met', 'ratio'];
    const lines = this.rows.map((r) => [
      r.section,
      r.figure,
      format(r.value),
      r.unit,
      r.goal ?? '',
      r.met === undefined ? '' : r.met ? 'yes' : 'NO',
      r.ratio ? `${r.ratio.value.toFixed(2)}× ${r.ratio.to}` : '',
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
    const row = (cells: string[]): string =>
      cells
        .map((c, i) => (i === 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd();
    console.log(row(header));
    console.log(widths.map((w) => '-'.repeat(w)).join('  '));
    for (const line of lines) console.log(row(line));
    for (const note of this.notes) console.log(`* ${note}`);
  }

  save(meta: Record<string, unknown>): string {
    const dir = join(fileURLToPath(new URL('../../../bench/', import.meta.url)), 'results');
    mkdirSync(dir, { recursive: true });
    const path = join(dir, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    const body = JSON.stringify({ ...meta, rows: this.rows, notes: this.notes }, null, 2);
    writeFileSync(path, body);
    writeFileSync(join(dir, 'latest.json'), body);
    return path;
  }
}

export function format(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString('en-US');
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(3);
}
