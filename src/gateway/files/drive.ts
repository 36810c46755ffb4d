/**
 * A group's drive as one identity sees it (docs/gateway.md §15, docs/files.md §7): the tree in
 * the group's key-value replica, contents streamed to and from the nodes. The SDK hands this
 * object out; the HTTP routes call it.
 */
import { Readable } from 'node:stream';
import type { Client } from '../../client/client.js';
import { P2PError } from '../../errors.js';
import { fileKeys } from '../../files/keys.js';
import { gearTable } from '../../files/gear.js';
import { isMediaType, type FileManifest } from '../../files/manifest.js';
import type { BoxKeyPair } from '../../crypto/x25519.js';
import { normalizePath } from '../../files/path.js';
import {
  decodeRecord,
  encodeRecord,
  folderPrefix,
  treeKey,
  type FileRecord,
  type FileVersion,
} from '../../files/record.js';
import { filesTableKey } from '../../files/table.js';
import type { KvVersion } from '../../kv/merge.js';
import type { Groups } from '../identity/groups.js';
import type { OpenSpace } from '../kv/hub.js';
import { loadManifest, readContents, type EpochReader } from './download.js';
import { ObjectFetcher } from './fetcher.js';
import { EntryBatcher } from './entry-batcher.js';
import { nodeSetTag, ObjectIndex } from './object-index.js';
import { RecordQueue } from './record-queue.js';
import { uploadContents, type Counts, type EpochWriter } from './upload.js';

/** A key of the store holds at most 1,024 bytes: `f/` and the path's collision key. */
const MAX_TREE_KEY_BYTES = 1024;
export const DEFAULT_LIST_LIMIT = 1000;
export const MAX_LIST_LIMIT = 10_000;

/** A file as the API shows it (gateway.md §15). */
export interface FileView {
  readonly path: string;
  readonly name: string;
  readonly size: number;
  readonly sha256: string;
  readonly media_type: string | null;
  readonly modified: number;
  readonly version: string;
  readonly writer: string | null;
  readonly conflicts: number;
}

export interface FolderView {
  readonly path: string;
  readonly name: string;
  /** Files anywhere under the folder. */
  readonly files: number;
}

export interface PutAnswer {
  readonly file: FileView;
  readonly sent: Counts;
  readonly reused: Counts;
}

export interface PutOptions {
  readonly media_type?: string | null;
  readonly modified?: number;
  /** Bytes the source promises; fewer or more is upload_truncated. */
  readonly expectedSize?: number;
  readonly signal?: AbortSignal;
}

export interface ReadOptions {
  /** First byte (default 0). */
  readonly start?: number;
  /** One past the last byte (default: the file's size). */
  readonly end?: number;
  /** A version id from stat(); default the current one. */
  readonly version?: string;
  readonly signal?: AbortSignal;
}

export interface ListOptions {
  readonly recursive?: boolean;
  readonly limit?: number;
  /** With recursive: the path to go on after. */
  readonly after?: string;
}

export interface ListAnswer {
  readonly folder: string;
  readonly folders: FolderView[];
  readonly files: FileView[];
  readonly more?: boolean;
  readonly after?: string;
}

export type Source = Uint8Array | string | AsyncIterable<Uint8Array> | NodeJS.ReadableStream;

/** What a drive needs of the gateway. */
export interface DriveHost {
  readonly groups: Groups;
  readonly client: Client;
  readonly powThreads: number | undefined;
  readonly timeoutMs: number;
  readonly warn: (message: string, node: string) => void;
}

/** Checks a path of the API and returns its one spelling. */
export function checkPath(text: unknown, what = 'path'): string {
  if (typeof text !== 'string') throw new P2PError('bad_path', `${what} is missing`);
  const check = normalizePath(text);
  if (!check.ok) throw new P2PError('bad_path', `${what} is refused: ${check.reason}`);
  if (Buffer.byteLength(treeKey(check.path)) > MAX_TREE_KEY_BYTES) {
    throw new P2PError('bad_path', `${what} is refused: too_long for the tree`);
  }
  return check.path;
}

/** A folder of the API: '' (or undefined) for the root, else a path. */
function checkFolder(text: unknown): string {
  if (text === undefined || text === '') return '';
  return checkPath(text, 'folder');
}

function nameOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function toSource(source: Source): AsyncIterable<Uint8Array> {
  if (typeof source === 'string')
    return [Buffer.from(source)] as unknown as AsyncIterable<Uint8Array>;
  if (source instanceof Uint8Array)
    return (async function* () {
      // Fed in slices, so a large buffer is chunked without copying it whole.
      for (let at = 0; at < source.length; at += 1 << 20) yield source.subarray(at, at + (1 << 20));
    })();
  return source as AsyncIterable<Uint8Array>;
}

/** What the drives of one space share, whichever request or program opened them. */
interface Shared {
  readonly index: ObjectIndex;
  readonly records: RecordQueue;
  /** The writer of the current epoch, kept while the epoch lasts (its keys cost to derive). */
  writer: EpochWriter | undefined;
}

const shared = new WeakMap<object, Shared>();

export class Drive {
  private readonly shared: Shared;

  constructor(
    private readonly space: OpenSpace,
    private readonly host: DriveHost,
  ) {
    let held = shared.get(space.replica);
    if (!held) {
      const tag = nodeSetTag(host.client.nodes);
      const replica = space.replica;
      held = {
        index: new ObjectIndex(replica.database, tag),
        records: new RecordQueue(replica, (path) => recordAt(replica, path)?.record),
        writer: undefined,
      };
      shared.set(space.replica, held);
    }
    this.shared = held;
  }

  private get index(): ObjectIndex {
    return this.shared.index;
  }

  get group(): string {
    return this.space.group;
  }

  private writer(): EpochWriter {
    const group = this.space.group;
    const kept = this.shared.writer;
    if (kept && this.host.groups.state(group).current === kept.epoch) return kept;
    const keys = this.host.groups.currentKeys(group);
    if (!keys) {
      throw new P2PError(
        'group_rekey_pending',
        "this device does not hold the group's current keys yet: try again shortly",
      );
    }
    if (!keys.table) {
      throw new P2PError('forbidden_role', 'a reader of this group cannot write in it');
    }
    const g = Buffer.from(group, 'hex');
    const fk = fileKeys(keys.reader.secretKey, g);
    const writer: EpochWriter = {
      epoch: keys.epoch,
      table: filesTableKey(g, keys.table.signing.seed),
      to: keys.reader.publicKey,
      dedupKey: fk.dedup,
      gear: gearTable(fk.chunking),
      client: this.host.client,
      index: this.index,
      batcher: new EntryBatcher(this.host.client, this.index, keys.epoch),
      powThreads: this.host.powThreads,
    };
    this.shared.writer = writer;
    return writer;
  }

  private reader(epoch: string, signal?: AbortSignal): EpochReader {
    const reader = this.host.groups.readerKeys(this.space.group, epoch);
    if (!reader) {
      throw new P2PError(
        'chunk_unavailable',
        'this device does not hold the keys of the group epoch the file was written in',
      );
    }
    const fk = fileKeys(reader.secretKey, Buffer.from(this.space.group, 'hex'));
    return {
      epoch,
      dedupKey: fk.dedup,
      index: this.index,
      fetcher: new ObjectFetcher({
        nodes: this.host.client.nodes,
        connector: this.host.client.connector,
        reader,
        timeoutMs: this.host.timeoutMs,
        warn: this.host.warn,
        ...(signal ? { signal } : {}),
      }),
    };
  }

  /** The files table of the current epoch (what an operator lists to waive proof of work). */
  filesTable(): string {
    return this.writer().table.signing.publicKey.toString('hex');
  }

  /** The record at `path`, after the writes queued before this call. */
  private async record(
    path: string,
  ): Promise<{ record: FileRecord; winner: KvVersion } | undefined> {
    this.shared.records.flush();
    return recordAt(this.space.replica, path);
  }

  private conflictRecords(path: string): FileRecord[] {
    const key = treeKey(path);
    const out: FileRecord[] = [];
    for (const version of this.space.replica.conflicts(Buffer.from(key))) {
      if (!version.value) continue;
      const record = decodeRecord(version.value.toString('utf8'), key);
      if (record) out.push(record);
    }
    return out;
  }

  private view(
    record: FileRecord,
    version: FileVersion,
    writer: string | null,
    conflicts: number,
  ): FileView {
    return {
      path: record.path,
      name: nameOf(record.path),
      size: version.size,
      sha256: version.sha256,
      media_type: version.mediaType,
      modified: version.modified,
      version: version.id,
      writer,
      conflicts,
    };
  }

