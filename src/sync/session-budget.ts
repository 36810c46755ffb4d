/**
 * What one sync session may cost the calling node, fixed by its own config and its own store,
 * never by what the peer claims: listed short ids, requests, bytes and wall time. And the rules
 * that tell a peer's broken promises from honest churn: ids listed and then not served, bucket
 * counts claimed and not served, entries served that our policy refuses. All pure.
 */

/** What one session has exchanged with its peer, counted by the peer client. */
export interface Traffic {
  requests: number;
  /** Reconciliation traffic: everything except entries themselves. */
  reconcileBytes: number;
  entryBytesIn: number;
  entryBytesOut: number;
}

export interface SessionLimits {
  /** Short ids taken from /sync/ids answers (at least the node's own entries in the scope). */
  readonly ids: number;
  /** Requests sent to the peer. */
  readonly requests: number;
  /** Bytes exchanged with the peer, both ways. */
  readonly bytes: number;
  /** Wall time from the session's start. */
  readonly ms: number;
}

export const DEFAULT_SESSION_LIMITS: SessionLimits = {
  ids: 1_000_000,
  requests: 10_000,
  bytes: 512 * 1024 * 1024,
  ms: 300_000,
};

export type LimitName = keyof SessionLimits;

/** A session ran out of one of its limits: it ends early, incomplete, which is not a lie. */
export class BudgetExhausted extends Error {
  constructor(readonly limit: LimitName) {
    super(`session ${limit} budget exhausted`);
    this.name = 'BudgetExhausted';
  }
}

export function trafficBytes(traffic: Traffic): number {
  return traffic.reconcileBytes + traffic.entryBytesIn + traffic.entryBytesOut;
}

export class SessionBudget {
  private idsTaken = 0;
  private idsLimit: number;
  /** The first limit that ran out, if any. */
  exhausted: LimitName | undefined;

  constructor(
    readonly limits: SessionLimits,
    private readonly started: number = Date.now(),
    private readonly clock: () => number = Date.now,
  ) {
    this.idsLimit = limits.ids;
  }

  /**
   * Makes room for listing about as many ids as the node holds in the scope itself: comparing
   * with a peer of about its own size then takes one session.
   */
  coverOwn(count: number): void {
    this.idsLimit = Math.max(this.limits.ids, count);
  }

  /**
   * Called before every request: throws BudgetExhausted once a limit is reached, so a peer
   * can keep a session going only as long as the node itself allows.
   */
  check(traffic: Traffic): void {
    if (this.exhausted) throw new BudgetExhausted(this.exhausted);
    let limit: LimitName | undefined;
    if (traffic.requests >= this.limits.requests) limit = 'requests';
    else if (trafficBytes(traffic) >= this.limits.bytes) limit = 'bytes';
    else if (this.clock() - this.started >= this.limits.ms) limit = 'ms';
    if (limit) {
      this.exhausted = limit;
      throw new BudgetExhausted(limit);
    }
  }

  /** How many of `offered` listed ids may be taken in; fewer marks the ids budget exhausted. */
  takeIds(offered: number): number {
    const take = Math.min(offered, this.idsLimit - this.idsTaken);
    this.idsTaken += take;
    if (take < offered) this.exhausted ??= 'ids';
    return take;
  }
}

/**
 * Entries that may go missing between a listing (or a bucket count) and the fetch that follows
 * it on an honest peer (deleted, expired, swept) before missing ones count as a broken promise.
 */
export const UNSERVED_FREE = 16;

/**
 * Whether a peer broke its word: of `promised` entries it listed (or counted) it served
 * `promised − unserved`. Honest churn loses a few; a liar loses most.
 */
export function brokePromise(promised: number, unserved: number): boolean {
  return unserved > UNSERVED_FREE && unserved * 2 > promised;
}

/** Bytes that weigh as much as one more entry when junk is counted. */
export const JUNK_UNIT_BYTES = 64 * 1024;

/** What an entry weighs when junk is counted: one, plus one per 64 KiB (oversize junk costs). */
export function junkUnits(bytes: number): number {
  return 1 + Math.floor(bytes / JUNK_UNIT_BYTES);
}

/** Junk units a session may bring before it can count as a junk session. */
export const JUNK_FREE = 32;

/**
 * Whether a session served junk: more units of entries our policy refuses than a few, and more
 * of them than units of entries that passed. (Each costs us little: policy checks come before
 * any cryptography, and the session's budget bounds them all.)
 */
export function servedJunk(refused: number, accepted: number): boolean {
  return refused > JUNK_FREE && refused > accepted;
}

/**
 * Junk units, summed over a peer's junk sessions, per penalty point. A peer whose policy is
 * looser than ours serves each such entry once (refused ids are remembered, up to 10,000); a
 * junk peer serves fresh junk every session and reaches the ban at 3 points.
 */
export const JUNK_PER_POINT = 1000;

/** Penalty points earned by a junk session that brings a peer's junk from `before` to `after`. */
export function junkPoints(before: number, after: number): number {
  return Math.floor(after / JUNK_PER_POINT) - Math.floor(before / JUNK_PER_POINT);
}

/** Penalty points (peer-policy's ban threshold is 3). */
export const PENALTY = {
  /** Listed ids, or claimed bucket counts, it then did not serve. */
  unserved: 1,
  /** Per JUNK_PER_POINT entries our policy refuses, served in junk sessions. */
  junk: 1,
  /** A /sync/fetch page that promises a continuation and carries no entry. */
  emptyContinuation: 2,
} as const;
