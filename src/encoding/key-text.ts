/**
 * The copy-pasteable text form of public keys: bech32m (BIP 350) with a prefix naming the key
 * kind, so a table key pasted where an identity is expected is caught, and so is a typo
 * (the checksum detects any error in up to four characters).
 *
 *   p2pid1…    identity: Ed25519 signing key (32 bytes) || X25519 encryption key (32 bytes)
 *   p2ptable1… table: Ed25519 public key (32 bytes)
 *   p2prcpt1…  recipient: X25519 public key (32 bytes)
 *   p2plink1…  link code: a one-time secret (16 bytes) || u32 expiry (docs/identity.md §3.4);
 *              not a key, but pasted and typed the same way, so it gets the same checks
 */
import { bech32m } from '@scure/base';
import { fail } from '../errors.js';
import { fromHex } from './bytes.js';

/** Prefixes of public key texts: what may stand where a key is expected. */
export const KEY_TEXT_PREFIX = {
  identity: 'p2pid',
  table: 'p2ptable',
  recipient: 'p2prcpt',
} as const;

/** Every prefix this module reads: the public keys and link codes. */
export const TEXT_PREFIX = { ...KEY_TEXT_PREFIX, link: 'p2plink' } as const;

export type KeyTextKind = keyof typeof TEXT_PREFIX;

const LENGTH: Record<KeyTextKind, number> = { identity: 64, table: 32, recipient: 32, link: 20 };

/** What a text of each kind is called in messages. */
const NOUN: Record<KeyTextKind, string> = {
  identity: 'identity key',
  table: 'table key',
  recipient: 'recipient key',
  link: 'link code',
};

function isKeyKind(kind: KeyTextKind): boolean {
  return kind !== 'link';
}

/** "p2pid1, p2ptable1 or p2prcpt1": the prefixes of some kinds, as a person would type them. */
function prefixList(kinds: readonly KeyTextKind[], ellipsis: string): string {
  const items = kinds.map((k) => `${TEXT_PREFIX[k]}1${ellipsis}`);
  return items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`;
}

/**
 * Where the text was expected not to be a key at all (a link code), messages speak of that;
 * otherwise of keys, naming link codes only when they were acceptable too.
 */
function unknownPrefixMessage(
  kinds: readonly KeyTextKind[],
  prefix: string,
  separator: number,
): string {
  const keyKinds = Object.keys(KEY_TEXT_PREFIX) as KeyTextKind[];
  const wantsKey = kinds.some(isKeyKind);
  const wantsLink = kinds.includes('link');
  const looks = [
    ...(wantsKey ? [`keys look like ${prefixList(keyKinds, '…')}`] : []),
    ...(wantsLink ? [`link codes look like ${prefixList(['link'], '…')}`] : []),
  ].join('; ');
  const starts = [
    ...(wantsKey ? [`p2pcloud keys start with ${prefixList(keyKinds, '')}`] : []),
    ...(wantsLink ? [`link codes start with ${prefixList(['link'], '')}`] : []),
  ].join('; ');
  return separator < 1
    ? `not ${wantsKey ? 'a p2pcloud key text' : 'a link code'}: ${looks}`
    : `unknown ${wantsKey ? 'key ' : ''}prefix "${prefix.slice(0, 20)}" (${starts})`;
}

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
    throw new RangeError(`${NOUN[kind]} must be ${LENGTH[kind]} bytes`);
  return bech32m.encode(TEXT_PREFIX[kind], bech32m.toWords(bytes), false);
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
  // Messages name what the caller expects: a key text, or a link code when only that will do.
  const what = kinds.some(isKeyKind) ? 'key text' : 'link code';
  const trimmed = typeof text === 'string' ? trimKeyText(text) : '';
  if (trimmed.length === 0) fail('bad_key', `${what} is empty`);
  if (/\s/.test(trimmed)) {
    fail('bad_key', `${what} contains white space (only white space around it is ignored)`);
  }
  const lower = trimmed.toLowerCase();
  if (trimmed !== lower && trimmed !== trimmed.toUpperCase()) {
    fail('bad_key', `${what} mixes upper and lower case`);
  }
  const separator = lower.lastIndexOf('1');
  const prefix = lower.slice(0, Math.max(0, separator));
  const kind = (Object.keys(TEXT_PREFIX) as KeyTextKind[]).find((k) => TEXT_PREFIX[k] === prefix);
  if (!kind) fail('bad_key', unknownPrefixMessage(kinds, prefix, separator));
  if (!kinds.includes(kind)) {
    fail(
      'bad_key',
      `expected ${kinds.map((k) => NOUN[k]).join(' or ')} but got ${NOUN[kind]} (${prefix}1…)`,
    );
  }
  for (const char of lower.slice(separator + 1)) {
    if (!BECH32_ALPHABET.includes(char)) {
      fail('bad_key', `${what} holds "${char}", which no ${what} contains`);
    }
  }
  let words: number[];
  try {
    words = bech32m.decode(lower as `${string}1${string}`, false).words;
  } catch {
    fail(
      'bad_key',
      `${what} is damaged: its checksum does not match (a character is wrong or missing)`,
    );
  }
  let bytes: Buffer;
  try {
    bytes = Buffer.from(bech32m.fromWords(words));
  } catch {
    fail('bad_key', `${what} has invalid padding`);
  }
  if (bytes.length !== LENGTH[kind]) {
    const chars = TEXT_PREFIX[kind].length + 1 + Math.ceil((LENGTH[kind] * 8) / 5) + 6;
    fail(
      'bad_key',
      `${NOUN[kind]} has the wrong length: it holds ${LENGTH[kind]} bytes (${chars} characters)`,
    );
  }
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
