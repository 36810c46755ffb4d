/**
 * The payer's own count of what it asked one node for (docs/billing.md §8): an append-only
 * journal of JSON lines, each line written and flushed to disk before the request it records is
 * sent, so that what a request costs to record is bounded by the request itself, not by the
 * payer's history, and a crash loses nothing the node could bill.
 *
 *   {"kind":"p2pcloud-billing-ledger","v":3,"payer":hex64}
 *   {"kind":"put"|"get"|"job", …a request…}
 *   {"kind":"update","request":hex64, …fields it sets…}
 *   {"kind":"node_key","node_key":hex64}
 *   {"kind":"checked","next":n,"until":ms}
 *   {"kind":"itemized","entries":[hex64, …]}     (v3: only compaction writes them)
 *   {"kind":"receipt","seq":n,"hash":hex64}
 *
 * A version 2 journal (no itemized lines) is read and appended to as it is; compaction
 * rewrites it as version 3. A version 1 file (one JSON object, replaced whole on each change)
 * is converted once into a version 2 journal when it is opened.
 *
 * A Ledger holds the ledger's lock (./ledger-lock.ts) from open to close: the file it read
 * stays the file it appends to, and no other process writes at its end meanwhile.
 */
import { createReadStream } from 'node:fs';
import { open, readFile, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { P2PError } from '../../errors.js';
import type { FileLock } from '../../locks/file-lock.js';
import { replacePrivateFile } from '../private-file.js';
import { lockLedger } from './ledger-lock.js';

export const LEDGER_KIND = 'p2pcloud-billing-ledger';
/** The version new journals and compacted ones are written in. */
export const LEDGER_VERSION = 3;
/** Most entry ids one `itemized` line holds. */
export const MAX_ITEMIZED_PER_LINE = 4096;
type JournalVersion = 2 | 3;

export interface LedgerEntry {
  /** Entry id, 64 hex. */
  readonly id: string;
  readonly bytes: number;
  /** 0: never. */
  readonly expires_at: number;
}

export type LedgerRecord =
  | {
      readonly kind: 'put';
      readonly request: string;
      readonly sent_at: number;
      readonly entries: readonly LedgerEntry[];
      /**
       * Ids of the entries the node answered it stored or already had; [] when it answered
       * >= 300 or not at all; absent while no answer was recorded (all may be billed).
       */
      readonly stored?: readonly string[];
    }
  | {
      readonly kind: 'get';
      readonly request: string;
      readonly sent_at: number;
      /** Body bytes received; null while the answer has not come (or never came). */
      readonly bytes: number | null;
    }
  | {
      readonly kind: 'job';
      readonly request: string;
      readonly sent_at: number;
      /** The node's job id, once it answered. */
      readonly job: string | null;
      /** Hash and fuel of the compute receipt the client verified, once the job ended. */
      readonly receipt: string | null;
      readonly fuel: number | null;
    };

/** What a later line may set on a request already recorded. */
export type LedgerUpdate =
  | { readonly bytes: number }
  | { readonly stored: readonly string[] }
  | { readonly job: string }
  | { readonly receipt: string; readonly fuel: number };

/** The receipts already checked without a difference: those before seq `next`, up to `until` (ms). */
export interface CheckedMark {
  readonly next: number;
  readonly until: number;
}

export interface LedgerData {
  readonly kind: typeof LEDGER_KIND;
  readonly v: 1 | 2 | 3;
  readonly payer: string;
  /** The node's billing key, pinned at the first receipts read. */
  node_key: string | null;
  readonly requests: LedgerRecord[];
  /** Set once a check found no difference; records billed before it may have been dropped. */
  checked?: CheckedMark | null;
  /** SHA-256 (hex) of the body of every receipt checked, by seq; kept through compaction. */
  receipts?: Map<number, string>;
  /**
   * Entries a receipt below the checked mark itemized (docs/billing.md §4.1) that still
   * accrued at its `until`: the node bills them in the held figures of later periods.
   */
  itemized?: Set<string>;
}

const HEX64 = /^[0-9a-f]{64}$/;
const HEX32 = /^[0-9a-f]{32}$/;

function bad(path: string, why: string): never {
  throw new P2PError('bad_argument', `${path} is not a billing ledger: ${why}`);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** A put's stored list if it is one: ids of entries the put sent, each once. */
function storedIds(v: unknown, entries: readonly LedgerEntry[]): string[] | null {
  if (!Array.isArray(v)) return null;
  const sent = new Set(entries.map((e) => e.id));
  const seen = new Set<string>();
  for (const id of v) {
    if (typeof id !== 'string' || !sent.has(id) || seen.has(id)) return null;
    seen.add(id);
  }
  return v as string[];
}

function checkRecord(r: unknown, path: string, where: string): LedgerRecord {
  const o = r as Record<string, unknown> | null;
  if (typeof o !== 'object' || o === null) bad(path, `${where} is not an object`);
  if (typeof o.request !== 'string' || !HEX64.test(o.request) || !isCount(o.sent_at)) {
    bad(path, `${where} lacks its id or time`);
  }
  const nullableCount = (v: unknown): boolean => v === null || isCount(v);
  if (o.kind === 'put' && Array.isArray(o.entries)) {
    const entries = (o.entries as Record<string, unknown>[]).map((e) => {
      if (
        typeof e?.id !== 'string' ||
        !HEX64.test(e.id) ||
        !isCount(e.bytes) ||
        !isCount(e.expires_at)
      ) {
        bad(path, `${where} has a malformed entry`);
      }
      return { id: e.id, bytes: e.bytes, expires_at: e.expires_at };
    });
    if (o.stored === undefined)
      return { kind: 'put', request: o.request, sent_at: o.sent_at, entries };
    const stored = storedIds(o.stored, entries);
    if (!stored) bad(path, `${where} has a malformed stored list`);
    return { kind: 'put', request: o.request, sent_at: o.sent_at, entries, stored };
  }
  if (o.kind === 'get' && nullableCount(o.bytes)) {
    return { kind: 'get', request: o.request, sent_at: o.sent_at, bytes: o.bytes as number | null };
  }
  if (
    o.kind === 'job' &&
    (o.job === null || (typeof o.job === 'string' && HEX32.test(o.job))) &&
    (o.receipt === null || (typeof o.receipt === 'string' && HEX64.test(o.receipt))) &&
    nullableCount(o.fuel)
  ) {
    return {
      kind: 'job',
      request: o.request,
      sent_at: o.sent_at,
      job: o.job as string | null,
      receipt: o.receipt as string | null,
      fuel: o.fuel as number | null,
    };
  }
  return bad(path, `${where} is malformed`);
}

/** Reads a version 1 ledger text; bad_argument naming the file for anything else. */
export function parseLedger(text: string, path: string): LedgerData {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    bad(path, 'not JSON');
  }
  const o = value as Record<string, unknown> | null;
  if (typeof o !== 'object' || o === null || o.kind !== LEDGER_KIND || o.v !== 1) {
    bad(path, 'wrong kind or version');
  }
  if (typeof o.payer !== 'string' || !HEX64.test(o.payer)) bad(path, 'no payer');
  if (o.node_key !== null && (typeof o.node_key !== 'string' || !HEX64.test(o.node_key))) {
    bad(path, 'node_key is malformed');
  }
  if (!Array.isArray(o.requests)) bad(path, 'no requests');
  return {
    kind: LEDGER_KIND,
    v: 1,
    payer: o.payer,
    node_key: o.node_key,
    requests: o.requests.map((r, i) => checkRecord(r, path, `request ${i}`)),
    checked: null,
  };
}

/** The in-memory fold of a journal, with the index each line needs to apply in O(1). */
class Fold {
  readonly data: LedgerData;
  private readonly byRequest = new Map<string, number>();
  private readonly byJob = new Map<string, number>();

  constructor(payer: string, v: JournalVersion = LEDGER_VERSION) {
    this.data = {
      kind: LEDGER_KIND,
      v,
      payer,
      node_key: null,
      requests: [],
      checked: null,
      receipts: new Map(),
      itemized: new Set(),
    };
  }

  add(record: LedgerRecord): void {
    if (this.byRequest.has(record.request)) {
      throw new RangeError(`request ${record.request} is already in the ledger`);
    }
    this.byRequest.set(record.request, this.data.requests.length);
    if (record.kind === 'job' && record.job) this.byJob.set(record.job, this.data.requests.length);
    this.data.requests.push(record);
  }

  update(request: string, change: LedgerUpdate): void {
    const i = this.byRequest.get(request);
    if (i === undefined) throw new RangeError(`no request ${request} in the ledger`);
    const record = this.data.requests[i]!;
    if ('stored' in change && record.kind === 'put') {
      if (!storedIds(change.stored, record.entries)) {
        throw new RangeError(`request ${request}: stored names an entry the put did not send`);
      }
      this.data.requests[i] = { ...record, stored: change.stored };
    } else if ('bytes' in change && record.kind === 'get') {
      this.data.requests[i] = { ...record, bytes: change.bytes };
    } else if ('job' in change && record.kind === 'job') {
      this.data.requests[i] = { ...record, job: change.job };
      this.byJob.set(change.job, i);
    } else if ('fuel' in change && record.kind === 'job') {
      this.data.requests[i] = { ...record, receipt: change.receipt, fuel: change.fuel };
    } else {
      throw new RangeError(`request ${request} is a ${record.kind}: it has no such field`);
    }
  }

  requestOfJob(job: string): LedgerRecord | undefined {
    const i = this.byJob.get(job);
    return i === undefined ? undefined : this.data.requests[i];
  }
}

/** Applies one journal line (already parsed) to `fold`; bad_argument if it is not one. */
function applyLine(fold: Fold, o: Record<string, unknown>, path: string, where: string): void {
  if (o.kind === 'put' || o.kind === 'get' || o.kind === 'job') {
    fold.add(checkRecord(o, path, where));
  } else if (o.kind === 'update' && typeof o.request === 'string') {
    let change: LedgerUpdate;
    if (isCount(o.bytes)) change = { bytes: o.bytes };
    else if (Array.isArray(o.stored)) change = { stored: o.stored as string[] };
    else if (typeof o.job === 'string' && HEX32.test(o.job)) change = { job: o.job };
    else if (typeof o.receipt === 'string' && HEX64.test(o.receipt) && isCount(o.fuel)) {
      change = { receipt: o.receipt, fuel: o.fuel };
    } else return bad(path, `${where} is a malformed update`);
    try {
      fold.update(o.request, change);
    } catch (error) {
      bad(path, `${where}: ${(error as Error).message}`);
    }
  } else if (o.kind === 'node_key' && typeof o.node_key === 'string' && HEX64.test(o.node_key)) {
    fold.data.node_key = o.node_key;
  } else if (
    o.kind === 'receipt' &&
    isCount(o.seq) &&
    typeof o.hash === 'string' &&
    HEX64.test(o.hash)
  ) {
    fold.data.receipts!.set(o.seq, o.hash);
  } else if (o.kind === 'checked' && isCount(o.next) && isCount(o.until)) {
    fold.data.checked = { next: o.next, until: o.until };
  } else if (o.kind === 'itemized') {
    applyItemized(fold, o, path, where);
  } else {
    bad(path, `${where} is not a ledger line`);
  }
}

/** An `itemized` line: v3 only, after the checked mark, 1–4,096 new lowercase ids. */
function applyItemized(fold: Fold, o: Record<string, unknown>, path: string, where: string): void {
  if (fold.data.v !== 3) bad(path, `${where}: itemized lines need a version 3 ledger`);
  if (!fold.data.checked) bad(path, `${where}: an itemized line before the checked mark`);
  const ids = o.entries;
  if (
    Object.keys(o).length !== 2 ||
    !Array.isArray(ids) ||
    ids.length < 1 ||
    ids.length > MAX_ITEMIZED_PER_LINE
  ) {
    bad(path, `${where} is a malformed itemized line`);
  }
  const itemized = fold.data.itemized!;
  for (const id of ids) {
    if (typeof id !== 'string' || !HEX64.test(id)) {
      bad(path, `${where} is a malformed itemized line`);
    }
    if (itemized.has(id)) bad(path, `${where} names entry ${id} itemized already`);
    itemized.add(id);
  }
}

interface Scan {
  readonly fold: Fold;
  /** Bytes of whole lines: what follows is a torn append, cut off before the next one. */
  readonly end: number;
}

/** Streams a journal line by line; a last line cut short by a crash is ignored. */
async function scanJournal(path: string, payer: string): Promise<Scan | 'v1'> {
  let fold: Fold | undefined;
  let offset = 0;
  let end = 0;
  let line = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const take = (bytes: Buffer): 'v1' | undefined => {
    line++;
    let value: unknown;
    try {
      value = JSON.parse(bytes.toString('utf8'));
    } catch {
      bad(path, `line ${line} is not JSON`);
    }
    const o = value as Record<string, unknown> | null;
    if (typeof o !== 'object' || o === null) bad(path, `line ${line} is not an object`);
    if (!fold) {
      if (o.kind === LEDGER_KIND && o.v === 1) return 'v1';
      if (o.kind !== LEDGER_KIND || (o.v !== 2 && o.v !== 3)) bad(path, 'wrong kind or version');
      if (o.payer !== payer) {
        const other = typeof o.payer === 'string' ? o.payer.slice(0, 16) : '?';
        throw new P2PError('bad_argument', `${path} is the ledger of another payer (${other}…)`);
      }
      fold = new Fold(payer, o.v);
      return undefined;
    }
    applyLine(fold, o, path, `line ${line}`);
    return undefined;
  };
  // A malformed line in the middle is damage and refused; only the very last line may be torn.
  let held: Buffer | undefined;
  let heldEnd = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    let from = 0;
    for (let nl = chunk.indexOf(10, from); nl >= 0; nl = chunk.indexOf(10, from)) {
      pending.push(chunk.subarray(from, nl));
      const whole = Buffer.concat(pending, pendingBytes + nl - from);
      offset += nl - from + 1;
      pending = [];
      pendingBytes = 0;
      from = nl + 1;
      if (held && take(held) === 'v1') return 'v1';
      if (held) end = heldEnd;
      held = whole;
      heldEnd = offset;
    }
    pending.push(chunk.subarray(from));
    pendingBytes += chunk.length - from;
    offset += chunk.length - from;
  }
  if (held) {
    try {
      if (take(held) === 'v1') return 'v1';
      end = heldEnd;
    } catch (error) {
      // The header itself cannot be torn away: a file without one is not a ledger.
      if (!fold) throw error;
    }
  }
  if (!fold) {
    if (pendingBytes > 0 && offset === pendingBytes) {
      // One line without its newline: a v1 file, or a header torn while it was first written.
      const text = Buffer.concat(pending).toString('utf8');
      try {
        if ((JSON.parse(text) as { v?: unknown }).v === 1) return 'v1';
      } catch {
        // torn header: nothing was ever recorded
      }
    }
    fold = new Fold(payer);
    end = 0;
  }
  return { fold, end };
}

