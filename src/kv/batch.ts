/**
 * Key-value operation batches (docs/kv.md §3): one signed statement of kind `kv-batch` carries
 * many operations of one writer device in one space, so the proof of work of the entry that
 * carries it is paid per batch, not per operation.
 *
 *   { "space": "<32 hex: group id>", "batch": 3,
 *     "seen": { "p2pid1…": 12, … },
 *     "ops": [ { "type": "put", "key": "<base64>", "value": "<base64>", "hlc": "<16 hex>" },
 *              { "type": "del", "key": "<base64>", "hlc": "<16 hex>" } ] }
 *
 * The decoder is strict: any member missing, extra or of the wrong form, or any limit exceeded,
 * refuses the whole batch with a reason. Pure: no I/O.
 */
import { toBase64 } from '../encoding/bytes.js';
import {
  isIdentityText,
  parseJsonObject,
  signStatement,
  type Statement,
} from '../identity/statement.js';
import type { Identity } from '../keys/keys.js';
import { formatHlc, isHlc, parseHlc, type Hlc } from './hlc.js';

export const KV_BATCH_KIND = 'kv-batch';
export const MAX_KEY_BYTES = 1024;
export const MAX_VALUE_BYTES = 32 * 1024;
export const MAX_BATCH_BODY_BYTES = 45 * 1024;
export const MAX_BATCH_OPS = 1000;

export type KvOp =
  | { readonly type: 'put'; readonly key: Buffer; readonly value: Buffer; readonly hlc: Hlc }
  | { readonly type: 'del'; readonly key: Buffer; readonly hlc: Hlc };

export interface KvBatchBody {
  /** Group id of the space (32 lowercase hex digits). */
  readonly space: string;
  /** The writer's batch number in this space: 1, 2, 3, … per signer. */
  readonly batch: number;
  /** Per signer identity text, the highest batch number the writer had applied. */
  readonly seen: Readonly<Record<string, number>>;
  readonly ops: readonly KvOp[];
}

/** Why a batch body was refused. */
export type BatchRefusal =
  | 'not_json'
  | 'members'
  | 'space'
  | 'batch_number'
  | 'seen'
  | 'ops'
  | 'too_many_ops'
  | 'op_members'
  | 'op_type'
  | 'bad_base64'
  | 'key_too_large'
  | 'value_too_large'
  | 'hlc'
  | 'too_large';

export type BatchDecode =
  | { readonly ok: true; readonly body: KvBatchBody }
  | { readonly ok: false; readonly reason: BatchRefusal };

const SPACE_RE = /^[0-9a-f]{32}$/;
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function isBatchNumber(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 1;
}

