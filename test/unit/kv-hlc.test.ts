import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ClockSkewError,
  HLC_MAX_COUNTER,
  HLC_MAX_MS,
  HLC_ZERO,
  HybridClock,
  MAX_SKEW_MS,
  compareHlc,
  formatHlc,
  parseHlc,
  receive,
  tick,
} from '../../src/kv/hlc.js';

test('tick follows the wall clock and bumps the counter within a millisecond', () => {
  const a = tick(HLC_ZERO, 1000);
  assert.deepEqual(a, { ms: 1000, counter: 0 });
  const b = tick(a, 1000);
  assert.deepEqual(b, { ms: 1000, counter: 1 });
  // A wall clock that stepped backwards does not move the clock backwards.
  const c = tick(b, 900);
  assert.deepEqual(c, { ms: 1000, counter: 2 });
  assert.deepEqual(tick(c, 1001), { ms: 1001, counter: 0 });
});

test('a full counter borrows the next millisecond instead of wrapping', () => {
  const full = { ms: 5000, counter: HLC_MAX_COUNTER };
  assert.deepEqual(tick(full, 5000), { ms: 5001, counter: 0 });
  assert.throws(() => tick({ ms: HLC_MAX_MS, counter: HLC_MAX_COUNTER }, 0), RangeError);
});

test('receive is strictly after both the local and the remote reading', () => {
  const local = { ms: 2000, counter: 3 };
  assert.deepEqual(receive(local, { ms: 2000, counter: 9 }, 1500), { ms: 2000, counter: 10 });
  assert.deepEqual(receive(local, { ms: 1000, counter: 9 }, 1500), { ms: 2000, counter: 4 });
  assert.deepEqual(receive(local, { ms: 1000, counter: 9 }, 2500), { ms: 2500, counter: 0 });
  // A remote reading ahead of the wall clock (within the skew) is followed.
  assert.deepEqual(receive(local, { ms: 4000, counter: 7 }, 2500), { ms: 4000, counter: 8 });
});

test('a remote clock more than MAX_SKEW_MS ahead is refused and does not move the clock', () => {
  const clock = new HybridClock({ ms: 10_000, counter: 0 });
  const now = 10_000;
  assert.deepEqual(clock.receive({ ms: now + MAX_SKEW_MS, counter: 0 }, now), {
    ms: now + MAX_SKEW_MS,
    counter: 1,
  });
  const before = clock.current;
  assert.throws(
    () => clock.receive({ ms: now + MAX_SKEW_MS + 1, counter: 0 }, now),
    (e: unknown) => e instanceof ClockSkewError && e.code === 'clock_skew',
  );
  assert.deepEqual(clock.current, before);
});

test('text form: 16 lowercase hex digits whose order is the clock order', () => {
  assert.equal(formatHlc({ ms: 0x0123456789ab, counter: 0xcdef }), '0123456789abcdef');
  assert.deepEqual(parseHlc('0123456789abcdef'), { ms: 0x0123456789ab, counter: 0xcdef });
  for (const bad of ['0123456789ABCDEF', '0123456789abcde', '0123456789abcdef0', 12, null, '']) {
    assert.equal(parseHlc(bad), undefined, String(bad));
  }
  assert.throws(() => formatHlc({ ms: HLC_MAX_MS + 1, counter: 0 }), RangeError);
  assert.throws(() => formatHlc({ ms: 1, counter: HLC_MAX_COUNTER + 1 }), RangeError);
  // Bounded pseudo-random readings: text order and compareHlc agree.
  let seed = 7;
  const next = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  const readings = Array.from({ length: 300 }, () => ({
    ms: next() % 50,
    counter: next() % 4,
  }));
  for (let i = 1; i < readings.length; i++) {
    const a = readings[i - 1]!;
    const b = readings[i]!;
    const byText = formatHlc(a) < formatHlc(b) ? -1 : formatHlc(a) > formatHlc(b) ? 1 : 0;
    assert.equal(byText, Math.sign(compareHlc(a, b)));
  }
});

test('a bad wall clock is refused', () => {
  assert.throws(() => tick(HLC_ZERO, -1), RangeError);
  assert.throws(() => tick(HLC_ZERO, 1.5), RangeError);
});
