/**
 * A hostile peer: a real HTTP server on 127.0.0.1 that speaks the node-to-node sync protocol
 * (docs/protocol.md §13: hello, /index, /sync/reconcile, /sync/ids, /sync/fetch, /put) and
 * lies in one chosen way, for tests and for the hostile section of the benchmark.
 *
 * Modes (`mode`, `--mode`):
 *   honest         holds `entries` (valid entries given, or `--entries N` made at start) and
 *                  serves them as a correct node would; the control case.
 *   flood-ids      claims 2^32−1 entries in every bucket the caller holds entries in, and
 *                  answers each /sync/ids with `idsPerAnswer` sorted ids inside the asked
 *                  ranges (110,000 by default), none of which it serves.
 *   endless-fetch  claims entries in buckets the caller holds nothing of, then answers every
 *                  /sync/fetch with an empty page whose continuation (p2pcloud-next) advances by
 *                  one short id (bucket ranges) or by one id (id lists), forever.
 *   unserved       claims `claimPerBucket` entries in every differing bucket, lists that many
 *                  random in-range ids, and serves none of them.
 *   junk           serves entries a node's policy refuses, made afresh for each session (so a
 *                  node's memory of refused ids does not stop it): `junk` kinds, round robin,
 *                  `poolSize` per session. Kinds: future (created a day ahead), expired,
 *                  oversize (`oversizeBytes` of payload, above the default 64 KiB limit),
 *                  low-pow (0 leading zero bits), forged (low-pow and a corrupted signature).
 *                  low-pow and forged are junk only to a victim whose min_pow_bits is above 0
 *                  (at 0, low-pow entries are valid and forged ones fail their signature).
 *
 * In-process:  const peer = await startHostilePeer({ mode: 'flood-ids' }); … await peer.close();
 *              peer.url, peer.requests (counts by "METHOD /path"), peer.stats().
 * As a process: node dist/tools/hostile-peer.js --mode flood-ids [--port 0]
 *              [--victim URL [--hello-seconds 5]] [--ids-per-answer N] [--claim N]
 *              [--junk future,expired,oversize,low-pow,forged] [--pool N] [--oversize-bytes N]
 *              [--entries N] [--rotate-seconds S]
 *   prints "hostile peer <mode> listening on http://127.0.0.1:PORT", and on SIGINT/SIGTERM one
 *   JSON line of request counts before exiting.
 *
 * `victim`: the peer introduces itself to that node (POST /hello with its own URL) at once and
 * every `helloSeconds`, as any stranger may; otherwise whoever tests it introduces it. With
 * `rotateSeconds` (`--rotate-seconds`) it also listens on a fresh port that often and
 * introduces that one (with a node id of its own): a dropped liar that comes back as a new
 * peer, to keep an attack going for as long as a benchmark runs.
 */
import type http from 'node:http';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { listenBuffered } from './buffered-server.js';
import { createEntry } from '../src/entry/create.js';
import { ENTRIES_MEDIA_TYPE, encodeFrames } from '../src/entry/framing.js';
import { decodeEntry, entryId } from '../src/entry/format.js';
import { entryPowBits } from '../src/entry/verify.js';
import { generateIdentity, generateTableKey } from '../src/keys/keys.js';
import { DEFAULT_BUCKETS } from '../src/reconcile/buckets.js';
import { bucketFingerprint, bucketHiRange, shortBucket } from '../src/reconcile/summary.js';
import {
  SYNC_MEDIA_TYPE,
  decodeShortIds,
  decodeSyncMessage,
  encodeShortIds,
  encodeSyncMessage,
  parseShortIdKey,
  shortIdKey,
} from '../src/sync/wire.js';

