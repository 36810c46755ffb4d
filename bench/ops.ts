/**
 * The operator tools (docs/operations.md): `p2pcloud export` of a node's store, and `p2pcloud
 * import` of that export into an empty data directory, each as the command an operator runs
 * (a process of its own, start-up included), against the same entries put through HTTP to a
 * node in the same run.
 */
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixtureFile } from './fixtures.js';
import { ingest } from './ingest.js';
import { startBenchNode } from './lib/node-process.js';
import type { Report } from './lib/report.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const MB = 1024 * 1024;

/** Runs `p2pcloud ARGS`; its JSON answer and how long it took, start to exit. */
async function timed(
  args: readonly string[],
): Promise<{ seconds: number; answer: Record<string, unknown> }> {
  const started = performance.now();
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`p2pcloud ${args.join(' ')} exited ${code}: ${stderr}`);
  return { seconds, answer: JSON.parse(stdout.trim()) as Record<string, unknown> };
}

export async function opsFigures(
  report: Report,
  options: { entries: number; scratch: (prefix: string) => string; log: (line: string) => void },
): Promise<void> {
  const { entries, scratch, log } = options;
  const size = entries.toLocaleString('en-US');
  const section = 'operator tools';
  const file = await fixtureFile(entries, 'a', log);

  log(`  ops: ${size} entries through HTTP into a node…`);
  const node = await startBenchNode([], scratch('ops-node-'));
  let httpRate: number;
  try {
    httpRate = (await ingest(node, file, { batch: 2000, clients: 4, limit: entries, log })).rate;
  } finally {
    await node.stop();
  }
  report.add({ section, figure: `HTTP ingest of ${size} (same run)`, value: httpRate, unit: '/s' });

  // What every command pays before it reads a byte: the rates below include it.
  const startup = (await timed(['stats', '--data', node.dataDir, '--json'])).seconds;
  report.note(`operator tools: a command starts and answers stats in ${startup.toFixed(2)} s`);

  const out = scratch('ops-files-');
  for (const format of ['jsonl', 'framed'] as const) {
    log(`  ops: export ${format}…`);
    const path = join(out, `export.${format}`);
    const exported = await timed([
      'export',
      '--data',
      node.dataDir,
      '--format',
      format,
      '--out',
      path,
      '--json',
    ]);
    if (exported.answer.entries !== entries)
      report.note(
        `export ${format} wrote ${String(exported.answer.entries)} entries, expected ${entries}`,
      );
    const rate = entries / exported.seconds;
    report.add({
      section,
      figure: `export ${size} as ${format} (${(statSync(path).size / MB).toFixed(0)} MiB)`,
      value: rate,
      unit: '/s',
      goal: '≥ 100,000',
      met: rate >= 100_000,
    });

    log(`  ops: import ${format}…`);
    const imported = await timed([
      'import',
      path,
      '--data',
      scratch('ops-import-'),
      '--min-pow',
      '0',
      '--json',
    ]);
    if (imported.answer.stored !== entries)
      report.note(
        `import ${format} stored ${String(imported.answer.stored)} entries, expected ${entries}`,
      );
    const importRate = entries / imported.seconds;
    report.add({
      section,
      figure: `import ${size} from ${format}, verified`,
      value: importRate,
      unit: '/s',
      goal: '≥ HTTP ingest',
      met: importRate >= httpRate,
      ratio: { value: importRate / httpRate, to: 'HTTP ingest in the same run' },
    });
  }
}
