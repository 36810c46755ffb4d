/**
 * An issuer's public key as published at GET /issuer/keys (docs/tickets.md §3): the RSA key,
 * its id (SHA-256 of its SubjectPublicKeyInfo), the one kind and value of ticket it signs, and
 * when it may be spent. A key signs one denomination only: the issuer cannot see what it signs,
 * so the value a ticket is worth has to come from the key, not from the message.
 */
import { createPublicKey, webcrypto } from 'node:crypto';
import { z } from 'zod';
import { P2PError } from '../../errors.js';
import { sha256 } from '../../crypto/sha256.js';
import { fromBase64, toHex } from '../../encoding/bytes.js';
import { describeIssues } from '../../zod-issues.js';
import { MAX_TICKET_VALUE, TICKET_KIND, type TicketKind } from './message.js';

export const ISSUER_KEY_VERSION = 1;
export const MODULUS_BITS = [2048, 3072, 4096] as const;
export type ModulusBits = (typeof MODULUS_BITS)[number];

/** The published form (JSON). Times are Unix seconds. */
export interface IssuerKeyRecord {
  readonly version: 1;
  readonly id: string;
  /** DER SubjectPublicKeyInfo (rsaEncryption), base64url without padding. */
  readonly public_key: string;
  readonly modulus_bits: ModulusBits;
  readonly kind: TicketKind;
  readonly value: number;
  readonly not_before: number;
  readonly not_after: number;
}

/** A parsed key, ready to verify with. */
export interface IssuerKey {
  readonly record: IssuerKeyRecord;
  readonly id: Buffer;
  readonly spki: Buffer;
  /** RSA-PSS / SHA-384, extractable as @cloudflare/blindrsa-ts asks. */
  readonly cryptoKey: webcrypto.CryptoKey;
  readonly modulusBytes: number;
}

const recordSchema = z
  .object({
    version: z.literal(ISSUER_KEY_VERSION),
    id: z.string().regex(/^[0-9a-f]{64}$/),
    public_key: z.string().min(1).max(2000),
    modulus_bits: z.union([z.literal(2048), z.literal(3072), z.literal(4096)]),
    kind: z.enum(Object.keys(TICKET_KIND) as [TicketKind, ...TicketKind[]]),
    value: z.number().int().min(1).max(MAX_TICKET_VALUE),
    not_before: z.number().int().min(0),
    not_after: z.number().int().min(0),
  })
  .strict();

export function keyIdOf(spki: Uint8Array): Buffer {
  return sha256(spki);
}

/** The public exponent RFC 9474 keys use here; a key with another is refused. */
const EXPONENT = 'AQAB';

/**
 * Validates a published key record: shape, that its id is the hash of its key, that the key is
 * RSA with e = 65537 and the size it claims, and that its validity is not empty.
 */
export async function parseIssuerKey(
  input: unknown,
  code: 'bad_config' | 'node_error' = 'bad_config',
): Promise<IssuerKey> {
  const parsed = recordSchema.safeParse(input);
  if (!parsed.success) {
    throw new P2PError(code, `issuer key is invalid: ${describeIssues(parsed.error)}`);
  }
  const record = parsed.data as IssuerKeyRecord;
  const spki = fromBase64(record.public_key);
  if (!spki) throw new P2PError(code, 'issuer key public_key is not base64url');
  const id = keyIdOf(spki);
  if (toHex(id) !== record.id) {
    throw new P2PError(code, 'issuer key id is not the SHA-256 of its public key');
  }
  let jwk: webcrypto.JsonWebKey;
  try {
    jwk = createPublicKey({ key: spki, format: 'der', type: 'spki' }).export({ format: 'jwk' });
  } catch {
    throw new P2PError(code, 'issuer key public_key is not a DER SubjectPublicKeyInfo');
  }
  if (jwk.kty !== 'RSA' || !jwk.n || jwk.e !== EXPONENT) {
    throw new P2PError(code, 'issuer key must be RSA with exponent 65537');
  }
  const modulusBytes = Buffer.from(jwk.n, 'base64url').length;
  if (modulusBytes * 8 !== record.modulus_bits) {
    throw new P2PError(code, `issuer key is ${modulusBytes * 8} bits, not ${record.modulus_bits}`);
  }
  if (record.not_after <= record.not_before) {
    throw new P2PError(code, 'issuer key not_after must be later than not_before');
  }
  const cryptoKey = await importTicketPublicKey(spki);
  return { record, id, spki, cryptoKey, modulusBytes };
}

/** Imports an SPKI as the RSA-PSS / SHA-384 public key the blind signature suite expects. */
export async function importTicketPublicKey(spki: Uint8Array): Promise<webcrypto.CryptoKey> {
  try {
    return await webcrypto.subtle.importKey(
      'spki',
      spki,
      { name: 'RSA-PSS', hash: 'SHA-384' },
      true,
      ['verify'],
    );
  } catch {
    throw new P2PError('bad_key', 'not an RSA public key');
  }
}

/** Whether `key` may be spent at `nowSeconds`. */
export function keyValidAt(key: IssuerKeyRecord, nowSeconds: number): boolean {
  return nowSeconds >= key.not_before && nowSeconds < key.not_after;
}
