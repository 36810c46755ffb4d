/**
 * Offer format v1 (docs/market.md §3): what a provider sells, signed by the provider's Ed25519
 * key. The envelope carries the body as exact JSON text, so the signature covers exact bytes
 * and needs no canonical JSON:
 *
 *   { "type": "p2pcloud/offer", "v": 1, "body": "{…}", "sig": "<128 hex>" }
 *
 *   signed message = "p2pcloud/v1/offer" || u32be(len(body)) || body (UTF-8)
 *
 * Parsing is strict: unknown or missing members, out-of-range numbers and oversized lists are
 * refused with `offer_invalid`; an offer outside its validity with `offer_expired`. Pure.
 */
import { sign, verify, type SigningKeyPair } from '../../crypto/ed25519.js';
import { fromHex, toHex, u32be, utf8 } from '../../encoding/bytes.js';
import { P2PError } from '../../errors.js';

export const OFFER_TYPE = 'p2pcloud/offer';
export const OFFER_DOMAIN = 'p2pcloud/v1/offer';
/** Largest offer text read: a few URLs and lists; anything near this is not an offer. */
export const MAX_OFFER_BYTES = 16 * 1024;
export const MAX_NODES = 8;
export const MAX_URL_CHARS = 200;
export const MAX_REGIONS = 16;
export const MAX_TABLES = 64;
export const MAX_TICKET_KEYS = 16;
export const MAX_UNIT_CHARS = 16;
/** Largest price, in the offer's unit per quantity; also bounds arithmetic when ranking. */
export const MAX_PRICE = 1e12;

export interface OfferPrices {
  /** Name of the unit every price is counted in, e.g. "USD" or "sat". */
  readonly unit: string;
  /** Per GB (10^9 bytes) stored for 30 days. */
  readonly gb_month: number;
  /** Per GB served out. */
  readonly gb_out: number;
  /** Per million fuel units of compute. */
  readonly mfuel: number;
}

export interface OfferBody {
  readonly v: 1;
  /** Hex Ed25519 public key of the provider; the signature is by this key. */
  readonly provider: string;
  /** Base URLs of the provider's nodes (http or https). */
  readonly nodes: readonly string[];
  /** Bytes the provider offers to store. */
  readonly capacity: number;
  readonly prices: OfferPrices;
  /** Region names, lowercase: [a-z0-9-]{1,32}. */
  readonly regions: readonly string[];
  /** "*" for any table, or hex table keys. */
  readonly tables: '*' | readonly string[];
  /** Hex ticket issuer key ids (docs/tickets.md) the nodes accept in place of proof of work. */
  readonly tickets: readonly string[];
  /** Milliseconds since the epoch. */
  readonly valid_from: number;
  readonly valid_until: number;
  /** The provider's counter: an offer with a higher seq replaces a lower one. */
  readonly seq: number;
}

export interface Offer {
  readonly body: OfferBody;
  /** The body text exactly as signed. */
  readonly bodyText: string;
  readonly sig: string;
}

const HEX32 = /^[0-9a-f]{64}$/;
const REGION = /^[a-z0-9-]{1,32}$/;
const UNIT = /^[A-Za-z0-9_-]{1,16}$/;
const BODY_MEMBERS = [
  'v',
  'provider',
  'nodes',
  'capacity',
  'prices',
  'regions',
  'tables',
  'tickets',
  'valid_from',
  'valid_until',
  'seq',
];
const PRICE_MEMBERS = ['unit', 'gb_month', 'gb_out', 'mfuel'];

export function offerMessage(bodyText: string): Buffer {
  const body = utf8(bodyText);
  return Buffer.concat([utf8(OFFER_DOMAIN), u32be(body.length), body]);
}

function invalid(why: string): never {
  throw new P2PError('offer_invalid', `the offer is invalid: ${why}`);
}

function object(value: unknown, what: string, members: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    invalid(`${what} is not a JSON object`);
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  for (const key of keys) {
    if (!members.includes(key))
      invalid(`${what} has an unknown member ${JSON.stringify(key.slice(0, 40))}`);
  }
  for (const m of members) if (!Object.hasOwn(record, m)) invalid(`${what} lacks "${m}"`);
  return record;
}

function count(value: unknown, what: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > max) {
    invalid(`"${what}" is not a whole number from 0 to ${max}`);
  }
  return value;
}

function price(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_PRICE) {
    invalid(`price "${what}" is not a number from 0 to ${MAX_PRICE}`);
  }
  return value;
}

function list(
  value: unknown,
  what: string,
  max: number,
  pattern: (s: string) => boolean,
): string[] {
  if (!Array.isArray(value) || value.length > max)
    invalid(`"${what}" is not a list of at most ${max}`);
  const seen = new Set<string>();
  for (const item of value) {
    if (typeof item !== 'string' || !pattern(item)) invalid(`"${what}" holds a malformed item`);
    if (seen.has(item)) invalid(`"${what}" repeats an item`);
    seen.add(item);
  }
  return value as string[];
}

