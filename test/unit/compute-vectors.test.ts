/**
 * docs/vectors/compute.json (written once by scripts/compute-vectors.mjs) against
 * docs/compute.md: every hash, signature, key schedule and seal is rebuilt here with node:crypto
 * alone (SHA-256, HMAC, X25519, Ed25519, ChaCha20-Poly1305), then the implementation reads and
 * reproduces the objects, and the last test checks that no value of the file went unread.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  sign as edSign,
  verify as edVerify,
  type KeyObject,
} from 'node:crypto';
import { signingKeyPairFromSeed } from '../../src/crypto/ed25519.js';
import { boxKeyPairFromSecret } from '../../src/crypto/x25519.js';
import { decodeEntry } from '../../src/entry/format.js';
import {
  entryKeyFor,
  openGrant,
  openResult,
  openWithGrantKey,
  parseJobRequest,
  TestEd25519Verifier,
  verifyReceipt,
} from '../../src/compute/index.js';
import { VectorDoc } from '../helpers/vector-doc.js';

const vectors = new VectorDoc('compute.json');
const str = (path: string) => vectors.str(path);
const bytes = (path: string) => vectors.bytes(path);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const utf8 = (s: string) => Buffer.from(s, 'utf8');
const sha256 = (...parts: Uint8Array[]) => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
};
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const lp = (b: Uint8Array) => Buffer.concat([u32(b.length), b]);

// --- Ed25519 and X25519 from raw keys, by their DER wrappings (RFC 8410).
const der = (prefix: string, key: Uint8Array) => Buffer.concat([Buffer.from(prefix, 'hex'), key]);
const edPrivate = (seed: Uint8Array): KeyObject =>
  createPrivateKey({
    key: der('302e020100300506032b657004220420', seed),
    format: 'der',
    type: 'pkcs8',
  });
const edPublic = (pub: Uint8Array): KeyObject =>
  createPublicKey({ key: der('302a300506032b6570032100', pub), format: 'der', type: 'spki' });
const xPrivate = (secret: Uint8Array): KeyObject =>
  createPrivateKey({
    key: der('302e020100300506032b656e04220420', secret),
    format: 'der',
    type: 'pkcs8',
  });
const xPublic = (pub: Uint8Array): KeyObject =>
  createPublicKey({ key: der('302a300506032b656e032100', pub), format: 'der', type: 'spki' });
const rawPublic = (key: KeyObject): Buffer =>
  Buffer.from(createPublicKey(key).export({ format: 'jwk' }).x!, 'base64url');

// --- HPKE base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305 (RFC 9180).
const KEM_SUITE = Buffer.concat([utf8('KEM'), Buffer.from([0x00, 0x20])]);
const HPKE_SUITE = Buffer.concat([utf8('HPKE'), Buffer.from([0x00, 0x20, 0x00, 0x01, 0x00, 0x03])]);
const hmac = (key: Uint8Array, data: Uint8Array) => createHmac('sha256', key).update(data).digest();
const extract = (suite: Buffer, salt: Uint8Array, label: string, ikm: Uint8Array) =>
  hmac(
    salt.length ? salt : Buffer.alloc(32),
    Buffer.concat([utf8('HPKE-v1'), suite, utf8(label), ikm]),
  );
function expand(suite: Buffer, prk: Uint8Array, label: string, info: Uint8Array, length: number) {
  const l = Buffer.alloc(2);
  l.writeUInt16BE(length);
  // length ≤ 32 here: one HKDF-Expand block.
  const t = hmac(
    prk,
    Buffer.concat([l, utf8('HPKE-v1'), suite, utf8(label), info, Buffer.from([1])]),
  );
  return t.subarray(0, length);
}
const EMPTY = Buffer.alloc(0);
function deriveSecret(ikm: Uint8Array): Buffer {
  return expand(KEM_SUITE, extract(KEM_SUITE, EMPTY, 'dkp_prk', ikm), 'sk', EMPTY, 32);
}
function schedule(dh: Buffer, enc: Uint8Array, recipientPublic: Uint8Array, info: Uint8Array) {
  const kemContext = Buffer.concat([enc, recipientPublic]);
  const shared = expand(
    KEM_SUITE,
    extract(KEM_SUITE, EMPTY, 'eae_prk', dh),
    'shared_secret',
    kemContext,
    32,
  );
  const context = Buffer.concat([
    Buffer.from([0]),
    extract(HPKE_SUITE, EMPTY, 'psk_id_hash', EMPTY),
    extract(HPKE_SUITE, EMPTY, 'info_hash', info),
  ]);
  const secret = extract(HPKE_SUITE, shared, 'secret', EMPTY);
  return {
    key: expand(HPKE_SUITE, secret, 'key', context, 32),
    nonce: expand(HPKE_SUITE, secret, 'base_nonce', context, 12),
  };
}
function open(key: Buffer, nonce: Buffer, aad: Uint8Array, ciphertext: Uint8Array): Buffer {
  const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  d.setAAD(aad, { plaintextLength: ciphertext.length - 16 });
  d.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
  return Buffer.concat([d.update(ciphertext.subarray(0, ciphertext.length - 16)), d.final()]);
}
function seal(key: Buffer, nonce: Buffer, aad: Uint8Array, plaintext: Uint8Array): Buffer {
  const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  c.setAAD(aad, { plaintextLength: plaintext.length });
  return Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
}
/** Opens enc || ciphertext as its recipient, checking the ephemeral key against its ikm. */
function openSealed(
  path: string,
  recipientSecret: Buffer,
  info: string,
  aad: Uint8Array,
  sealed: Buffer,
) {
  const ephemeralSecret = deriveSecret(bytes(`${path}.ephemeral_ikm`));
  const enc = rawPublic(xPrivate(ephemeralSecret));
  assert.equal(hex(enc), str(`${path}.ephemeral_public`), path);
  assert.equal(hex(sealed.subarray(0, 32)), hex(enc), `${path}: enc`);
  const recipientPublic = rawPublic(xPrivate(recipientSecret));
  const dh = diffieHellman({ privateKey: xPrivate(recipientSecret), publicKey: xPublic(enc) });
  // The sender's side gives the same secret: X25519(ephemeral, recipient).
  assert.equal(
    hex(
      diffieHellman({ privateKey: xPrivate(ephemeralSecret), publicKey: xPublic(recipientPublic) }),
    ),
    hex(dh),
  );
  const s = schedule(dh, enc, recipientPublic, utf8(info));
  const plaintext = open(s.key, s.nonce, aad, sealed.subarray(32));
  assert.equal(
    hex(seal(s.key, s.nonce, aad, plaintext)),
    hex(sealed.subarray(32)),
    `${path}: reseal`,
  );
  return { plaintext, ...s };
}

