/**
 * Hybrid logical clock (docs/kv.md §2): 48 bits of Unix milliseconds and a 16-bit counter,
 * ordered as one 64-bit number. Its text form, as batches carry it, is 16 lowercase hex digits
 * (12 for the milliseconds, 4 for the counter), so text order is clock order.
 *
 * A clock never goes backwards, follows the wall clock when it is ahead, and is dragged forward
 * by remote stamps, but never further than MAX_SKEW_MS past the local wall clock: a peer with a
 * clock far in the future must not push every later local write into that future. Pure.
 */

/** A clock reading. */
export interface Hlc {
  /** Unix milliseconds, 0 ≤ ms < 2^48. */
  readonly ms: number;
  /** Events within the same millisecond, 0 ≤ counter < 2^16. */
  readonly counter: number;
}

export const HLC_MAX_MS = 2 ** 48 - 1;
export const HLC_MAX_COUNTER = 0xffff;
/** How far past the local wall clock a remote stamp may drag the local clock. */
export const MAX_SKEW_MS = 60_000;

const HLC_TEXT_RE = /^[0-9a-f]{16}$/;

export const HLC_ZERO: Hlc = { ms: 0, counter: 0 };

export function isHlc(value: unknown): value is Hlc {
  if (typeof value !== 'object' || value === null) return false;
  const { ms, counter } = value as Record<string, unknown>;
  return (
    typeof ms === 'number' &&
    Number.isSafeInteger(ms) &&
    ms >= 0 &&
    ms <= HLC_MAX_MS &&
    typeof counter === 'number' &&
    Number.isSafeInteger(counter) &&
    counter >= 0 &&
    counter <= HLC_MAX_COUNTER
  );
}

/** Negative, zero or positive as `a` is before, equal to or after `b`. */
export function compareHlc(a: Hlc, b: Hlc): number {
  return a.ms !== b.ms ? a.ms - b.ms : a.counter - b.counter;
}

export function formatHlc(h: Hlc): string {
  if (!isHlc(h)) throw new RangeError('bad clock reading');
  return h.ms.toString(16).padStart(12, '0') + h.counter.toString(16).padStart(4, '0');
}

/** The reading of a 16-hex-digit text, or undefined for anything else. */
export function parseHlc(text: unknown): Hlc | undefined {
  if (typeof text !== 'string' || !HLC_TEXT_RE.test(text)) return undefined;
  return { ms: parseInt(text.slice(0, 12), 16), counter: parseInt(text.slice(12), 16) };
}

/** Refused remote stamp: it is further in the future than MAX_SKEW_MS. */
export class ClockSkewError extends Error {
  readonly code = 'clock_skew';
  constructor(
    readonly remote: Hlc,
    readonly now: number,
  ) {
    super(`remote clock ${formatHlc(remote)} is more than ${MAX_SKEW_MS} ms ahead of ${now}`);
    this.name = 'ClockSkewError';
  }
}

function wall(now: number): number {
  if (!Number.isSafeInteger(now) || now < 0) throw new RangeError('bad wall clock');
  return Math.min(now, HLC_MAX_MS);
}

/** The reading after `last` that is at least `ms`, bumping the counter within a millisecond. */
function after(last: Hlc, ms: number): Hlc {
  if (ms > last.ms) return { ms, counter: 0 };
  if (last.counter < HLC_MAX_COUNTER) return { ms: last.ms, counter: last.counter + 1 };
  // 65,536 events in one millisecond: borrow the next millisecond rather than wrap.
  if (last.ms >= HLC_MAX_MS) throw new RangeError('clock exhausted');
  return { ms: last.ms + 1, counter: 0 };
}

/** The reading for a local event at wall time `now`, strictly after `last`. */
export function tick(last: Hlc, now: number): Hlc {
  return after(last, wall(now));
}

/**
 * The reading after receiving `remote` at wall time `now`: strictly after both `last` and
 * `remote`. Throws ClockSkewError, leaving the caller's clock as it was, when `remote` is more
 * than MAX_SKEW_MS ahead of `now`.
 */
export function receive(last: Hlc, remote: Hlc, now: number): Hlc {
  const ms = wall(now);
  if (!isHlc(remote)) throw new RangeError('bad clock reading');
  if (remote.ms > ms + MAX_SKEW_MS) throw new ClockSkewError(remote, ms);
  const top = compareHlc(remote, last) > 0 ? remote : last;
  return after(top, ms);
}

/** A mutable clock around tick/receive, for a replica that stamps its own writes. */
export class HybridClock {
  private last: Hlc;

  constructor(start: Hlc = HLC_ZERO) {
    if (!isHlc(start)) throw new RangeError('bad clock reading');
    this.last = start;
  }

  /** The latest reading given out or received. */
  get current(): Hlc {
    return this.last;
  }

  tick(now: number): Hlc {
    this.last = tick(this.last, now);
    return this.last;
  }

  /** Takes a remote reading into account; throws ClockSkewError without moving. */
  receive(remote: Hlc, now: number): Hlc {
    this.last = receive(this.last, remote, now);
    return this.last;
  }
}
