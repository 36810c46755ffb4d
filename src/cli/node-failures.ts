/**
 * Why a node failed, in words for the person at the terminal: the node's base URL and the reason,
 * without the request URL the client used (its query string means nothing to them) or the
 * socket library's error names.
 */

/** The reasons fetch gives for connections that never happened, and what they mean. */
const NETWORK_REASONS: readonly [RegExp, string][] = [
  [/ECONNREFUSED/, 'connection refused (is a node running there?)'],
  [/ENOTFOUND|EAI_AGAIN/, 'host not found'],
  [/ECONNRESET|socket hang up|other side closed/i, 'the connection was closed'],
  [/EHOSTUNREACH|ENETUNREACH/, 'host unreachable'],
  [/ETIMEDOUT|timed out/, 'timed out'],
  [/bad port/, 'that port is not allowed for HTTP'],
];

function reason(raw: string): string {
  const known = NETWORK_REASONS.find(([pattern]) => pattern.test(raw));
  return known ? known[1] : raw;
}

/** One failure: "URL: reason". `message` may start with the URL the client called. */
export function nodeFailure(node: string, message: string | undefined, code?: string): string {
  const raw = (message ?? code ?? 'failed').replace(/^https?:\/\/\S*: /, '');
  // The proxy's own failure: its reasons are about the proxy, not the node.
  const proxy = /^proxy (\S+) failed: (.*)$/s.exec(raw);
  if (proxy) {
    const why = /ECONNREFUSED/.test(proxy[2]!)
      ? 'connection refused (is the proxy running?)'
      : reason(proxy[2]!);
    return `${node}: the proxy ${proxy[1]!} failed: ${why}`;
  }
  return `${node}: ${reason(raw)}`;
}

/** Several failures in one line (one node's reason is not repeated for each entry). */
export function nodeFailures(failures: readonly string[]): string {
  return [...new Set(failures)].join('; ');
}
