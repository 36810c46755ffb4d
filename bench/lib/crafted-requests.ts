/**
 * The most expensive single requests of at most 64 KiB we know how to craft, for every route of
 * a node: as many ids, ranges, tables and entries as fit, scopes naming tables the node holds
 * nothing of, deep JSON, maximal page sizes and claims. Each is built afresh before it is sent
 * (fresh entries, a fresh sketch session), and never larger than 64 KiB: the body for POST,
 * the request target for GET (which a node also caps through its header size limit).
 */
import { randomBytes } from 'node:crypto';
import { createEntry } from '../../src/entry/create.js';
import { entryId } from '../../src/entry/format.js';
import { ENTRIES_MEDIA_TYPE, encodeFrames } from '../../src/entry/framing.js';
import { toHex } from '../../src/encoding/bytes.js';
import { SetSummary } from '../../src/reconcile/summary.js';
import {
  SYNC_MEDIA_TYPE,
  decodeSyncMessage,
  encodeShortIds,
  encodeSyncMessage,
} from '../../src/sync/wire.js';
import type { TableKey } from '../../src/keys/keys.js';
import { send } from './loopback-http.js';

export const MAX_REQUEST_BYTES = 64 * 1024;
/** A GET's request target must also fit the node's header size limit (16 KiB in Node.js). */
const MAX_TARGET_BYTES = 15 * 1024;
const JSON_TYPE = 'application/json';

/** What the crafting needs to know of the node under test. */
export interface Victim {
  readonly url: string;
  readonly buckets: number;
  /** Tables the node holds entries of, and one key to write fresh entries with. */
  readonly tables: readonly TableKey[];
  readonly recipients: readonly Uint8Array[];
  /** Some entries the node holds. */
  readonly stored: readonly Buffer[];
  /** A source address for the preparatory requests (never the measured one). */
  readonly helperFrom: string;
}

export interface Built {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: Buffer;
}

export interface CraftedRequest {
  /** "METHOD /path" of the route it targets. */
  readonly route: string;
  readonly name: string;
  build(victim: Victim): Promise<Built>;
}

/** Appends items while the total stays within `max` bytes. */
function fill(prefix: string, item: (i: number) => string, suffix: string, max: number): string {
  const parts = [prefix];
  let size = Buffer.byteLength(prefix) + Buffer.byteLength(suffix);
  for (let i = 0; ; i++) {
    const next = item(i);
    const bytes = Buffer.byteLength(next);
    if (size + bytes > max) break;
    parts.push(next);
    size += bytes;
  }
  return parts.join('') + suffix;
}

const absentHex = (): string => randomBytes(32).toString('hex');
const tableHex = (table: TableKey): string => toHex(table.signing.publicKey);

function jsonPost(path: string, body: string): Built {
  return { method: 'POST', path, headers: { 'content-type': JSON_TYPE }, body: Buffer.from(body) };
}

function getTarget(path: string, params: (i: number) => string, fixed = ''): Built {
  const target = fill(
    `${path}?${fixed}`,
    (i) => `${i === 0 && !fixed ? '' : '&'}${params(i)}`,
    '',
    MAX_TARGET_BYTES,
  );
  return { method: 'GET', path: target, headers: {} };
}

/** A JSON array of table keys that fills what a 64 KiB body leaves after `reserve` bytes. */
function tablesJson(reserve: number, key: () => string = absentHex): string {
  return fill('[', (i) => `${i ? ',' : ''}"${key()}"`, ']', MAX_REQUEST_BYTES - reserve);
}

/** A sync message whose header holds `fillHeader`'s JSON and whose total stays within 64 KiB. */
function syncPost(path: string, header: Record<string, unknown>, payload?: Buffer): Built {
  const body = encodeSyncMessage(header, payload);
  return { method: 'POST', path, headers: { 'content-type': SYNC_MEDIA_TYPE }, body };
}

/** JSON nested as deep as 64 KiB allows, inside the member a route reads. */
function deepJson(member: string): string {
  const depth = Math.floor((MAX_REQUEST_BYTES - member.length - 8) / 2);
  return `{"${member}":${'['.repeat(depth)}${']'.repeat(depth)}}`;
}

/** Fresh valid entries of one of the node's tables, as many as fit in 64 KiB of frames. */
function freshEntries(victim: Victim, corrupt: boolean): Buffer[] {
  const out: Buffer[] = [];
  let size = 0;
  for (let i = 0; ; i++) {
    const { bytes } = createEntry({
      table: victim.tables[i % victim.tables.length]!,
      recipient: victim.recipients[i % victim.recipients.length]!,
      plaintext: randomBytes(1),
      powBits: 0,
    });
    // A forged entry: one signature byte changed, so only the signature check refuses it.
    if (corrupt) bytes[bytes.length - 1]! ^= 0x01;
    if (size + 4 + bytes.length > MAX_REQUEST_BYTES) return out;
    out.push(bytes);
    size += 4 + bytes.length;
  }
}

