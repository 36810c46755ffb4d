import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { filesFigures } from '../../bench/files.js';
import { Report } from '../../bench/lib/report.js';
import { processesMentioning } from '../helpers/processes.js';
import { tempDir } from '../helpers/tmp.js';

test('files bench: every figure of both sides, with the ratios and the dedup goals, and no process left', async () => {
  const root = tempDir();
  const report = new Report();
  await filesFigures(report, {
    quick: true,
    bigBytes: 6 * 1024 * 1024,
    smallFiles: 120,
    scratch: (prefix) => mkdtempSync(join(root, prefix)),
    log: () => undefined,
  });
  const rows = report.rows.filter((r) => r.section === 'files');
  const find = (start: string) => {
    const row = rows.find((r) => r.figure.startsWith(start));
    assert.ok(row, `a row starting ${start}: ${rows.map((r) => r.figure).join(' | ')}`);
    return row;
  };
  for (const start of ['put a 6 MiB file', 'get it back', 'copy node 1', 'put 120 files']) {
    const row = find(start);
    assert.ok(row.value > 0 && Number.isFinite(row.value), `${start}: ${row.value}`);
    assert.ok(row.ratio && row.ratio.value > 0, `${start} has a ratio to Hyperdrive`);
    assert.match(row.ratio.to, /Hyperdrive/);
  }
  assert.ok(find("another person's gateway").value > 0);
  const rssRows = rows.filter((r) => r.figure.includes('peak RSS'));
  assert.equal(rssRows.length, 5);
  for (const row of rssRows) assert.ok(row.value > 20 && row.value < 2000, `${row.value} MiB`);
  const again = find('put the unchanged');
  assert.equal(again.met, true, `sent ${again.value} B again`);
  assert.ok(again.value < 1e6);
  assert.match(again.ratio?.to ?? '', /Hyperdrive with dedup \([\d,]+ B appended\)/);
  const edited = find('put it with 1 byte changed');
  assert.match(edited.ratio?.to ?? '', /Hyperdrive with dedup \([\d,]+ B appended\)/);
  assert.equal(edited.met, true, `sent ${edited.value} B for one byte`);
  // The changed chunk at least went out again.
  assert.ok(edited.value > 16_384, `sent ${edited.value} B`);
  assert.deepEqual(processesMentioning(root), []);
});
