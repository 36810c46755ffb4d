/**
 * Jobs on a real node: a module and inputs stored as entries, a job submitted over HTTP, and a
 * receipt that verifies with the node's key and a result that opens with the requester's.
 * Failures of the module are receipts too; a runaway job does not hold up another.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { generateIdentity, generateTableKey } from '../../src/keys/keys.js';
import { openResult, verifyReceipt } from '../../src/compute/index.js';
import { ComputePlugin } from '../../src/node/compute/plugin.js';
import { startTestNode } from '../helpers/nodes.js';
import { errorOf, health, request } from '../helpers/http.js';
import {
  ECHO,
  jobInfo,
  LIMITS,
  newJob,
  SPIN,
  storeBlob,
  submit,
  TRAP,
  waitDone,
} from '../helpers/compute-jobs.js';

const owner = { identity: generateIdentity(), table: generateTableKey() };
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function computeNode(compute: Record<string, unknown> = {}) {
  const node = await startTestNode(
    { compute: { enabled: true, workers: 2, queue: 4, ...compute } },
    [new ComputePlugin()],
  );
  return { node, info: await jobInfo(node.url) };
}

test('a job runs: its receipt verifies with the node key and its output opens for the requester', async () => {
  const { node, info } = await computeNode();
  const module = await storeBlob(node.url, ECHO, owner);
  // Two inputs, one of them several chunks and padded: fd 0 is their concatenation.
  const big = Buffer.alloc(150 * 1024, 'ab');
  const inputs = [
    await storeBlob(node.url, Buffer.from('hello '), owner),
    await storeBlob(node.url, big, owner, true),
  ];
  assert.equal(inputs[1]!.blob.entries.length, 3);
  const job = newJob(info, owner.identity, module, inputs);
  const submitted = await submit(node.url, job.request);
  assert.equal(submitted.status, 202, submitted.body.toString());
  assert.deepEqual(submitted.json, { id: job.body.id, hash: job.hash, status: 'queued' });

  const answer = await waitDone(node.url, job.body.id);
  assert.equal(answer.status, 'done');
  const verified = verifyReceipt(answer.receipt, info.node);
  assert.ok(verified, 'the receipt verifies with the node key');
  const { body } = verified;
  assert.equal(body.job, job.hash);
  assert.equal(body.job_id, job.body.id);
  assert.equal(body.status, 'ok', body.message ?? '');
  assert.equal(body.module, sha(ECHO));
  assert.deepEqual(body.inputs, [sha(Buffer.from('hello ')), sha(big)]);
  assert.equal(body.fuel_limit, LIMITS.fuel);
  assert.ok(body.fuel > 0 && body.fuel < LIMITS.fuel);
  assert.equal(body.bytes_read, 6 + big.length);
  assert.equal(body.bytes_written, 6 + big.length);
  assert.equal(body.attestation, null);
  const output = openResult(
    'output',
    owner.identity.box,
    verified.hash,
    Buffer.from(answer.output!, 'base64url'),
  );
  assert.ok(output, 'the output opens with the requester key');
  assert.ok(output.equals(Buffer.concat([Buffer.from('hello '), big])));
  assert.equal(body.output, sha(output));
  const log = openResult(
    'log',
    owner.identity.box,
    verified.hash,
    Buffer.from(answer.log!, 'base64url'),
  );
  assert.equal(log?.toString(), 'echoed\n');
  // Nobody else opens it.
  assert.equal(
    openResult(
      'output',
      generateIdentity().box,
      verified.hash,
      Buffer.from(answer.output!, 'base64url'),
    ),
    undefined,
  );

  const status = (await health(node.url)) as unknown as {
    compute: { jobs: { done: number }; fuel: number };
  };
  assert.equal(status.compute.jobs.done, 1);
  assert.equal(status.compute.fuel, body.fuel);
  const metrics = await request(node.url, '/metrics');
  assert.match(metrics.body.toString(), /p2pcloud_compute_jobs\{state="done"\} 1/);
  assert.match(metrics.body.toString(), new RegExp(`p2pcloud_compute_fuel_total ${body.fuel}`));
  assert.match(metrics.body.toString(), /p2pcloud_compute_receipts_total\{status="ok"\} 1/);
});

test('a module that traps, runs out of fuel or is not Wasm still ends with a signed receipt', async () => {
  const { node, info } = await computeNode();
  const cases = [
    { bytes: TRAP, status: 'trap', limits: LIMITS },
    { bytes: SPIN, status: 'out_of_fuel', limits: { ...LIMITS, fuel: 100_000 } },
    { bytes: Buffer.from('not a wasm module at all'), status: 'module_invalid', limits: LIMITS },
  ];
  for (const c of cases) {
    const module = await storeBlob(node.url, c.bytes, owner);
    const job = newJob(info, owner.identity, module, [], { limits: c.limits });
    const submitted = await submit(node.url, job.request);
    assert.equal(submitted.status, 202, submitted.body.toString());
    const answer = await waitDone(node.url, job.body.id);
    const verified = verifyReceipt(answer.receipt, info.node);
    assert.ok(verified, c.status);
    assert.equal(verified.body.status, c.status, verified.body.message ?? '');
    assert.equal(verified.body.output, null);
    assert.equal(answer.output, undefined);
    assert.ok(verified.body.message, 'a failure says why');
    if (c.status === 'out_of_fuel') assert.equal(verified.body.fuel, 100_000);
  }
});

test('a runaway job does not hold up another, and ends at its wall-clock limit', async () => {
  const { node, info } = await computeNode({ max: { fuel: Number.MAX_SAFE_INTEGER } });
  const spin = await storeBlob(node.url, SPIN, owner);
  const echo = await storeBlob(node.url, ECHO, owner);
  const input = await storeBlob(node.url, Buffer.from('quick'), owner);
  const runaway = newJob(info, owner.identity, spin, [], {
    limits: { ...LIMITS, fuel: Number.MAX_SAFE_INTEGER, wall_ms: 4000 },
  });
  const started = Date.now();
  assert.equal((await submit(node.url, runaway.request)).status, 202);
  const quick = newJob(info, owner.identity, echo, [input]);
  assert.equal((await submit(node.url, quick.request)).status, 202);
  const quickAnswer = await waitDone(node.url, quick.body.id);
  const quickMs = Date.now() - started;
  assert.equal(verifyReceipt(quickAnswer.receipt, info.node)?.body.status, 'ok');
  const running = await request(node.url, `/jobs/${runaway.body.id}`);
  assert.equal(
    (running.json as { status: string }).status,
    'running',
    `quick job took ${quickMs} ms`,
  );
  const runawayAnswer = await waitDone(node.url, runaway.body.id);
  const verified = verifyReceipt(runawayAnswer.receipt, info.node);
  assert.equal(verified?.body.status, 'wall_limit');
  assert.ok(Date.now() - started >= 4000);
});

test('the job list is for the operator only and holds no keys or outputs', async () => {
  const token = 'operator-token-for-jobs';
  const { node, info } = await computeNode({});
  const module = await storeBlob(node.url, ECHO, owner);
  const input = await storeBlob(node.url, Buffer.from('secret words'), owner);
  const job = newJob(info, owner.identity, module, [input]);
  await submit(node.url, job.request);
  await waitDone(node.url, job.body.id);
  const list = await request(node.url, '/jobs');
  assert.equal(list.status, 200);
  const jobs = (list.json as { jobs: Record<string, unknown>[] }).jobs;
  assert.equal(jobs.length, 1);
  assert.equal(jobs[0]!.id, job.body.id);
  assert.equal(jobs[0]!.status, 'done');
  assert.equal(jobs[0]!.outcome, 'ok');
  assert.equal(typeof jobs[0]!.fuel, 'number');
  assert.deepEqual(Object.keys(jobs[0]!).sort(), [
    'finished_at',
    'fuel',
    'fuel_limit',
    'id',
    'module',
    'outcome',
    'reason',
    'received_at',
    'started_at',
    'status',
    'wall_ms',
  ]);
  const text = list.body.toString();
  for (const key of [...module.keys, ...input.keys])
    assert.ok(!text.includes(key.key.toString('hex')));
  assert.ok(!text.includes('secret words'));

  // With a metrics token, even loopback must show it.
  const guarded = await startTestNode({ compute: { enabled: true }, metrics: { token } }, [
    new ComputePlugin(),
  ]);
  const refused = await request(guarded.url, '/jobs');
  assert.equal(refused.status, 403);
  assert.equal(errorOf(refused).code, 'forbidden');
  const allowed = await request(guarded.url, '/jobs', {
    headers: { authorization: `Bearer ${token}` },
  });
  assert.equal(allowed.status, 200);
});

test('a job that expires while it waits is not run: failed, reason expired', async () => {
  const { node, info } = await computeNode({ workers: 1, max: { fuel: Number.MAX_SAFE_INTEGER } });
  const spin = await storeBlob(node.url, SPIN, owner);
  const echo = await storeBlob(node.url, ECHO, owner);
  const blocker = newJob(info, owner.identity, spin, [], {
    limits: { ...LIMITS, fuel: Number.MAX_SAFE_INTEGER, wall_ms: 3000 },
  });
  assert.equal((await submit(node.url, blocker.request)).status, 202);
  const late = newJob(info, owner.identity, echo, [], { expiresAt: Date.now() + 1500 });
  assert.equal((await submit(node.url, late.request)).status, 202);
  const answer = await waitDone(node.url, late.body.id);
  assert.deepEqual(answer, { id: late.body.id, status: 'failed', reason: 'expired' });
  assert.equal(
    verifyReceipt((await waitDone(node.url, blocker.body.id)).receipt, info.node)?.body.status,
    'wall_limit',
  );
});
