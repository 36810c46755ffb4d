/**
 * Compute jobs for node tests: Wasm modules from WAT text (binaryen), blobs stored as chunk
 * entries on a real node, and job requests built for that node's compute keys.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import binaryen from 'binaryen';
import { createEntry } from '../../src/entry/create.js';
import type { Identity, TableKey } from '../../src/keys/keys.js';
import {
  BLOB_CHUNK_BYTES,
  createJobRequest,
  entryKeyFor,
  type Blob,
  type GrantKey,
  type JobLimits,
  type ParsedJob,
} from '../../src/compute/index.js';
import { putJson, putResults, request, type TestResponse } from './http.js';

/** A Wasm module's bytes from its text form. */
export function wat(text: string): Buffer {
  const module = binaryen.parseText(text);
  try {
    assert.ok(module.validate(), 'the test module validates');
    return Buffer.from(module.emitBinary());
  } finally {
    module.dispose();
  }
}

/** Copies fd 0 (all inputs) to fd 1, and writes "echoed\n" to fd 2. */
export const ECHO = wat(`(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 512) "echoed\\n")
  (func (export "_start")
    (local $n i32)
    (i32.store (i32.const 32) (i32.const 512))
    (i32.store (i32.const 36) (i32.const 7))
    (drop (call $fd_write (i32.const 2) (i32.const 32) (i32.const 1) (i32.const 40)))
    (block $done
      (loop $more
        (i32.store (i32.const 0) (i32.const 1024))
        (i32.store (i32.const 4) (i32.const 60000))
        (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
        (local.set $n (i32.load (i32.const 8)))
        (br_if $done (i32.eqz (local.get $n)))
        (i32.store (i32.const 16) (i32.const 1024))
        (i32.store (i32.const 20) (local.get $n))
        (drop (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24)))
        (br $more)))))`);

/** Loops until its fuel or wall time runs out. */
export const SPIN = wat(`(module
  (memory (export "memory") 1)
  (func (export "_start") (loop $l (br $l))))`);

/** Traps at once. */
export const TRAP = wat(`(module
  (memory (export "memory") 1)
  (func (export "_start") unreachable))`);

export const LIMITS: JobLimits = {
  memory_pages: 16,
  fuel: 50_000_000,
  wall_ms: 10_000,
  output_bytes: 1 << 20,
};

export interface StoredBlob {
  readonly blob: Blob;
  readonly keys: GrantKey[];
  readonly entries: Buffer[];
}

/** Chunk entries of `bytes`, sealed to the requester in `table` (not yet stored). */
export function makeBlob(
  bytes: Uint8Array,
  owner: { identity: Identity; table: TableKey },
  pad = false,
): StoredBlob {
  const entries: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += BLOB_CHUNK_BYTES) {
    entries.push(
      createEntry({
        table: owner.table,
        recipient: owner.identity.box.publicKey,
        plaintext: bytes.subarray(at, at + BLOB_CHUNK_BYTES),
        powBits: 0,
        pad,
      }).bytes,
    );
  }
  const keys = entries.map((e) => entryKeyFor(e, owner.identity.box)!);
  return {
    blob: {
      sha256: createHash('sha256').update(bytes).digest('hex'),
      size: bytes.length,
      entries: keys.map((k) => k.entry),
    },
    keys,
    entries,
  };
}

/** Stores a blob's chunk entries on a node. */
export async function storeBlob(
  base: string,
  bytes: Uint8Array,
  owner: { identity: Identity; table: TableKey },
  pad = false,
): Promise<StoredBlob> {
  const stored = makeBlob(bytes, owner, pad);
  const response = await putJson(base, stored.entries);
  assert.equal(response.status, 200, response.body.toString());
  for (const result of putResults(response))
    assert.notEqual(result.status, 'rejected', JSON.stringify(result));
  return stored;
}

export interface NodeInfo {
  readonly node: string;
  readonly box: string;
}

export async function jobInfo(base: string): Promise<NodeInfo> {
  const response = await request(base, '/jobs/info');
  assert.equal(response.status, 200, response.body.toString());
  return response.json as NodeInfo;
}

export function newJob(
  info: NodeInfo,
  requester: Identity,
  module: StoredBlob,
  inputs: readonly StoredBlob[],
  options: Partial<Parameters<typeof createJobRequest>[0]> = {},
): ParsedJob {
  return createJobRequest({
    requester,
    node: { signing: info.node, box: Buffer.from(info.box, 'hex') },
    resultTo: requester.box.publicKey,
    module: module.blob,
    inputs: inputs.map((i) => i.blob),
    limits: LIMITS,
    keys: [...module.keys, ...inputs.flatMap((i) => i.keys)],
    expiresAt: Date.now() + 120_000,
    ...options,
  });
}

export function submit(base: string, job: unknown): Promise<TestResponse> {
  return request(base, '/jobs', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof job === 'string' ? job : JSON.stringify(job),
  });
}

export interface JobAnswer {
  id: string;
  status: string;
  reason?: string;
  receipt?: unknown;
  output?: string;
  log?: string;
}

/** Polls GET /jobs/:id?wait until the job leaves queued and running (bounded). */
export async function waitDone(base: string, id: string, timeoutMs = 60_000): Promise<JobAnswer> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await request(base, `/jobs/${id}?wait=10000`);
    assert.equal(response.status, 200, response.body.toString());
    const answer = response.json as JobAnswer;
    if (answer.status !== 'queued' && answer.status !== 'running') return answer;
    assert.ok(Date.now() < deadline, `job ${id} still ${answer.status} after ${timeoutMs} ms`);
  }
}

/** Waits until a job has left the queue and runs (a running job's row is what a test shows). */
export async function waitRunning(base: string, id: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await request(base, `/jobs/${id}`);
    assert.equal(response.status, 200, response.body.toString());
    const answer = response.json as JobAnswer;
    if (answer.status === 'running') return;
    assert.equal(answer.status, 'queued', `job ${id} ended before it was seen running`);
    assert.ok(Date.now() < deadline, `job ${id} still queued after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