export type HostileMode = 'honest' | 'flood-ids' | 'endless-fetch' | 'unserved' | 'junk';
export type JunkKind = 'future' | 'expired' | 'oversize' | 'low-pow' | 'forged';
export const JUNK_KINDS: readonly JunkKind[] = [
  'future',
  'expired',
  'oversize',
  'low-pow',
  'forged',
];
const MODES: readonly HostileMode[] = ['honest', 'flood-ids', 'endless-fetch', 'unserved', 'junk'];

export interface HostilePeerOptions {
  readonly mode: HostileMode;
  readonly port?: number;
  /** honest: the entries it holds and serves. */
  readonly entries?: readonly Buffer[];
  /** flood-ids: ids listed per /sync/ids answer. */
  readonly idsPerAnswer?: number;
  /** unserved / endless-fetch: entries claimed per listed bucket. */
  readonly claimPerBucket?: number;
  readonly junk?: readonly JunkKind[];
  /** junk: entries made per session. */
  readonly poolSize?: number;
  readonly oversizeBytes?: number;
  readonly victim?: string;
  readonly helloSeconds?: number;
  /** With `victim`: listen on a fresh port this often and introduce it (a liar that returns). */
  readonly rotateSeconds?: number;
}

export interface HostilePeer {
  readonly url: string;
  readonly mode: HostileMode;
  /** Requests received, by "METHOD /path". */
  readonly requests: Map<string, number>;
  stats(): { requests: Record<string, number>; idsListed: number; pages: number; junk: number };
  total(): number;
  /** Every address it listens on (more than one when it rotates). */
  urls(): string[];
  close(): Promise<void>;
}

interface Held {
  readonly bytes: Buffer;
  readonly hi: number;
  readonly lo: number;
}

function hold(bytes: Buffer): Held {
  const id = entryId(bytes);
  return { bytes, hi: id.readUInt32BE(0), lo: id.readUInt32BE(4) };
}

function byShortId(a: Held, b: Held): number {
  return a.hi - b.hi || a.lo - b.lo;
}

/** One entry a node's policy refuses, of the given kind. */
export function junkEntry(kind: JunkKind, oversizeBytes = 70_000): Buffer {
  const table = generateTableKey();
  const recipient = generateIdentity().box.publicKey;
  const now = Date.now();
  const text = Buffer.from(`junk ${kind} ${randomBytes(8).toString('hex')}`);
  if (kind === 'future')
    return createEntry({
      table,
      recipient,
      plaintext: text,
      powBits: 0,
      createdAt: now + 86_400_000,
    }).bytes;
  if (kind === 'expired') {
    return createEntry({
      table,
      recipient,
      plaintext: text,
      powBits: 0,
      createdAt: now - 7_200_000,
      expiresAt: now - 3_600_000,
    }).bytes;
  }
  if (kind === 'oversize') {
    return createEntry({ table, recipient, plaintext: randomBytes(oversizeBytes), powBits: 0 })
      .bytes;
  }
  // Exactly 0 bits of work (half of all nonces give that): below any minimum above 0.
  for (;;) {
    const bytes = createEntry({ table, recipient, plaintext: text, powBits: 0 }).bytes;
    if (entryPowBits(decodeEntry(bytes)) !== 0) continue;
    if (kind === 'forged') bytes[bytes.length - 40]! ^= 0x01;
    return bytes;
  }
}

/** `n` sorted short ids spread over the 32-bit prefixes [lowest, end). */
function spreadIds(lowest: number, end: number, n: number): [number, number][] {
  const out: [number, number][] = new Array(n);
  const width = end - lowest;
  const noise = randomBytes(4 * n);
  for (let i = 0; i < n; i++) {
    // Prefixes rise with i; when there are more ids than prefixes, lo keeps them ordered.
    const hi = lowest + Math.floor((i * width) / n);
    out[i] = [hi, width >= n ? noise.readUInt32BE(i * 4) : i];
  }
  return out;
}

