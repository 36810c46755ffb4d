/**
 * Compute in `p2pcloud node` processes: turned on by the config file, a job runs in the real
 * process; a node killed (SIGKILL) while a job runs comes back with that job marked
 * node_restarted and its finished ones intact; a node without compute says so; a bad compute
 * setting stops the start with one readable line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateIdentity, generateTableKey } from '../../src/keys/keys.js';
import { verifyReceipt } from '../../src/compute/index.js';
import { spawnNode } from '../helpers/nodes.js';
import { runCli } from '../helpers/spawn.js';
import { errorOf, request } from '../helpers/http.js';
import { tempDir } from '../helpers/tmp.js';
import {
  ECHO,
  jobInfo,
  LIMITS,
  newJob,
  SPIN,
  storeBlob,
  submit,
  waitDone,
} from '../helpers/compute-jobs.js';

const owner = { identity: generateIdentity(), table: generateTableKey() };

function configFile(compute: Record<string, unknown>): string {
  const path = join(tempDir(), 'node.json');
  writeFileSync(path, JSON.stringify({ min_pow_bits: 0, compute }));
  return path;
}

test('a node process runs jobs, and one killed mid-job marks it node_restarted', async () => {
  const dataDir = tempDir();
  const config = configFile({ enabled: true, workers: 1 });
  const first = await spawnNode(['--config', config], dataDir);
  const info = await jobInfo(first.url);
  const echo = await storeBlob(first.url, ECHO, owner);
  const spin = await storeBlob(first.url, SPIN, owner);
  const input = await storeBlob(first.url, Buffer.from('in a real process'), owner);
  const done = newJob(info, owner.identity, echo, [input]);
  assert.equal((await submit(first.url, done.request)).status, 202);
  const answer = await waitDone(first.url, done.body.id);
  assert.equal(verifyReceipt(answer.receipt, info.node)?.body.status, 'ok');
  const killed = newJob(info, owner.identity, spin, [], {
    limits: { ...LIMITS, fuel: 10_000_000_000, wall_ms: 30_000 },
  });
  assert.equal((await submit(first.url, killed.request)).status, 202);
  for (let i = 0; ; i++) {
    const seen = await request(first.url, `/jobs/${killed.body.id}`);
    if ((seen.json as { status: string }).status === 'running') break;
    assert.ok(i < 100, 'the job started within 10 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  await first.kill9();

  const second = await spawnNode(['--config', config], dataDir);
  assert.deepEqual(await jobInfo(second.url), info);
  assert.deepEqual((await request(second.url, `/jobs/${done.body.id}`)).json, answer);
  assert.deepEqual((await request(second.url, `/jobs/${killed.body.id}`)).json, {
    id: killed.body.id,
    status: 'failed',
    reason: 'node_restarted',
  });
  await second.stop();
});

test('a node process without compute answers compute_disabled', async () => {
  const node = await spawnNode([]);
  const answer = await request(node.url, '/jobs/info');
  assert.equal(answer.status, 404);
  assert.equal(errorOf(answer).code, 'compute_disabled');
  await node.stop();
});

test('a bad compute setting stops the start with one line naming it', async () => {
  const result = await runCli([
    'node',
    '--port',
    '0',
    '--data',
    tempDir(),
    '--config',
    configFile({ enabled: true, workers: 0 }),
  ]);
  assert.notEqual(result.code, 0);
  assert.match(result.stderr, /^p2pcloud: .*compute\.workers/m);
});
