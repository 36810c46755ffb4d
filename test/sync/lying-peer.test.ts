/**
 * Lying peers: small HTTP servers in the test that speak the node-to-node protocol (hello,
 * /index, /sync/reconcile, /sync/ids, /sync/fetch, /put) like a node, each with one lie:
 * entries with bad signatures, entries that were not asked for, garbage bodies, a response
 * that never ends, a response that announces a huge body. A real node that meets them stores
 * nothing they send, penalises and drops each of them, stops dialling them, and keeps syncing
 * with its honest peer, without an error in its log.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type http from 'node:http';
import { randomBytes } from 'node:crypto';
import { ENTRIES_MEDIA_TYPE, encodeFrames } from '../../src/entry/framing.js';
import { entryId } from '../../src/entry/format.js';
import { bucketOf } from '../../src/reconcile/buckets.js';
import {
  SYNC_MEDIA_TYPE,
  decodeShortIds,
  decodeSyncMessage,
  encodeShortIds,
  encodeSyncMessage,
} from '../../src/sync/wire.js';
import { toHex } from '../../src/encoding/bytes.js';
import { listenBuffered } from '../../tools/buffered-server.js';
import { makeEntry } from '../helpers/entries.js';
import { health, postJson } from '../helpers/http.js';
import { spawnNode } from '../helpers/nodes.js';
import {
  BASE_ARGS,
  configFile,
  countStored,
  errorLines,
  indexSummary,
  makeEntries,
  putAll,
  sameIndex,
  syncPeers,
  waitUntil,
} from '../helpers/sync.js';

type Lie =
  | 'bad-signatures'
  | 'wrong-ids'
  | 'garbage-index'
  | 'garbage-reconcile'
  | 'garbage-fetch'
  | 'endless'
  | 'huge';

interface Held {
  readonly bytes: Buffer;
  readonly id: Buffer;
  readonly hi: number;
  readonly lo: number;
}

function hold(bytes: Buffer): Held {
  const id = entryId(bytes);
  return { bytes, id, hi: id.readUInt32BE(0), lo: id.readUInt32BE(4) };
}

function byShortId(a: Held, b: Held): number {
  return a.hi - b.hi || a.lo - b.lo;
}

/** Short-id bounds [lowest, end) of the 32-bit prefixes of buckets [from, to). */
function prefixRange(from: number, to: number, buckets: number): [number, number] {
  return [Math.ceil((from * 2 ** 32) / buckets), Math.ceil((to * 2 ** 32) / buckets)];
}

interface LyingPeer {
  readonly url: string;
  readonly lie: Lie;
  /** Requests received, by "METHOD path". */
  readonly requests: Map<string, number>;
  total(): number;
  close(): Promise<void>;
}

/**
 * A fake peer holding `listed` (what its index and id lists claim), serving them honestly
 * unless its lie says otherwise. `decoys` are what the wrong-ids liar sends instead.
 */
