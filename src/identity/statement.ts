/**
 * Signed statements: the one envelope for everything a person's device asserts about the
 * identity layer (device certificates and revocations, group operations, welcomes, link
 * requests and answers, and records written by a linked device).
 *
 *   { "type": "p2pcloud/statement", "v": 1, "kind": "device-cert",
 *     "person": "p2pid1…", "signer": "p2pid1…", "seq": 7, "at": 1735689600000,
 *     "body": "{…}", "sig": "<128 hex>" }
 *
 * `person` is the identity the statement speaks for (the root); `signer` is the device whose
 * key signed it: the root itself, or a device the root certified (directory.ts says which
 * signers count). `seq` is the signer's own counter, strictly increasing over everything it
 * signs: a revocation names the last one others had seen, which is how a record back-dated by
 * a revoked device is told apart from one it wrote in time. `body` is JSON text so that the
 * signature covers exact bytes and needs no canonical JSON.
 *
 * signed message = "p2pcloud/v1/statement" || lp(kind) || person (64) || signer (64)
 *                  || u64(seq) || u64(at) || lp(body)
 * statement hash = SHA-256("p2pcloud/v1/statement-hash" || signed message || sig)
 *
 * lp(x) is the u32 big-endian byte length of x's UTF-8 followed by those bytes; u64 is big
 * endian. Pure: no I/O.
 */
import { sign, verify } from '../crypto/ed25519.js';
import { sha256 } from '../crypto/sha256.js';
import { fromHex, toHex, u32be, u64be, utf8 } from '../encoding/bytes.js';
import { decodeKeyText } from '../encoding/key-text.js';
import { identityText, type Identity } from '../keys/keys.js';

export const STATEMENT_TYPE = 'p2pcloud/statement';
export const STATEMENT_DOMAIN = utf8('p2pcloud/v1/statement');
export const STATEMENT_HASH_DOMAIN = utf8('p2pcloud/v1/statement-hash');

/** Largest body text a statement may carry (it must fit an entry with room to spare). */
export const MAX_BODY_BYTES = 48 * 1024;
/**
 * Largest statement text read. The body travels as a JSON string, where every quote or
 * backslash takes two bytes and a control character six: a body within MAX_BODY_BYTES (a
 * key-value batch of small operations is a quarter quotes) may take up to six times its size.
 */
const MAX_TEXT_BYTES = 6 * MAX_BODY_BYTES + 4096;

export const STATEMENT_KINDS = [
  'device-cert',
  'device-revoke',
  'group-op',
  'group-keys',
  'group-welcome',
  'link-request',
  'link-answer',
  'record',
  'kv-batch',
  'log-entry',
  'log-head',
] as const;
export type StatementKind = (typeof STATEMENT_KINDS)[number];

export interface Statement {
  readonly kind: StatementKind;
  /** Identity text of the person (root) the statement speaks for. */
  readonly person: string;
  /** Identity text of the device that signed it (the root itself or a certified device). */
  readonly signer: string;
  readonly seq: number;
  readonly at: number;
  /** JSON object text, signed as these exact bytes. */
  readonly body: string;
  /** Hex Ed25519 signature by the signer's signing key. */
  readonly sig: string;
  /** Hex SHA-256 statement hash (computed, not transmitted). */
  readonly hash: string;
}

function lp(text: string): Buffer {
  const bytes = utf8(text);
  return Buffer.concat([u32be(bytes.length), bytes]);
}

/** The 64 bytes of an identity text (signing key || box key); throws bad_key. */
export function identityKeyBytes(text: string): Buffer {
  return decodeKeyText(text, ['identity']).bytes;
}

/** Whether `text` is a well-formed identity text (p2pid1…). */
export function isIdentityText(text: unknown): text is string {
  if (typeof text !== 'string' || text.length > 200) return false;
  try {
    identityKeyBytes(text);
    return true;
  } catch {
    return false;
  }
}

export function statementMessage(s: Omit<Statement, 'sig' | 'hash'>): Buffer {
  return Buffer.concat([
    STATEMENT_DOMAIN,
    lp(s.kind),
    identityKeyBytes(s.person),
    identityKeyBytes(s.signer),
    u64be(s.seq),
    u64be(s.at),
    lp(s.body),
  ]);
}

