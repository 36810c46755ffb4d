/**
 * The relay's pure parts: control frames cut from any split of the byte stream, the bytes
 * after them handed back intact, the signed text bound to relay, nonce and role, message
 * checks, and the token bucket's debt.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { P2PError } from '../../src/errors.js';
import {
  FrameReader,
  MAX_FRAME_BYTES,
  authMessage,
  checkDirect,
  encodeFrame,
  openingSchema,
  parseDeviceIdentity,
  parseMessage,
} from '../../src/relay/wire.js';
import { TokenBucket } from '../../src/node/relay/token-bucket.js';
import { generateIdentity, identityText } from '../../src/keys/keys.js';

test('frames are read back whatever the chunks, and the raw bytes after them are kept', () => {
  const frames = Buffer.concat([
    encodeFrame({ type: 'ping' }),
    encodeFrame({ type: 'paired', peer: 'p2pid1x' }),
  ]);
  const raw = Buffer.from([0, 0, 0xff, 1, 2]);
  const stream = Buffer.concat([frames, raw]);
  for (let size = 1; size <= stream.length; size++) {
    const reader = new FrameReader();
    const got: unknown[] = [];
    for (let at = 0; at < stream.length; at += size) {
      reader.push(stream.subarray(at, at + size));
      while (got.length < 2) {
        const value = reader.next();
        if (value === undefined) break;
        got.push(value);
      }
      if (got.length === 2) break;
    }
    // Whatever was pushed past the second frame comes back from rest(), in order.
    const pushed = Math.min(stream.length, Math.ceil(frames.length / size) * size);
    assert.deepEqual(got, [{ type: 'ping' }, { type: 'paired', peer: 'p2pid1x' }]);
    assert.deepEqual(reader.rest(), stream.subarray(frames.length, pushed));
  }
});

test('a frame length of 0 or over 4096 bytes is refused without waiting for the body', () => {
  for (const length of [0, MAX_FRAME_BYTES + 1, 0xffff]) {
    const reader = new FrameReader();
    const head = Buffer.alloc(2);
    head.writeUInt16BE(length);
    reader.push(head);
    assert.throws(
      () => reader.next(),
      (e: unknown) => e instanceof P2PError && e.code === 'bad_relay_request',
    );
  }
  assert.throws(() => encodeFrame({ type: 'error', code: 'x', message: 'y'.repeat(5000) }));
});

test('openings are checked strictly: unknown members, bad hex, bad addresses', () => {
  const base = { identity: 'p2pid1x', signature: 'ab'.repeat(64), service: 'cd'.repeat(32) };
  assert.equal(parseMessage(openingSchema, { type: 'find', ...base }, 'o').type, 'find');
  for (const bad of [
    { type: 'find', ...base, extra: 1 },
    { type: 'find', ...base, service: 'CD'.repeat(32) },
    { type: 'listen', ...base, direct: ['no-port'] },
    { type: 'listen', ...base, direct: ['host:70000'] },
    { type: 'listen', ...base, direct: ['a:1', 'b:2', 'c:3', 'd:4', 'e:5'] },
    { type: 'accept', identity: 'x', signature: 'ab'.repeat(64), leg: 'ab' },
  ]) {
    assert.throws(
      () => parseMessage(openingSchema, bad, 'o'),
      (e: unknown) => e instanceof P2PError && e.code === 'bad_relay_request',
      JSON.stringify(bad),
    );
  }
  const ok = { type: 'listen', ...base, direct: ['[::1]:7000', '10.0.0.2:22', 'nas.lan:8080'] };
  assert.equal(parseMessage(openingSchema, ok, 'o').type, 'listen');
  assert.deepEqual(checkDirect(ok.direct), ok.direct);
  assert.throws(
    () => checkDirect(['nas.lan']),
    (e: unknown) =>
      e instanceof P2PError && e.code === 'bad_argument' && /host:port/.test(e.message),
  );
});

test('the signed text binds relay, nonce and role, with lengths that keep them apart', () => {
  const nonce = Buffer.alloc(32, 7);
  const one = authMessage('relay-a', nonce, 'dial');
  assert.ok(one.subarray(0, 22).equals(Buffer.from('p2pcloud/v1/relay/auth')));
  assert.ok(!one.equals(authMessage('relay-b', nonce, 'dial')));
  assert.ok(!one.equals(authMessage('relay-a', Buffer.alloc(32, 8), 'dial')));
  assert.ok(!one.equals(authMessage('relay-a', nonce, 'find')));
  assert.equal(one.length, 22 + 1 + 7 + 32 + 1 + 4);
});

test('an identity text is counted by its one spelling and its signing key', () => {
  const identity = generateIdentity();
  const text = identityText(identity);
  const parsed = parseDeviceIdentity(text.toUpperCase());
  assert.equal(parsed.text, text);
  assert.ok(parsed.signingKey.equals(identity.signing.publicKey));
  assert.throws(
    () => parseDeviceIdentity('p2ptable1qqqq'),
    (e: unknown) => e instanceof P2PError && e.code === 'relay_auth_failed',
  );
});

test('the token bucket lets a burst through, then asks the sender to wait out its debt', () => {
  let now = 0;
  const bucket = new TokenBucket(1000, 1000, () => now);
  assert.equal(bucket.take(1000), 0);
  assert.equal(bucket.take(500), 500);
  now += 500;
  assert.equal(bucket.take(0), 0);
  now += 10_000;
  // Idle time saves up at most the burst.
  assert.equal(bucket.take(1000), 0);
  assert.equal(bucket.take(1), 1);
});
