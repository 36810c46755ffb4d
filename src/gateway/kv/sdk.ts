/**
 * The key-value store and logs of a group space for programs that run a gateway in their own
 * process (docs/gateway.md §14): the replicas and log books the HTTP routes use, without HTTP.
 * `openKV` hands out the space's abstract-level replica itself; `openLog` a small typed object
 * over one log of the space.
 */
import type { Statement } from '../../identity/statement.js';
import { P2PError } from '../../errors.js';
import { identityText, type Identity } from '../../keys/keys.js';
import type { WriterChain } from '../../log/chain.js';
import type { LogEntry } from '../../log/entry.js';
import {
  comparePositions,
  decodeCursor,
  encodeCursor,
  MAX_PAGE,
  type MergedEntry,
  type Position,
} from '../../log/merge.js';
import type { RunningGateway } from '../server.js';
import type { OpenSpace } from './hub.js';
import { checkLogName } from './log-book.js';
import type { KvReplica } from './replica.js';

export interface SpaceOptions {
  /** Whom to act as: an identity the gateway holds (default: its own, the one of --key). */
  readonly identity?: Identity;
}

/** One entry of a log's merged view. */
export interface LogEntryView {
  /** The device that wrote it (identity text). */
  readonly writer: string;
  /** The person the device writes for (identity text). */
  readonly person: string;
  /** Its place in the writer's chain: 1, 2, 3, … */
  readonly seq: number;
  /** When the writer signed it (ms since the epoch, the writer's clock). */
  readonly at: number;
  /** Its statement hash, which the writer's next entry names. */
  readonly hash: string;
  readonly data: Buffer;
  /** Pass as `after` to read what follows this entry. */
  readonly cursor: string;
}

/** Two statements that contradict each other: the evidence of a fork or a rewrite. */
export interface LogContradiction {
  readonly seq: number;
  readonly reason: string;
  readonly first: { readonly hash: string; readonly at: number };
  readonly second: { readonly hash: string; readonly at: number };
}

/** What is wrong with one writer's chain (docs/kv.md §7, "Verifying a log"). */
export interface LogProblem {
  readonly writer: string;
  /** Entries of this writer that count: 1..verified. */
  readonly verified: number;
  readonly gaps: readonly { readonly from: number; readonly to: number }[];
  readonly forks: readonly LogContradiction[];
  readonly rewrites: readonly LogContradiction[];
}

export interface LogPage {
  readonly entries: readonly LogEntryView[];
  /** The last entry's cursor (the one given when the page is empty; null from the start). */
  readonly cursor: string | null;
  /** Whether entries past this page exist now. */
  readonly more: boolean;
  /** Writers whose chains have forks, gaps or rewrites; their entries past the fault are left out. */
  readonly problems: readonly LogProblem[];
}

export interface AppendedEntry {
  readonly log: string;
  readonly writer: string;
  readonly person: string;
  readonly seq: number;
  readonly hash: string;
  readonly at: number;
}

export interface LogHeadProof {
  readonly log: string;
  readonly writer: string;
  /** The seq and hash of this device's latest entry, as the head states them. */
  readonly seq: number;
  readonly hash: string;
  /** The head statement's own hash. */
  readonly head: string;
}

export interface FollowOptions {
  /** Start after this cursor (every entry past it first); without it, only entries to come. */
  readonly after?: string;
  /** Ends the iteration. */
  readonly signal?: AbortSignal;
}

/** One log of a space: this device appends to its own chain and reads every writer's. */
export interface KvLog {
  readonly space: string;
  readonly name: string;
  /** Appends to this device's chain; kept on this device at once, sent to the nodes when one answers. */
  append(data: string | Uint8Array): Promise<AppendedEntry>;
  /** Up to `limit` (1–1000, default 100) entries after `after` (from the start without it). */
  read(options?: { readonly after?: string; readonly limit?: number }): Promise<LogPage>;
  /** Signs a head naming this device's latest entry: a proof readers hold it to. */
  head(): Promise<LogHeadProof>;
  /**
   * Entries as they arrive, from this device or read from the nodes, until the loop is left,
   * the signal aborts or the gateway closes. Each entry comes once, including one that arrives
   * late and sorts before entries already given (its writer was offline, say).
   */
  follow(options?: FollowOptions): AsyncGenerator<LogEntryView>;
}

export async function openSpace(
  running: RunningGateway,
  space: string,
  options: SpaceOptions,
): Promise<OpenSpace> {
  const { gateway } = running;
  const given = options.identity ?? gateway.keyring.defaultIdentity;
  const actor = gateway.keyring.identity(identityText(given));
  if (!actor) {
    throw new P2PError(
      'unknown_identity',
      'this gateway does not hold that identity: start it with that key, or register it',
    );
  }
  return gateway.kv.space(actor, gateway.space(actor, space).id);
}

/**
 * The key-value store of a group space (`space`: the group id) as an abstract-level database
 * with UTF-8 keys and values by default. It belongs to the gateway: it stays open while the
 * gateway runs and closes with it; closed by the app, it is opened anew by the next call.
 */
export async function openKV(
  running: RunningGateway,
  space: string,
  options: SpaceOptions = {},
): Promise<KvReplica> {
  return (await openSpace(running, space, options)).replica;
}

