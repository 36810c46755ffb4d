/**
 * Outgoing calls through a SOCKS5 proxy (Tor's SOCKSPort, ssh -D, microsocks, dante). Only
 * `socks5h://` is spoken: the proxy resolves host names, so no name a process dials reaches the
 * local resolver. `socks5://` would resolve them here first, telling the local network (and
 * whoever runs its DNS) every name dialled, and cannot reach .onion names at all: it is refused.
 */
import { SocksClientError } from 'socks';
import { SocksProxyAgent } from 'socks-proxy-agent';
import { z } from 'zod';
import { P2PError } from '../errors.js';
import type { Connector } from './connector.js';

/** A proxy's host: a DNS name, an IPv4 address or a bracketed IPv6 address. */
const PROXY_HOST_RE = /^(?:\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?)$/i;

/** A v3 onion address: 56 base32 characters, then `.onion`. */
const ONION_RE = /^[a-z2-7]{56}\.onion$/;

/**
 * Whether `host` (a URL's hostname) is an onion service name, which only a proxy can reach.
 * Trailing dots are dropped first: `x.onion.` is the same name to a resolver, and a check
 * that missed it would hand the name to the local DNS.
 */
export function isOnionHost(host: string): boolean {
  return host.toLowerCase().replace(/\.+$/, '').endsWith('.onion');
}

/** Whether `host` is a well-formed v3 onion name (older forms are not reachable any more). */
export function isV3OnionHost(host: string): boolean {
  return ONION_RE.test(host.toLowerCase());
}

/** Whether a URL's host is an onion name; false for text that is not a URL. */
export function isOnionUrl(url: string): boolean {
  try {
    return isOnionHost(new URL(url).hostname);
  } catch {
    return false;
  }
}

/**
 * Checks a proxy URL and returns it normalised (`socks5h://host:port`). Throws bad_argument
 * with `option` (a flag or config key) at the start of the message.
 */
export function parseProxyUrl(option: string, text: string): string {
  const bad = (why: string): P2PError =>
    new P2PError('bad_argument', `${option}: ${JSON.stringify(text.slice(0, 100))} ${why}`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw bad('is not a proxy URL (expected socks5h://HOST:PORT)');
  }
  if (url.protocol === 'socks5:' || url.protocol === 'socks:') {
    throw bad(
      'resolves host names on this machine, which tells its DNS every name dialled: use socks5h://HOST:PORT (names resolved by the proxy)',
    );
  }
  if (url.protocol !== 'socks5h:') throw bad('is not a SOCKS5 proxy URL (expected socks5h://)');
  if (url.username || url.password) throw bad('must not carry a user name or password');
  if (url.pathname.replace(/^\/+$/, '') || url.search || url.hash) {
    throw bad('must be socks5h://HOST:PORT without a path, query or fragment');
  }
  if (!url.hostname) throw bad('has no host');
  // socks5h is no special scheme to the URL parser: it keeps any host text as it is.
  if (!PROXY_HOST_RE.test(url.hostname)) {
    throw bad('has a host that is no DNS name, IPv4 address or bracketed IPv6 address');
  }
  if (!url.port) throw bad('has no port (socks5h://HOST:PORT; Tor listens on 9050)');
  if (url.port === '0') throw bad('has port 0, which nothing listens on');
  return `socks5h://${url.host.toLowerCase()}`;
}

/**
 * The `proxy` setting of a node's or a gateway's config file: null (direct), or a socks5h URL,
 * checked and normalised as `--proxy` is.
 */
export const proxySettingSchema = z
  .string()
  .nullable()
  .default(null)
  .superRefine((text, ctx) => {
    if (text === null) return;
    try {
      parseProxyUrl('proxy', text);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message.replace(/^proxy: /, '') });
    }
  })
  .transform((text) => (text === null ? null : parseProxyUrl('proxy', text)));

/**
 * A Connector whose every connection is opened by the proxy, with keep-alive pools as the
 * direct one. `proxy` must come from parseProxyUrl. The proxy resolves names, so an address
 * rule can only be applied here to literal IP addresses in a URL (call() does that with
 * `allows`); for names the proxy is trusted.
 */
export function createProxyConnector(
  proxy: string,
  allows?: (address: string) => boolean,
): Connector {
  const options = { keepAlive: true, maxFreeSockets: 16 };
  return {
    http: new SocksProxyAgent(proxy, options),
    https: new SocksProxyAgent(proxy, options),
    proxy,
    ...(allows ? { allows } : {}),
  };
}

/**
 * What a failed call through a proxy was: the proxy could not reach the node (the proxy said
 * so, with its reason), or the proxy itself failed (down, not SOCKS5, too slow). Undefined for
 * errors that did not come from the proxy stage.
 */
export function proxyFailure(error: unknown, proxy: string, url: string): P2PError | undefined {
  // The proxy's own socket errors and handshake failures are the socks client's.
  if (!(error instanceof SocksClientError)) return undefined;
  const rejected = /^Socks5 proxy rejected connection - (\w+)/.exec(error.message);
  if (rejected) {
    return new P2PError(
      'node_unreachable',
      `${url}: the proxy ${proxy} could not reach it (${rejected[1]!})`,
      { node: url },
    );
  }
  return new P2PError('proxy_unreachable', `${url}: proxy ${proxy} failed: ${error.message}`, {
    node: url,
    proxy,
  });
}
