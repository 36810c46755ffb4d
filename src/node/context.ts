import type { FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { IndexDigests } from '../reconcile/index-cache.js';
import type { Store } from '../store/store.js';
import type { NodeConfig } from './config.js';
import type { IngestItem, IngestResult, Ingestor } from './ingest.js';
import type { NodeMetrics } from './metrics.js';
import type { Policy } from './policy.js';
import type { TicketGate } from './tickets/gate.js';

/** Told of each put once its entries are checked and stored: the items sent and what became of each. */
export type PutObserver = (
  request: FastifyRequest,
  items: readonly IngestItem[],
  results: readonly IngestResult[],
) => void;

/** Everything a route handler may use. Built once by startNode (or by tests). */
export interface NodeContext {
  readonly config: NodeConfig;
  readonly policy: Policy;
  readonly store: Store;
  readonly ingestor: Ingestor;
  readonly metrics: NodeMetrics;
  readonly log: Logger;
  readonly version: string;
  /** Random id of this node process, sent in hello so a node can recognise itself. */
  readonly nodeId: string;
  /** URLs this node announces to peers: public_urls, or the address it listens on. */
  readonly urls: string[];
  /** Bucket digests of the store, shared by /index and the sync loop so each change is hashed once. */
  readonly digests: IndexDigests;
  /** Set once the node begins to stop: from then on it is not ready (GET /ready). */
  readonly lifecycle: { closing: boolean };
  /** Extra status sections (sync progress, …) contributed by optional subsystems. */
  readonly status: Map<string, () => unknown>;
  /** Tickets in place of proof of work; undefined when the config has no `tickets`. */
  readonly tickets?: TicketGate;
  /** Subsystems told of every put (metering); empty unless one is turned on. */
  readonly putObservers: PutObserver[];
}