const requesterBox = bytes('requester.box_secret');
const nodeBox = bytes('node.box_secret');

test('the fixed keys give the listed public keys and identity text', () => {
  const requester = signingKeyPairFromSeed(bytes('requester.signing_seed'));
  assert.equal(
    hex(rawPublic(edPrivate(bytes('requester.signing_seed')))),
    str('requester.signing_public'),
  );
  assert.equal(hex(requester.publicKey), str('requester.signing_public'));
  assert.equal(hex(rawPublic(xPrivate(requesterBox))), str('requester.box_public'));
  assert.ok(str('requester.text').startsWith('p2pid1'));
  assert.equal(hex(rawPublic(edPrivate(bytes('table.signing_seed')))), str('table.public'));
  assert.equal(hex(rawPublic(edPrivate(bytes('node.signing_seed')))), str('node.signing_public'));
  assert.equal(hex(rawPublic(xPrivate(nodeBox))), str('node.box_public'));
  assert.equal(
    hex(rawPublic(edPrivate(bytes('attestation.platform_seed')))),
    str('attestation.platform_public'),
  );
});

for (const name of ['module', 'input']) {
  test(`entry key of the ${name} chunk: SetupBaseR of its seal opens it and only it`, () => {
    const p = `entries.${name}`;
    const entry = bytes(`${p}.entry`);
    assert.equal(hex(sha256(entry)), str(`${p}.id`));
    assert.equal(hex(entry.subarray(1, 33)), str('table.public'));
    assert.equal(hex(entry.subarray(33, 65)), str('requester.box_public'));
    const padded = vectors.value(`${p}.padded`) as boolean;
    const payloadLength = entry.readUInt32BE(89);
    const payload = entry.subarray(93, 93 + payloadLength);
    const info = padded ? 'p2pcloud/v1/entry-seal-padded' : 'p2pcloud/v1/entry-seal';
    const opened = openSealed(p, requesterBox, info, entry.subarray(0, 81), payload);
    assert.equal(hex(opened.key), str(`${p}.key`));
    assert.equal(hex(opened.nonce), str(`${p}.base_nonce`));
    assert.equal(str(`${p}.grant_key`), hex(Buffer.concat([opened.key, opened.nonce])));
    let plaintext = opened.plaintext;
    if (padded) {
      let end = plaintext.length - 1;
      while (plaintext[end] === 0) end--;
      assert.equal(plaintext[end], 0x80);
      plaintext = plaintext.subarray(0, end);
    }
    assert.equal(plaintext.toString('utf8'), str(`${p}.plaintext_utf8`));
    // The implementation derives the same key and opens the entry with it alone.
    const key = entryKeyFor(entry, boxKeyPairFromSecret(requesterBox))!;
    assert.equal(hex(key.key), str(`${p}.key`));
    assert.equal(key.padded, padded);
    assert.equal(
      openWithGrantKey(decodeEntry(entry), key)?.toString('utf8'),
      str(`${p}.plaintext_utf8`),
    );
  });
}

