/**
 * The pure parts of the tunnel channel: frames split anywhere, records at their size limits,
 * padded or not, records that must not open, and the reasons carried by close records and
 * refusals, cut to their caps without breaking a character.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';
import { bucketSize } from '../../src/encoding/size-buckets.js';
import { P2PError } from '../../src/errors.js';
import { generateIdentity } from '../../src/keys/keys.js';
import { FrameReader, FrameTooLarge } from '../../src/tunnel/frames.js';
import {
  buildM1,
  buildPlainRefusal,
  identityBytes,
  readM1,
  readM2,
} from '../../src/tunnel/handshake.js';
import {
  closeBody,
  MAX_BODY_BYTES,
  MAX_CIPHERTEXT_BYTES,
  parseCloseBody,
  RECORD_TYPE,
  RecordOpener,
  RecordSealer,
  recordLength,
} from '../../src/tunnel/records.js';

function framed(body: Buffer): Buffer {
  const out = Buffer.alloc(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  body.copy(out, 4);
  return out;
}

test('frames come out whole however the bytes are split', () => {
  const bodies = [0, 1, 3, 4, 5, 100, 70_000].map((n) => randomBytes(n));
  const stream = Buffer.concat(bodies.map(framed));
  for (let trial = 0; trial < 50; trial++) {
    const reader = new FrameReader();
    const out: Buffer[] = [];
    let at = 0;
    while (at < stream.length) {
      const n = 1 + Math.floor(Math.random() * (trial < 10 ? 3 : 9000));
      reader.push(Buffer.from(stream.subarray(at, at + n)));
      at += n;
      for (let frame = reader.next(1 << 20); frame; frame = reader.next(1 << 20)) out.push(frame);
    }
    assert.deepEqual(
      out.map((b) => b.toString('hex')),
      bodies.map((b) => b.toString('hex')),
    );
    assert.equal(reader.buffered, 0);
  }
});

test('a frame longer than the cap is refused from its four length bytes alone', () => {
  const reader = new FrameReader();
  reader.push(Buffer.from([0x00, 0x00]));
  assert.equal(reader.next(512), undefined);
  reader.push(Buffer.from([0x02, 0x01]));
  assert.throws(
    () => reader.next(512),
    (error: unknown) => error instanceof FrameTooLarge && error.length === 513,
  );
});

test('records round-trip at every size class, padded to buckets on request', () => {
  const key = randomBytes(32);
  for (const pad of [false, true]) {
    const sealer = new RecordSealer(key, pad);
    const opener = new RecordOpener(key);
    for (const size of [0, 1, 59, 60, 1000, 16_000, MAX_BODY_BYTES]) {
      const body = randomBytes(size);
      const record = sealer.seal(RECORD_TYPE.data, body);
      const expected = pad ? bucketSize(5 + size, 64) + 20 : 5 + size + 20;
      assert.equal(record.length, expected, `${size} bytes, pad ${pad}`);
      assert.equal(record.length, recordLength(size, pad));
      assert.equal(record.readUInt32BE(0), record.length - 4);
      const opened = opener.open(Buffer.from(record.subarray(4)));
      assert.ok(opened);
      assert.equal(opened.type, RECORD_TYPE.data);
      assert.ok(opened.body.equals(body));
    }
    assert.throws(
      () => sealer.seal(RECORD_TYPE.data, Buffer.alloc(MAX_BODY_BYTES + 1)),
      RangeError,
    );
  }
  assert.equal(recordLength(MAX_BODY_BYTES, true) - 4, MAX_CIPHERTEXT_BYTES);
});

test('a record opens only as the next one, unaltered, with a body within its plaintext', () => {
  const key = randomBytes(32);
  const sealer = new RecordSealer(key, false);
  const first = sealer.seal(RECORD_TYPE.data, Buffer.from('first'));
  const second = sealer.seal(RECORD_TYPE.data, Buffer.from('second'));
  const opener = new RecordOpener(key);
  assert.equal(opener.open(Buffer.from(second.subarray(4))), undefined, 'out of order');
  const altered = Buffer.from(first.subarray(4));
  altered[2]! ^= 1;
  assert.equal(opener.open(altered), undefined, 'altered');
  assert.equal(opener.open(Buffer.from(first.subarray(4, 10))), undefined, 'too short');
  assert.equal(new RecordOpener(randomBytes(32)).open(Buffer.from(first.subarray(4))), undefined);
  assert.equal(opener.received, 0, 'failures do not move the counter');
  assert.ok(opener.open(Buffer.from(first.subarray(4))));
  assert.ok(opener.open(Buffer.from(second.subarray(4))));
  assert.equal(opener.open(Buffer.from(second.subarray(4))), undefined, 'repeated');
  // A body length beyond its plaintext, sealed properly under the right key: malformed.
  const plaintext = Buffer.concat([
    Uint8Array.of(RECORD_TYPE.data, 0, 0, 0, 100),
    Buffer.from('abc'),
  ]);
  const cipher = createCipheriv('chacha20-poly1305', key, Buffer.alloc(12), { authTagLength: 16 });
  const forged = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  const fresh = new RecordOpener(key);
  assert.equal(fresh.open(Buffer.from(forged)), undefined);
  plaintext.writeUInt32BE(3, 1);
  const honest = createCipheriv('chacha20-poly1305', key, Buffer.alloc(12), { authTagLength: 16 });
  const fixed = Buffer.concat([honest.update(plaintext), honest.final(), honest.getAuthTag()]);
  assert.equal(fresh.open(fixed)?.body.toString(), 'abc');
});

test('close reasons and refusals are cut to their caps on a character boundary', () => {
  const long = 'é'.repeat(2000);
  const body = closeBody('tunnel_corrupt', long);
  assert.ok(body.length <= 1024);
  const parsed = parseCloseBody(body);
  assert.ok(parsed);
  assert.equal(parsed.code, 'tunnel_corrupt');
  assert.match(parsed.message, /^é+$/);
  assert.equal(parseCloseBody(Buffer.from([3, 0x41, 0x42, 0x43])), undefined, 'upper case code');
  assert.deepEqual(parseCloseBody(closeBody('Not A Code', 'x')), { code: '', message: 'x' });

  const refusal = buildPlainRefusal('tunnel_version', long);
  assert.ok(refusal.length <= 4 + 2 + 1 + 'tunnel_version'.length + 512);
  const self = generateIdentity();
  const peer = generateIdentity();
  const hello = buildM1({ self, responder: identityBytes(peer), service: 's', pad: false });
  assert.throws(
    () => readM2(self, hello, refusal),
    (error: unknown) =>
      error instanceof P2PError && error.code === 'tunnel_version' && /^é+$/.test(error.message),
  );
  // A refusal in the clear may not claim just any code: it is not authenticated.
  assert.throws(
    () => readM2(self, hello, buildPlainRefusal('no_such_device', 'revoked')),
    (error: unknown) =>
      error instanceof P2PError &&
      error.code === 'tunnel_refused' &&
      /revoked \(no_such_device\)/.test(error.message),
  );
});

test('service names: 1 to 128 bytes, no control characters, checked on both sides', () => {
  const self = generateIdentity();
  const peer = generateIdentity();
  const responder = identityBytes(peer);
  for (const service of ['', 'x'.repeat(129), 'a\nb', 'tab\there']) {
    assert.throws(
      () => buildM1({ self, responder, service, pad: false }),
      (error: unknown) => error instanceof P2PError && error.code === 'bad_argument',
      JSON.stringify(service),
    );
  }
  const hello = buildM1({ self, responder, service: 'ñas 🗄️', pad: true });
  const read = readM1(peer, hello.m1);
  assert.equal(read.service, 'ñas 🗄️');
  assert.equal(read.pad, true);
});
