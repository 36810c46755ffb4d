/**
 * Every refusal of POST /jobs on a real node, each with the stable code and status of
 * docs/protocol.md §16, and nothing queued for a refused job.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateBoxKeyPair } from '../../src/crypto/x25519.js';
import { generateSigningKeyPair } from '../../src/crypto/ed25519.js';
import { generateIdentity, generateTableKey, tableText } from '../../src/keys/keys.js';
import { sealGrant, signJobRequest } from '../../src/compute/index.js';
import { ComputePlugin } from '../../src/node/compute/plugin.js';
import { startTestNode } from '../helpers/nodes.js';
import { errorOf, request, type TestResponse } from '../helpers/http.js';
import {
  ECHO,
  jobInfo,
  LIMITS,
  makeBlob,
  newJob,
  SPIN,
  storeBlob,
  submit,
  waitDone,
} from '../helpers/compute-jobs.js';

const owner = { identity: generateIdentity(), table: generateTableKey() };

function refused(response: TestResponse, status: number, code: string, message?: RegExp): void {
  assert.equal(response.status, status, response.body.toString());
  const error = errorOf(response);
  assert.equal(error.code, code);
  assert.equal(typeof error.message, 'string');
  if (message) assert.match(error.message as string, message);
}

const allowedTable = generateTableKey();
const node = await startTestNode(
  {
    compute: {
      enabled: true,
      workers: 1,
      queue: 0,
      tables: [tableText(owner.table), tableText(allowedTable)],
      max: { fuel: 1_000_000_000, memory_pages: 64, wall_ms: 20_000, output_bytes: 1 << 20 },
      max_input_bytes: 64 * 1024,
    },
  },
  [new ComputePlugin()],
);
const info = await jobInfo(node.url);
const module = await storeBlob(node.url, ECHO, owner);
const input = await storeBlob(node.url, Buffer.from('some words'), owner);

test('GET /jobs/info names the node keys, its limits and tables', () => {
  assert.match(info.node, /^[0-9a-f]{64}$/);
  assert.match(info.box, /^[0-9a-f]{64}$/);
  const full = info as unknown as Record<string, unknown>;
  assert.equal(full.v, 1);
  assert.deepEqual(full.limits, {
    memory_pages: 64,
    fuel: 1_000_000_000,
    wall_ms: 20_000,
    output_bytes: 1 << 20,
    max_module_bytes: 4 * 1024 * 1024,
    max_input_bytes: 64 * 1024,
  });
  assert.deepEqual(
    new Set(full.tables as string[]),
    new Set([owner.table, allowedTable].map((t) => t.signing.publicKey.toString('hex'))),
  );
  assert.equal(full.attestation, null);
});

test('a forged or altered signature: bad_signature', async () => {
  const job = newJob(info, owner.identity, module, [input]);
  const altered = { ...job.request, job: job.request.job.replace('"_start"', '"main"') };
  refused(await submit(node.url, altered), 422, 'bad_signature');
  // Signed by someone else than the requester it names.
  const forger = generateIdentity();
  const forged = signJobRequest(job.request.job, job.sealedGrant, forger).request;
  refused(await submit(node.url, forged), 422, 'bad_signature');
});

test('a malformed request or body: job_invalid', async () => {
  refused(await submit(node.url, { type: 'p2pcloud/job', v: 1 }), 400, 'job_invalid');
  refused(await submit(node.url, '[]'), 400, 'job_invalid');
  const job = newJob(info, owner.identity, module, [input]);
  refused(await submit(node.url, { ...job.request, v: 2 }), 400, 'job_invalid');
  const tooFar = newJob(info, owner.identity, module, [input], {
    expiresAt: Date.now() + 48 * 3600_000,
  });
  refused(await submit(node.url, tooFar.request), 400, 'job_invalid', /24 hours/);
});

test('a grant for another node or another job: grant_invalid', async () => {
  // Sealed to another node's box key: it does not open here.
  const other = { node: info.node, box: generateBoxKeyPair().publicKey.toString('hex') };
  refused(
    await submit(node.url, newJob(other, owner.identity, module, [input]).request),
    400,
    'grant_invalid',
  );
  // A job naming another node, sealed to this one.
  const otherNode = generateSigningKeyPair().publicKey.toString('hex');
  refused(
    await submit(
      node.url,
      newJob({ ...info, node: otherNode }, owner.identity, module, [input]).request,
    ),
    400,
    'grant_invalid',
    /another node/,
  );
  // The grant of one job under the text of another.
  const job = newJob(info, owner.identity, module, [input]);
  const grant = sealGrant(Buffer.from(info.box, 'hex'), job.request.job, {
    job: '0'.repeat(32),
    node: info.node,
    expires_at: job.body.expires_at,
    keys: [...module.keys, ...input.keys],
  });
  refused(
    await submit(node.url, signJobRequest(job.request.job, grant, owner.identity).request),
    400,
    'grant_invalid',
    /another job/,
  );
  // A key that does not open its entry.
  const wrongKey = { ...input.keys[0]!, key: Buffer.alloc(32, 7) };
  const bad = newJob(info, owner.identity, module, [input], { keys: [...module.keys, wrongKey] });
  refused(await submit(node.url, bad.request), 400, 'grant_invalid', /does not open/);
  // Keys for entries the job does not read.
  const extra = makeBlob(Buffer.from('unrelated'), owner);
  const more = newJob(info, owner.identity, module, [input], {
    keys: [...module.keys, ...input.keys, ...extra.keys],
  });
  refused(await submit(node.url, more.request), 400, 'grant_invalid', /does not read/);
});

test('a blob that its chunks do not make: job_invalid, read no further than its size allows', async () => {
  const chunk = await storeBlob(node.url, Buffer.alloc(60 * 1024, 3), owner);
  // A blob claiming 1 byte over a 60 KiB entry: refused on the entry's size, before opening it.
  const small = { ...chunk, blob: { ...chunk.blob, size: 1 } };
  refused(
    await submit(node.url, newJob(info, owner.identity, module, [small]).request),
    400,
    'job_invalid',
    /larger than 1 bytes allow/,
  );
  const wrongHash = { ...input, blob: { ...input.blob, sha256: 'ab'.repeat(32) } };
  refused(
    await submit(node.url, newJob(info, owner.identity, module, [wrongHash]).request),
    400,
    'job_invalid',
    /SHA-256/,
  );
});

test('a request body over the bound: body_too_large', async () => {
  const body = JSON.stringify({ type: 'p2pcloud/job', pad: 'x'.repeat(5 * 1024 * 1024) });
  refused(await submit(node.url, body), 413, 'body_too_large');
});

test('an expired job: grant_expired', async () => {
  const job = newJob(info, owner.identity, module, [input], {
    createdAt: Date.now() - 60_000,
    expiresAt: Date.now() - 1000,
  });
  refused(await submit(node.url, job.request), 400, 'grant_expired');
});

test('an input whose key is not in the grant: input_not_granted', async () => {
  const job = newJob(info, owner.identity, module, [input], { keys: module.keys });
  refused(await submit(node.url, job.request), 400, 'input_not_granted');
});

test('an input not stored on the node: input_missing', async () => {
  const absent = makeBlob(Buffer.from('never stored'), owner);
  const job = newJob(info, owner.identity, module, [absent]);
  refused(await submit(node.url, job.request), 404, 'input_missing');
});

test('an input in a table the node runs no jobs over: table_not_allowed', async () => {
  const elsewhere = { identity: owner.identity, table: generateTableKey() };
  const outside = await storeBlob(node.url, Buffer.from('other table'), elsewhere);
  const job = newJob(info, owner.identity, module, [outside]);
  refused(await submit(node.url, job.request), 403, 'table_not_allowed');
});

test("limits above the node's: limits_exceeded", async () => {
  for (const limits of [
    { ...LIMITS, fuel: 1_000_000_001 },
    { ...LIMITS, memory_pages: 65 },
    { ...LIMITS, wall_ms: 20_001 },
    { ...LIMITS, output_bytes: (1 << 20) + 1 },
  ]) {
    const job = newJob(info, owner.identity, module, [input], { limits });
    refused(await submit(node.url, job.request), 400, 'limits_exceeded');
  }
  const big = await storeBlob(node.url, Buffer.alloc(64 * 1024 + 1, 1), owner);
  const job = newJob(info, owner.identity, module, [big]);
  refused(await submit(node.url, job.request), 400, 'limits_exceeded', /inputs/);
});

test('a job submitted twice: job_replayed; a full queue: job_queue_full; then the queue frees', async () => {
  const spin = await storeBlob(node.url, SPIN, owner);
  const runaway = newJob(info, owner.identity, spin, [], {
    limits: { ...LIMITS, fuel: 1_000_000_000, wall_ms: 3000 },
  });
  assert.equal((await submit(node.url, runaway.request)).status, 202);
  refused(await submit(node.url, runaway.request), 409, 'job_replayed');
  // One worker, no queue: while the runaway runs, another job has no place.
  const next = newJob(info, owner.identity, module, [input]);
  refused(await submit(node.url, next.request), 503, 'job_queue_full');
  await waitDone(node.url, runaway.body.id);
  assert.equal((await submit(node.url, next.request)).status, 202);
  assert.equal((await waitDone(node.url, next.body.id)).status, 'done');
  // A refused job left nothing behind: the list holds the two that ran.
  const list = (await request(node.url, '/jobs')).json as { jobs: { id: string }[] };
  assert.deepEqual(
    list.jobs.map((j) => j.id),
    [next.body.id, runaway.body.id],
  );
});

test('unknown jobs and bad waits', async () => {
  refused(await request(node.url, `/jobs/${'ab'.repeat(16)}`), 404, 'job_unknown');
  refused(await request(node.url, '/jobs/nothex'), 404, 'job_unknown');
  const list = (await request(node.url, '/jobs')).json as { jobs: { id: string }[] };
  refused(await request(node.url, `/jobs/${list.jobs[0]!.id}?wait=30001`), 400, 'bad_query');
  refused(await request(node.url, `/jobs/${list.jobs[0]!.id}?other=1`), 400, 'bad_query');
});

test('a node without compute answers compute_disabled', async () => {
  const off = await startTestNode({}, [new ComputePlugin()]);
  refused(await request(off.url, '/jobs/info'), 404, 'compute_disabled');
  refused(await submit(off.url, { type: 'p2pcloud/job' }), 404, 'compute_disabled');
  refused(await request(off.url, `/jobs/${'ab'.repeat(16)}`), 404, 'compute_disabled');
});
