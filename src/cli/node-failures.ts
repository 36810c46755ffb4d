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

/** One failure: "URL: reason". `message` may start with the URL the client called. */
export function nodeFailure(node: string, message: string | undefined, code?: string): string {
  const raw = (message ?? code ?? 'failed').replace(/^https?:\/\/\S*: /, '');
  const known = NETWORK_REASONS.find(([pattern]) => pattern.test(raw));
  return `${node}: ${known ? known[1] : raw}`;
}

/** Several failures in one line (one node's reason is not repeated for each entry). */
export function nodeFailures(failures: readonly string[]): string {
  return [...new Set(failures)].join('; ');
}