function lineOf(value: object): string {
  return `${JSON.stringify(value)}\n`;
}

function headerLine(payer: string, v: JournalVersion): string {
  return lineOf({ kind: LEDGER_KIND, v, payer });
}

/**
 * The journal text of `data` in its version: header, pins, the checked mark and (v3) the
 * entries itemized before it in ascending order, then its requests as they stand.
 */
function journalText(data: LedgerData & { v: JournalVersion }): string {
  let text = headerLine(data.payer, data.v);
  if (data.node_key) text += lineOf({ kind: 'node_key', node_key: data.node_key });
  if (data.checked) text += lineOf({ kind: 'checked', ...data.checked });
  const itemized = [...(data.itemized ?? [])].sort();
  if (itemized.length > 0 && (data.v !== 3 || !data.checked)) {
    throw new RangeError('itemized entries need a version 3 ledger with a checked mark');
  }
  for (let i = 0; i < itemized.length; i += MAX_ITEMIZED_PER_LINE) {
    text += lineOf({ kind: 'itemized', entries: itemized.slice(i, i + MAX_ITEMIZED_PER_LINE) });
  }
  for (const [seq, hash] of data.receipts ?? []) text += lineOf({ kind: 'receipt', seq, hash });
  for (const r of data.requests) text += lineOf(r);
  return text;
}