export async function startHostilePeer(options: HostilePeerOptions): Promise<HostilePeer> {
  const mode = options.mode;
  const idsPerAnswer = options.idsPerAnswer ?? 110_000;
  const claim = options.claimPerBucket ?? 1000;
  const kinds = options.junk ?? JUNK_KINDS;
  const poolSize = options.poolSize ?? 100;
  const requests = new Map<string, number>();
  const counters = { idsListed: 0, pages: 0, junk: 0 };
  const nodeId = randomBytes(12).toString('base64url');
  let url = '';
  let buckets = DEFAULT_BUCKETS;
  // What honest and junk serve; junk keeps the previous session's pool too, for a session
  // that is still fetching when the next one starts.
  let held: Held[] = (options.entries ?? []).map(hold).sort(byShortId);
  let previous: Held[] = [];

  const freshJunk = (): void => {
    const made: Buffer[] = [];
    for (let i = 0; i < poolSize; i++)
      made.push(junkEntry(kinds[(counters.junk + i) % kinds.length]!, options.oversizeBytes));
    counters.junk += made.length;
    previous = held;
    held = made.map(hold).sort(byShortId);
  };
  const servable = (): Held[] => (mode === 'junk' ? [...held, ...previous].sort(byShortId) : held);
  const inRange = (list: readonly Held[], from: number, to: number): Held[] => {
    const [lowest, end] = bucketHiRange(from, to, buckets);
    return list.filter((h) => h.hi >= lowest && h.hi < end);
  };

  const send = (res: http.ServerResponse, body: Buffer | string, type: string): void => {
    res.writeHead(200, { 'content-type': type, 'content-length': String(Buffer.byteLength(body)) });
    res.end(body);
  };
  const json = (res: http.ServerResponse, value: unknown): void =>
    send(res, JSON.stringify(value), 'application/json');

  /** Buckets mode: per bucket u16 number | u32 claimed count. */
  const bucketList = (list: readonly [number, number][]): Buffer => {
    const out = Buffer.alloc(list.length * 6);
    list.forEach(([b, n], i) => {
      out.writeUInt16BE(b, i * 6);
      out.writeUInt32BE(n, i * 6 + 2);
    });
    return out;
  };

  const reconcile = (header: Record<string, unknown>, prints: Buffer): Buffer => {
    buckets = typeof header.buckets === 'number' ? header.buckets : DEFAULT_BUCKETS;
    const salt = typeof header.salt === 'number' ? header.salt : 0;
    const empty = bucketFingerprint(salt, 0, 0, 0);
    const theirs = (b: number): boolean => prints[b] !== undefined && prints[b] !== empty;
    const list: [number, number][] = [];
    if (mode === 'honest' || mode === 'junk') {
      if (mode === 'junk') freshJunk();
      const counts = new Map<number, number>();
      for (const h of held) {
        const b = shortBucket(h.hi, buckets);
        counts.set(b, (counts.get(b) ?? 0) + 1);
      }
      for (const b of [...counts.keys()].sort((x, y) => x - y)) list.push([b, counts.get(b)!]);
    } else {
      for (let b = 0; b < buckets; b++) {
        const holds = theirs(b);
        if (mode === 'flood-ids' && holds) list.push([b, 0xffffffff]);
        else if (mode === 'endless-fetch' && !holds) list.push([b, claim]);
        else if (mode === 'unserved') list.push([b, claim]);
      }
    }
    const count = list.reduce((n, [, c]) => Math.min(n + c, Number.MAX_SAFE_INTEGER), 0);
    return encodeSyncMessage(
      { v: 1, mode: 'buckets', count, differing: list.length, estimate: null },
      bucketList(list),
    );
  };

  const ids = (header: Record<string, unknown>): Buffer => {
    const ranges = header.ranges as [number, number][];
    const lists: [number, number][][] = ranges.map(([from, to]) => {
      if (mode === 'flood-ids') {
        const [lowest, end] = bucketHiRange(from, to, buckets);
        return spreadIds(lowest, end, Math.max(1, Math.floor(idsPerAnswer / ranges.length)));
      }
      if (mode === 'unserved') {
        const [lowest, end] = bucketHiRange(from, to, buckets);
        return spreadIds(lowest, end, claim * (to - from));
      }
      return inRange(servable(), from, to).map((h): [number, number] => [h.hi, h.lo]);
    });
    const all = lists.flat();
    counters.idsListed += all.length;
    return encodeSyncMessage({ v: 1, counts: lists.map((l) => l.length) }, encodeShortIds(all));
  };

  const fetch = (header: Record<string, unknown>, payload: Buffer, res: http.ServerResponse) => {
    counters.pages += 1;
    if (mode === 'endless-fetch') {
      if (header.mode === 'ids') res.setHeader('p2pcloud-next', '1');
      else {
        const after = parseShortIdKey(header.after);
        const [from] = header.range as [number, number];
        const start = after ?? [bucketHiRange(from, from + 1, buckets)[0], 0];
        const next = start[1] === 0xffffffff ? [start[0] + 1, 0] : [start[0], start[1] + 1];
        res.setHeader('p2pcloud-next', shortIdKey(next[0]!, next[1]!));
      }
      return send(res, encodeFrames([]), ENTRIES_MEDIA_TYPE);
    }
    if (mode === 'flood-ids' || mode === 'unserved')
      return send(res, encodeFrames([]), ENTRIES_MEDIA_TYPE);
    let entries: Held[];
    if (header.mode === 'ids') {
      const wanted = new Set(
        decodeShortIds(payload, 1 << 20).map(([hi, lo]) => shortIdKey(hi, lo)),
      );
      entries = servable().filter((h) => wanted.has(shortIdKey(h.hi, h.lo)));
    } else {
      const [from, to] = header.range as [number, number];
      const after = parseShortIdKey(header.after);
      entries = inRange(servable(), from, to)
        .sort(byShortId)
        .filter((h) => !after || h.hi > after[0] || (h.hi === after[0] && h.lo > after[1]));
    }
    return send(res, encodeFrames(entries.map((h) => h.bytes)), ENTRIES_MEDIA_TYPE);
  };

  const answer = (req: http.IncomingMessage, body: Buffer, res: http.ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0]!;
    const key = `${req.method} ${path}`;
    requests.set(key, (requests.get(key) ?? 0) + 1);
    if (key === 'POST /hello') {
      // Each address it listens on is a peer of its own, with a node id of its own.
      const self = `http://127.0.0.1:${req.socket.localPort}`;
      return json(res, {
        version: 1,
        node_id: `${nodeId}${req.socket.localPort}`,
        urls: [self],
        tables: 'all',
        peers: [],
      });
    }
    if (key === 'GET /index') {
      // A fresh root every time: never "equal", never "unchanged".
      const count = mode === 'honest' ? held.length : 1_000_000;
      return json(res, { version: 1, buckets, count, root: randomBytes(32).toString('hex') });
    }
    if (key === 'POST /put') return json(res, { stored: 0, duplicates: 0, rejected: 0 });
    if (key.startsWith('POST /sync/')) {
      const { header, payload } = decodeSyncMessage(body);
      if (key === 'POST /sync/reconcile')
        return send(res, reconcile(header, payload), SYNC_MEDIA_TYPE);
      if (key === 'POST /sync/ids') return send(res, ids(header), SYNC_MEDIA_TYPE);
      if (key === 'POST /sync/fetch') return fetch(header, payload, res);
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'not_found', message: 'no such route' } }));
  };

  const servers: http.Server[] = [];
  const urls: string[] = [];
  const listen = async (port: number): Promise<string> => {
    const listening = await listenBuffered(answer, port);
    servers.push(listening.server);
    urls.push(listening.url);
    return listening.url;
  };
  url = await listen(options.port ?? 0);

  const timers: NodeJS.Timeout[] = [];
  if (options.victim) {
    const victim = options.victim;
    // The newest address introduces itself; the older ones stay open for sessions under way.
    const introduce = (): void => {
      void fetch0(`${victim}/hello`, { version: 1, urls: [urls[urls.length - 1]] });
    };
    introduce();
    timers.push(setInterval(introduce, (options.helloSeconds ?? 5) * 1000));
    if (options.rotateSeconds) {
      timers.push(
        setInterval(() => {
          void listen(0).then(introduce);
        }, options.rotateSeconds * 1000),
      );
    }
    for (const timer of timers) timer.unref();
  }

  const stats = (): ReturnType<HostilePeer['stats']> => ({
    requests: Object.fromEntries(requests),
    ...counters,
  });
  return {
    url,
    mode,
    requests,
    stats,
    total: () => [...requests.values()].reduce((a, b) => a + b, 0),
    urls: () => [...urls],
    close: async () => {
      for (const timer of timers) clearInterval(timer);
      await Promise.all(
        servers.map(
          (server) =>
            new Promise<void>((resolve) => {
              server.closeAllConnections();
              server.close(() => resolve());
            }),
        ),
      );
    },
  };
}

