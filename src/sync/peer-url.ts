/**
 * Validation of peer URLs learnt from other nodes. A URL is only stored or dialled if it is
 * plain http(s) to a host name or IP address (or a v3 onion address, dialled through a proxy),
 * short, without credentials, query or fragment. Private and loopback addresses are refused
 * unless the node allows them (clusters on one machine or a LAN do).
 */
import { isIP } from 'node:net';
import { createConnector, type Connector } from '../client/http.js';
import { createProxyConnector, isOnionHost, isV3OnionHost } from '../client/proxy.js';
import { embeddedIPv4, ipv6Groups } from '../http/ip-address.js';

export const MAX_PEER_URL_LENGTH = 256;

export type PeerUrlCheck = { ok: true; url: string } | { ok: false; reason: string };

const HOSTNAME_RE =
  /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/**
 * Addresses a peer may not have: private, shared, loopback, link-local, reserved, benchmarking,
 * documentation and multicast ranges, none of which is a public node.
 */
function isPrivateIPv4(address: string): boolean {
  const [a, b, c] = address.split('.').map(Number) as [number, number, number];
  return (
    a === 10 ||
    a === 127 ||
    a === 0 ||
    (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 100 && b >= 64 && b <= 127) ||
    (a === 192 && b === 0 && (c === 0 || c === 2)) ||
    (a === 198 && (b === 18 || b === 19)) ||
    (a === 198 && b === 51 && c === 100) ||
    (a === 203 && b === 0 && c === 113) ||
    a >= 224
  );
}

function isPrivateIPv6(address: string): boolean {
  const groups = ipv6Groups(address);
  if (!groups) return false;
  const [g0, g1, g2] = groups as [number, number, number];
  // :: and ::1 first: they would read as the IPv4-compatible 0.0.0.0 and 0.0.0.1.
  if (groups.slice(0, 7).every((g) => g === 0) && groups[7]! <= 1) return true;
  const inner = embeddedIPv4(groups);
  if (inner !== undefined) return isPrivateIPv4(inner);
  return (
    (g0 & 0xfe00) === 0xfc00 || // unique local fc00::/7
    (g0 & 0xffc0) === 0xfe80 || // link-local fe80::/10
    (g0 & 0xffc0) === 0xfec0 || // site-local fec0::/10 (deprecated, still routed locally)
    (g0 & 0xff00) === 0xff00 || // multicast
    (g0 === 0x64 && g1 === 0xff9b && g2 === 1) || // local-use NAT64 64:ff9b:1::/48
    (g0 === 0x2001 && g1 === 0x0db8) || // documentation
    (g0 === 0x2001 && g1 === 0) || // Teredo: carries an IPv4 address in disguise
    (g0 === 0x100 && groups.slice(1, 4).every((g) => g === 0)) // discard-only 100::/64
  );
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
  if (isOnionHost(host) && !isV3OnionHost(host)) {
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
/** The same two per proxy a node is configured with (one, in practice). */
const proxied = new Map<string, { any: Connector; publicOnly: Connector }>();

function proxyPools(proxy: string): { any: Connector; publicOnly: Connector } {
  let pools = proxied.get(proxy);
  if (!pools) {
    pools = {
      any: createProxyConnector(proxy),
      publicOnly: createProxyConnector(proxy, (address) => !isPrivateHost(address)),
    };
    proxied.set(proxy, pools);
  }
  return pools;
}

/**
 * The connection pools a peer is dialled on. Unless the node allows private peers (or the
 * operator configured this very peer), a connection to a private, loopback or link-local
 * address is refused when it is made, whatever name led to it: checking the URL text alone
 * would let a name that resolves to 127.0.0.1 through. With a proxy (`proxy`, socks5h://),
 * every peer is dialled through it and the proxy resolves names: the rule then applies to
 * literal addresses in URLs, and names are the proxy's to resolve (docs/protocol.md §13.10).
 */
export function peerConnector(
  allowPrivate: boolean,
  configured = false,
  proxy: string | null = null,
): Connector {
  const open = allowPrivate || configured;
  if (proxy) {
    const pools = proxyPools(proxy);
    return open ? pools.any : pools.publicOnly;
  }
  return open ? anyAddress : publicOnly;
}