function statementHash(message: Buffer, sig: Buffer): string {
  return toHex(sha256(STATEMENT_HASH_DOMAIN, message, sig));
}

export interface NewStatement {
  readonly kind: StatementKind;
  /** The person's identity text; the signer's own text when it signs as a root. */
  readonly person: string;
  readonly signer: Identity;
  readonly seq: number;
  readonly at: number;
  /**
   * The body object, or its JSON text when the caller serialised it already (a JSON object's
   * text: what readers parse; a large body is then not serialised twice).
   */
  readonly body: Record<string, unknown> | string;
}

export function signStatement(input: NewStatement): Statement {
  const unsigned = {
    kind: input.kind,
    person: input.person,
    signer: identityText(input.signer),
    seq: input.seq,
    at: input.at,
    body: typeof input.body === 'string' ? input.body : JSON.stringify(input.body),
  };
  if (!unsigned.body.startsWith('{') || !unsigned.body.endsWith('}')) {
    throw new RangeError('a body is the text of a JSON object');
  }
  if (!Number.isSafeInteger(unsigned.seq) || unsigned.seq < 0) throw new RangeError('bad seq');
  if (!Number.isSafeInteger(unsigned.at) || unsigned.at < 0) throw new RangeError('bad time');
  if (Buffer.byteLength(unsigned.body) > MAX_BODY_BYTES) throw new RangeError('body too large');
  const message = statementMessage(unsigned);
  const sig = sign(message, input.signer.signing);
  return { ...unsigned, sig: toHex(sig), hash: statementHash(message, sig) };
}

/** The JSON text of a statement, as entries and files carry it. */
export function encodeStatement(s: Omit<Statement, 'hash'>): string {
  return JSON.stringify({
    type: STATEMENT_TYPE,
    v: 1,
    kind: s.kind,
    person: s.person,
    signer: s.signer,
    seq: s.seq,
    at: s.at,
    body: s.body,
    sig: s.sig,
  });
}

const MEMBERS = ['type', 'v', 'kind', 'person', 'signer', 'seq', 'at', 'body', 'sig'];

/** Parses JSON text into a plain object, or undefined. */
export function parseJsonObject(text: string): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/**
 * Reads a statement and checks its exact shape and its signature by `signer`; undefined for
 * anything else. Whether the signer may speak for `person` is the directory's question.
 */
export function decodeStatement(
  input: string | Record<string, unknown>,
): (Statement & { bodyObject: Record<string, unknown> }) | undefined {
  if (typeof input === 'string' && Buffer.byteLength(input) > MAX_TEXT_BYTES) {
    return undefined;
  }
  const object = typeof input === 'string' ? parseJsonObject(input) : input;
  if (!object || object.type !== STATEMENT_TYPE || object.v !== 1) return undefined;
  const keys = Object.keys(object);
  if (keys.length !== MEMBERS.length || !MEMBERS.every((m) => Object.hasOwn(object, m))) {
    return undefined;
  }
  const { kind, person, signer, seq, at, body, sig } = object;
  if (typeof kind !== 'string' || !(STATEMENT_KINDS as readonly string[]).includes(kind)) {
    return undefined;
  }
  if (!isIdentityText(person) || !isIdentityText(signer)) return undefined;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return undefined;
  if (typeof at !== 'number' || !Number.isSafeInteger(at) || at < 0) return undefined;
  if (typeof body !== 'string' || Buffer.byteLength(body) > MAX_BODY_BYTES) return undefined;
  if (typeof sig !== 'string') return undefined;
  const signature = fromHex(sig, 64);
  if (!signature) return undefined;
  const bodyObject = parseJsonObject(body);
  if (!bodyObject) return undefined;
  const unsigned = { kind: kind as StatementKind, person, signer, seq, at, body };
  const message = statementMessage(unsigned);
  if (!verify(signature, message, identityKeyBytes(signer).subarray(0, 32))) return undefined;
  return { ...unsigned, sig, hash: statementHash(message, signature), bodyObject };
}
