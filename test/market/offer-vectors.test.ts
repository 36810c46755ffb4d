/**
 * docs/vectors/offers.json (docs/market.md §7) recomputed: the market keys from their seed,
 * the signed offer from its fixed provider key, its validity window, and the offers a reader
 * must refuse with their codes. A change of format fails here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { signingKeyPairFromSeed } from '../../src/crypto/ed25519.js';
import {
  MARKET_RECIPIENT,
  MARKET_SEED,
  MARKET_TABLE,
} from '../../src/market/offers/market-keys.js';
import {
  checkOfferTime,
  decodeOffer,
  encodeOffer,
  offerMessage,
  signOffer,
  type OfferBody,
} from '../../src/market/offers/offer.js';
import { repoRoot } from '../helpers/paths.js';
import { rejectsWith } from '../helpers/p2p-error.js';

const v = JSON.parse(readFileSync(join(repoRoot, 'docs', 'vectors', 'offers.json'), 'utf8'));

test('offer vectors: market keys, message, signature, offer text, validity', () => {
  assert.equal(MARKET_SEED, v.market.seed);
  assert.equal(MARKET_TABLE.signing.seed.toString('hex'), v.market.table_seed);
  assert.equal(MARKET_TABLE.signing.publicKey.toString('hex'), v.market.table_public);
  assert.equal(MARKET_RECIPIENT.secretKey.toString('hex'), v.market.recipient_secret);
  assert.equal(MARKET_RECIPIENT.publicKey.toString('hex'), v.market.recipient_public);

  const provider = signingKeyPairFromSeed(
    createHash('sha256').update(v.provider_seed_label).digest(),
  );
  assert.equal(provider.publicKey.toString('hex'), v.provider_public);
  assert.equal(offerMessage(v.body_text).toString('hex'), v.message);
  const offer = signOffer(JSON.parse(v.body_text) as OfferBody, provider);
  assert.equal(offer.bodyText, v.body_text);
  assert.equal(offer.sig, v.sig);
  assert.equal(encodeOffer(offer), v.offer_text);
  const decoded = decodeOffer(v.offer_text);
  assert.equal(decoded.body.seq, 3);
  for (const [at, valid] of Object.entries(v.valid_at as Record<string, boolean>)) {
    if (valid) checkOfferTime(decoded, Number(at));
    else assert.throws(() => checkOfferTime(decoded, Number(at)), { code: 'offer_expired' });
  }
});

test('offer vectors: every refused offer is refused with its code', async () => {
  assert.ok(v.refuse.length >= 6);
  for (const r of v.refuse as { why: string; code: string; text: string }[]) {
    await rejectsWith(
      Promise.resolve().then(() => decodeOffer(r.text)),
      r.code,
      /^the offer is invalid: /,
    );
  }
});
