/**
 * File manifests and manifest pages (docs/files.md §4): versioned JSON objects listing a file's
 * chunks in order, or, for a file with more chunks than one object holds, the pages that list
 * them (a tree of pages, each small enough for one entry). The decoders are strict: a member
 * missing, extra or of the wrong form, a limit exceeded or items that do not tile their byte
 * range refuse the whole object with a reason. Pure: no I/O.
 */
import { CHUNK_MAX_BYTES } from './chunker.js';
import { hasExactly, isCount, isPlainObject } from './json-shape.js';

export const MANIFEST_TYPE = 'p2pcloud/file';
export const PAGE_TYPE = 'p2pcloud/file-page';
export const MANIFEST_VERSION = 1;
/** Items (chunks or pages) one manifest or page lists. */
export const MAX_ITEMS = 300;
/** UTF-8 bytes of one manifest or page text: one entry holds it with room to spare. */
export const MAX_MANIFEST_TEXT_BYTES = 60 * 1024;
/** Levels of pages under a manifest: 300^4 chunks, far beyond any file. */
export const MAX_PAGE_DEPTH = 4;
export const MAX_MEDIA_TYPE_BYTES = 255;

/** One chunk of a file: its keyed id, the entry that stores it, and its place in the file. */
export interface ChunkRef {
  /** HMAC-SHA256 chunk id (64 lowercase hex). */
  readonly id: string;
  /** Id of the entry holding the sealed chunk (64 lowercase hex). */
  readonly entry: string;
  readonly offset: number;
  readonly size: number;
}

/** One page of a file's chunk list: the entry that stores it and the bytes it covers. */
export interface PageRef {
  readonly entry: string;
  readonly offset: number;
  readonly size: number;
}

/** A list's items: exactly one of the two is set. */
export type Items =
  | { readonly chunks: readonly ChunkRef[]; readonly pages: null }
  | { readonly chunks: null; readonly pages: readonly PageRef[] };

export type FileManifest = {
  /** Bytes in the file. */
  readonly size: number;
  /** SHA-256 of the whole plaintext (64 lowercase hex). */
  readonly sha256: string;
  readonly mediaType: string | null;
} & Items;

export type FilePage = {
  /** Where the page's first byte is in the file, and how many bytes it covers. */
  readonly offset: number;
  readonly size: number;
} & Items;

export type ManifestRefusal =
  | 'not_json'
  | 'too_large'
  | 'members'
  | 'type'
  | 'version'
  | 'size'
  | 'sha256'
  | 'media_type'
  | 'items'
  | 'too_many_items'
  | 'item_members'
  | 'item_id'
  | 'item_size'
  | 'tiling';

export type Decoded<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: ManifestRefusal };

const HEX64_RE = /^[0-9a-f]{64}$/;
const TOKEN = '[a-z0-9][a-z0-9!#$&^_.+-]{0,126}';
const MEDIA_TYPE_RE = new RegExp(
  `^${TOKEN}/${TOKEN}(?:; ?[a-z0-9][a-z0-9!#$&^_.+-]*=(?:[A-Za-z0-9!#$&^_.+-]+|"[ !#-\\[\\]-~]*"))*$`,
);

const MANIFEST_MEMBERS = ['type', 'v', 'size', 'sha256', 'media_type', 'chunks', 'pages'];
const PAGE_MEMBERS = ['type', 'v', 'offset', 'size', 'chunks', 'pages'];
const CHUNK_MEMBERS = ['id', 'entry', 'offset', 'size'];
const PAGE_REF_MEMBERS = ['entry', 'offset', 'size'];

export function isMediaType(text: unknown): text is string {
  return (
    typeof text === 'string' &&
    Buffer.byteLength(text) <= MAX_MEDIA_TYPE_BYTES &&
    MEDIA_TYPE_RE.test(text)
  );
}

function parseObject(text: string): Record<string, unknown> | ManifestRefusal {
  if (Buffer.byteLength(text) > MAX_MANIFEST_TEXT_BYTES) return 'too_large';
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'not_json';
  }
  return isPlainObject(value) ? value : 'not_json';
}

function decodeChunk(raw: unknown): ChunkRef | ManifestRefusal {
  if (!isPlainObject(raw) || !hasExactly(raw, CHUNK_MEMBERS)) return 'item_members';
  const { id, entry, offset, size } = raw;
  if (typeof id !== 'string' || !HEX64_RE.test(id)) return 'item_id';
  if (typeof entry !== 'string' || !HEX64_RE.test(entry)) return 'item_id';
  if (!isCount(offset) || !isCount(size) || size < 1 || size > CHUNK_MAX_BYTES) return 'item_size';
  return { id, entry, offset, size };
}

function decodePageRef(raw: unknown): PageRef | ManifestRefusal {
  if (!isPlainObject(raw) || !hasExactly(raw, PAGE_REF_MEMBERS)) return 'item_members';
  const { entry, offset, size } = raw;
  if (typeof entry !== 'string' || !HEX64_RE.test(entry)) return 'item_id';
  if (!isCount(offset) || !isCount(size) || size < 1) return 'item_size';
  return { entry, offset, size };
}