test('job request: grant sealed to the node for this job text, signature and hash', () => {
  const text = str('job.text');
  const sealed = bytes('job.grant.sealed');
  const aad = sha256(utf8('p2pcloud/v1/job-grant-aad'), utf8(text));
  assert.equal(hex(aad), str('job.grant.aad'));
  const grant = openSealed('job.grant', nodeBox, 'p2pcloud/v1/job-grant', aad, sealed);
  assert.equal(grant.plaintext.toString('utf8'), str('job.grant.plaintext'));
  const grantObject = JSON.parse(str('job.grant.plaintext')) as {
    job: string;
    node: string;
    keys: { entry: string; key: string; padded: boolean }[];
  };
  const body = JSON.parse(text) as { id: string; node: string; module: { entries: string[] } };
  assert.equal(grantObject.job, body.id);
  assert.equal(grantObject.node, str('node.signing_public'));
  assert.equal(body.node, str('node.signing_public'));
  assert.deepEqual(
    grantObject.keys.map((k) => [k.entry, k.key]),
    [
      [str('entries.module.id'), str('entries.module.grant_key')],
      [str('entries.input.id'), str('entries.input.grant_key')],
    ],
  );
  const message = Buffer.concat([utf8('p2pcloud/v1/job'), lp(utf8(text)), lp(sealed)]);
  assert.equal(hex(message), str('job.signed_message'));
  const sig = bytes('job.sig');
  assert.ok(edVerify(null, message, edPublic(bytes('requester.signing_public')), sig));
  assert.equal(hex(edSign(null, message, edPrivate(bytes('requester.signing_seed')))), hex(sig));
  assert.equal(hex(sha256(utf8('p2pcloud/v1/job-hash'), message, sig)), str('job.hash'));
  const request = JSON.parse(str('job.request')) as Record<string, unknown>;
  assert.deepEqual(request, {
    type: 'p2pcloud/job',
    v: 1,
    job: text,
    grant: sealed.toString('base64url'),
    sig: hex(sig),
  });
  // The implementation reads it, finds the same hash and opens the grant.
  const parsed = parseJobRequest(str('job.request'));
  assert.equal(parsed.hash, str('job.hash'));
  const opened = openGrant(boxKeyPairFromSecret(nodeBox), text, parsed.sealedGrant);
  assert.equal(opened.keys.length, 2);
});

test('receipt: signature by the node key over its body, hash, and what it binds', () => {
  const body = str('receipt.body');
  const message = Buffer.concat([utf8('p2pcloud/v1/receipt'), lp(utf8(body))]);
  assert.equal(hex(message), str('receipt.signed_message'));
  const sig = bytes('receipt.sig');
  assert.ok(edVerify(null, message, edPublic(bytes('node.signing_public')), sig));
  assert.equal(hex(sha256(utf8('p2pcloud/v1/receipt-hash'), utf8(body), sig)), str('receipt.hash'));
  const parsed = JSON.parse(body) as Record<string, unknown>;
  assert.equal(parsed.job, str('job.hash'));
  assert.equal(parsed.output, hex(sha256(utf8(str('result.output_utf8')))));
  assert.deepEqual(parsed.attestation, {
    kind: 'test-ed25519',
    evidence: bytes('attestation.evidence').toString('base64url'),
  });
  assert.deepEqual(JSON.parse(str('receipt.text')), {
    type: 'p2pcloud/receipt',
    v: 1,
    body,
    sig: hex(sig),
  });
  assert.equal(
    verifyReceipt(str('receipt.text'), str('node.signing_public'))?.hash,
    str('receipt.hash'),
  );
});

test('output and log are sealed to result_to with the receipt hash as aad', () => {
  const aad = bytes('receipt.hash');
  for (const [part, info] of [
    ['output', 'p2pcloud/v1/job-result'],
    ['log', 'p2pcloud/v1/job-log'],
  ] as const) {
    const sealed = bytes(`result.${part}.sealed`);
    const { plaintext } = openSealed(`result.${part}`, requesterBox, info, aad, sealed);
    assert.equal(plaintext.toString('utf8'), str(`result.${part}_utf8`));
    const opened = openResult(
      part,
      boxKeyPairFromSecret(requesterBox),
      str('receipt.hash'),
      sealed,
    );
    assert.equal(opened?.toString('utf8'), str(`result.${part}_utf8`));
  }
});

test('test attestation: the platform key signs the report data of the node keys', async () => {
  const reportData = sha256(
    utf8('p2pcloud/v1/attest'),
    bytes('node.signing_public'),
    bytes('node.box_public'),
  );
  assert.equal(hex(reportData), str('attestation.report_data'));
  const evidence = bytes('attestation.evidence');
  assert.equal(hex(evidence.subarray(0, 32)), str('attestation.platform_public'));
  const message = Buffer.concat([utf8('p2pcloud/v1/attest-test-ed25519'), reportData]);
  assert.ok(edVerify(null, message, edPublic(evidence.subarray(0, 32)), evidence.subarray(32)));
  const verifier = new TestEd25519Verifier(bytes('attestation.platform_public'));
  assert.deepEqual(await verifier.verify(evidence, reportData), { ok: true });
});

test('every value of compute.json was checked', () => {
  vectors.assertAllRead(40);
});