/** A best-effort JSON POST (the victim may refuse or be gone). */
async function fetch0(target: string, body: unknown): Promise<void> {
  try {
    const response = await fetch(target, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      redirect: 'manual',
      signal: AbortSignal.timeout(5000),
    });
    await response.arrayBuffer();
  } catch {
    // Nothing to do: the next introduction tries again.
  }
}

function flag(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
}

function numberFlag(args: readonly string[], name: string): number | undefined {
  const text = flag(args, name);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} must be a number`);
  return value;
}

async function main(args: readonly string[]): Promise<void> {
  const mode = (flag(args, 'mode') ?? 'honest') as HostileMode;
  if (!MODES.includes(mode)) throw new Error(`--mode must be one of ${MODES.join(', ')}`);
  const junk = flag(args, 'junk')?.split(',') as JunkKind[] | undefined;
  if (junk && !junk.every((k) => JUNK_KINDS.includes(k)))
    throw new Error(`--junk takes ${JUNK_KINDS.join(',')}`);
  const made = numberFlag(args, 'entries') ?? 0;
  const table = generateTableKey();
  const recipient = generateIdentity().box.publicKey;
  const entries: Buffer[] = [];
  for (let i = 0; i < made; i++)
    entries.push(
      createEntry({ table, recipient, plaintext: Buffer.from(`e ${i}`), powBits: 0 }).bytes,
    );
  const victim = flag(args, 'victim');
  const idsPerAnswer = numberFlag(args, 'ids-per-answer');
  const claimPerBucket = numberFlag(args, 'claim');
  const poolSize = numberFlag(args, 'pool');
  const oversizeBytes = numberFlag(args, 'oversize-bytes');
  const helloSeconds = numberFlag(args, 'hello-seconds');
  const rotateSeconds = numberFlag(args, 'rotate-seconds');
  const peer = await startHostilePeer({
    mode,
    port: numberFlag(args, 'port') ?? 0,
    entries,
    ...(idsPerAnswer !== undefined ? { idsPerAnswer } : {}),
    ...(claimPerBucket !== undefined ? { claimPerBucket } : {}),
    ...(junk ? { junk } : {}),
    ...(poolSize !== undefined ? { poolSize } : {}),
    ...(oversizeBytes !== undefined ? { oversizeBytes } : {}),
    ...(victim ? { victim } : {}),
    ...(helloSeconds !== undefined ? { helloSeconds } : {}),
    ...(rotateSeconds ? { rotateSeconds } : {}),
  });
  process.stdout.write(`hostile peer ${mode} listening on ${peer.url}\n`);
  const stop = (): void => {
    process.stdout.write(`${JSON.stringify(peer.stats())}\n`);
    void peer.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`hostile-peer: ${(error as Error).message}\n`);
    process.exit(2);
  });
}
