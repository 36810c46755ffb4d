/**
 * Who may read /metrics. Metrics name peers and show what a node does, so by default only
 * clients on the node's own machine may; an operator whose Prometheus runs elsewhere sets a
 * token, and then every client must present it (a reverse proxy on the same machine makes
 * remote clients look local, so with a token loopback is not trusted either).
 */
import { timingSafeEqual } from 'node:crypto';
import { sha256 } from '../../crypto/sha256.js';
import { isLoopbackAddress } from '../../http/rate-limit.js';

export type MetricsAccess = { readonly allowed: true } | { readonly allowed: false; why: string };

export function metricsAccess(
  token: string | null,
  remoteAddress: string | undefined,
  authorization: string | undefined,
): MetricsAccess {
  if (token === null) {
    return isLoopbackAddress(remoteAddress)
      ? { allowed: true }
      : { allowed: false, why: 'metrics are served to clients on this machine only' };
  }
  const match = /^Bearer +(\S+) *$/i.exec(authorization ?? '');
  // Hashes have equal lengths, so the comparison takes the same time whatever was sent.
  if (match && timingSafeEqual(sha256(Buffer.from(match[1]!)), sha256(Buffer.from(token)))) {
    return { allowed: true };
  }
  return { allowed: false, why: 'metrics need the bearer token set in metrics.token' };
}
