/**
 * docs/vectors/tunnel.json (written once by scripts/tunnel-vectors.mjs) against the document
 * and the implementation: the info strings, heads, key schedule and records are rebuilt here
 * from docs/tunnel-channel.md with node:crypto (X25519, HMAC, HKDF, ChaCha20-Poly1305); HPKE
 * itself is the RFC 9180 implementation checked by hpke.test.ts against the RFC's vectors. The
 * implementation then reads and reproduces every message and record, and the last test checks
 * that no value of the file went unread.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createCipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  hkdfSync,
} from 'node:crypto';
import { signingKeyPairFromSeed } from '../../src/crypto/ed25519.js';
import { deriveKeyPair, HPKE_MODE, setupSender } from '../../src/crypto/hpke.js';
import { boxKeyPairFromSecret } from '../../src/crypto/x25519.js';
import { bucketSize } from '../../src/encoding/size-buckets.js';
import { P2PError } from '../../src/errors.js';
import { identityText, type Identity } from '../../src/keys/keys.js';
import {
  buildM1,
  buildM2,
  buildPlainRefusal,
  deriveRecordKeys,
  readM1,
  readM2,
} from '../../src/tunnel/handshake.js';
import { parseCloseBody, RecordOpener, RecordSealer } from '../../src/tunnel/records.js';
import { VectorDoc } from '../helpers/vector-doc.js';

const vectors = new VectorDoc('tunnel.json');
const str = (path: string) => vectors.str(path);
const bytes = (path: string) => vectors.bytes(path);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const sha256 = (...parts: Uint8Array[]) => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
};

function identityOf(who: 'initiator' | 'responder'): Identity {
  const identity = {
    signing: signingKeyPairFromSeed(bytes(`${who}.signing_seed`)),
    box: boxKeyPairFromSecret(bytes(`${who}.box_secret`)),
  };
  assert.equal(hex(identity.signing.publicKey), str(`${who}.signing_public`));
  assert.equal(hex(identity.box.publicKey), str(`${who}.box_public`));
  assert.equal(
    hex(Buffer.concat([identity.signing.publicKey, identity.box.publicKey])),
    str(`${who}.identity_bytes`),
  );
  assert.equal(identityText(identity), str(`${who}.text`));
  return identity;
}

/** X25519 with node:crypto's OpenSSL keys, independent of libsodium. */
function x25519(secret: Uint8Array, publicKey: Uint8Array): Buffer {
  const x = Buffer.from(publicKey).toString('base64url');
  return diffieHellman({
    privateKey: createPrivateKey({
      key: { kty: 'OKP', crv: 'X25519', d: Buffer.from(secret).toString('base64url'), x },
      format: 'jwk',
    }),
    publicKey: createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x }, format: 'jwk' }),
  });
}

