/**
 * Validation of peer URLs learnt from other nodes. A URL is only stored or dialled if it is
 * plain http(s) to a host name or IP address (or a v3 onion address, for later transports),
 * short, without credentials, query or fragment. Private and loopback addresses are refused
 * unless the node allows them (clusters on one machine or a LAN do).
 */
import { isIP } from 'node:net';
import { createConnector, type Connector } from '../client/http.js';

export const MAX_PEER_URL_LENGTH = 256;

export type PeerUrlCheck = { ok: true; url: string } | { ok: false; reason: string };

const HOSTNAME_RE =
  /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;
const ONION_RE = /^[a-z2-7]{56}\.onion$/;

function isPrivateIPv4(address: string): boolean {
  const [a, b] = address.split('.').map(Number) as [number, number];
  return (
    a === 10 ||
    a === 127 ||
    a === 0 ||
    (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 100 && b >= 64 && b <= 127) ||
    a >= 224
  );
}

function isPrivateIPv6(address: string): boolean {
  const lower = address.toLowerCase();
  if (lower === '::1' || lower === '::') return true;
  // fc00::/7 (unique local) and fe80::/10 (link-local)
  if (/^f[cd][0-9a-f]{2}:/.test(lower) || /^fe[89ab][0-9a-f]:/.test(lower)) return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (mapped) return isPrivateIPv4(mapped[1]!);
  // IPv4-mapped addresses as URL parsing writes them: [::ffff:127.0.0.1] becomes [::ffff:7f00:1].
  const mappedHex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (mappedHex) {
    const high = parseInt(mappedHex[1]!, 16);
    const low = parseInt(mappedHex[2]!, 16);
    return isPrivateIPv4(`${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`);
  }
  return false;
}

export function isPrivateHost(host: string): boolean {
  const bare = host.startsWith('[') ? host.slice(1, -1) : host;
  if (bare === 'localhost' || bare.endsWith('.localhost')) return true;
  const family = isIP(bare);
  if (family === 4) return isPrivateIPv4(bare);
  if (family === 6) return isPrivateIPv6(bare);
  return false;
}

export function checkPeerUrl(input: unknown, allowPrivate: boolean): PeerUrlCheck {
  if (typeof input !== 'string') return { ok: false, reason: 'URL must be a string' };
  if (input.length === 0 || input.length > MAX_PEER_URL_LENGTH) {
    return { ok: false, reason: `URL must be 1..${MAX_PEER_URL_LENGTH} characters` };
  }
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return { ok: false, reason: 'not a valid URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { ok: false, reason: `scheme ${url.protocol} is not allowed (http or https only)` };
  }
  if (url.username || url.password) return { ok: false, reason: 'URL must not carry credentials' };
  if (url.search || url.hash || input.includes('#') || input.includes('?')) {
    return { ok: false, reason: 'URL must not have a query or fragment' };
  }
  const host = url.hostname.toLowerCase();
  const bare = host.startsWith('[') ? host.slice(1, -1) : host;
  const isAddress = isIP(bare) !== 0;
  if (!isAddress && !HOSTNAME_RE.test(host)) return { ok: false, reason: 'host name is not valid' };
  if (host.endsWith('.onion') && !ONION_RE.test(host)) {
    return { ok: false, reason: 'onion address must be a v3 address' };
  }
  if (!allowPrivate && isPrivateHost(host)) {
    return { ok: false, reason: 'private, loopback and link-local addresses are not accepted' };
  }
  const path = url.pathname.replace(/\/+$/, '');
  return { ok: true, url: `${url.protocol}//${url.host}${path}` };
}

/** Pools for peers that may be on any address, and for peers that must be on public ones. */
const anyAddress = createConnector();
const publicOnly = createConnector((address) => !isPrivateHost(address));

/**
 * The connection pools a peer is dialled on. Unless the node allows private peers (or the
 * operator configured this very peer), a connection to a private, loopback or link-local
 * address is refused when it is made, whatever name led to it: checking the URL text alone
 * would let a name that resolves to 127.0.0.1 through.
 */
export function peerConnector(allowPrivate: boolean, configured = false): Connector {
  return allowPrivate || configured ? anyAddress : publicOnly;
}
