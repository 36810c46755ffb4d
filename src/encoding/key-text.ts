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

/** Space, tab, line feed, carriage return: what copying a key out of a terminal or mail adds. */
function isPasteSpace(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d;
}

/**
 * A pasted key without the white space around it (space, tab, LF, CR only). A loop rather
 * than a regular expression: trailing-space patterns take quadratic time on hostile input.
 */
export function trimKeyText(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isPasteSpace(text.charCodeAt(start))) start++;
  while (end > start && isPasteSpace(text.charCodeAt(end - 1))) end--;
  return text.slice(start, end);
}

export function encodeKeyText(kind: KeyTextKind, bytes: Uint8Array): string {
  if (bytes.length !== LENGTH[kind])
    throw new RangeError(`${kind} key must be ${LENGTH[kind]} bytes`);
  return bech32m.encode(KEY_TEXT_PREFIX[kind], bech32m.toWords(bytes), false);
}

const BECH32_ALPHABET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';

/**
 * Decodes a key text of one of the given kinds; throws P2PError('bad_key') with a reason a
 * person can act on. The structure is checked before the checksum so that a wrong kind or a
 * stray character is named as such rather than as a checksum failure.
 */
export function decodeKeyText(
  text: string,
  kinds: readonly KeyTextKind[],
): { kind: KeyTextKind; bytes: Buffer } {
  const trimmed = typeof text === 'string' ? trimKeyText(text) : '';
  if (trimmed.length === 0) fail('bad_key', 'key text is empty');
  if (/\s/.test(trimmed)) {
    fail('bad_key', 'key text contains white space (only white space around it is ignored)');
  }
  const lower = trimmed.toLowerCase();
  if (trimmed !== lower && trimmed !== trimmed.toUpperCase()) {
    fail('bad_key', 'key text mixes upper and lower case');
  }
  const separator = lower.lastIndexOf('1');
  const prefix = lower.slice(0, Math.max(0, separator));
  const kind = (Object.keys(KEY_TEXT_PREFIX) as KeyTextKind[]).find(
    (k) => KEY_TEXT_PREFIX[k] === prefix,
  );
  if (!kind) {
    fail(
      'bad_key',
      separator < 1
        ? 'not a p2pcloud key text: keys look like p2pid1…, p2ptable1… or p2prcpt1…'
        : `unknown key prefix "${prefix.slice(0, 20)}" (p2pcloud keys start with p2pid1, p2ptable1 or p2prcpt1)`,
    );
  }
  if (!kinds.includes(kind)) {
    fail('bad_key', `expected ${kinds.join(' or ')} key but got ${kind} key (${prefix}1…)`);
  }
  for (const char of lower.slice(separator + 1)) {
    if (!BECH32_ALPHABET.includes(char)) {
      fail('bad_key', `key text holds "${char}", which no key text contains`);
    }
  }
  let words: number[];
  try {
    words = bech32m.decode(lower as `${string}1${string}`, false).words;
  } catch {
    fail(
      'bad_key',
      'key text is damaged: its checksum does not match (a character is wrong or missing)',
    );
  }
  let bytes: Buffer;
  try {
    bytes = Buffer.from(bech32m.fromWords(words));
  } catch {
    fail('bad_key', 'key text has invalid padding');
  }
  if (bytes.length !== LENGTH[kind]) fail('bad_key', `${kind} key must be ${LENGTH[kind]} bytes`);
  return { kind, bytes };
}

/**
 * Parses a 32-byte public key given either as 64 hex characters (either case) or as a key
 * text, both with the same white space allowed around them. An identity text stands for its
 * X25519 part when a recipient is wanted and is refused for a table.
 */
export function parsePublicKey(text: string, want: 'table' | 'recipient'): Buffer {
  const hex = typeof text === 'string' ? fromHex(trimKeyText(text), 32) : undefined;
  if (hex) return hex;
  const kinds: KeyTextKind[] = want === 'table' ? ['table'] : ['recipient', 'identity'];
  const { kind, bytes } = decodeKeyText(text, kinds);
  return kind === 'identity' ? bytes.subarray(32, 64) : bytes;
}
