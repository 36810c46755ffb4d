/**
 * Pure rules for taking new peer URLs into the peer table. A URL anyone names (in a hello, or
 * in a peer list) is only a claim: it enters a small pool of unverified peers, apart from the
 * peers this node has reached itself, so claims can never crowd those out. The pool is bounded
 * as a whole and per source (the address or peer that named the URLs); when it is full, the
 * worst unverified peer makes room.
 */
import type { PeerRecord } from '../store/store.js';

export interface AdmissionLimits {
  /** Size of the pool of peers never reached. */
  readonly maxUnverified: number;
  /** Unverified peers one source may have in the pool at once. */
  readonly maxPerSource: number;
}

/** A peer no one has vouched for: never reached by this node, and not configured. */
export function isUnverified(record: PeerRecord): boolean {
  return record.lastSeen === 0 && record.source !== 'config';
}

/** Worst first: most failures, then the one that has waited longest without being reached. */
export function worstUnverifiedFirst(a: PeerRecord, b: PeerRecord): number {
  return b.failures - a.failures || a.firstSeen - b.firstSeen || (a.url < b.url ? -1 : 1);
}

export interface Admission {
  /** New URLs to store as unverified peers. */
  readonly add: string[];
  /** Unverified peers to remove to make room, worst first. */
  readonly evict: string[];
}

/**
 * Which of `urls` (named by one source that already has `pendingFromSource` unverified peers in
 * the pool) are taken in, and which unverified peers leave to make room. URLs already known or
 * in `exclude` (this node's own) are skipped.
 */
export function admit(
  records: readonly PeerRecord[],
  urls: readonly string[],
  pendingFromSource: number,
  limits: AdmissionLimits,
  exclude: readonly string[] = [],
): Admission {
  const known = new Set(records.map((r) => r.url));
  const pool = records.filter(isUnverified).sort(worstUnverifiedFirst);
  const add: string[] = [];
  const evict: string[] = [];
  let pending = pendingFromSource;
  for (const url of urls) {
    if (pending >= limits.maxPerSource) break;
    if (known.has(url) || exclude.includes(url) || add.includes(url)) continue;
    if (pool.length + add.length - evict.length >= limits.maxUnverified) {
      // Only peers already tried and failed make room: an untried claim is as good as a new one.
      const worst = pool[evict.length];
      if (!worst || worst.failures === 0) break;
      evict.push(worst.url);
    }
    add.push(url);
    pending += 1;
  }
  return { add, evict };
}

/**
 * Room among the reached peers, which max_peers bounds: free places, or else the worst peer
 * that may give its place up (failing or penalised, never a configured one). When there is
 * none, learning new peers is pointless: none of them could ever be reached.
 */
export function reachedRoom(
  records: readonly PeerRecord[],
  maxPeers: number,
): { room: boolean; evict?: string } {
  const reached = records.filter((r) => !isUnverified(r));
  if (reached.length < maxPeers) return { room: true };
  const worst = reached
    .filter((r) => r.source !== 'config' && (r.failures > 0 || r.penalty > 0))
    .sort((a, b) => b.penalty - a.penalty || b.failures - a.failures || a.lastSeen - b.lastSeen)[0];
  return worst ? { room: true, evict: worst.url } : { room: false };
}