function isNodeUrl(text: string): boolean {
  if (text.length > MAX_URL_CHARS) return false;
  try {
    const url = new URL(text);
    return (
      (url.protocol === 'http:' || url.protocol === 'https:') &&
      url.username === '' &&
      url.password === '' &&
      url.search === '' &&
      url.hash === ''
    );
  } catch {
    return false;
  }
}

/** Checks a parsed body against the format; returns it typed, or throws offer_invalid. */
export function checkOfferBody(value: unknown): OfferBody {
  const b = object(value, 'the body', BODY_MEMBERS);
  if (b.v !== 1) invalid('the body version is not 1');
  if (typeof b.provider !== 'string' || !HEX32.test(b.provider)) {
    invalid('"provider" is not 64 lowercase hex characters');
  }
  const nodes = list(b.nodes, 'nodes', MAX_NODES, isNodeUrl);
  if (nodes.length === 0) invalid('"nodes" is empty');
  const capacity = count(b.capacity, 'capacity');
  const p = object(b.prices, '"prices"', PRICE_MEMBERS);
  if (typeof p.unit !== 'string' || !UNIT.test(p.unit)) invalid('"prices.unit" is not a unit name');
  const prices: OfferPrices = {
    unit: p.unit,
    gb_month: price(p.gb_month, 'gb_month'),
    gb_out: price(p.gb_out, 'gb_out'),
    mfuel: price(p.mfuel, 'mfuel'),
  };
  const regions = list(b.regions, 'regions', MAX_REGIONS, (s) => REGION.test(s));
  const tables =
    b.tables === '*' ? '*' : list(b.tables, 'tables', MAX_TABLES, (s) => HEX32.test(s));
  const tickets = list(b.tickets, 'tickets', MAX_TICKET_KEYS, (s) => HEX32.test(s));
  const validFrom = count(b.valid_from, 'valid_from');
  const validUntil = count(b.valid_until, 'valid_until');
  if (validUntil <= validFrom) invalid('"valid_until" is not after "valid_from"');
  const seq = count(b.seq, 'seq');
  return {
    v: 1,
    provider: b.provider as string,
    nodes,
    capacity,
    prices,
    regions,
    tables,
    tickets,
    valid_from: validFrom,
    valid_until: validUntil,
    seq,
  };
}

/** Signs a body with the provider's key (which must be the body's `provider`). */
export function signOffer(body: OfferBody, provider: SigningKeyPair): Offer {
  const checked = checkOfferBody(body);
  if (checked.provider !== toHex(provider.publicKey)) {
    invalid('"provider" is not the signing key');
  }
  const bodyText = JSON.stringify(checked);
  if (Buffer.byteLength(bodyText) > MAX_OFFER_BYTES - 512) invalid('the body is too large');
  return { body: checked, bodyText, sig: toHex(sign(offerMessage(bodyText), provider)) };
}

/** The offer's text, as the market entry's plaintext carries it. */
export function encodeOffer(offer: Offer): string {
  return JSON.stringify({ type: OFFER_TYPE, v: 1, body: offer.bodyText, sig: offer.sig });
}

/**
 * Reads an offer: exact shape, bounds, and the provider's signature over the body text.
 * Throws offer_invalid; validity in time is a separate check (checkOfferTime).
 */
export function decodeOffer(text: string): Offer {
  if (Buffer.byteLength(text) > MAX_OFFER_BYTES)
    invalid(`it is larger than ${MAX_OFFER_BYTES} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    invalid('it is not JSON');
  }
  const envelope = object(value, 'the offer', ['type', 'v', 'body', 'sig']);
  if (envelope.type !== OFFER_TYPE || envelope.v !== 1) invalid('it is not a version 1 offer');
  if (typeof envelope.body !== 'string') invalid('"body" is not a string');
  const sig = typeof envelope.sig === 'string' ? fromHex(envelope.sig, 64) : undefined;
  if (!sig || envelope.sig !== toHex(sig)) invalid('"sig" is not 128 lowercase hex characters');
  let bodyValue: unknown;
  try {
    bodyValue = JSON.parse(envelope.body);
  } catch {
    invalid('"body" is not JSON');
  }
  const body = checkOfferBody(bodyValue);
  if (!verify(sig, offerMessage(envelope.body), fromHex(body.provider, 32)!)) {
    invalid("the signature is not the provider's");
  }
  return { body, bodyText: envelope.body, sig: envelope.sig as string };
}

/** Throws offer_expired unless `now` (ms) is within [valid_from, valid_until). */
export function checkOfferTime(offer: Offer, now: number): void {
  const { valid_from: from, valid_until: until } = offer.body;
  if (now < from || now >= until) {
    throw new P2PError(
      'offer_expired',
      `the offer of ${offer.body.provider.slice(0, 16)}… is valid from ${new Date(from).toISOString()} until ${new Date(until).toISOString()}, not now`,
    );
  }
}
