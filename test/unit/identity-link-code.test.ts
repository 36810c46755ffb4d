/**
 * Link codes (docs/identity.md §3.4): their text round trip, what a typo, a key pasted instead
 * of a code and a wrong length are told, the expiry they carry, and the link space derived
 * from their secret.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { hkdfSync } from 'node:crypto';
import { bech32m } from '@scure/base';
import { signingKeyPairFromSeed } from '../../src/crypto/ed25519.js';
import { boxKeyPairFromSecret } from '../../src/crypto/x25519.js';
import { decodeKeyText, parsePublicKey } from '../../src/encoding/key-text.js';
import { P2PError } from '../../src/errors.js';
import { createLinkCode, linkKeys, parseLinkCode } from '../../src/identity/link-code.js';
import { generateIdentity, identityText, tableText } from '../../src/keys/keys.js';

const SECRET = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');
const EXPIRES = 1_767_225_600; // 2026-01-01T00:00:00Z

function refused(text: string, message: RegExp): void {
  assert.throws(
    () => parseLinkCode(text),
    (error: unknown) => {
      assert.ok(error instanceof P2PError, String(error));
      assert.equal(error.code, 'bad_link_code');
      assert.match(error.message, message);
      return true;
    },
    text,
  );
}

describe('link code text', () => {
  test('round trip: 46 characters, p2plink1…, secret and expiry come back', () => {
    const code = createLinkCode(SECRET, EXPIRES);
    assert.equal(code.length, 46);
    assert.match(code, /^p2plink1[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{38}$/);
    for (const text of [code, code.toUpperCase(), ` ${code}\r\n`]) {
      const parsed = parseLinkCode(text);
      assert.deepEqual(parsed.secret, SECRET);
      assert.equal(parsed.expiresAt, EXPIRES);
    }
    const bytes = decodeKeyText(code, ['link']).bytes;
    assert.equal(bytes.toString('hex'), `${SECRET.toString('hex')}${EXPIRES.toString(16)}`);
  });

  test('the expiry is a u32 of Unix seconds, from 0 to 2^32 - 1', () => {
    for (const expires of [0, 1, EXPIRES, 0xffffffff]) {
      assert.equal(parseLinkCode(createLinkCode(SECRET, expires)).expiresAt, expires);
    }
    for (const expires of [-1, 1.5, 2 ** 32, Number.NaN, Date.now()]) {
      assert.throws(() => createLinkCode(SECRET, expires), RangeError, String(expires));
    }
    assert.throws(() => createLinkCode(SECRET.subarray(0, 15), EXPIRES), RangeError);
    assert.throws(() => createLinkCode(Buffer.alloc(17), EXPIRES), RangeError);
  });

  test('a typo in any position is caught by the checksum', () => {
    const code = createLinkCode(SECRET, EXPIRES);
    for (let i = 'p2plink1'.length; i < code.length; i++) {
      const swapped = code[i] === 'q' ? 'p' : 'q';
      refused(
        `${code.slice(0, i)}${swapped}${code.slice(i + 1)}`,
        /link code is damaged: its checksum/,
      );
    }
    refused(code.slice(0, -1), /checksum/);
    refused(`${code.slice(0, 20)}${code.slice(21)}`, /checksum/);
    refused(`${code.slice(0, 20)}b${code.slice(21)}`, /holds "b", which no link code contains/);
    refused(`${code.slice(0, 20)}${code.slice(20).toUpperCase()}`, /mixes upper and lower case/);
    refused(`${code.slice(0, 20)} ${code.slice(20)}`, /white space/);
  });

  test('a key, or anything else, given where a link code is wanted', () => {
    const identity = generateIdentity();
    refused(identityText(identity), /expected link code but got identity key \(p2pid1…\)/);
    refused(tableText(identity.signing.publicKey), /expected link code but got table key/);
    refused('hello', /^not a link code: link codes look like p2plink1…$/);
    refused('p2plonk1qqqqqq', /unknown prefix "p2plonk" \(link codes start with p2plink1\)/);
    refused('', /link code is empty/);
    refused(`p2plink1${'q'.repeat(300)}`, /too long/);
    refused(42 as unknown as string, /must be a string/);
  });

  test('a code with a valid checksum but the wrong length', () => {
    for (const length of [16, 19, 21, 32]) {
      const text = bech32m.encode('p2plink', bech32m.toWords(Buffer.alloc(length, 7)), false);
      refused(text, /link code has the wrong length: it holds 20 bytes \(46 characters\)/);
    }
  });

  test('a link code given where a key is wanted is named as such', () => {
    const code = createLinkCode(SECRET, EXPIRES);
    assert.throws(
      () => parsePublicKey(code, 'recipient'),
      (e: unknown) =>
        e instanceof P2PError &&
        e.code === 'bad_key' &&
        /expected recipient key or identity key but got link code/.test(e.message),
    );
    assert.throws(
      () => decodeKeyText('alice', ['identity']),
      (e: unknown) =>
        e instanceof P2PError &&
        e.message === 'not a p2pcloud key text: keys look like p2pid1…, p2ptable1… or p2prcpt1…',
    );
    assert.throws(
      () => decodeKeyText('p2pkey1qqqq', ['identity', 'link']),
      (e: unknown) =>
        e instanceof P2PError &&
        e.message ===
          'unknown key prefix "p2pkey" (p2pcloud keys start with p2pid1, p2ptable1 or p2prcpt1; link codes start with p2plink1)',
    );
  });
});

describe('link keys', () => {
  test('are HKDF of the secret with the link salt', () => {
    const hkdf = (info: string): Buffer =>
      Buffer.from(hkdfSync('sha256', SECRET, 'p2pcloud/v1/link', info, 32));
    const keys = linkKeys(SECRET);
    assert.deepEqual(keys.table.signing.seed, hkdf('table'));
    assert.deepEqual(keys.table.signing.publicKey, signingKeyPairFromSeed(hkdf('table')).publicKey);
    assert.deepEqual(keys.reader.secretKey, hkdf('reader'));
    assert.deepEqual(keys.reader.publicKey, boxKeyPairFromSecret(hkdf('reader')).publicKey);
    const parsed = parseLinkCode(createLinkCode(SECRET, EXPIRES).toUpperCase());
    assert.deepEqual(linkKeys(parsed.secret).table.signing.publicKey, keys.table.signing.publicKey);
    const other = linkKeys(Buffer.alloc(16, 1));
    assert.notDeepEqual(other.table.signing.publicKey, keys.table.signing.publicKey);
    assert.notDeepEqual(other.reader.publicKey, keys.reader.publicKey);
    assert.throws(() => linkKeys(Buffer.alloc(32)), RangeError);
  });
});
