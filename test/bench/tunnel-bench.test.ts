import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { tunnelFigures } from '../../bench/tunnel.js';
import { Report } from '../../bench/lib/report.js';
import { processesMentioning } from '../helpers/processes.js';

test('tunnel bench: bulk and echo figures with their goals and ratio, and no end left running', async () => {
  const secrets = [randomBytes(64).toString('hex'), randomBytes(64).toString('hex')] as const;
  const report = new Report();
  await tunnelFigures(report, {
    quick: true,
    bulkBytes: 16 * 1024 * 1024,
    echoRounds: 200,
    secrets,
    log: () => undefined,
  });
  const rows = report.rows.filter((r) => r.section === 'tunnel');
  const find = (start: string) => {
    const row = rows.find((r) => r.figure.startsWith(start));
    assert.ok(row, `a row starting ${start}: ${rows.map((r) => r.figure).join(' | ')}`);
    return row;
  };
  const bulk = find('one bulk stream');
  assert.ok(bulk.value > 1 && Number.isFinite(bulk.value), `${bulk.value} MB/s`);
  assert.equal(bulk.goal, '≥ 200');
  assert.ok(bulk.ratio && bulk.ratio.value > 0 && bulk.ratio.value < 10, `${bulk.ratio?.value}`);
  assert.match(bulk.ratio.to, /plain TCP copy on the same path \(\d+ MB\/s/);
  for (const start of [
    '64-byte echo round trip through the channel, p50',
    '64-byte echo round trip through the channel, p99',
  ]) {
    const row = find(start);
    assert.ok(row.value > 0 && row.value < 1e6, `${start}: ${row.value} µs`);
  }
  const added = find('round trip the channel adds');
  assert.ok(Number.isFinite(added.value));
  assert.equal(added.goal, '≤ 1,000');
  for (const secret of secrets) assert.deepEqual(processesMentioning(secret), []);
});
