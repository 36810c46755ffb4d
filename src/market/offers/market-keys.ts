/**
 * The market table and its recipient, derived from a fixed public seed so that every client
 * and provider computes the same keys without asking anyone (docs/market.md §2):
 *
 *   prk       = HKDF-Extract(salt = "", ikm = "p2pcloud/v1/market")
 *   table     = Ed25519 key pair from seed HKDF-Expand(prk, "table", 32)
 *   recipient = X25519 key pair from secret HKDF-Expand(prk, "recipient", 32)
 *
 * Both secrets are public by construction: anyone may post to the market table and anyone may
 * open what is in it. Offers are public; what makes one trustworthy is the provider's own
 * signature inside it (offer.ts), not the entry's. Pure.
 */
import { hkdfExpand, hkdfExtract } from '../../crypto/hkdf.js';
import { signingKeyPairFromSeed } from '../../crypto/ed25519.js';
import { boxKeyPairFromSecret, type BoxKeyPair } from '../../crypto/x25519.js';
import { utf8 } from '../../encoding/bytes.js';
import type { TableKey } from '../../keys/keys.js';

export const MARKET_SEED = 'p2pcloud/v1/market';

const prk = hkdfExtract(new Uint8Array(0), utf8(MARKET_SEED));

export const MARKET_TABLE: TableKey = {
  signing: signingKeyPairFromSeed(hkdfExpand(prk, utf8('table'), 32)),
};

export const MARKET_RECIPIENT: BoxKeyPair = boxKeyPairFromSecret(
  hkdfExpand(prk, utf8('recipient'), 32),
);