async function syncDir(path: string): Promise<void> {
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } catch {
    // some file systems cannot flush a directory; the file itself is flushed
  } finally {
    await dir.close();
  }
}

/** A ledger journal: changes are appended in order, each flushed to disk before it resolves. */
export class Ledger {
  private writing: Promise<void> = Promise.resolve();
  private handle: FileHandle | undefined;

  private constructor(
    readonly path: string,
    private fold: Fold,
    /** Bytes of whole lines on disk; -1: the file does not exist yet. */
    private end: number,
    private size: number,
    private readonly lock: FileLock,
  ) {}

  get data(): LedgerData {
    return this.fold.data;
  }

  /**
   * Opens the ledger of `payer` (64 hex) at `path`, or starts an empty one. Waits up to
   * `waitMs` (30 s by default) for another process that has it open to close it.
   */
  static async open(
    path: string,
    payer: string,
    options: { readonly waitMs?: number } = {},
  ): Promise<Ledger> {
    const lock = await lockLedger(path, options.waitMs);
    try {
      // Read once the lock is held: the end found here is where this process appends, and no
      // other process appends until it closes.
      return await Ledger.readLocked(path, payer, lock);
    } catch (error) {
      lock.release();
      throw error;
    }
  }

  /** What the ledger holds now, read under its lock, which is released once read. */
  static async read(
    path: string,
    payer: string,
    options: { readonly waitMs?: number } = {},
  ): Promise<LedgerData> {
    const ledger = await Ledger.open(path, payer, options);
    await ledger.close();
    return ledger.data;
  }

