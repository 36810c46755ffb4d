/**
 * nostr-tools' NIP-77 negentropy (range-based set reconciliation), run in one process between
 * two in-memory sets: the peer figure for reconciliation bytes and time. Messages are counted
 * in binary (hex length / 2), which is what negentropy itself would put on a binary wire.
 */
import { nip77 } from 'nostr-tools';

const { Negentropy, NegentropyStorageVector } = nip77;

export interface NegentropyResult {
  readonly roundTrips: number;
  readonly bytes: number;
  readonly ms: number;
  readonly have: number;
  readonly need: number;
}

export function negentropyReconcile(
  common: readonly [number, string][],
  onlyClient: readonly [number, string][],
  onlyServer: readonly [number, string][],
): NegentropyResult {
  const client = new NegentropyStorageVector();
  const server = new NegentropyStorageVector();
  for (const [t, id] of common) {
    client.insert(t, id);
    server.insert(t, id);
  }
  for (const [t, id] of onlyClient) client.insert(t, id);
  for (const [t, id] of onlyServer) server.insert(t, id);
  const started = performance.now();
  client.seal();
  server.seal();
  const ne = new Negentropy(client, 60_000);
  const ns = new Negentropy(server, 60_000);
  let have = 0;
  let need = 0;
  let bytes = 0;
  let roundTrips = 0;
  let message: string | null = ne.initiate();
  while (message) {
    bytes += message.length / 2;
    const answer: string | null = ns.reconcile(message);
    roundTrips += 1;
    if (!answer) break;
    bytes += answer.length / 2;
    message = ne.reconcile(
      answer,
      () => {
        have += 1;
      },
      () => {
        need += 1;
      },
    );
  }
  return { roundTrips, bytes, ms: performance.now() - started, have, need };
}
