import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { spreadFigures } from '../../bench/spread.js';
import { Report } from '../../bench/lib/report.js';
import { processesMentioning } from '../helpers/processes.js';
import { tempDir } from '../helpers/tmp.js';

test('spread bench: encode rate, a file spread 10-of-16 and restored from 10, client RSS, no node left', async () => {
  const scratch = tempDir('p2pcloud-spread-bench-');
  const report = new Report();
  await spreadFigures(report, {
    quick: true,
    bytes: 4 * 1024 * 1024,
    scratch: (prefix) => mkdtempSync(join(scratch, prefix)),
    log: () => undefined,
  });
  const rows = report.rows.filter((r) => r.section === 'spread');
  assert.equal(rows.length, 8, rows.map((r) => r.figure).join(' | '));
  const find = (start: string) => {
    const row = rows.find((r) => r.figure.startsWith(start));
    assert.ok(row, `a row starting ${start}`);
    return row;
  };
  const encode = find('Reed–Solomon encode 10-of-16');
  assert.ok(encode.value > 10 && Number.isFinite(encode.value), `${encode.value} MB/s`);
  assert.equal(encode.goal, '≥ 500');
  const same = find('restored byte for byte');
  assert.equal(same.value, 1);
  assert.equal(same.met, true);
  for (const start of ['spread 4 MiB 10-of-16', 'restore 4 MiB from the 10 providers left']) {
    const row = find(start);
    assert.ok(row.value >= 0 && Number.isFinite(row.value), `${start}: ${row.value}`);
  }
  for (const what of ['spread', 'restore']) {
    const rss = find(`client peak RSS during the ${what}`);
    assert.ok(rss.value > 20 && rss.value < 2048, `${what}: ${rss.value} MiB`);
    assert.equal(rss.goal, '≤ 300');
  }
  for (const what of ['spread', 'restore']) {
    const cpu = find(`client CPU time of the ${what}, per MB`);
    assert.ok(cpu.value > 0 && Number.isFinite(cpu.value), `${what}: ${cpu.value} ms/MB`);
  }
  assert.deepEqual(processesMentioning(scratch), [], 'no node process is left running');
});
