/**
 * The published RSA blind signature vectors (RFC 9474 Appendix A, docs/vectors/rfc9474.json)
 * against the two halves tickets use: the issuer's raw private operation (blind-sign.ts, on
 * node:crypto) must give the published blind_sig byte for byte, and @cloudflare/blindrsa-ts
 * must finalize it to the published sig and verify it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPrivateKey, createPublicKey, webcrypto } from 'node:crypto';
import { RSABSSA } from '@cloudflare/blindrsa-ts';
import { blindSign, signingKeyOf } from '../../src/market/tickets/blind-sign.js';
import { repoRoot } from '../helpers/paths.js';

interface Vector {
  name: string;
  p: string;
  q: string;
  n: string;
  e: string;
  d: string;
  msg: string;
  msg_prefix: string;
  input_msg: string;
  sLen: string;
  inv: string;
  blinded_msg: string;
  blind_sig: string;
  sig: string;
}

const file = JSON.parse(
  readFileSync(join(repoRoot, 'docs', 'vectors', 'rfc9474.json'), 'utf8'),
) as { vectors: Vector[] };

const big = (hex: string): bigint => BigInt(hex.startsWith('0x') ? hex : `0x${hex}`);
const hex = (text: string): Buffer => Buffer.from(text.replace(/^0x/, ''), 'hex');
function b64(value: bigint, length?: number): string {
  let h = value.toString(16);
  if (h.length % 2) h = `0${h}`;
  let bytes = Buffer.from(h, 'hex');
  if (length !== undefined && bytes.length < length) {
    bytes = Buffer.concat([Buffer.alloc(length - bytes.length), bytes]);
  }
  return bytes.toString('base64url');
}
function modInverse(a: bigint, m: bigint): bigint {
  let [r0, r1, s0, s1] = [a % m, m, 1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return ((s0 % m) + m) % m;
}

function keysOf(v: Vector) {
  const [p, q, d, e, n] = [big(v.p), big(v.q), big(v.d), big(v.e), big(v.n)];
  const jwk = {
    kty: 'RSA',
    n: b64(n),
    e: b64(e),
    d: b64(d),
    p: b64(p),
    q: b64(q),
    dp: b64(d % (p - 1n)),
    dq: b64(d % (q - 1n)),
    qi: b64(modInverse(q, p)),
  };
  const privateKey = createPrivateKey({ key: jwk, format: 'jwk' });
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

function suiteOf(name: string) {
  const suites: Record<string, () => ReturnType<typeof RSABSSA.SHA384.PSS.Randomized>> = {
    'RSABSSA-SHA384-PSS-Randomized': () => RSABSSA.SHA384.PSS.Randomized(),
    'RSABSSA-SHA384-PSSZERO-Randomized': () => RSABSSA.SHA384.PSSZero.Randomized(),
    'RSABSSA-SHA384-PSS-Deterministic': () => RSABSSA.SHA384.PSS.Deterministic(),
    'RSABSSA-SHA384-PSSZERO-Deterministic': () => RSABSSA.SHA384.PSSZero.Deterministic(),
  };
  const make = suites[name];
  assert.ok(make, `no suite named ${name}`);
  return make();
}

test('the vector file names its source and holds the four RFC 9474 suites', () => {
  const raw = JSON.parse(
    readFileSync(join(repoRoot, 'docs', 'vectors', 'rfc9474.json'), 'utf8'),
  ) as { source: string };
  assert.match(raw.source, /RFC 9474/);
  assert.deepEqual(file.vectors.map((v) => v.name).sort(), [
    'RSABSSA-SHA384-PSS-Deterministic',
    'RSABSSA-SHA384-PSS-Randomized',
    'RSABSSA-SHA384-PSSZERO-Deterministic',
    'RSABSSA-SHA384-PSSZERO-Randomized',
  ]);
});

for (const v of file.vectors) {
  test(`${v.name}: issuer blind signature, finalize and verify match RFC 9474`, async () => {
    const { privateKey, publicKey } = keysOf(v);
    assert.deepEqual(hex(v.input_msg), Buffer.concat([hex(v.msg_prefix), hex(v.msg)]));

    const blindSig = blindSign(signingKeyOf(privateKey, publicKey), hex(v.blinded_msg));
    assert.equal(blindSig.toString('hex'), v.blind_sig);

    const suite = suiteOf(v.name);
    const spki = publicKey.export({ format: 'der', type: 'spki' });
    const key = await webcrypto.subtle.importKey(
      'spki',
      spki,
      { name: 'RSA-PSS', hash: 'SHA-384' },
      true,
      ['verify'],
    );
    type K = Parameters<typeof suite.verify>[0];
    const sig = await suite.finalize(key as K, hex(v.input_msg), blindSig, hex(v.inv));
    assert.equal(Buffer.from(sig).toString('hex'), v.sig);
    assert.equal(await suite.verify(key as K, hex(v.sig), hex(v.input_msg)), true);
    const altered = hex(v.input_msg);
    altered[altered.length - 1]! ^= 1;
    assert.equal(await suite.verify(key as K, hex(v.sig), altered), false);
  });
}

test('the issuer refuses a blinded message of the wrong length or not below the modulus', () => {
  const v = file.vectors[0]!;
  const { privateKey, publicKey } = keysOf(v);
  const key = signingKeyOf(privateKey, publicKey);
  assert.throws(() => blindSign(key, hex(v.blinded_msg).subarray(1)), /bytes for this key/);
  assert.throws(() => blindSign(key, hex(v.n)), /not below the modulus/);
  assert.throws(() => blindSign(key, Buffer.alloc(key.modulus.length, 0xff)), /not below/);
});
