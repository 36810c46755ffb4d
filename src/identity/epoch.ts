/**
 * A group's keys by epoch (docs/identity.md §5.2 and §5.4): the key schedule that turns one
 * epoch secret into the epoch's data and control spaces, the key packages that carry an epoch
 * to each member device (HPKE base mode, RFC 9180), and the group-keys objects that hold them.
 *
 *   table seed            = HKDF(g, epoch_secret, "p2pcloud/v1/epoch/table", 32)
 *   reader secret         = HKDF(g, epoch_secret, "p2pcloud/v1/epoch/reader", 32)
 *   control secret        = HKDF(g, epoch_secret, "p2pcloud/v1/epoch/control", 32)
 *   control table seed    = HKDF(g, control secret, "p2pcloud/v1/control/table", 32)
 *   control reader secret = HKDF(g, control secret, "p2pcloud/v1/control/reader", 32)
 *
 * with g the 16 bytes of the group id. Writers hold the epoch secret; readers only the reader
 * and control secrets, so they cannot sign for the data table.
 *
 * Pure: no I/O. Everything decoded here comes from strangers, so decoders check exact members,
 * sizes and encodings and answer undefined to anything else; their work is bounded by the
 * size of their input.
 */
import { hkdfExpand, hkdfExtract } from '../crypto/hkdf.js';
import { HPKE_ENC_BYTES, HPKE_TAG_BYTES, openBase, sealBase } from '../crypto/hpke.js';
import { signingKeyPairFromSeed } from '../crypto/ed25519.js';
import { boxKeyPairFromSecret, type BoxKeyPair } from '../crypto/x25519.js';
import { bytesEqual, fromHex, toBase64, toHex, utf8 } from '../encoding/bytes.js';
import type { TableKey } from '../keys/keys.js';
import { parseJsonObject } from './statement.js';

export const GROUP_KEYS_TYPE = 'p2pcloud/group-keys';
/** Largest group-keys object: it must fit an entry beside its framing with room to spare. */
export const GROUP_KEYS_MAX_BYTES = 45 * 1024;
const PACKAGE_DOMAIN = utf8('p2pcloud/v1/epoch-package');
const EMPTY = Buffer.alloc(0);

const GROUP_ID_RE = /^[0-9a-f]{32}$/;
const HASH_RE = /^[0-9a-f]{64}$/;

export function isGroupId(text: unknown): text is string {
  return typeof text === 'string' && GROUP_ID_RE.test(text);
}

export function isOpHash(text: unknown): text is string {
  return typeof text === 'string' && HASH_RE.test(text);
}

function groupBytes(groupId: string): Buffer {
  if (!isGroupId(groupId)) throw new RangeError('group id must be 32 lowercase hex characters');
  return Buffer.from(groupId, 'hex');
}

function secret32(bytes: Uint8Array, what: string): void {
  if (bytes.length !== 32) throw new RangeError(`${what} must be 32 bytes`);
}

function derive(g: Buffer, ikm: Uint8Array, label: string): Buffer {
  return hkdfExpand(hkdfExtract(g, ikm), utf8(label), 32);
}

export interface EpochKeys {
  /** The data table's signing key; undefined for readers. */
  readonly table: TableKey | undefined;
  /** The data space's reader key. */
  readonly reader: BoxKeyPair;
  readonly controlSecret: Buffer;
  /** The control space: the next operations and their key packages. */
  readonly control: { table: TableKey; reader: BoxKeyPair };
}

export function controlKeys(
  groupId: string,
  controlSecret: Uint8Array,
): { table: TableKey; reader: BoxKeyPair } {
  secret32(controlSecret, 'control secret');
  const g = groupBytes(groupId);
  return {
    table: {
      signing: signingKeyPairFromSeed(derive(g, controlSecret, 'p2pcloud/v1/control/table')),
    },
    reader: boxKeyPairFromSecret(derive(g, controlSecret, 'p2pcloud/v1/control/reader')),
  };
}

export function epochKeysFromSecret(
  groupId: string,
  epochSecret: Uint8Array,
): EpochKeys & { table: TableKey } {
  secret32(epochSecret, 'epoch secret');
  const g = groupBytes(groupId);
  const controlSecret = derive(g, epochSecret, 'p2pcloud/v1/epoch/control');
  return {
    table: { signing: signingKeyPairFromSeed(derive(g, epochSecret, 'p2pcloud/v1/epoch/table')) },
    reader: boxKeyPairFromSecret(derive(g, epochSecret, 'p2pcloud/v1/epoch/reader')),
    controlSecret,
    control: controlKeys(groupId, controlSecret),
  };
}

export function epochKeysForReader(
  groupId: string,
  readerSecret: Uint8Array,
  controlSecret: Uint8Array,
): EpochKeys {
  secret32(readerSecret, 'reader secret');
  return {
    table: undefined,
    reader: boxKeyPairFromSecret(readerSecret),
    controlSecret: Buffer.from(controlSecret),
    control: controlKeys(groupId, controlSecret),
  };
}

export interface EpochPublic {
  readonly table: string;
  readonly reader: string;
  readonly control_table: string;
  readonly control_reader: string;
}