  private viewOf(key: Buffer, record: FileRecord, winner: KvVersion | undefined): FileView {
    const conflicts = this.space.replica.conflicts(key).filter((v) => v.value).length;
    return this.view(record, record.current, winner?.signer ?? null, conflicts);
  }

  /**
   * Refuses a path that a file and a folder would share: a folder of that name (files under
   * it), or a file where one of its folders would be. A file system could hold only one.
   */
  private async checkShape(path: string): Promise<void> {
    const segments = path.split('/');
    for (let i = 1; i < segments.length; i++) {
      const folder = segments.slice(0, i).join('/');
      const file = recordAt(this.space.replica, folder);
      if (file) throw new P2PError('file_exists', `${file.record.path} is a file, not a folder`);
    }
    const prefix = folderPrefix(path);
    const iterator = this.space.replica.iterator({
      gte: prefix,
      lt: `${prefix.slice(0, -1)}0`,
      limit: 1,
    });
    try {
      for await (const [key] of iterator) {
        throw new P2PError('file_exists', `${path} is a folder (it holds ${key.slice(2, 200)})`);
      }
    } finally {
      await iterator.close();
    }
  }

  /**
   * The history of a record that replaces `existing` at `path` with `current`. The write
   * resolves the key's conflicts (kv.md §5): the versions that lost go in after the one
   * replaced, so that no version written drops out of the tree (files.md §7.3).
   */
  private historyAfter(
    path: string,
    current: FileVersion,
    existing: FileRecord | undefined,
  ): FileVersion[] {
    const lost = this.conflictRecords(path).map((r) => r.current);
    const ids = new Set([current.id]);
    return [
      ...(existing && existing.current.id !== current.id ? [existing.current] : []),
      ...lost,
      ...(existing?.history ?? []),
    ].filter((v) => !ids.has(v.id) && Boolean(ids.add(v.id)));
  }

