/**
 * An issuer's published keys (docs/tickets.md §3), each record checked before it is shown: what
 * an operator reads to trust the issuer in a node's `tickets` config or an offer's `tickets`.
 */
import { P2PError } from '../../errors.js';
import { callJson, endpoint, type CallOptions } from '../http.js';
import { parseIssuerKey, type IssuerKeyRecord } from '../../market/tickets/issuer-key.js';

export interface IssuerKeys {
  /** The id of the key that signs now. */
  readonly current: string;
  /** Every key the issuer publishes, the current one first. */
  readonly keys: readonly IssuerKeyRecord[];
}

export async function issuerKeys(issuer: string, options: CallOptions = {}): Promise<IssuerKeys> {
  const url = endpoint(issuer, '/issuer/keys');
  const answer = await callJson<{ current?: unknown; keys?: unknown }>('GET', url, undefined, {
    maxResponseBytes: 256 * 1024,
    ...options,
  });
  if (!Array.isArray(answer.keys)) {
    throw new P2PError('node_lied', `${url}: the answer lists no keys`);
  }
  const keys = await Promise.all(
    answer.keys.map(async (k) => (await parseIssuerKey(k, 'node_error')).record),
  );
  const current = keys.find((k) => k.id === answer.current);
  if (!current) {
    throw new P2PError('node_lied', `${url}: the current key is not among the keys listed`);
  }
  return { current: current.id, keys: [current, ...keys.filter((k) => k !== current)] };
}