function framesPost(entries: readonly Buffer[]): Built {
  return {
    method: 'POST',
    path: '/put',
    headers: { 'content-type': ENTRIES_MEDIA_TYPE, 'p2pcloud-results': 'summary' },
    body: encodeFrames([...entries]),
  };
}

const shortIdOf = (entry: Buffer): [number, number] => {
  const id = entryId(entry);
  return [id.readUInt32BE(0), id.readUInt32BE(4)];
};

/**
 * A sketch session on the node, opened with fingerprints equal to its own (computed from every
 * short id it lists), so that it answers in sketch mode with the largest snapshot it keeps.
 */
async function openSketchSession(victim: Victim): Promise<{ session: string; capacity: number }> {
  const listed = await send(`${victim.url}/sync/ids`, {
    method: 'POST',
    from: victim.helperFrom,
    headers: { 'content-type': SYNC_MEDIA_TYPE },
    body: encodeSyncMessage({ v: 1, scope: 'all', ranges: [[0, victim.buckets]] }),
  });
  if (listed.status !== 200) throw new Error(`listing short ids: HTTP ${listed.status}`);
  const { payload } = decodeSyncMessage(listed.body);
  const summary = new SetSummary(victim.buckets, 256);
  for (let offset = 0; offset < payload.length; offset += 8)
    summary.toggle(payload.readUInt32BE(offset), payload.readUInt32BE(offset + 4), 1);
  const salt = randomBytes(4).readUInt32BE(0);
  const answer = await send(`${victim.url}/sync/reconcile`, {
    method: 'POST',
    from: victim.helperFrom,
    headers: { 'content-type': SYNC_MEDIA_TYPE },
    body: encodeSyncMessage(
      {
        v: 1,
        scope: 'all',
        salt,
        count: summary.size,
        capacity: 1 << 24,
        buckets: victim.buckets,
      },
      summary.fingerprints(salt),
    ),
  });
  if (answer.status !== 200) throw new Error(`opening a sketch session: HTTP ${answer.status}`);
  const { header } = decodeSyncMessage(answer.body);
  if (header.mode !== 'sketch' || typeof header.session !== 'string')
    throw new Error(`the node did not answer in sketch mode: ${JSON.stringify(header)}`);
  return { session: header.session, capacity: Number(header.capacity) };
}

const fullRange = (victim: Victim): string => `[0,${victim.buckets}]`;