function chachaSeal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array) {
  const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  cipher.setAAD(aad, { plaintextLength: plaintext.length });
  return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

function ephemeral(prefix: string) {
  const pair = deriveKeyPair(bytes(`${prefix}.ephemeral_ikm`));
  assert.equal(hex(pair.secretKey), str(`${prefix}.ephemeral_secret`));
  assert.equal(hex(pair.publicKey), str(`${prefix}.ephemeral_public`));
  return pair;
}

/**
 * The auth-mode HPKE sender context of message `prefix` from `from` to `to` under `info`,
 * with the vectors' ephemeral key; its key schedule is checked against the vectors.
 */
function authSender(
  prefix: string,
  from: Identity,
  to: Identity,
  info: Uint8Array,
  ephemeral: ReturnType<typeof deriveKeyPair>,
): ReturnType<typeof setupSender> {
  const sender = setupSender(to.box.publicKey, {
    mode: HPKE_MODE.auth,
    info,
    sender: from.box,
    ephemeral,
  });
  const s = sender.context.keySchedule;
  assert.equal(hex(s.sharedSecret), str(`${prefix}.shared_secret`));
  assert.equal(hex(s.key), str(`${prefix}.key`));
  assert.equal(hex(s.baseNonce), str(`${prefix}.base_nonce`));
  assert.equal(hex(s.exporterSecret), str(`${prefix}.exporter_secret`));
  return sender;
}

const initiator = identityOf('initiator');
const responder = identityOf('responder');
const initiatorBytes = bytes('initiator.identity_bytes');
const responderBytes = bytes('responder.identity_bytes');
const eI = ephemeral('m1');
const eR = ephemeral('m2');

test('M1 is the head of §2.1 and ct1 sealed under the auth-mode context of info1', () => {
  const info = Buffer.concat([
    Buffer.from('p2pcloud/v1/tunnel/m1'),
    responderBytes,
    initiatorBytes,
  ]);
  assert.equal(hex(info), str('m1.info'));
  const { enc, context } = authSender('m1', initiator, responder, info, eI);
  const head = Buffer.concat([
    Buffer.from('p2pt'),
    Uint8Array.of(1),
    initiatorBytes,
    responderBytes,
    enc,
  ]);
  assert.equal(hex(head), str('m1.head'));
  const service = str('m1.service_utf8');
  assert.equal(vectors.value('m1.pad'), false);
  const plaintext = Buffer.concat([Uint8Array.of(0), Buffer.from(service)]);
  assert.equal(hex(plaintext), str('m1.plaintext'));
  // Sequence 0: the nonce is the base nonce itself.
  const ct = chachaSeal(context.keySchedule.key, context.keySchedule.baseNonce, head, plaintext);
  assert.equal(hex(ct), str('m1.ct'));
  assert.equal(hex(Buffer.concat([head, ct])), str('m1.message'));
  // The implementation builds the same bytes, and the responder reads them.
  const built = buildM1({
    self: initiator,
    responder: responderBytes,
    service,
    pad: false,
    ephemeral: eI,
  });
  assert.equal(hex(built.m1), str('m1.message'));
  const read = readM1(responder, bytes('m1.message'));
  assert.equal(read.service, service);
  assert.equal(read.pad, false);
  assert.equal(hex(read.initiator), hex(initiatorBytes));
});

test('M2 answers under info2 = label || SHA-256(M1); a refusal carries code and message', () => {
  const m1 = bytes('m1.message');
  const info = Buffer.concat([Buffer.from('p2pcloud/v1/tunnel/m2'), sha256(m1)]);
  assert.equal(hex(info), str('m2.info'));
  const { enc, context } = authSender('m2', responder, initiator, info, eR);
  const head = Buffer.concat([Buffer.from('p2pt'), Uint8Array.of(1, 0), enc]);
  assert.equal(hex(head), str('m2.head'));
  const { key, baseNonce } = context.keySchedule;
  assert.equal(str('m2.answer'), '00');
  const ct = chachaSeal(key, baseNonce, head, bytes('m2.answer'));
  assert.equal(hex(ct), str('m2.ct'));
  assert.equal(hex(Buffer.concat([head, ct])), str('m2.message'));

  const code = str('m2.refusal.code');
  const message = str('m2.refusal.message_utf8');
  const answer = Buffer.concat([
    Uint8Array.of(1, code.length),
    Buffer.from(code),
    Buffer.from(message),
  ]);
  assert.equal(hex(answer), str('m2.refusal.answer'));
  const refusalCt = chachaSeal(key, baseNonce, head, answer);
  assert.equal(hex(refusalCt), str('m2.refusal.ct'));
  assert.equal(hex(Buffer.concat([head, refusalCt])), str('m2.refusal.message'));

  // The implementation: the responder builds both, the initiator accepts one, reports the other.
  const hello = readM1(responder, m1);
  const accept = buildM2({ self: responder, hello, answer: { accept: true }, ephemeral: eR });
  assert.equal(hex(accept.m2), str('m2.message'));
  const refuse = buildM2({
    self: responder,
    hello,
    answer: { accept: false, code, message },
    ephemeral: eR,
  });
  assert.equal(hex(refuse.m2), str('m2.refusal.message'));
  const sent = buildM1({
    self: initiator,
    responder: responderBytes,
    service: str('m1.service_utf8'),
    pad: false,
    ephemeral: eI,
  });
  assert.equal(hex(readM2(initiator, sent, bytes('m2.message')).enc2), hex(enc));
  assert.throws(
    () => readM2(initiator, sent, bytes('m2.refusal.message')),
    (error: unknown) =>
      error instanceof P2PError && error.code === code && error.message === message,
  );
});

test('a refusal in the clear is magic, version, kind 1, code and message', () => {
  const code = str('plain_refusal.code');
  const message = str('plain_refusal.message_utf8');
  const expected = Buffer.concat([
    Buffer.from('p2pt'),
    Uint8Array.of(1, 1, code.length),
    Buffer.from(code),
    Buffer.from(message),
  ]);
  assert.equal(hex(expected), str('plain_refusal.message'));
  assert.equal(hex(buildPlainRefusal(code, message)), str('plain_refusal.message'));
});

test('record keys: HKDF over both exports and the ephemerals X25519, salted with SHA-256(M1 || M2)', () => {
  const m1 = bytes('m1.message');
  const m2 = bytes('m2.message');
  const dh = x25519(eI.secretKey, eR.publicKey);
  assert.equal(hex(dh), str('keys.dh'));
  assert.equal(hex(x25519(eR.secretKey, eI.publicKey)), str('keys.dh'));
  const label = Buffer.from('p2pcloud/v1/tunnel/keys');
  const ctx1 = authSender('m1', initiator, responder, bytes('m1.info'), eI).context;
  const ctx2 = authSender('m2', responder, initiator, bytes('m2.info'), eR).context;
  assert.equal(hex(ctx1.export(label, 32)), str('keys.export1'));
  assert.equal(hex(ctx2.export(label, 32)), str('keys.export2'));
  const salt = sha256(m1, m2);
  assert.equal(hex(salt), str('keys.salt'));
  const ikm = Buffer.concat([bytes('keys.export1'), bytes('keys.export2'), dh]);
  assert.equal(hex(createHmac('sha256', salt).update(ikm).digest()), str('keys.prk'));
  const i2r = Buffer.from(hkdfSync('sha256', ikm, salt, 'p2pcloud/v1/tunnel/i2r', 32));
  const r2i = Buffer.from(hkdfSync('sha256', ikm, salt, 'p2pcloud/v1/tunnel/r2i', 32));
  assert.equal(hex(i2r), str('keys.i2r'));
  assert.equal(hex(r2i), str('keys.r2i'));
  const derived = deriveRecordKeys(m1, m2, ctx1, ctx2, dh);
  assert.equal(hex(derived.i2r), str('keys.i2r'));
  assert.equal(hex(derived.r2i), str('keys.r2i'));
});

test('records: u32 length || ChaCha20-Poly1305 of type || u32 n || body || padding', () => {
  const keys = { i2r: bytes('keys.i2r'), r2i: bytes('keys.r2i') };
  const openers = new Map<string, RecordOpener>();
  const sealers = new Map<string, RecordSealer>();
  const count = vectors.length('records');
  assert.equal(count, 7);
  for (let i = 0; i < count; i++) {
    const at = `records.${i}`;
    const name = str(`${at}.name`);
    const direction = str(`${at}.direction`) as 'i2r' | 'r2i';
    const pad = vectors.value(`${at}.pad`) as boolean;
    const counter = vectors.num(`${at}.counter`);
    const type = vectors.num(`${at}.type`);
    // Control records have empty bodies, which the hex reader of the other files refuses.
    const bodyHex = str(`${at}.body`);
    assert.match(bodyHex, /^(?:[0-9a-f]{2})*$/);
    const body = Buffer.from(bodyHex, 'hex');
    const record = bytes(`${at}.record`);
    const length = pad ? bucketSize(5 + body.length, 64) : 5 + body.length;
    const plaintext = Buffer.alloc(length);
    plaintext[0] = type;
    plaintext.writeUInt32BE(body.length, 1);
    body.copy(plaintext, 5);
    const nonce = Buffer.alloc(12);
    nonce.writeBigUInt64BE(BigInt(counter), 4);
    const ct = chachaSeal(keys[direction], nonce, Buffer.alloc(0), plaintext);
    const framed = Buffer.concat([Buffer.alloc(4), ct]);
    framed.writeUInt32BE(ct.length, 0);
    assert.equal(hex(framed), hex(record), name);
    // The implementation seals the same sequence and opens it.
    const stream = `${direction}:${pad}`;
    if (!sealers.has(stream)) {
      sealers.set(stream, new RecordSealer(keys[direction], pad));
      openers.set(stream, new RecordOpener(keys[direction]));
    }
    assert.equal(sealers.get(stream)!.sent, counter, name);
    assert.equal(hex(sealers.get(stream)!.seal(type as 0, body)), hex(record), name);
    const opened = openers.get(stream)!.open(Buffer.from(record.subarray(4)));
    assert.ok(opened, name);
    assert.equal(opened.type, type);
    assert.equal(hex(opened.body), hex(body));
    if (name === 'close') {
      assert.deepEqual(parseCloseBody(body), {
        code: 'no_such_device',
        message: 'the device was revoked',
      });
    }
  }
});

test('every value of tunnel.json was checked', () => {
  vectors.assertAllRead(60);
});
