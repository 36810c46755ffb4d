/**
 * Job requests (docs/compute.md §4): a job body as JSON text, the sealed grant, and the
 * requester's signature over both.
 *
 *   signed message = "p2pcloud/v1/job" || lp(job text) || lp(sealed grant)
 *   job hash       = SHA-256("p2pcloud/v1/job-hash" || signed message || sig)
 *
 * Pure: no I/O.
 */
import { z } from 'zod';
import { sign, verify } from '../crypto/ed25519.js';
import { randomBytes } from '../crypto/random.js';
import { sha256 } from '../crypto/sha256.js';
import { fromHex, toHex, utf8 } from '../encoding/bytes.js';
import { identityKeyBytes, isIdentityText } from '../identity/statement.js';
import { identityText, type Identity } from '../keys/keys.js';
import { describeIssues } from '../zod-issues.js';
import { blobSchema, hex64, type Blob } from './blob.js';
import { fromBase64Url, lp, parseBoundedObject, toBase64Url } from './encoding.js';
import { refuse } from './errors.js';
import type { GrantKey } from './entry-keys.js';
import { MAX_SEALED_GRANT_BYTES, sealGrant } from './grant.js';
import {
  MAX_ARG_BYTES,
  MAX_ENTRY_POINT_BYTES,
  MAX_JOB_ARGS,
  MAX_JOB_ENTRIES,
  MAX_JOB_INPUTS,
  MAX_JOB_TEXT_BYTES,
} from './limits.js';

export const JOB_TYPE = 'p2pcloud/job';
export const JOB_DOMAIN = utf8('p2pcloud/v1/job');
export const JOB_HASH_DOMAIN = utf8('p2pcloud/v1/job-hash');
/** Most bytes of a job request's JSON text: both parts, as escaped and encoded as they travel. */
export const MAX_JOB_REQUEST_BYTES =
  2 * MAX_JOB_TEXT_BYTES + Math.ceil((MAX_SEALED_GRANT_BYTES * 4) / 3) + 1024;

const byteBound = (max: number) => (s: string) => Buffer.byteLength(s) <= max;

export const jobLimitsSchema = z.strictObject({
  memory_pages: z.number().int().min(1).max(65536),
  fuel: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  wall_ms: z
    .number()
    .int()
    .min(1)
    .max(24 * 3600 * 1000),
  output_bytes: z
    .number()
    .int()
    .min(0)
    .max(2 ** 32),
});
export type JobLimits = z.infer<typeof jobLimitsSchema>;

const time = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const jobBodySchema = z
  .strictObject({
    id: z.string().regex(/^[0-9a-f]{32}$/, 'must be 32 lowercase hex characters'),
    node: hex64,
    requester: z.string().max(200).refine(isIdentityText, 'must be an identity text (p2pid1…)'),
    result_to: hex64,
    module: blobSchema,
    entry: z
      .string()
      .min(1)
      .refine(byteBound(MAX_ENTRY_POINT_BYTES), `at most ${MAX_ENTRY_POINT_BYTES} bytes`),
    args: z
      .array(z.string().refine(byteBound(MAX_ARG_BYTES), `at most ${MAX_ARG_BYTES} bytes`))
      .max(MAX_JOB_ARGS),
    inputs: z.array(blobSchema).max(MAX_JOB_INPUTS),
    limits: jobLimitsSchema,
    created_at: time,
    expires_at: time,
  })
  .refine((j) => j.expires_at > j.created_at, {
    message: 'must be later than created_at',
    path: ['expires_at'],
  })
  .refine(
    (j) =>
      j.inputs.reduce((n, b) => n + b.entries.length, j.module.entries.length) <= MAX_JOB_ENTRIES,
    { message: `a job names at most ${MAX_JOB_ENTRIES} entries in all`, path: ['inputs'] },
  );
export type JobBody = z.infer<typeof jobBodySchema>;

/** What POST /jobs takes. */
export interface JobRequest {
  readonly type: typeof JOB_TYPE;
  readonly v: 1;
  /** The job body's JSON text, signed as these exact bytes. */
  readonly job: string;
  /** base64url of the sealed grant. */
  readonly grant: string;
  /** 128 hex: Ed25519 by the requester's signing key. */
  readonly sig: string;
}

export interface ParsedJob {
  readonly request: JobRequest;
  readonly body: JobBody;
  readonly sealedGrant: Buffer;
  /** 64 hex. */
  readonly hash: string;
}

export function jobMessage(jobText: string, sealedGrant: Uint8Array): Buffer {
  return Buffer.concat([JOB_DOMAIN, lp(jobText), lp(sealedGrant)]);
}

export function jobHash(message: Uint8Array, sig: Uint8Array): string {
  return toHex(sha256(JOB_HASH_DOMAIN, message, sig));
}

/** A fresh random job id. */
export function newJobId(): string {
  return toHex(randomBytes(16));
}