  private static async readLocked(path: string, payer: string, lock: FileLock): Promise<Ledger> {
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new P2PError('bad_argument', `cannot read ${path}: ${(error as Error).message}`);
      }
      return new Ledger(path, new Fold(payer), -1, 0, lock);
    }
    let scan: Scan | 'v1';
    try {
      scan = await scanJournal(path, payer);
    } catch (error) {
      if (error instanceof P2PError) throw error;
      throw new P2PError('bad_argument', `cannot read ${path}: ${(error as Error).message}`);
    }
    if (scan !== 'v1') return new Ledger(path, scan.fold, scan.end, size, lock);
    const old = parseLedger(await readFile(path, 'utf8'), path);
    if (old.payer !== payer) {
      throw new P2PError(
        'bad_argument',
        `${path} is the ledger of another payer (${old.payer.slice(0, 16)}…)`,
      );
    }
    // Converted as docs/billing.md §8.2 says: a version 2 journal, compacted to 3 later.
    const fold = new Fold(payer, 2);
    fold.data.node_key = old.node_key;
    for (const r of old.requests) fold.add(r);
    const text = journalText(fold.data as LedgerData & { v: JournalVersion });
    await replacePrivateFile(path, text);
    return new Ledger(path, fold, Buffer.byteLength(text), Buffer.byteLength(text), lock);
  }

  private async writeLine(text: string): Promise<void> {
    if (!this.handle) {
      if (this.end < 0) {
        this.handle = await open(this.path, 'wx', 0o600);
        this.end = 0;
        this.size = 0;
        await syncDir(this.path);
      } else {
        this.handle = await open(this.path, 'r+', 0o600);
      }
    }
    if (this.end === 0) {
      // The header goes with the first line, so a ledger never used leaves no file behind.
      text = headerLine(this.data.payer, this.fold.data.v as JournalVersion) + text;
    }
    if (this.size > this.end) {
      // A torn last line from a crash mid-append: cut it off so the next line starts clean.
      await this.handle.truncate(this.end);
      this.size = this.end;
    }
    const bytes = Buffer.from(text);
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await this.handle.write(bytes, done, bytes.length - done, this.end);
      this.size = this.end + bytesWritten;
      this.end += bytesWritten;
      done += bytesWritten;
    }
    await this.handle.datasync();
  }

  private append(value: object, apply: () => void): Promise<void> {
    // The fold changes at once (so the next call sees it); the line is on disk when this resolves.
    apply();
    const next = this.writing.then(() => this.writeLine(lineOf(value)));
    this.writing = next.catch(() => undefined);
    return next;
  }

  add(record: LedgerRecord): Promise<void> {
    return this.append(record, () => this.fold.add(record));
  }

  /** Sets fields on the record of `request`. */
  update(request: string, change: LedgerUpdate): Promise<void> {
    return this.append({ kind: 'update', request, ...change }, () =>
      this.fold.update(request, change),
    );
  }

  /** The job record the node's job id `job` was given to, if any. */
  requestOfJob(job: string): LedgerRecord | undefined {
    return this.fold.requestOfJob(job);
  }

  /** Notes the SHA-256 (hex) of the body of receipt `seq` as checked. */
  recordReceipt(seq: number, hash: string): Promise<void> {
    return this.append({ kind: 'receipt', seq, hash }, () => {
      this.fold.data.receipts!.set(seq, hash);
    });
  }

  pinNodeKey(key: string): Promise<void> {
    return this.append({ kind: 'node_key', node_key: key }, () => {
      this.fold.data.node_key = key;
    });
  }

  /**
   * Notes that receipts before `mark.next` agreed with the ledger, and rewrites the journal as
   * version 3 without what they settled (docs/billing.md §8.3): `keep` decides which requests
   * stay, `itemized` are the entries the node holds from then on.
   */
  async compact(
    mark: CheckedMark,
    keep: (record: LedgerRecord) => boolean,
    itemized: Iterable<string> = [],
  ): Promise<void> {
    const run = async (): Promise<void> => {
      const fold = new Fold(this.data.payer, 3);
      fold.data.node_key = this.data.node_key;
      fold.data.checked = mark;
      for (const id of itemized) {
        if (!HEX64.test(id)) throw new RangeError(`itemized entry ${id} is not 64 hex`);
        fold.data.itemized!.add(id);
      }
      for (const [seq, hash] of this.data.receipts ?? []) fold.data.receipts!.set(seq, hash);
      for (const r of this.data.requests) if (keep(r)) fold.add(r);
      const text = journalText(fold.data as LedgerData & { v: JournalVersion });
      await this.handle?.close();
      this.handle = undefined;
      await replacePrivateFile(this.path, text);
      this.fold = fold;
      this.end = Buffer.byteLength(text);
      this.size = this.end;
    };
    const next = this.writing.then(run);
    this.writing = next.catch(() => undefined);
    return next;
  }

  /** Waits for the lines under way, closes the file and lets other processes open it. */
  async close(): Promise<void> {
    try {
      await this.writing;
      await this.handle?.close();
      this.handle = undefined;
    } finally {
      this.lock.release();
    }
  }
}
