/**
 * The pure compute formats: job requests, grants, per-entry keys, receipts, sealed results and
 * the test attestation, each with the tampering or bound that must make it fail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { generateSigningKeyPair } from '../../src/crypto/ed25519.js';
import { generateBoxKeyPair } from '../../src/crypto/x25519.js';
import { createEntry } from '../../src/entry/create.js';
import { decodeEntry } from '../../src/entry/format.js';
import { generateIdentity, generateTableKey } from '../../src/keys/keys.js';
import {
  attestationReportData,
  blobMismatch,
  ComputeError,
  createJobRequest,
  entryKeyFor,
  MAX_JOB_TEXT_BYTES,
  openGrant,
  openResult,
  openWithGrantKey,
  parseJobRequest,
  receiptsAgree,
  sealResult,
  signReceipt,
  TestEd25519Attester,
  TestEd25519Verifier,
  verifyReceipt,
  type Blob,
  type GrantKey,
  type ReceiptBody,
} from '../../src/compute/index.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function throwsCode(fn: () => unknown, code: string, message?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ComputeError, `not a ComputeError: ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (message) assert.match(error.message, message);
    return true;
  });
}

const requester = generateIdentity();
const table = generateTableKey();
const nodeSigning = generateSigningKeyPair();
const nodeBox = generateBoxKeyPair();

function chunkEntry(text: string, pad = false) {
  return createEntry({
    table,
    recipient: requester.box.publicKey,
    plaintext: Buffer.from(text),
    powBits: 0,
    pad,
  });
}

function blobOf(...entries: { bytes: Buffer; id: Buffer }[]): { blob: Blob; keys: GrantKey[] } {
  const keys = entries.map((e) => entryKeyFor(e.bytes, requester.box)!);
  const plain = Buffer.concat(
    entries.map((e, i) => openWithGrantKey(decodeEntry(e.bytes), keys[i]!)!),
  );
  return {
    blob: { sha256: sha(plain), size: plain.length, entries: entries.map((e) => hex(e.id)) },
    keys,
  };
}

const moduleChunk = chunkEntry('\0asm module bytes');
const inputChunks = [chunkEntry('hello '), chunkEntry('world', true)];
const module = blobOf(moduleChunk);
const input = blobOf(...inputChunks);

function newJob(overrides: Partial<Parameters<typeof createJobRequest>[0]> = {}) {
  return createJobRequest({
    requester,
    node: { signing: hex(nodeSigning.publicKey), box: nodeBox.publicKey },
    resultTo: requester.box.publicKey,
    module: module.blob,
    inputs: [input.blob],
    args: ['--words'],
    limits: { memory_pages: 16, fuel: 1_000_000, wall_ms: 1000, output_bytes: 4096 },
    keys: [...module.keys, ...input.keys],
    expiresAt: Date.now() + 60_000,
    ...overrides,
  });
}

test('entry keys open exactly their own entry, plain and padded', () => {
  const [plain, padded] = inputChunks;
  const plainKey = entryKeyFor(plain!.bytes, requester.box)!;
  const paddedKey = entryKeyFor(padded!.bytes, requester.box)!;
  assert.equal(plainKey.padded, false);
  assert.equal(paddedKey.padded, true);
  assert.equal(openWithGrantKey(decodeEntry(plain!.bytes), plainKey)!.toString(), 'hello ');
  assert.equal(openWithGrantKey(decodeEntry(padded!.bytes), paddedKey)!.toString(), 'world');
  // The key of one entry opens no other, even one sealed to the same recipient.
  assert.equal(
    openWithGrantKey(decodeEntry(padded!.bytes), { ...plainKey, entry: hex(padded!.id) }),
    undefined,
  );
  assert.equal(openWithGrantKey(decodeEntry(padded!.bytes), plainKey), undefined);
  // A padded key used as unpadded yields the padded plaintext, not the content.
  const asPlain = openWithGrantKey(decodeEntry(padded!.bytes), { ...paddedKey, padded: false });
  assert.notEqual(asPlain?.toString(), 'world');
  // Another recipient's box gives no key.
  assert.equal(entryKeyFor(plain!.bytes, generateIdentity().box), undefined);
  const altered = Buffer.from(plain!.bytes);
  altered[altered.length - 70]! ^= 1;
  assert.equal(entryKeyFor(altered, requester.box), undefined);
});

test('blobMismatch names a wrong hash, size or chunk count', () => {
  const chunks = [Buffer.from('hello '), Buffer.from('world')];
  assert.equal(blobMismatch(input.blob, chunks), undefined);
  assert.match(blobMismatch(input.blob, [chunks[0]!])!, /number of chunks/);
  assert.match(blobMismatch(input.blob, [chunks[0]!, Buffer.from('worle')])!, /SHA-256/);
  assert.match(blobMismatch(input.blob, [chunks[0]!, Buffer.from('worlds')])!, /bytes/);
});

test('a job request round-trips, and its hash covers the signature', () => {
  const job = newJob();
  const parsed = parseJobRequest(JSON.stringify(job.request));
  assert.equal(parsed.hash, job.hash);
  assert.deepEqual(parsed.body, job.body);
  assert.deepEqual(parsed.body.args, ['--words']);
  const grant = openGrant(nodeBox, parsed.request.job, parsed.sealedGrant);
  assert.equal(grant.job, job.body.id);
  assert.equal(grant.node, hex(nodeSigning.publicKey));
  assert.equal(grant.keys.length, 3);
  assert.ok(grant.keys[0]!.key.equals(module.keys[0]!.key));
  assert.notEqual(newJob().hash, job.hash);
});

test('a job whose text, grant or signature was altered does not verify', () => {
  const { request } = newJob();
  const changedJob = request.job.replace('--words', '--lines');
  throwsCode(() => parseJobRequest({ ...request, job: changedJob }), 'bad_signature');
  const grant = Buffer.from(request.grant, 'base64url');
  grant[40]! ^= 1;
  throwsCode(
    () => parseJobRequest({ ...request, grant: grant.toString('base64url') }),
    'bad_signature',
  );
  const other = generateIdentity();
  const forged = newJob({ requester: other });
  throwsCode(() => parseJobRequest({ ...forged.request, sig: request.sig }), 'bad_signature');
  throwsCode(() => parseJobRequest({ ...request, extra: 1 }), 'job_invalid', /exactly the members/);
  throwsCode(() => parseJobRequest({ ...request, sig: request.sig.toUpperCase() }), 'job_invalid');
  throwsCode(() => parseJobRequest({ ...request, grant: request.grant + '=' }), 'job_invalid');
});

test('a grant opens only with the node key for this exact job text', () => {
  const { request, sealedGrant } = newJob();
  throwsCode(() => openGrant(generateBoxKeyPair(), request.job, sealedGrant), 'grant_invalid');
  throwsCode(() => openGrant(nodeBox, request.job + ' ', sealedGrant), 'grant_invalid');
});

test('the format bounds are enforced before and while parsing', () => {
  throwsCode(() => newJob({ inputs: Array(65).fill(input.blob) }), 'job_invalid', /inputs/);
  throwsCode(() => newJob({ args: ['x'.repeat(1025)] }), 'job_invalid', /args/);
  throwsCode(() => newJob({ args: Array(65).fill('a') }), 'job_invalid', /args/);
  throwsCode(
    () => newJob({ module: { ...module.blob, entries: Array(4097).fill('0'.repeat(64)) } }),
    'job_invalid',
  );
  throwsCode(() => newJob({ module: { ...module.blob, size: 10 ** 12 } }), 'job_invalid', /size/);
  throwsCode(() => newJob({ expiresAt: 5, createdAt: 10 }), 'job_invalid', /expires_at/);
  throwsCode(
    () => newJob({ limits: { memory_pages: 0, fuel: 1, wall_ms: 1, output_bytes: 0 } }),
    'job_invalid',
    /memory_pages/,
  );
  const { request } = newJob();
  // A text over the bound is refused by its length, before any parse.
  const huge = `{"pad":"${'a'.repeat(MAX_JOB_TEXT_BYTES)}"}`;
  throwsCode(() => parseJobRequest({ ...request, job: huge }), 'job_invalid', /size limit/);
  throwsCode(() => parseJobRequest('{'), 'job_invalid');
  throwsCode(() => parseJobRequest([]), 'job_invalid');
});

function receiptBody(overrides: Partial<ReceiptBody> = {}): ReceiptBody {
  return {
    job: 'ab'.repeat(32),
    job_id: 'cd'.repeat(16),
    node: hex(nodeSigning.publicKey),
    module: module.blob.sha256,
    inputs: [input.blob.sha256],
    status: 'ok',
    message: null,
    exit_code: null,
    output: sha(Buffer.from('2')),
    fuel: 1234,
    fuel_limit: 1_000_000,
    wall_ms: 12,
    bytes_read: 11,
    bytes_written: 1,
    started_at: 1000,
    finished_at: 1012,
    attestation: null,
    ...overrides,
  };
}

test('receipts verify, bind their node, and agree on the run only', () => {
  const signed = signReceipt(receiptBody(), nodeSigning);
  const verified = verifyReceipt(JSON.stringify(signed.receipt))!;
  assert.equal(verified.hash, signed.hash);
  assert.equal(verifyReceipt(signed.receipt, hex(nodeSigning.publicKey))?.hash, signed.hash);
  assert.equal(verifyReceipt(signed.receipt, 'ee'.repeat(32)), undefined);
  assert.equal(
    verifyReceipt({ ...signed.receipt, body: signed.receipt.body.replace('1234', '1235') }),
    undefined,
  );
  assert.equal(verifyReceipt({ ...signed.receipt, extra: true }), undefined);
  assert.throws(() => signReceipt(receiptBody({ node: 'ee'.repeat(32) }), nodeSigning));
  const a = receiptBody();
  assert.ok(
    receiptsAgree(
      a,
      receiptBody({ wall_ms: 99, started_at: 5, finished_at: 6, node: 'ee'.repeat(32) }),
    ),
  );
  for (const change of [
    { fuel: 1235 },
    { fuel_limit: 7 },
    { output: sha(Buffer.from('3')) },
    { status: 'trap' as const },
    { exit_code: 1 },
    { bytes_read: 10 },
    { bytes_written: 2 },
    { inputs: [] },
    { module: 'ff'.repeat(32) },
  ]) {
    assert.equal(receiptsAgree(a, receiptBody(change)), false, JSON.stringify(change));
  }
});

test('a sealed result opens only for its receipt and part', () => {
  const signed = signReceipt(receiptBody(), nodeSigning);
  const sealed = sealResult('output', requester.box.publicKey, signed.hash, Buffer.from('2'));
  assert.equal(openResult('output', requester.box, signed.hash, sealed)?.toString(), '2');
  assert.equal(openResult('log', requester.box, signed.hash, sealed), undefined);
  assert.equal(openResult('output', requester.box, 'ff'.repeat(32), sealed), undefined);
  assert.equal(openResult('output', generateIdentity().box, signed.hash, sealed), undefined);
});

test('test attestation binds the node keys to the platform key', async () => {
  const platform = generateSigningKeyPair();
  const reportData = attestationReportData(nodeSigning.publicKey, nodeBox.publicKey);
  const evidence = await new TestEd25519Attester(platform).evidence(reportData);
  const verifier = new TestEd25519Verifier(platform.publicKey);
  assert.deepEqual(await verifier.verify(evidence, reportData), { ok: true });
  const otherData = attestationReportData(nodeSigning.publicKey, generateBoxKeyPair().publicKey);
  assert.equal((await verifier.verify(evidence, otherData)).ok, false);
  const otherPlatform = new TestEd25519Verifier(generateSigningKeyPair().publicKey);
  assert.equal((await otherPlatform.verify(evidence, reportData)).ok, false);
  assert.equal((await verifier.verify(evidence.subarray(1), reportData)).ok, false);
});
