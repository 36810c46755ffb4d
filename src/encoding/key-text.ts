/**
 * The copy-pasteable text form of public keys: bech32m (BIP 350) with a prefix naming the key
 * kind, so a table key pasted where an identity is expected is caught, and so is a typo
 * (the checksum detects any error in up to four characters).
 *
 *   p2pid1…    identity: Ed25519 signing key (32 bytes) || X25519 encryption key (32 bytes)
 *   p2ptable1… table: Ed25519 public key (32 bytes)
 *   p2prcpt1…  recipient: X25519 public key (32 bytes)
 */
import { bech32m } from '@scure/base';
import { fail } from '../errors.js';
import { fromHex } from './bytes.js';

export const KEY_TEXT_PREFIX = {
  identity: 'p2pid',
  table: 'p2ptable',
  recipient: 'p2prcpt',
} as const;

export type KeyTextKind = keyof typeof KEY_TEXT_PREFIX;

const LENGTH: Record<KeyTextKind, number> = { identity: 64, table: 32, recipient: 32 };

export function encodeKeyText(kind: KeyTextKind, bytes: Uint8Array): string {
  if (bytes.length !== LENGTH[kind])
    throw new RangeError(`${kind} key must be ${LENGTH[kind]} bytes`);
  return bech32m.encode(KEY_TEXT_PREFIX[kind], bech32m.toWords(bytes), false);
}

/** Decodes a key text of one of the given kinds; throws P2PError('bad_key') with the reason. */
export function decodeKeyText(
  text: string,
  kinds: readonly KeyTextKind[],
): { kind: KeyTextKind; bytes: Buffer } {
  if (typeof text !== 'string' || text.length === 0) fail('bad_key', 'key text is empty');
  const trimmed = text.trim();
  let decoded: { prefix: string; words: number[] };
  try {
    decoded = bech32m.decode(trimmed as `${string}1${string}`, false);
  } catch (error) {
    fail('bad_key', `not a p2pcloud key text (${(error as Error).message})`);
  }
  const kind = (Object.keys(KEY_TEXT_PREFIX) as KeyTextKind[]).find(
    (k) => KEY_TEXT_PREFIX[k] === decoded.prefix,
  );
  if (!kind) fail('bad_key', `unknown key prefix "${decoded.prefix}"`);
  if (!kinds.includes(kind)) {
    fail('bad_key', `expected ${kinds.join(' or ')} key but got ${kind} key (${decoded.prefix}1…)`);
  }
  let bytes: Buffer;
  try {
    bytes = Buffer.from(bech32m.fromWords(decoded.words));
  } catch {
    fail('bad_key', 'key text has invalid padding');
  }
  if (bytes.length !== LENGTH[kind]) fail('bad_key', `${kind} key must be ${LENGTH[kind]} bytes`);
  return { kind, bytes };
}

/**
 * Parses a 32-byte public key given either as 64 hex characters or as a key text. An identity
 * text stands for its X25519 part when a recipient is wanted and is refused for a table.
 */
export function parsePublicKey(text: string, want: 'table' | 'recipient'): Buffer {
  const hex = fromHex(text, 32);
  if (hex) return hex;
  const kinds: KeyTextKind[] = want === 'table' ? ['table'] : ['recipient', 'identity'];
  const { kind, bytes } = decodeKeyText(text, kinds);
  return kind === 'identity' ? bytes.subarray(32, 64) : bytes;
}