/** The `epoch` member of a group-op body: hex public keys. */
export function epochPublic(keys: EpochKeys & { table: TableKey }): EpochPublic {
  return {
    table: toHex(keys.table.signing.publicKey),
    reader: toHex(keys.reader.publicKey),
    control_table: toHex(keys.control.table.signing.publicKey),
    control_reader: toHex(keys.control.reader.publicKey),
  };
}

function sameKey(key: Uint8Array, hex: unknown): boolean {
  const bytes = typeof hex === 'string' ? fromHex(hex, 32) : undefined;
  return bytes !== undefined && hex === toHex(bytes) && bytesEqual(key, bytes);
}

/**
 * Whether keys match the public keys an operation names: a package proves itself this way.
 * A reader's keys have no data table, so for them the data table is not compared.
 */
export function matchesEpoch(keys: EpochKeys, pub: EpochPublic): boolean {
  return (
    (keys.table === undefined || sameKey(keys.table.signing.publicKey, pub.table)) &&
    sameKey(keys.reader.publicKey, pub.reader) &&
    sameKey(keys.control.table.signing.publicKey, pub.control_table) &&
    sameKey(keys.control.reader.publicKey, pub.control_reader)
  );
}

export interface HistoryItem {
  readonly epoch: string;
  readonly readerSecret: Buffer;
  readonly controlSecret: Buffer;
}

export type PackageContent =
  | { readonly epochSecret: Buffer; readonly history?: readonly HistoryItem[] }
  | {
      readonly readerSecret: Buffer;
      readonly controlSecret: Buffer;
      readonly history?: readonly HistoryItem[];
    };

function packageInfo(groupId: string, opHash: string): Buffer {
  if (!isOpHash(opHash)) throw new RangeError('op hash must be 64 lowercase hex characters');
  return Buffer.concat([PACKAGE_DOMAIN, groupBytes(groupId), Buffer.from(opHash, 'hex')]);
}

/** The plaintext of a package, members in the order §5.4 lists them. */
export function packagePlaintext(content: PackageContent): Buffer {
  const object: Record<string, unknown> = {};
  if ('epochSecret' in content) {
    secret32(content.epochSecret, 'epoch secret');
    object.epoch_secret = toHex(content.epochSecret);
  } else {
    secret32(content.readerSecret, 'reader secret');
    secret32(content.controlSecret, 'control secret');
    object.reader_secret = toHex(content.readerSecret);
    object.control_secret = toHex(content.controlSecret);
  }
  // An empty history is left out, so that each content has one plaintext.
  if (content.history && content.history.length > 0) {
    object.history = content.history.map((item) => {
      if (!isOpHash(item.epoch)) throw new RangeError('history epoch must be an op hash');
      secret32(item.readerSecret, 'reader secret');
      secret32(item.controlSecret, 'control secret');
      return {
        epoch: item.epoch,
        reader_secret: toHex(item.readerSecret),
        control_secret: toHex(item.controlSecret),
      };
    });
  }
  return utf8(JSON.stringify(object));
}

/**
 * Seals a package to one device's box key. `ephemeral` fixes HPKE's ephemeral key pair: only
 * test vectors pass it.
 */
export function sealPackage(
  groupId: string,
  opHash: string,
  to: Uint8Array,
  content: PackageContent,
  ephemeral?: { secretKey: Uint8Array; publicKey: Uint8Array },
): string {
  if (to.length !== 32) throw new RangeError('recipient must be a 32-byte X25519 key');
  const info = packageInfo(groupId, opHash);
  return toBase64(sealBase(to, info, EMPTY, packagePlaintext(content), ephemeral));
}

/** 32 bytes from exactly 64 lowercase hex characters, or undefined. */
function hex32(value: unknown): Buffer | undefined {
  return isOpHash(value) ? Buffer.from(value, 'hex') : undefined;
}

function hasExactly(object: Record<string, unknown>, members: readonly string[]): boolean {
  const keys = Object.keys(object);
  return keys.length === members.length && members.every((m) => Object.hasOwn(object, m));
}

function readHistoryItem(value: unknown): HistoryItem | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const item = value as Record<string, unknown>;
  if (!hasExactly(item, ['epoch', 'reader_secret', 'control_secret'])) return undefined;
  const readerSecret = hex32(item.reader_secret);
  const controlSecret = hex32(item.control_secret);
  if (!isOpHash(item.epoch) || !readerSecret || !controlSecret) return undefined;
  return { epoch: item.epoch, readerSecret, controlSecret };
}

