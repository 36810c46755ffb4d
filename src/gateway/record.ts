/**
 * Records: what apps store through the gateway. A record version is the plaintext of one entry,
 * a JSON object signed by its author's identity key (besides the table signature every entry
 * carries), so readers know who wrote it even in a space where many people hold the table key.
 *
 *   { "type": "p2pcloud/record", "v": 1, "collection": "posts", "key": "…",
 *     "author": "p2pid1…", "at": 1735689600000, "deleted": false,
 *     "data": "{\"title\":\"…\"}", "sig": "<128 hex>" }
 *
 * `data` is the record's JSON object as text, so the signature covers exact bytes and needs no
 * canonical JSON. A record is identified by (author, collection, key): only its author can
 * write a newer version, and the newest `at` wins. A delete is a version with `deleted: true`.
 *
 * The signed message is domain-separated and length-prefixed (see recordMessage). It does not
 * name the space, on purpose: a record copied into a fork of its space keeps its author's
 * signature. A valid signature says "the author wrote this", not "in this space".
 *
 * A version written by a linked device (docs/identity.md §4) is a signed statement of kind
 * `record` instead: `author` is then the person the device speaks for and `signer`/`seq` name
 * the device and its counter; whether the device may speak for the person is the directory's
 * question, answered by the caller (ingest.ts).
 *
 * Pure: no I/O.
 */
import {
  decodeStatement,
  encodeStatement,
  parseJsonObject,
  signStatement,
  STATEMENT_TYPE,
} from '../identity/statement.js';
import { sign, verify } from '../crypto/ed25519.js';
import { sha256 } from '../crypto/sha256.js';
import { fail } from '../errors.js';
import { fromHex, toHex, u32be, u64be, utf8 } from '../encoding/bytes.js';
import { decodeKeyText } from '../encoding/key-text.js';
import { identityText, type Identity } from '../keys/keys.js';

export const RECORD_TYPE = 'p2pcloud/record';
export const RECORD_DOMAIN = utf8('p2pcloud/v1/record-sig');
export const RECORD_ID_DOMAIN = utf8('p2pcloud/v1/record-id');
/** Largest `data` text: entries must fit the 64 KiB default of nodes with room to spare. */
export const MAX_DATA_BYTES = 32 * 1024;

export const COLLECTION_RE = /^[a-z][a-z0-9_-]{0,63}$/;
export const KEY_RE = /^[A-Za-z0-9._:-]{1,128}$/;

export interface RecordVersion {
  readonly collection: string;
  readonly key: string;
  /** Author identity text (p2pid1…). */
  readonly author: string;
  readonly at: number;
  readonly deleted: boolean;
  /** The record's JSON object, as the exact text that was signed. */
  readonly data: string;
  /** Hex Ed25519 signature by the author's signing key (or, with `signer`, by the device). */
  readonly sig: string;
  /** A linked device that signed for `author` (docs/identity.md §4), with its counter. */
  readonly signer?: string;
  readonly seq?: number;
}

function lengthPrefixed(text: string): Buffer {
  const bytes = utf8(text);
  return Buffer.concat([u32be(bytes.length), bytes]);
}

/** The 64 bytes of an identity text: signing key || box key. */
export function identityBytes(text: string): Buffer {
  return decodeKeyText(text, ['identity']).bytes;
}

/**
 * What an author signs:
 * domain || lp(collection) || lp(key) || author (64 bytes) || u64(at) || u8(deleted) || lp(data),
 * where lp(x) is a u32 big-endian byte length followed by the UTF-8 bytes of x.
 */
export function recordMessage(version: Omit<RecordVersion, 'sig'>): Buffer {
  return Buffer.concat([
    RECORD_DOMAIN,
    lengthPrefixed(version.collection),
    lengthPrefixed(version.key),
    identityBytes(version.author),
    u64be(version.at),
    Uint8Array.of(version.deleted ? 1 : 0),
    lengthPrefixed(version.data),
  ]);
}

/**
 * The public id of a record: 16 bytes of SHA-256(domain || author signing key || lp(collection)
 * || key), in hex. Different authors never share a record, so nobody can overwrite another's.
 */
export function recordId(authorText: string, collection: string, key: string): string {
  const signing = identityBytes(authorText).subarray(0, 32);
  return toHex(
    sha256(RECORD_ID_DOMAIN, signing, lengthPrefixed(collection), utf8(key)).subarray(0, 16),
  );
}

export function checkCollection(collection: unknown): string {
  if (typeof collection !== 'string' || !COLLECTION_RE.test(collection)) {
    fail(
      'bad_record',
      'collection must be 1-64 characters: a lowercase letter, then lowercase letters, digits, _ or -',
    );
  }
  return collection;
}

export function checkKey(key: unknown): string {
  if (typeof key !== 'string' || !KEY_RE.test(key)) {
    fail('bad_record', 'record key must be 1-128 characters of A-Z a-z 0-9 . _ : -');
  }
  return key;
}

/** Serialises a record's data object; refuses anything that is not a plain JSON object. */
export function dataText(data: unknown): string {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    fail('bad_record', 'record data must be a JSON object');
  }
  const text = JSON.stringify(data);
  if (Buffer.byteLength(text, 'utf8') > MAX_DATA_BYTES) {
    fail('bad_record', `record data must be at most ${MAX_DATA_BYTES} bytes as JSON`);
  }
  return text;
}