  /** Stores `source` at `path`: streams it to the nodes, then writes the tree's record. */
  async put(path: string, source: Source, options: PutOptions = {}): Promise<PutAnswer> {
    const clean = checkPath(path);
    // Checked before a byte is sent: the manifest written at the end could not hold it.
    const mediaType = options.media_type ?? null;
    if (mediaType !== null && !isMediaType(mediaType)) {
      throw new P2PError(
        'bad_query',
        'media_type must be a media type in lower case, such as text/plain; charset=utf-8',
      );
    }
    if (
      options.modified !== undefined &&
      !(Number.isSafeInteger(options.modified) && options.modified >= 0)
    ) {
      // A record with another time would not decode: the file would drop out of the tree.
      throw new P2PError('bad_query', 'modified must be a whole number of ms since 1970');
    }
    const writer = this.writer();
    if (!(await this.record(clean))) await this.checkShape(clean);
    const uploaded = await uploadContents(writer, toSource(source), {
      mediaType: options.media_type ?? null,
      ...(options.expectedSize !== undefined ? { expectedSize: options.expectedSize } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const version: FileVersion = {
      id: uploaded.version,
      epoch: writer.epoch,
      size: uploaded.size,
      sha256: uploaded.sha256,
      mediaType: options.media_type ?? null,
      modified: options.modified ?? Date.now(),
      manifest: uploaded.manifestEntry === null ? uploaded.manifest : null,
      entry: uploaded.manifestEntry,
    };
    const key = Buffer.from(treeKey(clean));
    const record = await this.shared.records.write(clean, (existing) => {
      // The same contents again, with nothing to resolve: the tree has them, write nothing.
      if (existing?.current.id === version.id && this.conflictRecords(clean).length === 0) {
        return undefined;
      }
      return {
        // The first spelling of a name stays (gateway.md §15).
        path: existing?.path ?? clean,
        current: version,
        history: this.historyAfter(clean, version, existing),
      };
    });
    return {
      file: this.viewOf(key, record!, this.space.replica.winner(key)),
      sent: uploaded.sent,
      reused: uploaded.reused,
    };
  }

  /** The file, its earlier versions and the versions that lost a concurrent write. */
  async stat(
    path: string,
  ): Promise<{ file: FileView; versions: FileView[]; conflicts: FileView[] }> {
    const clean = checkPath(path);
    const found = await this.record(clean);
    if (!found) throw noSuchFile(clean);
    const { record, winner } = found;
    const key = Buffer.from(treeKey(clean));
    return {
      file: this.viewOf(key, record, winner),
      versions: record.history.map((v) => this.view(record, v, null, 0)),
      conflicts: this.space.replica.conflicts(key).flatMap((v) => {
        const r = v.value ? decodeRecord(v.value.toString('utf8'), treeKey(clean)) : undefined;
        return r ? [this.view(r, r.current, v.signer, 0)] : [];
      }),
    };
  }

  /** Bytes [start, end) of a version of the file, as a stream. */
  async read(
    path: string,
    options: ReadOptions = {},
  ): Promise<{ file: FileView; stream: Readable }> {
    const clean = checkPath(path);
    const found = await this.record(clean);
    const candidates = [
      ...(found ? [{ record: found.record, version: found.record.current, current: true }] : []),
      ...(found
        ? found.record.history.map((v) => ({ record: found.record, version: v, current: false }))
        : []),
      ...this.conflictRecords(clean).flatMap((r) =>
        [r.current, ...r.history].map((v) => ({ record: r, version: v, current: false })),
      ),
    ];
    if (!found && options.version === undefined) throw noSuchFile(clean);
    const chosen =
      options.version === undefined
        ? candidates[0]
        : candidates.find((c) => c.version.id === options.version);
    if (!chosen)
      throw new P2PError(
        'no_such_file',
        `no version ${String(options.version).slice(0, 80)} of ${clean}`,
      );
    const { version, record } = chosen;
    const start = options.start ?? 0;
    const end = options.end ?? version.size;
    if (
      !Number.isSafeInteger(start) ||
      !Number.isSafeInteger(end) ||
      start < 0 ||
      end < start ||
      end > version.size
    ) {
      throw new P2PError(
        'bad_range',
        `the range [${start}, ${end}) is not within the file's ${version.size} bytes`,
      );
    }
    const reader = this.reader(version.epoch, options.signal);
    const manifest = await loadManifest(reader, version);
    const key = Buffer.from(treeKey(clean));
    const file =
      chosen.current && found
        ? this.viewOf(key, record, found.winner)
        : this.view(record, version, null, 0);
    const bytes = readContents(reader, manifest, start, end);
    // The first window is fetched before the answer starts: a file none of whose nodes
    // answers fails with an error instead of a cut stream.
    const first = await bytes.next();
    const stream = Readable.from(
      (async function* () {
        if (!first.done) yield first.value;
        yield* bytes;
      })(),
      { objectMode: false },
    );
    return { file, stream };
  }

  /**
   * The current version of a file, its manifest, and the reader key of the epoch it was
   * written in: what a compute job over the file needs to be granted its chunks (jobs route).
   */
  async contentsForJob(
    path: string,
    signal?: AbortSignal,
  ): Promise<{ file: FileView; manifest: FileManifest; reader: EpochReader; box: BoxKeyPair }> {
    const clean = checkPath(path);
    const found = await this.record(clean);
    if (!found) throw noSuchFile(clean);
    const version = found.record.current;
    const reader = this.reader(version.epoch, signal);
    const manifest = await loadManifest(reader, version);
    const box = this.host.groups.readerKeys(this.space.group, version.epoch)!;
    const file = this.viewOf(Buffer.from(treeKey(clean)), found.record, found.winner);
    return { file, manifest, reader, box };
  }

  /** The files and folders directly in `folder`, or every file under it with `recursive`. */
  async list(folder = '', options: ListOptions = {}): Promise<ListAnswer> {
    const clean = checkFolder(folder);
    this.shared.records.flush();
    const prefix = folderPrefix(clean);
    const depth = clean === '' ? 0 : clean.split('/').length;
    const limit = Math.min(options.limit ?? DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT);
    if (!Number.isSafeInteger(limit) || limit < 1)
      throw new P2PError('bad_query', 'limit must be 1 … 10000');
    // Keys under the prefix: the prefix ends with '/', and '0' is the character after it.
    const upper = `${prefix.slice(0, -1)}0`;
    const files: FileView[] = [];
    const folders = new Map<string, { path: string; name: string; files: number }>();
    const after =
      options.after !== undefined ? treeKey(checkPath(options.after, 'after')) : undefined;
    const iterator = this.space.replica.iterator({
      ...(after !== undefined && options.recursive ? { gt: after } : { gte: prefix }),
      lt: upper,
    });
    let more = false;
    try {
      for await (const [key, value] of iterator) {
        const record = decodeRecord(value, key);
        if (!record) continue;
        const rest = key.slice(prefix.length);
        if (options.recursive || !rest.includes('/')) {
          if (files.length >= limit) {
            more = true;
            break;
          }
          files.push(
            this.viewOf(Buffer.from(key), record, this.space.replica.winner(Buffer.from(key))),
          );
          continue;
        }
        const segments = record.path.split('/');
        const path = segments.slice(0, depth + 1).join('/');
        const at = rest.slice(0, rest.indexOf('/'));
        const held = folders.get(at);
        if (held) held.files += 1;
        else folders.set(at, { path, name: segments[depth]!, files: 1 });
      }
    } finally {
      await iterator.close();
    }
    return {
      folder: clean,
      folders: [...folders.values()],
      files,
      more,
      ...(options.recursive && more ? { after: files[files.length - 1]!.path } : {}),
    };
  }

  /** Removes the file, and the list of its versions, from the tree (their entries stay). */
  async remove(path: string): Promise<void> {
    const clean = checkPath(path);
    if (!(await this.record(clean))) throw noSuchFile(clean);
    this.space.replica.replicate([{ type: 'del', key: Buffer.from(treeKey(clean)) }]);
  }

  /** Moves a file, or a folder and everything under it; no contents are copied. */
  async move(from: string, to: string): Promise<number> {
    const source = checkPath(from, 'from');
    const target = checkPath(to, 'to');
    if (treeKey(target) === treeKey(source)) {
      throw new P2PError('file_exists', `${target} is the same name as ${source}`);
    }
    if (treeKey(target).startsWith(`${treeKey(source)}/`)) {
      throw new P2PError('bad_path', 'a folder cannot move into itself');
    }
    const file = await this.record(source);
    const moves: { from: FileRecord; to: string }[] = [];
    if (file) moves.push({ from: file.record, to: target });
    else {
      const listing = await this.list(source, { recursive: true, limit: MAX_LIST_LIMIT });
      if (listing.more)
        throw new P2PError('bad_request', 'a folder of more than 10,000 files cannot move at once');
      for (const f of listing.files) {
        const found = await this.record(f.path);
        // By segments: another spelling of the folder's name may differ in length (ß, SS).
        const rest = f.path.split('/').slice(source.split('/').length).join('/');
        if (found) moves.push({ from: found.record, to: `${target}/${rest}` });
      }
    }
    if (moves.length === 0) throw noSuchFile(source);
    for (const m of moves) {
      checkPath(m.to, 'to');
      if (await this.record(m.to)) throw new P2PError('file_exists', `${m.to} exists already`);
    }
    // The target's shape against the tree as it will be: a folder moved somewhere new.
    if (file) await this.checkShape(target);
    else {
      const segments = target.split('/');
      for (let i = 1; i < segments.length; i++) {
        const above = recordAt(this.space.replica, segments.slice(0, i).join('/'));
        if (above)
          throw new P2PError('file_exists', `${above.record.path} is a file, not a folder`);
      }
    }
    this.space.replica.replicate(
      moves.flatMap((m) => [
        {
          type: 'put' as const,
          key: Buffer.from(treeKey(m.to)),
          value: Buffer.from(
            encodeRecord({
              path: m.to,
              current: m.from.current,
              // The old key's conflicts are resolved by its removal: they move with the file.
              history: this.historyAfter(m.from.path, m.from.current, m.from),
            }),
          ),
        },
        { type: 'del' as const, key: Buffer.from(treeKey(m.from.path)) },
      ]),
    );
    return moves.length;
  }
}

/** The record at `path` as the replica holds it now. */
function recordAt(
  replica: OpenSpace['replica'],
  path: string,
): { record: FileRecord; winner: KvVersion } | undefined {
  const key = treeKey(path);
  const winner = replica.winner(Buffer.from(key));
  if (!winner?.value) return undefined;
  const record = decodeRecord(winner.value.toString('utf8'), key);
  return record ? { record, winner } : undefined;
}

function noSuchFile(path: string): P2PError {
  return new P2PError('no_such_file', `no file at ${path.slice(0, 200)}`);
}
