/**
 * Key material of a p2pcloud user, and its serialised (key file) form. Pure: reading and
 * writing files is in key-file.ts.
 *
 * An identity is a person or device: an Ed25519 signing key (logins, authorship) and an X25519
 * key that entries are sealed to. A table is an Ed25519 key pair: whoever holds its secret may
 * post to the table.
 */
import { z } from 'zod';
import { fail } from '../errors.js';
import { describeIssues } from '../zod-issues.js';
import {
  generateSigningKeyPair,
  signingKeyPairFromSeed,
  type SigningKeyPair,
} from '../crypto/ed25519.js';
import { boxKeyPairFromSecret, generateBoxKeyPair, type BoxKeyPair } from '../crypto/x25519.js';
import { bytesEqual, fromHex, toHex } from '../encoding/bytes.js';
import { encodeKeyText } from '../encoding/key-text.js';

export interface Identity {
  readonly signing: SigningKeyPair;
  readonly box: BoxKeyPair;
}

export interface TableKey {
  readonly signing: SigningKeyPair;
}

export function generateIdentity(): Identity {
  return { signing: generateSigningKeyPair(), box: generateBoxKeyPair() };
}

export function generateTableKey(): TableKey {
  return { signing: generateSigningKeyPair() };
}

/** The public identity text (`p2pid1…`) that others pass to `--to`. */
export function identityText(identity: Identity): string {
  return encodeKeyText(
    'identity',
    Buffer.concat([identity.signing.publicKey, identity.box.publicKey]),
  );
}

export function tableText(table: TableKey | Uint8Array): string {
  return encodeKeyText('table', table instanceof Uint8Array ? table : table.signing.publicKey);
}

export function recipientText(publicKey: Uint8Array): string {
  return encodeKeyText('recipient', publicKey);
}

const hex32 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters');

const identityFileSchema = z
  .object({
    kind: z.literal('p2pcloud-identity'),
    version: z.literal(1),
    signing_seed: hex32,
    box_secret: hex32,
    public: z.string(),
  })
  .strict();

const tableFileSchema = z
  .object({
    kind: z.literal('p2pcloud-table'),
    version: z.literal(1),
    seed: hex32,
    public: z.string(),
  })
  .strict();

export function serializeIdentity(identity: Identity): string {
  return `${JSON.stringify(
    {
      kind: 'p2pcloud-identity',
      version: 1,
      signing_seed: toHex(identity.signing.seed),
      box_secret: toHex(identity.box.secretKey),
      public: identityText(identity),
    },
    null,
    2,
  )}\n`;
}

export function serializeTableKey(table: TableKey): string {
  return `${JSON.stringify(
    {
      kind: 'p2pcloud-table',
      version: 1,
      seed: toHex(table.signing.seed),
      public: tableText(table),
    },
    null,
    2,
  )}\n`;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    fail('bad_key_file', 'key file is not JSON');
  }
}

export function parseIdentity(text: string): Identity {
  const parsed = identityFileSchema.safeParse(parseJson(text));
  if (!parsed.success)
    fail('bad_key_file', `not an identity key file (${describeIssues(parsed.error)})`);
  const identity: Identity = {
    signing: signingKeyPairFromSeed(fromHex(parsed.data.signing_seed)!),
    box: boxKeyPairFromSecret(fromHex(parsed.data.box_secret)!),
  };
  if (identityText(identity) !== parsed.data.public) {
    fail('bad_key_file', 'identity key file is damaged: its public key does not match its secret');
  }
  return identity;
}

export function parseTableKey(text: string): TableKey {
  const parsed = tableFileSchema.safeParse(parseJson(text));
  if (!parsed.success)
    fail('bad_key_file', `not a table key file (${describeIssues(parsed.error)})`);
  const table: TableKey = { signing: signingKeyPairFromSeed(fromHex(parsed.data.seed)!) };
  if (tableText(table) !== parsed.data.public) {
    fail('bad_key_file', 'table key file is damaged: its public key does not match its secret');
  }
  return table;
}

export function sameTable(a: TableKey, b: TableKey): boolean {
  return bytesEqual(a.signing.publicKey, b.signing.publicKey);
}