export interface NewVersion {
  readonly collection: string;
  readonly key: string;
  readonly author: Identity;
  /** For a linked device: the person it writes for and its next counter value. */
  readonly device?: { readonly person: string; readonly seq: number };
  readonly at: number;
  readonly deleted: boolean;
  readonly data: string;
}

/** Signs a version with the author's key. */
export function signVersion(input: NewVersion): RecordVersion {
  const unsigned = {
    collection: checkCollection(input.collection),
    key: checkKey(input.key),
    author: identityText(input.author),
    at: input.at,
    deleted: input.deleted,
    data: input.data,
  };
  if (!Number.isSafeInteger(unsigned.at) || unsigned.at < 0) fail('bad_record', 'bad time');
  if (input.device) {
    const statement = signStatement({
      kind: 'record',
      person: input.device.person,
      signer: input.author,
      seq: input.device.seq,
      at: unsigned.at,
      body: recordBody(unsigned),
    });
    return {
      ...unsigned,
      author: input.device.person,
      sig: statement.sig,
      signer: statement.signer,
      seq: statement.seq,
    };
  }
  return { ...unsigned, sig: toHex(sign(recordMessage(unsigned), input.author.signing)) };
}

function recordBody(version: Pick<RecordVersion, 'collection' | 'key' | 'deleted' | 'data'>) {
  return {
    collection: version.collection,
    key: version.key,
    deleted: version.deleted,
    data: version.data,
  };
}

/** The plaintext of the entry that carries a version. */
export function encodeVersion(version: RecordVersion): Buffer {
  if (version.signer !== undefined) {
    return utf8(
      encodeStatement({
        kind: 'record',
        person: version.author,
        signer: version.signer,
        seq: version.seq ?? 0,
        at: version.at,
        body: JSON.stringify(recordBody(version)),
        sig: version.sig,
      }),
    );
  }
  return utf8(
    JSON.stringify({
      type: RECORD_TYPE,
      v: 1,
      collection: version.collection,
      key: version.key,
      author: version.author,
      at: version.at,
      deleted: version.deleted,
      data: version.data,
      sig: version.sig,
    }),
  );
}

const MEMBERS = ['type', 'v', 'collection', 'key', 'author', 'at', 'deleted', 'data', 'sig'];

/** Parses JSON text into an object, or undefined. */
export const parseObject = parseJsonObject;

/**
 * Reads and checks a version from an entry's plaintext: exact shape, valid names, data that is
 * a JSON object, and the author's signature. Returns undefined for anything else: what other
 * people write into a shared space is untrusted input.
 */
export function decodeVersion(plaintext: Buffer): RecordVersion | undefined {
  const object = parseObject(plaintext.toString('utf8'));
  if (object?.type === STATEMENT_TYPE) return decodeDeviceVersion(object);
  if (!object || object.type !== RECORD_TYPE || object.v !== 1) return undefined;
  const keys = Object.keys(object);
  if (keys.length !== MEMBERS.length || !MEMBERS.every((m) => Object.hasOwn(object, m))) {
    return undefined;
  }
  const { collection, key, author, at, deleted, data, sig } = object;
  if (typeof collection !== 'string' || !COLLECTION_RE.test(collection)) return undefined;
  if (typeof key !== 'string' || !KEY_RE.test(key)) return undefined;
  if (typeof author !== 'string' || typeof data !== 'string' || typeof sig !== 'string') {
    return undefined;
  }
  if (typeof at !== 'number' || !Number.isSafeInteger(at) || at < 0) return undefined;
  if (typeof deleted !== 'boolean') return undefined;
  if (Buffer.byteLength(data, 'utf8') > MAX_DATA_BYTES || !parseObject(data)) return undefined;
  const signature = fromHex(sig, 64);
  if (!signature) return undefined;
  let authorKeys: Buffer;
  try {
    authorKeys = identityBytes(author);
  } catch {
    return undefined;
  }
  const version: RecordVersion = { collection, key, author, at, deleted, data, sig };
  if (!verify(signature, recordMessage(version), authorKeys.subarray(0, 32))) return undefined;
  return version;
}

const BODY_MEMBERS = ['collection', 'key', 'deleted', 'data'];

/** A version signed by a linked device: a `record` statement (docs/identity.md §4). */
function decodeDeviceVersion(object: Record<string, unknown>): RecordVersion | undefined {
  const statement = decodeStatement(object);
  if (!statement || statement.kind !== 'record') return undefined;
  const body = statement.bodyObject;
  const keys = Object.keys(body);
  if (keys.length !== BODY_MEMBERS.length || !BODY_MEMBERS.every((m) => Object.hasOwn(body, m))) {
    return undefined;
  }
  const { collection, key, deleted, data } = body;
  if (typeof collection !== 'string' || !COLLECTION_RE.test(collection)) return undefined;
  if (typeof key !== 'string' || !KEY_RE.test(key)) return undefined;
  if (typeof deleted !== 'boolean' || typeof data !== 'string') return undefined;
  if (Buffer.byteLength(data, 'utf8') > MAX_DATA_BYTES || !parseObject(data)) return undefined;
  return {
    collection,
    key,
    author: statement.person,
    at: statement.at,
    deleted,
    data,
    sig: statement.sig,
    signer: statement.signer,
    seq: statement.seq,
  };
}

/** True when version `a` (with entry id `aId`) supersedes `b`: later time, then larger id. */
export function newer(
  a: { at: number; version: string },
  b: { at: number; version: string },
): boolean {
  return a.at > b.at || (a.at === b.at && a.version > b.version);
}
