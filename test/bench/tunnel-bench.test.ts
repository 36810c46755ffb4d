import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { tunnelFigures } from '../../bench/tunnel.js';
import { Report } from '../../bench/lib/report.js';
import { processesMentioning } from '../helpers/processes.js';

test('tunnel bench: every figure through a relay node, with goals and ratio, and no end left running', async () => {
  const secrets = [randomBytes(64).toString('hex'), randomBytes(64).toString('hex')] as const;
  const report = new Report();
  await tunnelFigures(report, {
    quick: true,
    bulkBytes: 16 * 1024 * 1024,
    echoRounds: 200,
    idleTunnels: 60,
    secrets,
    log: () => undefined,
  });
  const rows = report.rows.filter((r) => r.section === 'tunnel');
  assert.equal(rows.length, 7);
  const find = (start: string) => {
    const row = rows.find((r) => r.figure.startsWith(start));
    assert.ok(row, `a row starting ${start}: ${rows.map((r) => r.figure).join(' | ')}`);
    return row;
  };
  const bulk = find('one bulk stream through a relay node');
  assert.ok(bulk.value > 1 && Number.isFinite(bulk.value), `${bulk.value} MB/s`);
  assert.equal(bulk.goal, '≥ 200');
  assert.ok(bulk.ratio && bulk.ratio.value > 0 && bulk.ratio.value < 10, `${bulk.ratio?.value}`);
  assert.match(bulk.ratio.to, /plain TCP copy through the same relay \(\d+ MB\/s/);
  assert.ok(find('one bulk stream, secure channel on direct').value > 1);
  for (const start of [
    '64-byte echo through the relay and the channel, p50',
    '64-byte echo through the relay and the channel, p99',
  ]) {
    const row = find(start);
    assert.ok(row.value > 0 && row.value < 1e6, `${start}: ${row.value} µs`);
  }
  assert.ok(Number.isFinite(find('round trip the channel adds').value));
  const added = find('round trip relay and channel add');
  assert.ok(Number.isFinite(added.value));
  assert.equal(added.goal, '≤ 1,000');
  const idle = find('60 idle tunnels: relay RSS added');
  assert.ok(Number.isFinite(idle.value) && idle.value < 500, `${idle.value} MiB`);
  assert.match(report.notes.join('\n'), /relay RSS \d+ MiB before the idle tunnels/);
  for (const secret of secrets) assert.deepEqual(processesMentioning(secret), []);
});