/**
 * The items of a manifest or page covering bytes [offset, offset + size): each starts where
 * the one before ends, the first at `offset`, the last ending at offset + size.
 */
function decodeItems(
  chunks: unknown,
  pages: unknown,
  offset: number,
  size: number,
): Items | ManifestRefusal {
  const list = chunks !== null ? chunks : pages;
  if ((chunks === null) === (pages === null) || !Array.isArray(list)) return 'items';
  if (list.length > MAX_ITEMS) return 'too_many_items';
  if (list.length === 0 && (pages !== null || size > 0)) return 'items';
  const decode = chunks !== null ? decodeChunk : decodePageRef;
  const items = [];
  let next = offset;
  for (const raw of list) {
    const item = decode(raw);
    if (typeof item === 'string') return item;
    if (item.offset !== next) return 'tiling';
    next += item.size;
    // Past 2^53 sums are no longer exact, and no file is that long.
    if (next > Number.MAX_SAFE_INTEGER) return 'item_size';
    items.push(item);
  }
  if (next !== offset + size) return 'tiling';
  return chunks !== null
    ? { chunks: items as ChunkRef[], pages: null }
    : { chunks: null, pages: items as PageRef[] };
}

/** Reads a manifest text strictly, or says why it is refused. */
export function decodeManifest(text: string): Decoded<FileManifest> {
  const object = parseObject(text);
  if (typeof object === 'string') return { ok: false, reason: object };
  if (!hasExactly(object, MANIFEST_MEMBERS)) return { ok: false, reason: 'members' };
  if (object.type !== MANIFEST_TYPE) return { ok: false, reason: 'type' };
  if (object.v !== MANIFEST_VERSION) return { ok: false, reason: 'version' };
  const { size, sha256, media_type: mediaType } = object;
  if (!isCount(size)) return { ok: false, reason: 'size' };
  if (typeof sha256 !== 'string' || !HEX64_RE.test(sha256)) return { ok: false, reason: 'sha256' };
  if (mediaType !== null && !isMediaType(mediaType)) return { ok: false, reason: 'media_type' };
  const items = decodeItems(object.chunks, object.pages, 0, size);
  if (typeof items === 'string') return { ok: false, reason: items };
  return { ok: true, value: { size, sha256, mediaType, ...items } };
}

/**
 * Reads a page text strictly. A page is accepted only as the page its reference names: the
 * caller passes the reference it followed, and a page covering other bytes is refused.
 */
export function decodePage(
  text: string,
  ref: { readonly offset: number; readonly size: number },
): Decoded<FilePage> {
  const object = parseObject(text);
  if (typeof object === 'string') return { ok: false, reason: object };
  if (!hasExactly(object, PAGE_MEMBERS)) return { ok: false, reason: 'members' };
  if (object.type !== PAGE_TYPE) return { ok: false, reason: 'type' };
  if (object.v !== MANIFEST_VERSION) return { ok: false, reason: 'version' };
  const { offset, size } = object;
  if (!isCount(offset) || !isCount(size) || size < 1) return { ok: false, reason: 'size' };
  if (offset !== ref.offset || size !== ref.size) {
    return { ok: false, reason: 'size' };
  }
  const items = decodeItems(object.chunks, object.pages, offset, size);
  if (typeof items === 'string') return { ok: false, reason: items };
  return { ok: true, value: { offset, size, ...items } };
}

function itemsJson(items: Items): { chunks: unknown; pages: unknown } {
  if (items.chunks !== null) {
    return {
      chunks: items.chunks.map(({ id, entry, offset, size }) => ({ id, entry, offset, size })),
      pages: null,
    };
  }
  return {
    chunks: null,
    pages: items.pages.map(({ entry, offset, size }) => ({ entry, offset, size })),
  };
}

/** Encodes, then checks the text with the decoder: an encoder never writes what readers refuse. */
function checked<T>(text: string, decode: (text: string) => Decoded<T>): string {
  const decoded = decode(text);
  if (!decoded.ok) throw new RangeError(`not a valid file object (${decoded.reason})`);
  return text;
}

/** The manifest's JSON text: members in the order of docs/files.md §4.1, no whitespace. */
export function encodeManifest(manifest: FileManifest): string {
  const text = JSON.stringify({
    type: MANIFEST_TYPE,
    v: MANIFEST_VERSION,
    size: manifest.size,
    sha256: manifest.sha256,
    media_type: manifest.mediaType,
    ...itemsJson(manifest),
  });
  return checked(text, decodeManifest);
}

/** A page's JSON text (docs/files.md §4.2). */
export function encodePage(page: FilePage): string {
  const text = JSON.stringify({
    type: PAGE_TYPE,
    v: MANIFEST_VERSION,
    offset: page.offset,
    size: page.size,
    ...itemsJson(page),
  });
  return checked(text, (t) => decodePage(t, page));
}