/** Reads a package plaintext strictly; undefined for anything §5.4 does not allow. */
export function readPackagePlaintext(plaintext: Uint8Array): PackageContent | undefined {
  // Every value a package may hold is ASCII, so a byte that is not UTF-8 only spoils a
  // member that is refused anyway.
  const object = parseJsonObject(Buffer.from(plaintext).toString('utf8'));
  if (!object) return undefined;
  let history: HistoryItem[] | undefined;
  if (Object.hasOwn(object, 'history')) {
    if (!Array.isArray(object.history) || object.history.length === 0) return undefined;
    history = [];
    for (const value of object.history as unknown[]) {
      const item = readHistoryItem(value);
      if (!item) return undefined;
      history.push(item);
    }
  }
  const extra = history ? ['history'] : [];
  if (hasExactly(object, ['epoch_secret', ...extra])) {
    const epochSecret = hex32(object.epoch_secret);
    if (!epochSecret) return undefined;
    return history ? { epochSecret, history } : { epochSecret };
  }
  if (hasExactly(object, ['reader_secret', 'control_secret', ...extra])) {
    const readerSecret = hex32(object.reader_secret);
    const controlSecret = hex32(object.control_secret);
    if (!readerSecret || !controlSecret) return undefined;
    return history ? { readerSecret, controlSecret, history } : { readerSecret, controlSecret };
  }
  return undefined;
}

/** Standard base64 with padding, in its one canonical spelling, or undefined. */
function strictBase64(text: unknown, maxChars: number): Buffer | undefined {
  if (typeof text !== 'string' || text.length > maxChars || text.length % 4 !== 0) {
    return undefined;
  }
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

const MIN_CT_BYTES = HPKE_ENC_BYTES + HPKE_TAG_BYTES;

/**
 * Opens a package sealed to `recipient` for this group and operation; undefined when it is
 * not for them, not for this group or operation, damaged, or its plaintext is malformed.
 */
export function openPackage(
  groupId: string,
  opHash: string,
  recipient: BoxKeyPair,
  ct: string,
): PackageContent | undefined {
  if (!isGroupId(groupId) || !isOpHash(opHash)) return undefined;
  const sealed = strictBase64(ct, GROUP_KEYS_MAX_BYTES);
  if (!sealed || sealed.length < MIN_CT_BYTES) return undefined;
  const plaintext = openBase(recipient, packageInfo(groupId, opHash), EMPTY, sealed);
  return plaintext ? readPackagePlaintext(plaintext) : undefined;
}

/**
 * The group-keys objects of one operation (§5.4): its packages in the order given, as few
 * objects as fit, each at most GROUP_KEYS_MAX_BYTES. Throws RangeError when one package alone
 * does not fit.
 */
export function encodeGroupKeys(
  groupId: string,
  opHash: string,
  packages: readonly { to: Uint8Array; ct: string }[],
): Buffer[] {
  if (!isGroupId(groupId)) throw new RangeError('group id must be 32 lowercase hex characters');
  if (!isOpHash(opHash)) throw new RangeError('op hash must be 64 lowercase hex characters');
  const head = `{"type":"${GROUP_KEYS_TYPE}","v":1,"group":"${groupId}","epoch":"${opHash}","packages":[`;
  const tail = ']}';
  const chunks: Buffer[] = [];
  let items: string[] = [];
  let size = head.length + tail.length;
  const flush = (): void => {
    chunks.push(utf8(`${head}${items.join(',')}${tail}`));
    items = [];
    size = head.length + tail.length;
  };
  for (const p of packages) {
    if (p.to.length !== 32) throw new RangeError('recipient must be a 32-byte X25519 key');
    if (!strictBase64(p.ct, Number.MAX_SAFE_INTEGER)) throw new RangeError('ct must be base64');
    const item = JSON.stringify({ to: toHex(p.to), ct: p.ct });
    const cost = item.length + (items.length > 0 ? 1 : 0);
    if (head.length + tail.length + item.length > GROUP_KEYS_MAX_BYTES) {
      throw new RangeError('a key package does not fit in a group-keys object');
    }
    if (size + cost > GROUP_KEYS_MAX_BYTES) flush();
    size += item.length + (items.length > 0 ? 1 : 0);
    items.push(item);
  }
  if (items.length > 0) flush();
  return chunks;
}

/** Reads one group-keys object strictly; undefined for anything §5.4 does not allow. */
export function decodeGroupKeys(
  plaintext: Buffer,
): { group: string; epoch: string; packages: { to: Buffer; ct: string }[] } | undefined {
  if (plaintext.length > GROUP_KEYS_MAX_BYTES) return undefined;
  const object = parseJsonObject(plaintext.toString('utf8'));
  if (!object || !hasExactly(object, ['type', 'v', 'group', 'epoch', 'packages'])) {
    return undefined;
  }
  const { type, v, group, epoch, packages } = object;
  if (type !== GROUP_KEYS_TYPE || v !== 1 || !isGroupId(group) || !isOpHash(epoch)) {
    return undefined;
  }
  if (!Array.isArray(packages) || packages.length === 0) return undefined;
  const out: { to: Buffer; ct: string }[] = [];
  for (const value of packages as unknown[]) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    const item = value as Record<string, unknown>;
    if (!hasExactly(item, ['to', 'ct'])) return undefined;
    const to = hex32(item.to);
    const sealed = strictBase64(item.ct, GROUP_KEYS_MAX_BYTES);
    if (!to || !sealed || sealed.length < MIN_CT_BYTES) return undefined;
    out.push({ to, ct: item.ct as string });
  }
  return { group, epoch, packages: out };
}