function hasExactly(object: Record<string, unknown>, members: readonly string[]): boolean {
  const keys = Object.keys(object);
  return keys.length === members.length && members.every((m) => Object.hasOwn(object, m));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Canonical standard base64 (with padding, no spaces, zero trailing bits), or undefined. */
function strictBase64(text: unknown): Buffer | undefined {
  if (typeof text !== 'string' || !BASE64_RE.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

function refuse(reason: BatchRefusal): BatchDecode {
  return { ok: false, reason };
}

function decodeOp(raw: unknown): KvOp | BatchRefusal {
  if (!isPlainObject(raw)) return 'op_members';
  const type = raw.type;
  if (type !== 'put' && type !== 'del') return 'op_type';
  if (!hasExactly(raw, type === 'put' ? ['type', 'key', 'value', 'hlc'] : ['type', 'key', 'hlc'])) {
    return 'op_members';
  }
  const key = strictBase64(raw.key);
  if (!key) return 'bad_base64';
  if (key.length > MAX_KEY_BYTES) return 'key_too_large';
  const hlc = parseHlc(raw.hlc);
  if (!hlc) return 'hlc';
  if (type === 'del') return { type, key, hlc };
  const value = strictBase64(raw.value);
  if (!value) return 'bad_base64';
  if (value.length > MAX_VALUE_BYTES) return 'value_too_large';
  return { type, key, value, hlc };
}

/**
 * Reads a batch body (the statement's body text, or its parsed object with the text's byte
 * length) strictly. Anything malformed refuses the whole batch.
 */
export function decodeBatchBody(text: string): BatchDecode {
  if (Buffer.byteLength(text) > MAX_BATCH_BODY_BYTES) return refuse('too_large');
  const object = parseJsonObject(text);
  if (!object) return refuse('not_json');
  return decodeBatchObject(object);
}

/**
 * decodeBatchBody for a body already parsed (a decoded statement's bodyObject), without the
 * byte limit of the text, which the caller has checked. With the shortest operation (48 bytes)
 * the byte limit binds before the operation count does; the count is checked for parsed input.
 */
export function decodeBatchObject(object: Record<string, unknown>): BatchDecode {
  if (!hasExactly(object, ['space', 'batch', 'seen', 'ops'])) return refuse('members');
  const { space, batch, seen, ops } = object;
  if (typeof space !== 'string' || !SPACE_RE.test(space)) return refuse('space');
  if (!isBatchNumber(batch)) return refuse('batch_number');
  if (!isPlainObject(seen)) return refuse('seen');
  const seenOut: Record<string, number> = Object.create(null) as Record<string, number>;
  for (const [signer, n] of Object.entries(seen)) {
    if (!isIdentityText(signer) || !isBatchNumber(n)) return refuse('seen');
    seenOut[signer] = n;
  }
  if (!Array.isArray(ops) || ops.length === 0) return refuse('ops');
  if (ops.length > MAX_BATCH_OPS) return refuse('too_many_ops');
  const decoded: KvOp[] = [];
  for (const raw of ops) {
    const op = decodeOp(raw);
    if (typeof op === 'string') return refuse(op);
    decoded.push(op);
  }
  return { ok: true, body: { space, batch, seen: seenOut, ops: decoded } };
}

function opObject(op: KvOp): Record<string, string> {
  if (op.key.length > MAX_KEY_BYTES) throw new RangeError('key too large');
  if (!isHlc(op.hlc)) throw new RangeError('bad clock reading');
  if (op.type === 'del') return { type: 'del', key: toBase64(op.key), hlc: formatHlc(op.hlc) };
  if (op.value.length > MAX_VALUE_BYTES) throw new RangeError('value too large');
  return {
    type: 'put',
    key: toBase64(op.key),
    value: toBase64(op.value),
    hlc: formatHlc(op.hlc),
  };
}

function checkHeader(space: string, batch: number, seen: Readonly<Record<string, number>>): void {
  if (!SPACE_RE.test(space)) throw new RangeError('bad space');
  if (!isBatchNumber(batch)) throw new RangeError('bad batch number');
  for (const [signer, n] of Object.entries(seen)) {
    if (!isIdentityText(signer) || !isBatchNumber(n)) throw new RangeError('bad seen vector');
  }
}

/** The JSON body text of one batch; throws RangeError when it breaks a limit. */
export function encodeBatchBody(body: KvBatchBody): string {
  checkHeader(body.space, body.batch, body.seen);
  if (body.ops.length === 0 || body.ops.length > MAX_BATCH_OPS) throw new RangeError('op count');
  const text = JSON.stringify({
    space: body.space,
    batch: body.batch,
    seen: body.seen,
    ops: body.ops.map(opObject),
  });
  if (Buffer.byteLength(text) > MAX_BATCH_BODY_BYTES) throw new RangeError('batch too large');
  return text;
}

export interface SplitInput {
  readonly space: string;
  /** Batch number of the first body; the following ones count up from it. */
  readonly firstBatch: number;
  readonly seen: Readonly<Record<string, number>>;
  readonly ops: readonly KvOp[];
}

/**
 * Splits operations, in order, into as few consecutive batch bodies as the limits allow (each
 * as full as it can be). Throws RangeError for an operation that cannot fit any batch.
 */
export function splitIntoBatches(input: SplitInput): string[] {
  return splitCounted(input).map((b) => b.body);
}

/** splitIntoBatches, with how many of the operations (in order) each body holds. */
export function splitCounted(input: SplitInput): { body: string; count: number }[] {
  checkHeader(input.space, input.firstBatch, input.seen);
  const head = (batch: number): string =>
    JSON.stringify({ space: input.space, batch, seen: input.seen, ops: [] });
  const bodies: { body: string; count: number }[] = [];
  let pending: string[] = [];
  let batch = input.firstBatch;
  // Size of head(batch) plus the ops joined by commas, kept as a running sum.
  let size = 0;
  const flush = (): void => {
    const text = head(batch).slice(0, -2) + pending.join(',') + ']}';
    bodies.push({ body: text, count: pending.length });
    pending = [];
    batch += 1;
  };
  for (const op of input.ops) {
    const json = JSON.stringify(opObject(op));
    const opBytes = Buffer.byteLength(json);
    if (pending.length === 0) size = Buffer.byteLength(head(batch));
    const extra = opBytes + (pending.length > 0 ? 1 : 0);
    if (
      pending.length > 0 &&
      (pending.length >= MAX_BATCH_OPS || size + extra > MAX_BATCH_BODY_BYTES)
    ) {
      flush();
      size = Buffer.byteLength(head(batch));
    }
    const added = opBytes + (pending.length > 0 ? 1 : 0);
    if (size + added > MAX_BATCH_BODY_BYTES) throw new RangeError('operation cannot fit a batch');
    pending.push(json);
    size += added;
  }
  if (pending.length > 0) flush();
  return bodies;
}

export interface NewBatchStatement {
  readonly person: string;
  readonly signer: Identity;
  /** The signer's statement counter (docs/identity.md), not the batch number. */
  readonly seq: number;
  readonly at: number;
  /** A body text from encodeBatchBody or splitIntoBatches. */
  readonly body: string;
}

/** Signs one batch body as a `kv-batch` statement. */
export function signBatch(input: NewBatchStatement): Statement {
  const object = parseJsonObject(input.body);
  if (!object || !decodeBatchBody(input.body).ok) throw new RangeError('bad batch body');
  // signStatement serialises with JSON.stringify, which reproduces the body text exactly
  // because the text came from JSON.stringify of a plain object in the same member order.
  const statement = signStatement({
    kind: KV_BATCH_KIND,
    person: input.person,
    signer: input.signer,
    seq: input.seq,
    at: input.at,
    body: object,
  });
  if (statement.body !== input.body) throw new RangeError('batch body is not in canonical form');
  return statement;
}

/**
 * Signs a body this device built with encodeBatchBody or splitCounted, without reading it back:
 * those build only valid, canonical bodies, and a full batch is 45 KiB to parse and check.
 */
export function signOwnBatch(input: NewBatchStatement): Statement {
  return signStatement({
    kind: KV_BATCH_KIND,
    person: input.person,
    signer: input.signer,
    seq: input.seq,
    at: input.at,
    body: input.body,
  });
}

/** A verified statement's batch: the writer (person, signer, seq, at) and its decoded body. */
export interface KvBatch {
  readonly person: string;
  readonly signer: string;
  readonly seq: number;
  readonly at: number;
  /** Statement hash, hex: tells two different batches with the same number apart. */
  readonly hash: string;
  readonly body: KvBatchBody;
}

/** The batch a verified `kv-batch` statement carries, or the reason it is refused. */
export function batchFromStatement(
  statement: Statement,
): { ok: true; batch: KvBatch } | { ok: false; reason: BatchRefusal | 'kind' } {
  if (statement.kind !== KV_BATCH_KIND) return { ok: false, reason: 'kind' };
  const decoded = decodeBatchBody(statement.body);
  if (!decoded.ok) return decoded;
  const { person, signer, seq, at, hash } = statement;
  return { ok: true, batch: { person, signer, seq, at, hash, body: decoded.body } };
}
