/**
 * The payer header (docs/billing.md §2): a request that wants to be metered names the key that
 * pays for it and signs the request with it.
 *
 *   p2pcloud-payer: v2.<payer public key, 64 hex>.<t, decimal ms>.<sig, 128 hex>
 *   sig = Ed25519("p2pcloud/v2/payer" || node billing key (32 bytes) || lp32(method)
 *                 || lp32(path with query) || u64 t || SHA-256(body))
 *
 * The node's key is in the signed message so that a header made for one node is refused by
 * every other: a node cannot forward a captured header and bill it again elsewhere.
 *   request id = SHA-256(sig)
 *
 * Pure: no I/O.
 */
import { sign, verify, type SigningKeyPair } from '../../crypto/ed25519.js';
import { sha256 } from '../../crypto/sha256.js';
import { toHex, u32be, u64be, utf8 } from '../../encoding/bytes.js';
import { P2PError } from '../../errors.js';

export const PAYER_HEADER = 'p2pcloud-payer';
export const PAYER_DOMAIN = utf8('p2pcloud/v2/payer');
/** How far a header's time may be from the node's clock. */
export const PAYER_WINDOW_MS = 5 * 60 * 1000;
/** The longest header text: "v2." + 64 + "." + 16 digits + "." + 128. */
export const MAX_PAYER_HEADER_CHARS = 3 + 64 + 1 + 16 + 1 + 128;

const HEADER_RE = /^v2\.([0-9a-f]{64})\.(0|[1-9][0-9]{0,15})\.([0-9a-f]{128})$/;

export interface PayerHeader {
  /** The payer's Ed25519 public key. */
  readonly payer: Buffer;
  /** Milliseconds since the epoch, as the payer's clock read it. */
  readonly t: number;
  readonly sig: Buffer;
}

function nodeKey(node: Uint8Array): Uint8Array {
  if (node.length !== 32) throw new RangeError('a node billing key is 32 bytes');
  return node;
}

function lp32(text: string): Buffer {
  const bytes = utf8(text);
  return Buffer.concat([u32be(bytes.length), bytes]);
}

/** The exact bytes a payer signs. `bodyHash` is SHA-256 of the request body (of no bytes for none). */
export function payerMessage(
  node: Uint8Array,
  method: string,
  path: string,
  t: number,
  bodyHash: Uint8Array,
): Buffer {
  return Buffer.concat([PAYER_DOMAIN, nodeKey(node), lp32(method), lp32(path), u64be(t), bodyHash]);
}

/** The header text for one request to the node whose billing key is `node`. */
export function signPayerHeader(
  payer: SigningKeyPair,
  node: Uint8Array,
  method: string,
  path: string,
  t: number,
  body: Uint8Array = new Uint8Array(0),
): string {
  const sig = sign(payerMessage(node, method, path, t, sha256(body)), payer);
  return `v2.${toHex(payer.publicKey)}.${t}.${toHex(sig)}`;
}

/** Reads a header's parts; payer_invalid for anything that is not exactly the v2 form. */
export function parsePayerHeader(value: unknown): PayerHeader {
  if (typeof value !== 'string') {
    throw new P2PError('payer_invalid', 'give one p2pcloud-payer header');
  }
  if (value.length > MAX_PAYER_HEADER_CHARS) {
    throw new P2PError('payer_invalid', 'the p2pcloud-payer header is too long');
  }
  const m = HEADER_RE.exec(value);
  if (!m) {
    throw new P2PError(
      'payer_invalid',
      'the p2pcloud-payer header must be v2.<payer 64 hex>.<ms>.<signature 128 hex>',
    );
  }
  const t = Number(m[2]);
  if (!Number.isSafeInteger(t))
    throw new P2PError('payer_invalid', 'the payer time is out of range');
  return { payer: Buffer.from(m[1]!, 'hex'), t, sig: Buffer.from(m[3]!, 'hex') };
}

/**
 * Checks a parsed header against the request it came with: the time within `windowMs` of
 * `now`, then one signature verification over the message made for `node` (this node's billing
 * key): a header made for another node does not verify. Throws payer_invalid naming what failed.
 */
export function checkPayerHeader(
  header: PayerHeader,
  node: Uint8Array,
  method: string,
  path: string,
  bodyHash: Uint8Array,
  now: number,
  windowMs: number = PAYER_WINDOW_MS,
): void {
  if (Math.abs(header.t - now) > windowMs) {
    throw new P2PError(
      'payer_invalid',
      `the payer time is ${Math.round((header.t - now) / 1000)} s from the node's clock (at most ${windowMs / 1000} s allowed)`,
    );
  }
  if (!verify(header.sig, payerMessage(node, method, path, header.t, bodyHash), header.payer)) {
    throw new P2PError(
      'payer_invalid',
      'the payer signature does not verify for this node, method, path and body',
    );
  }
}

/** The request id receipts name a served request by: SHA-256 of the signature (64 hex). */
export function requestId(sig: Uint8Array): string {
  return toHex(sha256(sig));
}