async function startLyingPeer(
  lie: Lie,
  listed: Buffer[],
  decoys: Buffer[] = [],
): Promise<LyingPeer> {
  const held = listed.map(hold).sort(byShortId);
  const decoyHeld = decoys.map(hold).sort(byShortId);
  const requests = new Map<string, number>();
  const nodeId = randomBytes(12).toString('base64url');
  let url = '';

  const inBuckets = (from: number, to: number, buckets: number): Held[] => {
    const [lowest, end] = prefixRange(from, to, buckets);
    return held.filter((h) => h.hi >= lowest && h.hi < end);
  };
  const sendSync = (res: http.ServerResponse, body: Buffer, type = SYNC_MEDIA_TYPE): void => {
    res.writeHead(200, { 'content-type': type, 'content-length': String(body.length) });
    res.end(body);
  };
  const garbage = (): Buffer => Buffer.concat([Buffer.alloc(4, 0xff), randomBytes(4000)]);
  /** Writes as fast as the socket takes it, forever, until the caller hangs up. */
  const endless = (res: http.ServerResponse, type: string): void => {
    res.writeHead(200, { 'content-type': type });
    const chunk = randomBytes(64 * 1024);
    let open = true;
    res.on('close', () => {
      open = false;
    });
    const pump = (): void => {
      while (open && res.write(chunk));
      if (open) res.once('drain', pump);
    };
    pump();
  };

  const answer = (req: http.IncomingMessage, body: Buffer, res: http.ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0]!;
    const key = `${req.method} ${path}`;
    requests.set(key, (requests.get(key) ?? 0) + 1);
    if (key === 'POST /hello') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ version: 1, node_id: nodeId, urls: [url], tables: 'all', peers: [] }),
      );
      return;
    }
    if (key === 'GET /index') {
      if (lie === 'garbage-index') return sendSync(res, garbage(), 'application/json');
      if (lie === 'huge') {
        // Announces 64 MiB and starts sending them.
        res.writeHead(200, {
          'content-type': 'application/json',
          'content-length': String(64 * 1024 * 1024),
        });
        res.write(Buffer.alloc(256 * 1024, 0x20));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          version: 1,
          buckets: 5000,
          count: held.length,
          root: randomBytes(32).toString('hex'),
        }),
      );
      return;
    }
    if (key === 'POST /sync/reconcile') {
      if (lie === 'garbage-reconcile') return sendSync(res, garbage());
      const { header } = decodeSyncMessage(body);
      const buckets = header.buckets as number;
      const counts = new Map<number, number>();
      for (const h of held) {
        const b = bucketOf(h.id, buckets);
        counts.set(b, (counts.get(b) ?? 0) + 1);
      }
      const list = [...counts.keys()].sort((a, b) => a - b);
      const payload = Buffer.alloc(list.length * 6);
      list.forEach((b, i) => {
        payload.writeUInt16BE(b, i * 6);
        payload.writeUInt32BE(counts.get(b)!, i * 6 + 2);
      });
      return sendSync(
        res,
        encodeSyncMessage(
          { v: 1, mode: 'buckets', count: held.length, differing: list.length, estimate: null },
          payload,
        ),
      );
    }
    if (key === 'POST /sync/ids') {
      const { header } = decodeSyncMessage(body);
      const ranges = header.ranges as [number, number][];
      const lists = ranges.map(([from, to]) => inBuckets(from, to, 5000));
      return sendSync(
        res,
        encodeSyncMessage(
          { v: 1, counts: lists.map((l) => l.length) },
          encodeShortIds(lists.flat().map((h) => [h.hi, h.lo])),
        ),
      );
    }
    if (key === 'POST /sync/fetch') {
      if (lie === 'garbage-fetch') return sendSync(res, garbage(), ENTRIES_MEDIA_TYPE);
      if (lie === 'endless') return endless(res, ENTRIES_MEDIA_TYPE);
      const { header, payload } = decodeSyncMessage(body);
      let entries: Held[];
      if (header.mode === 'ids') {
        const wanted = new Set(decodeShortIds(payload, 100_000).map(([hi, lo]) => `${hi}:${lo}`));
        entries =
          lie === 'wrong-ids'
            ? decoyHeld.filter((h) => !wanted.has(`${h.hi}:${h.lo}`))
            : held.filter((h) => wanted.has(`${h.hi}:${h.lo}`));
      } else {
        const [from, to] = header.range as [number, number];
        const [lowest, end] = prefixRange(from, to, 5000);
        entries =
          lie === 'wrong-ids'
            ? decoyHeld.filter((h) => h.hi < lowest || h.hi >= end)
            : inBuckets(from, to, 5000);
      }
      return sendSync(res, encodeFrames(entries.map((h) => h.bytes)), ENTRIES_MEDIA_TYPE);
    }
    if (key === 'POST /put') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ stored: 0, duplicates: 0, rejected: 0, results: [] }));
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'not_found', message: 'no such route' } }));
  };

  const listening = await listenBuffered(answer);
  const server = listening.server;
  url = listening.url;
  return {
    url,
    lie,
    requests,
    total: () => [...requests.values()].reduce((a, b) => a + b, 0),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Valid entries with one byte of their signature changed: they decode, but do not verify. */
function forge(entries: readonly Buffer[]): Buffer[] {
  return entries.map((bytes) => {
    const copy = Buffer.from(bytes);
    copy[copy.length - 40]! ^= 0x01;
    return copy;
  });
}

test('a node drops lying peers and keeps syncing with honest ones', async (t) => {
  const config = configFile({ sync: { timeout_seconds: 10 } });
  // The honest peer is passive: it neither pushes nor runs rounds (its first comes before it
  // knows anyone, the next an hour later), so whatever reaches the node, the node's own
  // sessions fetched. It remembers one peer, so it could not learn the liars by gossip either
  // (the liars count every call they get).
  const honest = await spawnNode([
    ...BASE_ARGS,
    '--config',
    configFile({ sync: { max_peers: 1, push_peers: 0 } }),
    '--sync-interval',
    '3600',
  ]);
  const first = makeEntries(50, { label: 'honest' });
  await putAll(honest.url, first.bytes);
  const node = await spawnNode([
    ...BASE_ARGS,
    '--config',
    config,
    '--sync-interval',
    '0.3',
    '--peer',
    honest.url,
  ]);
  await waitUntil(
    'the node copies its honest peer',
    () => sameIndex([honest.url, node.url], 50),
    30_000,
  );
  let expected = 50;

  const meet = async (
    lie: Lie,
    listed: Buffer[],
    decoys: Buffer[] = [],
  ): Promise<{ liar: LyingPeer; ms: number }> => {
    const liar = await startLyingPeer(lie, listed, decoys);
    t.after(() => liar.close());
    // The liar introduces itself, as any node may.
    const hello = await postJson(node.url, '/hello', { version: 1, urls: [liar.url] });
    assert.equal(hello.status, 200);
    const started = Date.now();
    await waitUntil(
      `the ${lie} liar is dropped`,
      async () => (await syncPeers(node.url)).find((p) => p.url === liar.url)?.state === 'dropped',
      30_000,
      async () => JSON.stringify((await syncPeers(node.url)).find((p) => p.url === liar.url)),
    );
    const ms = Date.now() - started;
    const view = (await syncPeers(node.url)).find((p) => p.url === liar.url)!;
    assert.ok(view.penalty >= 3, `penalty ${view.penalty}`);
    assert.ok(liar.total() > 0);
    return { liar, ms };
  };

  /** After a liar was dropped: it is not dialled again, and honest entries still arrive. */
  const afterwards = async (
    liar: LyingPeer,
    reason: RegExp,
    notStored: readonly string[],
  ): Promise<void> => {
    const calls = liar.total();
    const before = JSON.stringify([...liar.requests]);
    const more = makeEntries(10, { label: `after ${liar.lie}` });
    await putAll(honest.url, more.bytes);
    expected += 10;
    await waitUntil(
      `honest entries still arrive after the ${liar.lie} liar`,
      () => sameIndex([honest.url, node.url], expected),
      30_000,
    );
    // Several rounds (0.3 s apart) later, nobody called the liar.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(
      liar.total(),
      calls,
      `the dropped ${liar.lie} liar was dialled again: ${before} → ${JSON.stringify([...liar.requests])}`,
    );
    if (notStored.length > 0) assert.equal(await countStored(node.url, notStored), 0);
    const reasons = node
      .stderr()
      .split('\n')
      .filter((line) => line.includes('peer misbehaved') && line.includes(liar.url))
      .map((line) => (JSON.parse(line) as { reason: string }).reason);
    assert.ok(reasons.length > 0, `no warning about the ${liar.lie} liar in the log`);
    assert.ok(
      reasons.every((r) => reason.test(r)),
      `the ${liar.lie} liar was penalised for ${JSON.stringify(reasons)}`,
    );
    assert.equal((await health(node.url)).entries, expected, 'the node stored something else');
    assert.deepEqual(errorLines(node.stderr()), [], 'the node logged errors');
  };

  await t.test('entries with bad signatures', async (st) => {
    const genuine = makeEntries(40, { label: 'forged' });
    const forged = forge(genuine.bytes);
    const { liar, ms } = await meet('bad-signatures', forged);
    assert.ok(
      (liar.requests.get('POST /sync/fetch') ?? 0) > 0,
      'the forged entries were not asked for',
    );
    await afterwards(liar, /entries that fail verification/, [
      ...genuine.ids,
      ...forged.map((b) => toHex(entryId(b))),
    ]);
    st.diagnostic(`dropped after ${ms} ms`);
  });

  await t.test('entries that were not asked for, in a bucket range', async (st) => {
    // The listed entries fall in buckets the node holds nothing of: it asks for those buckets
    // whole, and gets entries from other buckets.
    const listed = makeEntries(20, { label: 'listed' });
    const decoys = makeEntries(200, { label: 'decoy' });
    const { liar, ms } = await meet('wrong-ids', listed.bytes, decoys.bytes);
    assert.ok((liar.requests.get('POST /sync/fetch') ?? 0) >= 2);
    await afterwards(liar, /not asked for/, [...listed.ids, ...decoys.ids]);
    st.diagnostic(`dropped after ${ms} ms`);
  });

  await t.test('entries that were not asked for, by id', async (st) => {
    // The listed entries share buckets with entries the node holds: it compares id lists and
    // asks for the ids it lacks, and gets other entries.
    const held = new Set(first.ids.map((id) => bucketOf(Buffer.from(id, 'hex'), 5000)));
    const listed: Buffer[] = [];
    for (let tries = 0; listed.length < 4 && tries < 50_000; tries++) {
      const entry = makeEntry({ text: `listed by id ${tries}` });
      if (held.has(bucketOf(entry.id, 5000))) listed.push(entry.bytes);
    }
    assert.equal(listed.length, 4);
    const decoys = makeEntries(50, { label: 'decoy by id' });
    const { liar, ms } = await meet('wrong-ids', listed, decoys.bytes);
    assert.ok((liar.requests.get('POST /sync/ids') ?? 0) >= 2, 'the node compared no id lists');
    await afterwards(liar, /not asked for/, [
      ...listed.map((b) => toHex(entryId(b))),
      ...decoys.ids,
    ]);
    st.diagnostic(`dropped after ${ms} ms`);
  });

  const garbage = [
    ['garbage-index', /\/index answer is not a JSON object/],
    ['garbage-reconcile', /\/sync\/reconcile answer is not a sync message/],
    ['garbage-fetch', /\/sync\/fetch answer is not a valid entry stream/],
  ] as const;
  for (const [lie, reason] of garbage) {
    await t.test(`garbage instead of ${lie.slice('garbage-'.length)} answers`, async (st) => {
      const listed = makeEntries(20, { label: lie });
      const { liar, ms } = await meet(lie, listed.bytes);
      await afterwards(liar, reason, listed.ids);
      st.diagnostic(`dropped after ${ms} ms`);
    });
  }

  await t.test('answers that never end', async (st) => {
    const listed = makeEntries(20, { label: 'endless' });
    const { liar, ms } = await meet('endless', listed.bytes);
    await afterwards(liar, /response exceeds the limit/, listed.ids);
    st.diagnostic(`dropped after ${ms} ms`);
  });

  await t.test('answers that announce a huge body', async (st) => {
    const listed = makeEntries(20, { label: 'huge' });
    const { liar, ms } = await meet('huge', listed.bytes);
    await afterwards(liar, /response of \d+ bytes exceeds the limit/, listed.ids);
    st.diagnostic(`dropped after ${ms} ms`);
  });

  // In the end the node holds exactly what its honest peer holds, and is still healthy.
  assert.deepEqual(await indexSummary(node.url), await indexSummary(honest.url));
  const peers = await syncPeers(node.url);
  assert.equal(peers.filter((p) => p.state === 'dropped').length, 8);
  const honestView = peers.find((p) => p.url === honest.url)!;
  assert.equal(honestView.state, 'ok');
  assert.equal(honestView.penalty, 0);
  assert.deepEqual(errorLines(node.stderr()), []);
  assert.equal(await node.stop(), 0);
  assert.equal(await honest.stop(), 0);
});