function entryView(merged: MergedEntry): LogEntryView {
  const { entry, position } = merged;
  return {
    writer: entry.writer,
    person: entry.person,
    seq: entry.seq,
    at: entry.statement.at,
    hash: entry.hash,
    data: entry.data,
    cursor: encodeCursor(position),
  };
}

function contradiction(c: {
  seq: number;
  reason: string;
  first: Statement;
  second: Statement;
}): LogContradiction {
  return {
    seq: c.seq,
    reason: c.reason,
    first: { hash: c.first.hash, at: c.first.at },
    second: { hash: c.second.hash, at: c.second.at },
  };
}

export function logProblems(writers: Iterable<WriterChain>): LogProblem[] {
  const out: LogProblem[] = [];
  for (const chain of writers) {
    if (chain.forks.length + chain.gaps.length + chain.rewrites.length === 0) continue;
    out.push({
      writer: chain.writer,
      verified: chain.verified.length,
      gaps: chain.gaps.map((g) => ({ from: g.from, to: g.to })),
      forks: chain.forks.map(contradiction),
      rewrites: chain.rewrites.map(contradiction),
    });
  }
  return out;
}

function payload(data: string | Uint8Array): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (data instanceof Uint8Array) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  throw new P2PError('bad_log', 'log data is a string or bytes');
}

function pageLimit(limit: number | undefined): number {
  const n = limit ?? 100;
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_PAGE) {
    throw new P2PError('bad_query', `limit must be 1-${MAX_PAGE}`);
  }
  return n;
}

/** One log of a group space (`space`: the group id; `name`: 1 to 64 characters). */
export async function openLog(
  running: RunningGateway,
  space: string,
  name: string,
  options: SpaceOptions = {},
): Promise<KvLog> {
  checkLogName(name);
  const open = await openSpace(running, space, options);
  const { logs } = open;

  return {
    space: open.group,
    name,
    async append(data) {
      const statement = logs.append(name, payload(data));
      return {
        log: name,
        writer: statement.signer,
        person: statement.person,
        seq: (JSON.parse(statement.body) as { seq: number }).seq,
        hash: statement.hash,
        at: statement.at,
      };
    },
    async read(readOptions = {}) {
      const limit = pageLimit(readOptions.limit);
      const page = logs.read(name, readOptions.after, limit);
      return {
        entries: page.entries.map(entryView),
        cursor: page.cursor ?? null,
        more: page.more,
        problems: logProblems(logs.computed(name).report.writers.values()),
      };
    },
    async head() {
      const statement = logs.head(name);
      const body = JSON.parse(statement.body) as { seq: number; hash: string };
      return {
        log: name,
        writer: statement.signer,
        seq: body.seq,
        hash: body.hash,
        head: statement.hash,
      };
    },
    follow: (followOptions = {}) => follow(open, name, followOptions),
  };
}

/**
 * The merged view's entries not given yet. A writer's verified chain only grows (or is cut at a
 * fault, never to return past it), so "given" is the highest seq given per writer; an entry
 * that sorts before entries already given is still found, which a cursor alone would miss.
 */
function fresh(view: readonly MergedEntry[], given: Map<string, number>): MergedEntry[] {
  return view.filter((m) => m.entry.seq > (given.get(m.entry.writer) ?? 0));
}

function note(given: Map<string, number>, entry: LogEntry): void {
  if (entry.seq > (given.get(entry.writer) ?? 0)) given.set(entry.writer, entry.seq);
}

/**
 * Sets up at once, not at the first `next()`: what arrives between the call and the first
 * `next()` is given too. Leaving the loop (or `return()` before it started) removes the
 * listeners.
 */
function follow(
  open: OpenSpace,
  name: string,
  options: FollowOptions,
): AsyncGenerator<LogEntryView> {
  const { logs, replica } = open;
  let start: Position | undefined;
  if (options.after !== undefined) {
    start = decodeCursor(options.after);
    if (!start) throw new P2PError('bad_log', 'this log position (cursor) is not valid');
  }
  const given = new Map<string, number>();
  for (const m of logs.computed(name).view) {
    if (!start || comparePositions(m.position, start) <= 0) note(given, m.entry);
  }
  let dirty = true;
  let stopped = false;
  let wake: (() => void) | undefined;
  const onAppend = (log: string): void => {
    if (log !== name) return;
    dirty = true;
    wake?.();
  };
  const stop = (): void => {
    stopped = true;
    logs.off('append', onAppend);
    replica.off('closing', stop);
    options.signal?.removeEventListener('abort', stop);
    wake?.();
  };
  logs.on('append', onAppend);
  replica.once('closing', stop);
  options.signal?.addEventListener('abort', stop, { once: true });
  if (options.signal?.aborted) stop();

  async function* entries(): AsyncGenerator<LogEntryView> {
    try {
      while (!stopped) {
        if (!dirty) {
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
          continue;
        }
        dirty = false;
        // A late writer's entries may sort anywhere: the whole view is scanned, once per run
        // of appends rather than once per entry (the view itself is computed once per change).
        for (const m of fresh(logs.computed(name).view, given)) {
          note(given, m.entry);
          yield entryView(m);
          if (stopped) return;
        }
      }
    } finally {
      stop();
    }
  }
  const generator = entries();
  const end = generator.return.bind(generator);
  generator.return = (value) => {
    stop();
    return end(value);
  };
  return generator;
}
