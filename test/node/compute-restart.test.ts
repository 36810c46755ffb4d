/**
 * A node restarted on the same data directory keeps its compute key and its finished jobs
 * (receipts and sealed results), and marks the jobs it left queued or running as failed with
 * the reason node_restarted: their keys lived in memory only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { generateIdentity, generateTableKey } from '../../src/keys/keys.js';
import { openResult, verifyReceipt } from '../../src/compute/index.js';
import { ComputePlugin } from '../../src/node/compute/plugin.js';
import { startTestNode } from '../helpers/nodes.js';
import { errorOf, request } from '../helpers/http.js';
import { tempDir } from '../helpers/tmp.js';
import { jobState } from '../../src/client/compute/node-api.js';
import { P2PError } from '../../src/errors.js';
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

test('a restarted node keeps finished jobs and marks unfinished ones node_restarted', async () => {
  const dataDir = tempDir();
  const config = {
    data_dir: dataDir,
    compute: { enabled: true, workers: 1, queue: 2, max: { fuel: Number.MAX_SAFE_INTEGER } },
  };
  const first = await startTestNode(config, [new ComputePlugin()]);
  const info = await jobInfo(first.url);
  const keyFile = statSync(join(dataDir, 'compute-key.json'));
  assert.equal(keyFile.mode & 0o777, 0o600);
  const echo = await storeBlob(first.url, ECHO, owner);
  const spin = await storeBlob(first.url, SPIN, owner);
  const input = await storeBlob(first.url, Buffer.from('kept across restarts'), owner);
  const done = newJob(info, owner.identity, echo, [input]);
  assert.equal((await submit(first.url, done.request)).status, 202);
  const before = await waitDone(first.url, done.body.id);
  const long = { ...LIMITS, fuel: Number.MAX_SAFE_INTEGER, wall_ms: 10_000 };
  const running = newJob(info, owner.identity, spin, [], { limits: long });
  const queued = newJob(info, owner.identity, spin, [], { limits: long });
  assert.equal((await submit(first.url, running.request)).status, 202);
  assert.equal((await submit(first.url, queued.request)).status, 202);
  // GET /jobs/:id?wait waits for the end; the start is polled for (bounded).
  for (let i = 0; ; i++) {
    const seen = await request(first.url, `/jobs/${running.body.id}`);
    if ((seen.json as { status: string }).status === 'running') break;
    assert.ok(i < 100, 'the job started within 10 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  await first.close();

  const second = await startTestNode(config, [new ComputePlugin()]);
  assert.deepEqual(await jobInfo(second.url), info, 'the same compute keys');
  const after = await request(second.url, `/jobs/${done.body.id}`);
  assert.equal(after.status, 200);
  assert.deepEqual(after.json, before);
  const verified = verifyReceipt((after.json as { receipt: unknown }).receipt, info.node)!;
  const output = openResult(
    'output',
    owner.identity.box,
    verified.hash,
    Buffer.from((after.json as { output: string }).output, 'base64url'),
  );
  assert.equal(output?.toString(), 'kept across restarts');
  for (const job of [running, queued]) {
    const answer = await request(second.url, `/jobs/${job.body.id}`);
    assert.deepEqual(answer.json, { id: job.body.id, status: 'failed', reason: 'node_restarted' });
    // The requester's client counts it as a failure of that node, not as a lie.
    await assert.rejects(jobState(second.url, job.body.id, 0), (error: unknown) => {
      assert.ok(error instanceof P2PError);
      assert.equal(error.code, 'job_failed');
      assert.match(error.message, /node_restarted/);
      return true;
    });
  }
  // The ids stay taken: a restarted node does not run a job twice.
  const again = await submit(second.url, running.request);
  assert.equal(again.status, 409);
  assert.equal(errorOf(again).code, 'job_replayed');
});