export const CRAFTED_REQUESTS: readonly CraftedRequest[] = [
  // POST /put
  {
    route: 'POST /put',
    name: 'fresh valid entries, binary',
    build: async (v) => framesPost(freshEntries(v, false)),
  },
  {
    route: 'POST /put',
    name: 'forged signatures, binary',
    build: async (v) => framesPost(freshEntries(v, true)),
  },
  {
    route: 'POST /put',
    name: 'stored entries again (duplicates)',
    build: async (v) => {
      const out: Buffer[] = [];
      let size = 0;
      for (let i = 0; size + 4 + v.stored[i % v.stored.length]!.length <= MAX_REQUEST_BYTES; i++) {
        out.push(v.stored[i % v.stored.length]!);
        size += 4 + v.stored[i % v.stored.length]!.length;
      }
      return framesPost(out);
    },
  },
  {
    route: 'POST /put',
    name: 'JSON: thousands of undecodable entries',
    build: async () =>
      jsonPost(
        '/put',
        fill('{"entries":[', (i) => `${i ? ',' : ''}"AA=="`, ']}', MAX_REQUEST_BYTES),
      ),
  },
  {
    route: 'POST /put',
    name: 'JSON nested 32k deep',
    build: async () => jsonPost('/put', deepJson('entries')),
  },
  // GET /get
  {
    route: 'GET /get',
    name: 'as many absent ids as fit',
    build: async () => getTarget('/get', () => `id=${absentHex()}`, 'limit=1000'),
  },
  {
    route: 'GET /get',
    name: 'stored tables × recipients, since 0, 1000 per page',
    build: async (v) => {
      const tables = v.tables.map((t) => `table=${tableHex(t)}`);
      const recipients = v.recipients.slice(0, 64 - 0).map((r) => `recipient=${toHex(r)}`);
      const params = [...tables, ...recipients].join('&');
      return { method: 'GET', path: `/get?since=0&limit=1000&order=asc&${params}`, headers: {} };
    },
  },
  {
    route: 'GET /get',
    name: '64 absent tables, 1000 per page',
    build: async () => {
      const tables = Array.from({ length: 64 }, () => `table=${absentHex()}`).join('&');
      return { method: 'GET', path: `/get?since=0&limit=1000&${tables}`, headers: {} };
    },
  },
  {
    route: 'GET /get',
    name: 'everything since 0, 1000 per page, binary',
    build: async () => ({
      method: 'GET',
      path: '/get?since=0&limit=1000&format=binary',
      headers: {},
    }),
  },
  {
    route: 'GET /get',
    name: 'one bucket in 64 absent tables, oldest first',
    build: async () => {
      const tables = Array.from({ length: 64 }, () => `table=${absentHex()}`).join('&');
      return { method: 'GET', path: `/get?bucket=0&order=asc&limit=1000&${tables}`, headers: {} };
    },
  },
  // GET /index
  {
    route: 'GET /index',
    name: 'every bucket digest',
    build: async () => ({ method: 'GET', path: '/index', headers: {} }),
  },
  {
    route: 'GET /index',
    name: 'bucket ids in 200 absent tables',
    build: async () => getTarget('/index', () => `table=${absentHex()}`, 'bucket=0'),
  },
  {
    route: 'GET /index',
    name: 'digests of 200 absent tables',
    build: async () => getTarget('/index', (i) => (i < 256 ? `table=${absentHex()}` : '')),
  },
  // POST /index
  {
    route: 'POST /index',
    name: 'as many absent tables as fit',
    build: async () => jsonPost('/index', `{"tables":${tablesJson(16)}}`),
  },
  {
    route: 'POST /index',
    name: 'stored tables repeated',
    build: async (v) =>
      jsonPost('/index', `{"tables":${tablesJson(16, () => tableHex(v.tables[0]!))}}`),
  },
  {
    route: 'POST /index',
    name: 'JSON nested 32k deep',
    build: async () => jsonPost('/index', deepJson('tables')),
  },
  // POST /hello
  {
    route: 'POST /hello',
    name: 'as many absent tables as fit',
    build: async () =>
      jsonPost('/hello', `{"version":1,"node_id":"bench","tables":${tablesJson(64)}}`),
  },
  {
    route: 'POST /hello',
    name: 'JSON nested 32k deep',
    build: async () => jsonPost('/hello', deepJson('urls')),
  },
  // Plain GETs and the operator's round
  {
    route: 'GET /health',
    name: 'plain',
    build: async () => ({ method: 'GET', path: '/health', headers: {} }),
  },
  {
    route: 'GET /stats',
    name: 'plain',
    build: async () => ({ method: 'GET', path: '/stats', headers: {} }),
  },
  {
    route: 'GET /sync/peers',
    name: 'the whole peer table',
    build: async () => ({ method: 'GET', path: '/sync/peers', headers: {} }),
  },
  {
    route: 'GET /ui',
    name: 'dashboard page',
    build: async () => ({ method: 'GET', path: '/ui', headers: {} }),
  },
  {
    route: 'POST /sync/round',
    name: 'from another address than the operator',
    build: async () => jsonPost('/sync/round', '{"find_only":false}'),
  },
  // POST /sync/reconcile
  {
    route: 'POST /sync/reconcile',
    name: 'scope all, every fingerprint differs, buckets forced',
    build: async (v) =>
      syncPost(
        '/sync/reconcile',
        {
          v: 1,
          scope: 'all',
          salt: 1,
          count: 2 ** 52,
          capacity: 1 << 24,
          buckets: v.buckets,
          force: 'buckets',
        },
        randomBytes(v.buckets),
      ),
  },
  {
    route: 'POST /sync/reconcile',
    name: 'a new scope of as many absent tables as fit',
    build: async (v) => {
      const tables = JSON.parse(tablesJson(v.buckets + 200)) as string[];
      return syncPost(
        '/sync/reconcile',
        { v: 1, scope: tables, salt: 1, count: 0, capacity: 1 << 24, buckets: v.buckets },
        randomBytes(v.buckets),
      );
    },
  },
  {
    route: 'POST /sync/reconcile',
    name: 'a new scope: stored tables plus absent ones',
    build: async (v) => {
      const absent = JSON.parse(tablesJson(v.buckets + 200 + 67 * v.tables.length)) as string[];
      return syncPost(
        '/sync/reconcile',
        {
          v: 1,
          scope: [...v.tables.map(tableHex), ...absent].sort(),
          salt: 2,
          count: 0,
          capacity: 1 << 24,
          buckets: v.buckets,
        },
        randomBytes(v.buckets),
      );
    },
  },
  // POST /sync/symbols
  {
    route: 'POST /sync/symbols',
    name: 'every symbol of the largest snapshot',
    build: async (v) => {
      const { session, capacity } = await openSketchSession(v);
      return syncPost('/sync/symbols', { v: 1, session, from: 0, to: capacity });
    },
  },
  // POST /sync/ids
  {
    route: 'POST /sync/ids',
    name: 'scope all, full ranges as many as fit',
    build: async (v) => {
      const ranges = fill(
        '[',
        (i) => `${i ? ',' : ''}${fullRange(v)}`,
        ']',
        MAX_REQUEST_BYTES - 40,
      );
      return syncPost('/sync/ids', { v: 1, scope: 'all', ranges: JSON.parse(ranges) as unknown });
    },
  },
  {
    route: 'POST /sync/ids',
    name: 'one absent table, full ranges as many as fit',
    build: async (v) => {
      const ranges = fill(
        '[',
        (i) => `${i ? ',' : ''}${fullRange(v)}`,
        ']',
        MAX_REQUEST_BYTES - 120,
      );
      return syncPost('/sync/ids', {
        v: 1,
        scope: [absentHex()],
        ranges: JSON.parse(ranges) as unknown,
      });
    },
  },
  {
    route: 'POST /sync/ids',
    name: 'absent tables, one bucket ranges',
    build: async (v) => {
      const tables = JSON.parse(tablesJson(MAX_REQUEST_BYTES / 2)) as string[];
      const ranges = fill(
        '[',
        (i) => `${i ? ',' : ''}[${i % v.buckets},${(i % v.buckets) + 1}]`,
        ']',
        MAX_REQUEST_BYTES / 2 - 40,
      );
      return syncPost('/sync/ids', {
        v: 1,
        scope: tables.sort(),
        ranges: JSON.parse(ranges) as unknown,
      });
    },
  },
  ...(
    [
      ['scope all', () => 'all'],
      ['the stored tables', (v: Victim) => v.tables.map(tableHex).sort()],
      ['one absent table', () => [absentHex()]],
    ] as const
  ).map(
    ([what, scope]): CraftedRequest => ({
      route: 'POST /sync/ids',
      name: `${what}, every bucket its own range`,
      build: async (v) => {
        // Ascending, disjoint, one bucket each: the most ranges a node must accept.
        const ranges: [number, number][] = [];
        let size = 1000;
        for (let i = 0; i < v.buckets; i++) {
          size += `[${i},${i + 1}],`.length;
          if (size > MAX_REQUEST_BYTES) break;
          ranges.push([i, i + 1]);
        }
        return syncPost('/sync/ids', { v: 1, scope: scope(v), ranges });
      },
    }),
  ),
  // POST /sync/fetch
  {
    route: 'POST /sync/fetch',
    name: 'stored short ids, as many as fit, 32 MiB page',
    build: async (v) => {
      const count = Math.floor((MAX_REQUEST_BYTES - 100) / 8);
      const ids = Array.from({ length: count }, (_, i) =>
        shortIdOf(v.stored[i % v.stored.length]!),
      );
      return syncPost(
        '/sync/fetch',
        { v: 1, scope: 'all', mode: 'ids', max_bytes: 32 * 1024 * 1024 },
        encodeShortIds(ids),
      );
    },
  },
  {
    route: 'POST /sync/fetch',
    name: 'absent short ids, as many as fit',
    build: async () => {
      const count = Math.floor((MAX_REQUEST_BYTES - 100) / 8);
      return syncPost(
        '/sync/fetch',
        { v: 1, scope: 'all', mode: 'ids', max_bytes: 32 * 1024 * 1024 },
        randomBytes(count * 8),
      );
    },
  },
  {
    route: 'POST /sync/fetch',
    name: 'every bucket, scope all, 32 MiB page',
    build: async (v) =>
      syncPost('/sync/fetch', {
        v: 1,
        scope: 'all',
        mode: 'buckets',
        range: [0, v.buckets],
        max_bytes: 32 * 1024 * 1024,
      }),
  },
  {
    route: 'POST /sync/fetch',
    name: 'every bucket of one absent table',
    build: async (v) =>
      syncPost('/sync/fetch', {
        v: 1,
        scope: [absentHex()],
        mode: 'buckets',
        range: [0, v.buckets],
        max_bytes: 32 * 1024 * 1024,
      }),
  },
  {
    route: 'POST /sync/fetch',
    name: 'every bucket of as many absent tables as fit',
    build: async (v) => {
      const tables = JSON.parse(tablesJson(200)) as string[];
      return syncPost('/sync/fetch', {
        v: 1,
        scope: tables.sort(),
        mode: 'buckets',
        range: [0, v.buckets],
        max_bytes: 32 * 1024 * 1024,
      });
    },
  },
];

/** The size a request counts for against the 64 KiB bound. */
export function requestBytes(built: Built): number {
  return built.method === 'GET' ? Buffer.byteLength(built.path) : (built.body?.length ?? 0);
}
