import { test } from 'node:test';
import assert from 'node:assert/strict';
import { measureSubscriptions } from '../../bench/subscriptions.js';
import { processesMentioning } from '../helpers/processes.js';
import { tempDir } from '../helpers/tmp.js';

test('subscriptions bench: every subscriber in other processes gets every entry, timed, and nothing is left running', async () => {
  const scratch = tempDir();
  process.env.P2PCLOUD_BENCH_DIR = scratch;
  try {
    const f = await measureSubscriptions({
      subscribers: 20,
      processes: 2,
      rate: 100,
      seconds: 1,
      log: () => undefined,
    });
    assert.equal(f.puts, 100);
    assert.equal(f.missing, 0, 'every subscriber received every entry');
    assert.ok(f.p50 >= 0 && f.p50 <= f.p99 && f.p99 <= f.max, `${f.p50} ${f.p99} ${f.max}`);
    assert.ok(f.max < 30_000, `max ${f.max} ms`);
    assert.ok(f.achieved > 10, `${f.achieved} puts/s`);
    assert.ok(f.nodeRssBytes > 0 && f.nodeCpuShare > 0);
  } finally {
    delete process.env.P2PCLOUD_BENCH_DIR;
  }
  assert.deepEqual(processesMentioning(scratch), []);
});
