/**
 * Receipts (docs/compute.md §6): what a node signs about one run of a job, success or not.
 *
 *   signed message = "p2pcloud/v1/receipt" || lp(body text)
 *   receipt hash   = SHA-256("p2pcloud/v1/receipt-hash" || body text || sig)
 *
 * Pure: no I/O.
 */
import { z } from 'zod';
import { sign, verify, type SigningKeyPair } from '../crypto/ed25519.js';
import { sha256 } from '../crypto/sha256.js';
import { fromHex, toHex, utf8 } from '../encoding/bytes.js';
import { hex64 } from './blob.js';
import { lp, parseBoundedObject } from './encoding.js';
import { MAX_JOB_INPUTS } from './limits.js';

export const RECEIPT_TYPE = 'p2pcloud/receipt';
export const RECEIPT_DOMAIN = utf8('p2pcloud/v1/receipt');
export const RECEIPT_HASH_DOMAIN = utf8('p2pcloud/v1/receipt-hash');
/** Most bytes of a receipt body text (attestation evidence included). */
export const MAX_RECEIPT_BODY_BYTES = 64 * 1024;
export const MAX_MESSAGE_BYTES = 1024;
export const MAX_EVIDENCE_BYTES = 32 * 1024;

/** The run statuses of the sandbox, as receipts name them. */
export const RUN_STATUSES = [
  'ok',
  'exit',
  'trap',
  'out_of_fuel',
  'memory_limit',
  'wall_limit',
  'output_limit',
  'module_invalid',
  'module_too_large',
  'module_unsupported',
  'import_not_allowed',
] as const;
export type ReceiptStatus = (typeof RUN_STATUSES)[number];

const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const attestationSchema = z.strictObject({
  kind: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/),
  evidence: z
    .string()
    .max(Math.ceil((MAX_EVIDENCE_BYTES * 4) / 3))
    .regex(/^[A-Za-z0-9_-]*$/),
});

export const receiptBodySchema = z.strictObject({
  job: hex64,
  job_id: z.string().regex(/^[0-9a-f]{32}$/),
  node: hex64,
  module: hex64,
  inputs: z.array(hex64).max(MAX_JOB_INPUTS),
  status: z.enum(RUN_STATUSES),
  message: z
    .string()
    .refine((s) => Buffer.byteLength(s) <= MAX_MESSAGE_BYTES)
    .nullable(),
  exit_code: z
    .number()
    .int()
    .min(-(2 ** 31))
    .max(2 ** 32)
    .nullable(),
  output: hex64.nullable(),
  fuel: count,
  fuel_limit: count,
  wall_ms: count,
  bytes_read: count,
  bytes_written: count,
  started_at: count,
  finished_at: count,
  attestation: attestationSchema.nullable(),
});
export type ReceiptBody = z.infer<typeof receiptBodySchema>;

export interface Receipt {
  readonly type: typeof RECEIPT_TYPE;
  readonly v: 1;
  readonly body: string;
  readonly sig: string;
}

export interface VerifiedReceipt {
  readonly receipt: Receipt;
  readonly body: ReceiptBody;
  /** 64 hex. */
  readonly hash: string;
}

export function receiptMessage(bodyText: string): Buffer {
  return Buffer.concat([RECEIPT_DOMAIN, lp(bodyText)]);
}

export function receiptHash(bodyText: string, sig: Uint8Array): string {
  return toHex(sha256(RECEIPT_HASH_DOMAIN, utf8(bodyText), sig));
}

/** Signs a receipt body with the node's compute signing key. */
export function signReceipt(body: ReceiptBody, key: SigningKeyPair): VerifiedReceipt {
  const checked = receiptBodySchema.parse(body);
  if (checked.node !== toHex(key.publicKey))
    throw new RangeError('receipt: node is not the signer');
  const text = JSON.stringify(checked);
  if (Buffer.byteLength(text) > MAX_RECEIPT_BODY_BYTES) throw new RangeError('receipt too large');
  const sig = sign(receiptMessage(text), key);
  return {
    receipt: { type: RECEIPT_TYPE, v: 1, body: text, sig: toHex(sig) },
    body: checked,
    hash: receiptHash(text, sig),
  };
}

const MEMBERS = ['type', 'v', 'body', 'sig'];

/**
 * Reads a receipt (JSON text or object) and checks its shape and its signature by the node it
 * names; with `node`, also that it is that node's. Undefined for anything else.
 */
export function verifyReceipt(input: unknown, node?: string): VerifiedReceipt | undefined {
  const o =
    typeof input === 'string' ? parseBoundedObject(input, 4 * MAX_RECEIPT_BODY_BYTES) : input;
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return undefined;
  const r = o as Record<string, unknown>;
  if (r.type !== RECEIPT_TYPE || r.v !== 1) return undefined;
  const keys = Object.keys(r);
  if (keys.length !== MEMBERS.length || !MEMBERS.every((m) => Object.hasOwn(r, m)))
    return undefined;
  const { body, sig } = r;
  if (typeof body !== 'string' || typeof sig !== 'string') return undefined;
  const bodyObject = parseBoundedObject(body, MAX_RECEIPT_BODY_BYTES);
  if (!bodyObject) return undefined;
  const parsed = receiptBodySchema.safeParse(bodyObject);
  if (!parsed.success) return undefined;
  if (node !== undefined && parsed.data.node !== node) return undefined;
  const signature = fromHex(sig, 64);
  if (!signature || toHex(signature) !== sig) return undefined;
  if (!verify(signature, receiptMessage(body), Buffer.from(parsed.data.node, 'hex'))) {
    return undefined;
  }
  return {
    receipt: { type: RECEIPT_TYPE, v: 1, body, sig },
    body: parsed.data,
    hash: receiptHash(body, signature),
  };
}

/**
 * Whether two nodes' receipts report the same run: module, inputs, status, exit code, output
 * hash, fuel, bytes read and written. Wall time and timestamps differ between nodes.
 */
export function receiptsAgree(a: ReceiptBody, b: ReceiptBody): boolean {
  return (
    a.module === b.module &&
    a.inputs.length === b.inputs.length &&
    a.inputs.every((x, i) => x === b.inputs[i]) &&
    a.status === b.status &&
    a.exit_code === b.exit_code &&
    a.output === b.output &&
    a.fuel === b.fuel &&
    a.fuel_limit === b.fuel_limit &&
    a.bytes_read === b.bytes_read &&
    a.bytes_written === b.bytes_written
  );
}
