/**
 * The grant: the per-entry keys a job may use, sealed with HPKE base mode to the node's
 * compute box key and bound to the exact job text (docs/compute.md §5). Pure.
 *
 *   info      = "p2pcloud/v1/job-grant"
 *   aad       = SHA-256("p2pcloud/v1/job-grant-aad" || job body text)
 *   plaintext = { "type": "p2pcloud/grant", "v": 1, "job": id, "node": hex64, "expires_at": ms,
 *                 "keys": [ { "entry": hex64, "key": hex88, "padded": bool } ] }
 */
import { z } from 'zod';
import { openBase, sealBase } from '../crypto/hpke.js';
import { sha256 } from '../crypto/sha256.js';
import type { BoxKeyPair } from '../crypto/x25519.js';
import { utf8 } from '../encoding/bytes.js';
import { describeIssues } from '../zod-issues.js';
import { hex64 } from './blob.js';
import { parseBoundedObject } from './encoding.js';
import { refuse } from './errors.js';
import { grantKeyHex, type GrantKey } from './entry-keys.js';
import { MAX_JOB_ENTRIES } from './limits.js';

export const GRANT_INFO = utf8('p2pcloud/v1/job-grant');
export const GRANT_AAD_DOMAIN = utf8('p2pcloud/v1/job-grant-aad');
/** Most bytes of a grant's plaintext: every key of the largest job, with room for JSON. */
export const MAX_GRANT_PLAINTEXT_BYTES = 256 + MAX_JOB_ENTRIES * 200;
/** Most bytes of a sealed grant (enc 32 + plaintext + tag 16). */
export const MAX_SEALED_GRANT_BYTES = MAX_GRANT_PLAINTEXT_BYTES + 48;

export interface Grant {
  readonly job: string;
  readonly node: string;
  readonly expires_at: number;
  readonly keys: readonly GrantKey[];
}

const grantSchema = z.strictObject({
  type: z.literal('p2pcloud/grant'),
  v: z.literal(1),
  job: z.string().regex(/^[0-9a-f]{32}$/),
  node: hex64,
  expires_at: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  keys: z
    .array(
      z.strictObject({
        entry: hex64,
        key: z.string().regex(/^[0-9a-f]{88}$/),
        padded: z.boolean(),
      }),
    )
    .max(MAX_JOB_ENTRIES),
});

export function grantAad(jobText: string): Buffer {
  return sha256(GRANT_AAD_DOMAIN, utf8(jobText));
}

export function encodeGrant(grant: Grant): string {
  return JSON.stringify({
    type: 'p2pcloud/grant',
    v: 1,
    job: grant.job,
    node: grant.node,
    expires_at: grant.expires_at,
    keys: grant.keys.map((k) => ({ entry: k.entry, key: grantKeyHex(k), padded: k.padded })),
  });
}

/** Seals a grant to the node's compute box key for this job text. */
export function sealGrant(
  nodeBoxPublicKey: Uint8Array,
  jobText: string,
  grant: Grant,
  ephemeral?: { secretKey: Uint8Array; publicKey: Uint8Array },
): Buffer {
  return sealBase(
    nodeBoxPublicKey,
    GRANT_INFO,
    grantAad(jobText),
    utf8(encodeGrant(grant)),
    ephemeral,
  );
}

/**
 * Opens and reads a sealed grant; throws grant_invalid when it does not open with this node's
 * key for this job text or is not a well-formed grant. Whether it names the right job and node
 * is the caller's check (checkGrant).
 */
export function openGrant(nodeBox: BoxKeyPair, jobText: string, sealed: Uint8Array): Grant {
  if (sealed.length > MAX_SEALED_GRANT_BYTES) refuse('grant_invalid', 'the grant is too large');
  const plaintext = openBase(nodeBox, GRANT_INFO, grantAad(jobText), sealed);
  if (!plaintext) {
    refuse('grant_invalid', "the grant does not open with this node's key for this job");
  }
  const object = parseBoundedObject(plaintext.toString('utf8'), MAX_GRANT_PLAINTEXT_BYTES);
  if (!object) refuse('grant_invalid', 'the grant is not a JSON object');
  const parsed = grantSchema.safeParse(object);
  if (!parsed.success) refuse('grant_invalid', `grant: ${describeIssues(parsed.error)}`);
  const seen = new Set<string>();
  const keys = parsed.data.keys.map((k): GrantKey => {
    if (seen.has(k.entry)) refuse('grant_invalid', `grant: entry ${k.entry} has two keys`);
    seen.add(k.entry);
    const bytes = Buffer.from(k.key, 'hex');
    return {
      entry: k.entry,
      key: bytes.subarray(0, 32),
      baseNonce: bytes.subarray(32),
      padded: k.padded,
    };
  });
  return { job: parsed.data.job, node: parsed.data.node, expires_at: parsed.data.expires_at, keys };
}
