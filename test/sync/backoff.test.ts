/**
 * A node that knows many peers: 200 introduce themselves by hello, all on closed ports. Each
 * round contacts at most peers_per_round of them, every one gets its turn, and dead peers back
 * off exponentially (failures grow, the next attempt moves further away) up to the cap.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { postJson } from '../helpers/http.js';
import { spawnNode } from '../helpers/nodes.js';
import {
  BASE_ARGS,
  configFile,
  errorLines,
  syncHealth,
  syncPeers,
  syncRound,
  type PeerView,
} from '../helpers/sync.js';

const PEERS = 200;
const PER_ROUND = 4;
const INTERVAL_MS = 100;
const MAX_BACKOFF_MS = 4000;

/**
 * URLs of closed ports on 127.0.0.1, below the ephemeral range from which `--port 0` nodes of
 * tests running beside this one get their ports (so none of them opens while we test).
 */
async function closedPortUrls(n: number): Promise<string[]> {
  const urls: string[] = [];
  for (let port = 21000; urls.length < n && port < 32000; port++) {
    const closed = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', (error: NodeJS.ErrnoException) =>
        resolve(error.code === 'ECONNREFUSED'),
      );
    });
    if (closed) urls.push(`http://127.0.0.1:${port}`);
  }
  assert.equal(urls.length, n, 'not enough closed ports');
  return urls;
}

/** The back-off rule: interval × 2^failures, capped, then ±25% jitter. */
function backoffBounds(failures: number): [number, number] {
  const base = Math.min(INTERVAL_MS * 2 ** failures, MAX_BACKOFF_MS);
  return [base * 0.75, base * 1.25];
}

test('with 200 dead peers a node dials at most peers_per_round per round and backs off', async (t) => {
  const config = configFile({
    sync: {
      interval_seconds: INTERVAL_MS / 1000,
      peers_per_round: PER_ROUND,
      max_backoff_seconds: MAX_BACKOFF_MS / 1000,
      timeout_seconds: 2,
      // All 200 are named from this one address: the pool of unverified peers has to take them.
      max_unverified_peers: PEERS,
      max_unverified_per_source: PEERS,
    },
  });
  const node = await spawnNode([...BASE_ARGS, '--config', config]);
  const urls = await closedPortUrls(PEERS);
  const dead = new Set(urls);
  for (let i = 0; i < urls.length; i += 8) {
    const response = await postJson(node.url, '/hello', { version: 1, urls: urls.slice(i, i + 8) });
    assert.equal(response.status, 200, String(response.body));
  }
  const known = await syncPeers(node.url);
  assert.equal(known.length, PEERS);
  assert.deepEqual(known.map((p) => p.url).sort(), [...urls].sort());

  // Rounds driven now, beside the node's own every 100 ms: none dials more than 4 peers.
  const contacted = new Map<string, number>();
  let fullRounds = 0;
  const watched = urls[0]!;
  const history: { failures: number; next: number }[] = [];
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const round = await syncRound(node.url);
    assert.ok(
      round.peers.length <= PER_ROUND,
      `round ${round.round} contacted ${round.peers.length} peers`,
    );
    if (round.peers.length === PER_ROUND) fullRounds += 1;
    for (const peer of round.peers) {
      assert.ok(dead.has(peer.url), `contacted an unknown peer ${peer.url}`);
      assert.equal(peer.outcome, 'failed', JSON.stringify(peer));
      contacted.set(peer.url, (contacted.get(peer.url) ?? 0) + 1);
    }
    const listed = await syncPeers(node.url);
    // A peer forgotten after 8 failures had its turns, in rounds of the node's own.
    for (const url of urls) if (!listed.some((p) => p.url === url)) contacted.set(url, 0);
    const view = listed.find((p) => p.url === watched);
    // After 8 failures a never-reached peer is forgotten.
    if (view) history.push({ failures: view.failures, next: view.next_attempt_in_seconds });
    if ((!view || view.failures >= 6) && contacted.size === PEERS) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.equal(contacted.size, PEERS, 'some peers never got a turn');
  assert.ok(fullRounds > 0, 'no round used its whole allowance');

  // Failures only grow for a dead peer, and its next attempt moved away as they did.
  const last = history[history.length - 1]!;
  assert.ok(last.failures >= 6, `the watched peer failed only ${last.failures} times`);
  for (let i = 1; i < history.length; i++) {
    assert.ok(history[i]!.failures >= history[i - 1]!.failures, 'failures went down');
  }
  const early = Math.max(...history.filter((h) => h.failures <= 2).map((h) => h.next), 0);
  const late = Math.max(...history.filter((h) => h.failures >= 5).map((h) => h.next));
  assert.ok(early <= 1, `after 1–2 failures the next attempt was ${early} s away`);
  assert.ok(late >= 2, `after 5+ failures the next attempt was only ${late} s away`);

  // The whole table follows the rule: delay = min(interval × 2^failures, cap) ± 25%.
  const now = Date.now();
  const peers: PeerView[] = await syncPeers(node.url);
  const status = await syncHealth(node.url);
  let attempts = 0;
  for (const peer of peers) {
    assert.equal(peer.state, 'failing', `${peer.url} is ${peer.state}`);
    assert.equal(peer.penalty, 0, 'a dead peer is not a liar');
    assert.ok(peer.failures >= 1);
    attempts += peer.failures;
    const nextAt = now + peer.next_attempt_in_seconds * 1000;
    const delay = nextAt - peer.last_attempt!;
    const [low, high] = backoffBounds(peer.failures);
    // next_attempt_in_seconds is rounded to whole seconds; a peer already due shows 0.
    if (peer.next_attempt_in_seconds > 0) {
      assert.ok(
        delay >= low - 600 && delay <= high + 600,
        `${peer.url}: ${peer.failures} failures, next attempt ${delay} ms after the last`,
      );
    }
    assert.ok(peer.next_attempt_in_seconds <= Math.ceil((MAX_BACKOFF_MS * 1.25) / 1000));
  }
  // Every attempt on a dead peer is one failure: all rounds together stayed within the limit,
  // besides the one check the node makes of each peer named to it.
  assert.ok(
    attempts <= status.rounds * PER_ROUND + PEERS,
    `${attempts} attempts in ${status.rounds} rounds of at most ${PER_ROUND}`,
  );
  t.diagnostic(
    `${status.rounds} rounds, ${attempts} attempts; watched peer: ${last.failures} failures, next in ${last.next} s`,
  );
  assert.deepEqual(errorLines(node.stderr()), []);
  assert.equal(await node.stop(), 0);
});
