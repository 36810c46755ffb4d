import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { opsFigures } from '../../bench/ops.js';
import { Report } from '../../bench/lib/report.js';
import { processesMentioning } from '../helpers/processes.js';
import { tempDir } from '../helpers/tmp.js';

test('operator tools bench: every entry is exported in both formats and imported back, against HTTP ingest', async () => {
  const root = tempDir();
  const report = new Report();
  await opsFigures(report, {
    entries: 400,
    scratch: (prefix) => mkdtempSync(join(root, prefix)),
    log: () => undefined,
  });
  const figures = report.rows.map((r) => r.figure);
  assert.deepEqual(figures, [
    'HTTP ingest of 400 (same run)',
    `export 400 as jsonl (${figures[1]!.match(/\((\d+) MiB\)/)![1]} MiB)`,
    'import 400 from jsonl, verified',
    `export 400 as framed (${figures[3]!.match(/\((\d+) MiB\)/)![1]} MiB)`,
    'import 400 from framed, verified',
  ]);
  for (const row of report.rows) assert.ok(row.value > 0 && Number.isFinite(row.value), row.figure);
  for (const row of report.rows.filter((r) => r.figure.startsWith('import')))
    assert.ok(row.ratio && row.ratio.value > 0, row.figure);
  // Nothing went missing on the way: no note says a count was off.
  assert.deepEqual(
    report.notes.filter((n) => /expected/.test(n)),
    [],
  );
  assert.deepEqual(processesMentioning(root), []);
});
