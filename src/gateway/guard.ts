/**
 * Who may talk to a gateway. It holds its user's keys, so by default it serves this machine
 * only, and never a web page of another origin:
 *
 * - the client's address must be loopback (unless allow_remote);
 * - the Host header must be a loopback name (localhost, *.localhost, 127.x.y.z, [::1]), so that
 *   a DNS name rebound to 127.0.0.1 by a hostile page is refused; with allow_remote, IP
 *   literals and the configured allow_hosts are accepted too (IP literals cannot be rebound);
 * - a browser request from another origin is refused: an Origin header must be the gateway's
 *   own origin, and Sec-Fetch-Site must be same-origin or none. The one exception is a plain
 *   navigation (a link followed to one of the app's pages), which loads a page but no data.
 *
 * Pure: takes the request's facts, returns a verdict.
 */
import { isIP } from 'node:net';
import { isLoopbackAddress } from '../http/rate-limit.js';

export interface RequestFacts {
  readonly remoteAddress: string | undefined;
  readonly method: string;
  readonly path: string;
  readonly host: string | undefined;
  readonly origin: string | undefined;
  readonly secFetchSite: string | undefined;
  readonly secFetchMode: string | undefined;
}

export interface GuardOptions {
  readonly allowRemote: boolean;
  readonly allowHosts: readonly string[];
}

export type Verdict = { readonly ok: true } | { readonly ok: false; readonly reason: string };

export { isLoopbackAddress };

/** Splits a Host header into host name and port; undefined if it is not well formed. */
export function hostName(header: string): string | undefined {
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$/.exec(header);
  return match ? match[1]!.toLowerCase() : undefined;
}

export function isLoopbackName(name: string): boolean {
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  if (name === '[::1]') return true;
  return isIP(name) === 4 && name.startsWith('127.');
}

const OK: Verdict = { ok: true };

export function checkRequest(facts: RequestFacts, options: GuardOptions): Verdict {
  if (!options.allowRemote && !isLoopbackAddress(facts.remoteAddress)) {
    return { ok: false, reason: 'this gateway only serves clients on this machine' };
  }
  const name = facts.host ? hostName(facts.host) : undefined;
  if (!name) return { ok: false, reason: 'the Host header is missing or malformed' };
  const literal = isIP(name.replace(/^\[|\]$/g, '')) !== 0;
  const hostOk =
    isLoopbackName(name) || (options.allowRemote && (literal || options.allowHosts.includes(name)));
  if (!hostOk) {
    return { ok: false, reason: `Host "${name.slice(0, 100)}" is not a name of this gateway` };
  }
  const navigation =
    facts.method === 'GET' && facts.secFetchMode === 'navigate' && !facts.path.includes('/api/');
  if (facts.origin !== undefined && !navigation) {
    if (facts.origin !== `http://${facts.host}` && facts.origin !== `https://${facts.host}`) {
      return { ok: false, reason: 'requests from other origins are not accepted' };
    }
  }
  const site = facts.secFetchSite;
  if (site !== undefined && site !== 'same-origin' && site !== 'none' && !navigation) {
    return { ok: false, reason: 'requests from other sites are not accepted' };
  }
  return OK;
}
