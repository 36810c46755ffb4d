/**
 * Pure rules of the peer table: whom to talk to this round, how long to back off after a
 * failure, when a misbehaving peer is dropped, and when a dead one is forgotten.
 */
import type { PeerRecord } from '../store/store.js';

/** A peer this far in penalties is dropped (banned for BAN_MS and not dialled). */
export const BAN_PENALTY = 3;
export const BAN_MS = 24 * 3600_000;
/** Peers that failed this often and were not seen for FORGET_MS are removed. */
export const FORGET_FAILURES = 8;
export const FORGET_MS = 24 * 3600_000;

/** Dropped for lying, and the ban (BAN_MS from the last lie) has not run out yet. */
export function isBanned(record: PeerRecord, now: number = Date.now()): boolean {
  return record.penalty >= BAN_PENALTY && record.nextAttempt > now;
}

/** A peer's state as operators see it (`p2pcloud peers`, the dashboard). */
export function peerState(peer: PeerRecord): 'dropped' | 'failing' | 'ok' | 'new' {
  if (isBanned(peer)) return 'dropped';
  if (peer.failures > 0) return 'failing';
  return peer.lastSeen > 0 ? 'ok' : 'new';
}

/** Up to `count` peers due for a round: config peers first, then the longest-waiting ones. */
export function choosePeers(
  records: readonly PeerRecord[],
  now: number,
  count: number,
  exclude: ReadonlySet<string>,
): PeerRecord[] {
  return records
    .filter((r) => r.nextAttempt <= now && !exclude.has(r.url))
    .sort(
      (a, b) =>
        Number(b.source === 'config') - Number(a.source === 'config') ||
        a.lastAttempt - b.lastAttempt,
    )
    .slice(0, count);
}

export function afterSuccess(record: PeerRecord, now: number): PeerRecord {
  return { ...record, failures: 0, lastSeen: now, lastAttempt: now, nextAttempt: now };
}

/** Exponential back-off from the round interval up to `maxBackoffMs`, with ±25% jitter. */
export function afterFailure(
  record: PeerRecord,
  now: number,
  intervalMs: number,
  maxBackoffMs: number,
  random: () => number = Math.random,
): PeerRecord {
  const failures = record.failures + 1;
  const base = Math.min(intervalMs * 2 ** Math.min(failures, 20), maxBackoffMs);
  const delay = base * (0.75 + random() * 0.5);
  return { ...record, failures, lastAttempt: now, nextAttempt: now + delay };
}

export function afterMisbehaviour(record: PeerRecord, now: number, weight: number): PeerRecord {
  const penalty = record.penalty + weight;
  return {
    ...record,
    penalty,
    lastAttempt: now,
    nextAttempt: penalty >= BAN_PENALTY ? now + BAN_MS : record.nextAttempt,
  };
}

export function shouldForget(record: PeerRecord, now: number): boolean {
  if (record.source === 'config') return false;
  // A liar whose ban has run out is forgotten; if it is learnt again, it starts afresh.
  if (record.penalty >= BAN_PENALTY && record.nextAttempt <= now) return true;
  return record.failures >= FORGET_FAILURES && now - record.lastSeen > FORGET_MS;
}

export function newPeer(
  url: string,
  source: PeerRecord['source'],
  tables: PeerRecord['tables'],
  now: number,
): PeerRecord {
  return {
    url,
    tables,
    firstSeen: now,
    lastSeen: 0,
    lastAttempt: 0,
    failures: 0,
    nextAttempt: now,
    source,
    penalty: 0,
    syncState: null,
  };
}