/** Signs a job text and its sealed grant. */
export function signJobRequest(
  jobText: string,
  sealedGrant: Uint8Array,
  requester: Identity,
): { request: JobRequest; hash: string } {
  const message = jobMessage(jobText, sealedGrant);
  const sig = sign(message, requester.signing);
  return {
    request: {
      type: JOB_TYPE,
      v: 1,
      job: jobText,
      grant: toBase64Url(sealedGrant),
      sig: toHex(sig),
    },
    hash: jobHash(message, sig),
  };
}

export interface NewJob {
  readonly requester: Identity;
  /** The node's compute signing key (64 hex) and box public key. */
  readonly node: { signing: string; box: Uint8Array };
  readonly resultTo: Uint8Array;
  readonly module: Blob;
  readonly inputs: readonly Blob[];
  readonly entry?: string;
  readonly args?: readonly string[];
  readonly limits: JobLimits;
  /** The keys of every chunk entry of the module and inputs. */
  readonly keys: readonly GrantKey[];
  readonly id?: string;
  readonly createdAt?: number;
  readonly expiresAt: number;
  /** Fixed HPKE ephemeral key pair of the grant: only for test vectors. */
  readonly ephemeral?: { secretKey: Uint8Array; publicKey: Uint8Array };
}

/** Builds, seals and signs a job request; checks the body against the format's bounds. */
export function createJobRequest(input: NewJob): ParsedJob {
  const body: JobBody = {
    id: input.id ?? newJobId(),
    node: input.node.signing,
    requester: identityText(input.requester),
    result_to: toHex(input.resultTo),
    module: input.module,
    entry: input.entry ?? '_start',
    args: [...(input.args ?? [])],
    inputs: [...input.inputs],
    limits: input.limits,
    created_at: input.createdAt ?? Date.now(),
    expires_at: input.expiresAt,
  };
  const checked = jobBodySchema.safeParse(body);
  if (!checked.success) refuse('job_invalid', `job: ${describeIssues(checked.error)}`);
  const jobText = JSON.stringify(body);
  if (Buffer.byteLength(jobText) > MAX_JOB_TEXT_BYTES) refuse('job_invalid', 'job: text too large');
  const sealedGrant = sealGrant(
    input.node.box,
    jobText,
    { job: body.id, node: body.node, expires_at: body.expires_at, keys: input.keys },
    input.ephemeral,
  );
  const { request, hash } = signJobRequest(jobText, sealedGrant, input.requester);
  return { request, body, sealedGrant, hash };
}

const MEMBERS = ['type', 'v', 'job', 'grant', 'sig'];

/**
 * Reads a job request (its JSON text or the parsed object) and checks its shape, the body's
 * bounds and the requester's signature. Throws job_invalid or bad_signature.
 */
export function parseJobRequest(input: unknown): ParsedJob {
  const object =
    typeof input === 'string' ? parseBoundedObject(input, MAX_JOB_REQUEST_BYTES) : input;
  if (typeof object !== 'object' || object === null || Array.isArray(object)) {
    refuse('job_invalid', 'a job request is a JSON object');
  }
  const o = object as Record<string, unknown>;
  if (o.type !== JOB_TYPE || o.v !== 1)
    refuse('job_invalid', 'not a p2pcloud/job request of version 1');
  const keys = Object.keys(o);
  if (keys.length !== MEMBERS.length || !MEMBERS.every((m) => Object.hasOwn(o, m))) {
    refuse('job_invalid', `a job request has exactly the members ${MEMBERS.join(', ')}`);
  }
  const { job, grant, sig } = o;
  if (typeof job !== 'string') refuse('job_invalid', 'job must be the JSON text of the job body');
  const bodyObject = parseBoundedObject(job, MAX_JOB_TEXT_BYTES);
  if (!bodyObject)
    refuse('job_invalid', 'job is not the text of a JSON object within the size limit');
  const parsed = jobBodySchema.safeParse(bodyObject);
  if (!parsed.success) refuse('job_invalid', `job: ${describeIssues(parsed.error)}`);
  const sealedGrant = fromBase64Url(grant, MAX_SEALED_GRANT_BYTES);
  if (!sealedGrant)
    refuse('job_invalid', 'grant must be base64url (no padding) within the size limit');
  const signature = typeof sig === 'string' ? fromHex(sig, 64) : undefined;
  if (!signature || sig !== toHex(signature))
    refuse('job_invalid', 'sig must be 128 lowercase hex');
  const message = jobMessage(job, sealedGrant);
  const signer = identityKeyBytes(parsed.data.requester).subarray(0, 32);
  if (!verify(signature, message, signer)) {
    refuse('bad_signature', "the job's signature does not verify with the requester's key");
  }
  return {
    request: { type: JOB_TYPE, v: 1, job, grant: grant as string, sig: sig as string },
    body: parsed.data,
    sealedGrant,
    hash: jobHash(message, signature),
  };
}
