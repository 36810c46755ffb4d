#!/usr/bin/env node
// Writes docs/vectors/offers.json (docs/market.md §7): the market table and recipient keys,
// an offer signed by a fixed provider key, and offers a reader must refuse, with their codes.
// Uses the compiled code in dist/ (build first: npx tsc -p tsconfig.json). Ed25519 signatures
// are deterministic, so the file only changes when the format does;
// test/market/offer-vectors.test.ts recomputes every value.
import { createHash } from 'node:crypto';
import { dist, writeVectors } from './lib/vector-file.mjs';

const { MARKET_SEED, MARKET_TABLE, MARKET_RECIPIENT } = await dist('market/offers/market-keys.js');
const { signOffer, encodeOffer, offerMessage } = await dist('market/offers/offer.js');
const signer = await dist('crypto/ed25519.js');
const { signingKeyPairFromSeed } = signer;

const seedOf = (label) => createHash('sha256').update(label).digest();
const provider = signingKeyPairFromSeed(seedOf('p2pcloud offer vector provider'));
const other = signingKeyPairFromSeed(seedOf('p2pcloud offer vector other'));

const body = {
  v: 1,
  provider: provider.publicKey.toString('hex'),
  nodes: ['https://node1.example.net', 'http://203.0.113.7:7447'],
  capacity: 2000000000000,
  prices: { unit: 'USD', gb_month: 0.004, gb_out: 0.01, mfuel: 0.25 },
  regions: ['eu-west', 'eu-central'],
  tables: '*',
  tickets: ['7f'.repeat(32)],
  valid_from: 1798761600000,
  valid_until: 1801353600000,
  seq: 3,
};
const offer = signOffer(body, provider);
const text = encodeOffer(offer);

// Same body signed by another key: the signature is not the provider's.
const forged = encodeOffer({
  ...signOffer({ ...body, provider: other.publicKey.toString('hex') }, other),
  bodyText: offer.bodyText,
});
const refuse = [
  { why: 'signature by another key than "provider"', code: 'offer_invalid', text: forged },
  {
    why: 'unknown body member',
    code: 'offer_invalid',
    text: encodeOffer(signOfferText(JSON.stringify({ ...body, extra: 1 }))),
  },
  {
    why: 'valid_until not after valid_from',
    code: 'offer_invalid',
    text: encodeOffer(signOfferText(JSON.stringify({ ...body, valid_until: body.valid_from }))),
  },
  {
    why: 'node URL with a query',
    code: 'offer_invalid',
    text: encodeOffer(signOfferText(JSON.stringify({ ...body, nodes: ['http://a.example/?x=1'] }))),
  },
  {
    why: 'negative price',
    code: 'offer_invalid',
    text: encodeOffer(
      signOfferText(JSON.stringify({ ...body, prices: { ...body.prices, gb_out: -1 } })),
    ),
  },
  {
    why: 'uppercase hex signature',
    code: 'offer_invalid',
    text: text.replace(offer.sig, offer.sig.toUpperCase()),
  },
];

/** Signs a body text as given (even one a writer would refuse), to vector what readers refuse. */
function signOfferText(bodyText) {
  const { sign } = signer;
  return { bodyText, sig: sign(offerMessage(bodyText), provider).toString('hex') };
}

writeVectors('offers.json', 'offer', {
  about:
    'Offer format v1 (docs/market.md). Provider seed: SHA-256 of the UTF-8 text in provider_seed_label.',
  market: {
    seed: MARKET_SEED,
    table_seed: MARKET_TABLE.signing.seed.toString('hex'),
    table_public: MARKET_TABLE.signing.publicKey.toString('hex'),
    recipient_secret: MARKET_RECIPIENT.secretKey.toString('hex'),
    recipient_public: MARKET_RECIPIENT.publicKey.toString('hex'),
  },
  provider_seed_label: 'p2pcloud offer vector provider',
  provider_public: provider.publicKey.toString('hex'),
  body_text: offer.bodyText,
  message: offerMessage(offer.bodyText).toString('hex'),
  sig: offer.sig,
  offer_text: text,
  valid_at: {
    [String(body.valid_from)]: true,
    [String(body.valid_until - 1)]: true,
    [String(body.valid_until)]: false,
    [String(body.valid_from - 1)]: false,
  },
  refuse,
});
