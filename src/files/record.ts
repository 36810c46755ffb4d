/**
 * The tree's records (docs/files.md §7.3): one key-value entry per file of a space, under the
 * key `f/` + the collision key of its path, whose value names the file's current version and
 * the versions before it. Two writes to one name (any spelling of it) are two writes to one
 * key, so the key-value merge rule decides between them and keeps the loser as a conflict.
 *
 * Pure: no I/O. Records come from other members, so the decoder checks every member strictly.
 */
import { isMediaType, MAX_MANIFEST_TEXT_BYTES } from './manifest.js';
import { normalizePath, pathKey } from './path.js';
import { hasExactly, isCount, isPlainObject } from './json-shape.js';

export const RECORD_TYPE = 'p2pcloud/file-entry';
export const RECORD_VERSION = 1;
/** The key-value key prefix of file records. */
export const TREE_PREFIX = 'f/';
/** A manifest text of at most this many bytes is kept in the record instead of an entry. */
export const INLINE_MANIFEST_BYTES = 2048;
/** Earlier versions a record keeps at most. */
export const MAX_HISTORY = 32;
/** A record's text is at most this long (the store's values hold 32,768 bytes). */
export const MAX_RECORD_BYTES = 30 * 1024;

export interface FileVersion {
  /** SHA-256 of the manifest text (64 hex): the version's id. */
  readonly id: string;
  /** The group epoch whose keys the file's chunks and manifest use (op hash, 64 hex). */
  readonly epoch: string;
  readonly size: number;
  readonly sha256: string;
  readonly mediaType: string | null;
  /** Milliseconds since the epoch, the writer's clock. */
  readonly modified: number;
  /** The manifest text itself when short, else null. */
  readonly manifest: string | null;
  /** The id of the files-table entry holding the manifest text when it is not inline. */
  readonly entry: string | null;
}

export interface FileRecord {
  /** The path as written (NFC). */
  readonly path: string;
  readonly current: FileVersion;
  /** Earlier versions, newest first. */
  readonly history: readonly FileVersion[];
}

const HEX64_RE = /^[0-9a-f]{64}$/;
const RECORD_MEMBERS = ['type', 'v', 'path', 'current', 'history'];
const VERSION_MEMBERS = [
  'id',
  'epoch',
  'size',
  'sha256',
  'media_type',
  'modified',
  'manifest',
  'entry',
];

/** The key-value key of the file at `path` (a path already normalised). */
export function treeKey(path: string): string {
  return TREE_PREFIX + pathKey(path);
}

/** The key prefix of everything under folder `folder` ('' for the root). */
export function folderPrefix(folder: string): string {
  return folder === '' ? TREE_PREFIX : `${TREE_PREFIX}${pathKey(folder)}/`;
}

function versionObject(v: FileVersion): Record<string, unknown> {
  return {
    id: v.id,
    epoch: v.epoch,
    size: v.size,
    sha256: v.sha256,
    media_type: v.mediaType,
    modified: v.modified,
    manifest: v.manifest,
    entry: v.entry,
  };
}

/**
 * The record's text. Earlier versions beyond MAX_HISTORY, or that would take the text past
 * MAX_RECORD_BYTES, are dropped oldest first.
 */
export function encodeRecord(record: FileRecord): string {
  const history = record.history.slice(0, MAX_HISTORY);
  for (;;) {
    const text = JSON.stringify({
      type: RECORD_TYPE,
      v: RECORD_VERSION,
      path: record.path,
      current: versionObject(record.current),
      history: history.map(versionObject),
    });
    if (Buffer.byteLength(text) <= MAX_RECORD_BYTES || history.length === 0) return text;
    history.pop();
  }
}

function decodeVersion(value: unknown): FileVersion | undefined {
  if (!isPlainObject(value) || !hasExactly(value, VERSION_MEMBERS)) return undefined;
  const { id, epoch, size, sha256, media_type: mediaType, modified, manifest, entry } = value;
  if (typeof id !== 'string' || !HEX64_RE.test(id)) return undefined;
  if (typeof epoch !== 'string' || !HEX64_RE.test(epoch)) return undefined;
  if (typeof sha256 !== 'string' || !HEX64_RE.test(sha256)) return undefined;
  if (!isCount(size) || !isCount(modified)) return undefined;
  if (mediaType !== null && !isMediaType(mediaType)) return undefined;
  // Exactly one of the two: the manifest inline (short), or the entry that holds it.
  if (manifest === null) {
    if (typeof entry !== 'string' || !HEX64_RE.test(entry)) return undefined;
  } else {
    if (entry !== null || typeof manifest !== 'string') return undefined;
    if (Buffer.byteLength(manifest) > Math.min(INLINE_MANIFEST_BYTES, MAX_MANIFEST_TEXT_BYTES)) {
      return undefined;
    }
  }
  return {
    id,
    epoch,
    size,
    sha256,
    mediaType,
    modified,
    manifest,
    entry: entry,
  } as FileVersion;
}

/**
 * Reads a record strictly; undefined for anything else, or for a record whose path is not in
 * its normal form or does not belong under `key` (a record cannot claim another file's name).
 */
export function decodeRecord(text: string, key?: string): FileRecord | undefined {
  if (Buffer.byteLength(text) > MAX_RECORD_BYTES) return undefined;
  let object: unknown;
  try {
    object = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isPlainObject(object) || !hasExactly(object, RECORD_MEMBERS)) return undefined;
  if (object.type !== RECORD_TYPE || object.v !== RECORD_VERSION) return undefined;
  const { path } = object;
  if (typeof path !== 'string') return undefined;
  const check = normalizePath(path);
  if (!check.ok || check.path !== path) return undefined;
  if (key !== undefined && treeKey(path) !== key) return undefined;
  const current = decodeVersion(object.current);
  if (!current || !Array.isArray(object.history) || object.history.length > MAX_HISTORY) {
    return undefined;
  }
  const history: FileVersion[] = [];
  for (const item of object.history) {
    const version = decodeVersion(item);
    if (!version) return undefined;
    history.push(version);
  }
  return { path, current, history };
}
