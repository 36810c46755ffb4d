/** The pure rules of taking new peer URLs into the peer table. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { admit, isUnverified, reachedRoom } from '../../src/sync/peer-admission.js';
import { newPeer } from '../../src/sync/peer-policy.js';
import type { PeerRecord } from '../../src/store/store.js';

const limits = { maxUnverified: 4, maxPerSource: 2 };
const url = (n: number): string => `http://192.0.2.${n}:7447`;

function unverified(n: number, failures = 0, firstSeen = n): PeerRecord {
  return { ...newPeer(url(n), 'hello', 'all', firstSeen), failures };
}

function reached(n: number, extra: Partial<PeerRecord> = {}): PeerRecord {
  return { ...newPeer(url(n), 'gossip', 'all', n), lastSeen: 1000 + n, ...extra };
}

test('one source adds at most maxPerSource unchecked URLs; known and own URLs are skipped', () => {
  const records = [reached(1)];
  assert.deepEqual(admit(records, [url(1), url(2), url(3), url(4)], 0, limits), {
    add: [url(2), url(3)],
    evict: [],
  });
  assert.deepEqual(admit(records, [url(2), url(3)], 1, limits).add, [url(2)]);
  assert.deepEqual(admit(records, [url(2), url(3)], 0, limits, [url(2)]).add, [url(3)]);
  assert.deepEqual(admit(records, [url(2), url(2)], 0, limits).add, [url(2)]);
});

test('a full pool makes room only by evicting tried and failed claims, worst first', () => {
  const pool = [
    unverified(10, 1, 5),
    unverified(11, 3, 9),
    unverified(12, 0),
    unverified(13, 1, 2),
  ];
  const { add, evict } = admit(pool, [url(20), url(21)], 0, limits);
  assert.deepEqual(add, [url(20), url(21)]);
  // Most failures first, then the oldest.
  assert.deepEqual(evict, [url(11), url(13)]);
  // Untried claims are never evicted: a pool of them takes nothing new.
  const untried = [10, 11, 12, 13].map((n) => unverified(n));
  assert.deepEqual(admit(untried, [url(20)], 0, limits), { add: [], evict: [] });
});

test('reached and configured peers are not in the unverified pool and never evicted from it', () => {
  const records = [reached(1), { ...newPeer(url(2), 'config', 'all', 1) }, unverified(3, 5)];
  assert.deepEqual(records.map(isUnverified), [false, false, true]);
  const many = admit(records, [5, 6, 7, 8].map(url), 0, { maxUnverified: 2, maxPerSource: 8 });
  assert.deepEqual(many, { add: [url(5), url(6)], evict: [url(3)] });
});

test('the reached peers are bounded by max_peers; only a failing, non-configured one gives way', () => {
  assert.deepEqual(reachedRoom([reached(1), unverified(2)], 2), { room: true });
  assert.deepEqual(reachedRoom([reached(1), reached(2)], 2), { room: false });
  assert.deepEqual(
    reachedRoom([reached(1, { failures: 2 }), reached(2, { penalty: 1 }), reached(3)], 3),
    { room: true, evict: url(2) },
  );
  const configured = { ...reached(1, { failures: 9 }), source: 'config' as const };
  assert.deepEqual(reachedRoom([configured, reached(2)], 2), { room: false });
});
