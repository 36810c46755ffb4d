/**
 * The node's metrics in Prometheus form, on a registry of its own (several nodes in one
 * process each keep theirs), followed by the process's. Counters the node keeps anyway (NodeMetrics) are read when
 * Prometheus scrapes, so nothing is added to the path of a put; the store's totals are read
 * once per scrape; only request latencies and error answers are observed as they happen.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { StoreStats } from '../../store/store.js';
import type { NodeContext } from '../context.js';

/** Routes whose handling time is observed, by the route's path. */
export const TIMED_ROUTES: Readonly<Record<string, string>> = {
  '/put': 'put',
  '/get': 'get',
  '/index': 'index',
  '/hello': 'hello',
};

/**
 * Process and Node.js metrics (memory, event-loop lag, GC, descriptors): one set per process,
 * shared by every node in it, since they describe the process. prom-client's collectors
 * install event-loop and GC monitors that are never removed, so they are made once, on a
 * registry of this module's own (not prom-client's global one, which an embedder may use).
 */
let processRegistry: Registry | undefined;

function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/** Seconds: from a cached /index (well under a millisecond) to a large batch being verified. */
const LATENCY_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

export class NodePrometheus {
  readonly registry = new Registry();
  private readonly latency: Histogram<'route'>;
  private readonly errors: Counter<'code'>;
  private stats: Promise<StoreStats | undefined> | undefined;

  constructor(private readonly ctx: NodeContext) {
    processMetrics();
    const registers = [this.registry];
    const metrics = ctx.metrics;

    const stats = (): Promise<StoreStats | undefined> => this.storeStats();
    const gauge = (
      name: string,
      help: string,
      read: (s: StoreStats) => number | undefined,
    ): void => {
      new Gauge({
        name,
        help,
        registers,
        async collect() {
          const value = await stats();
          const v = value ? read(value) : undefined;
          if (v !== undefined) this.set(v);
        },
      });
    };
    gauge('p2pcloud_store_entries', 'Entries stored', (s) => s.entries);
    gauge('p2pcloud_store_bytes', 'Bytes of the entries stored', (s) => s.bytes);
    gauge('p2pcloud_store_tables', 'Tables with entries stored', (s) => s.tables);
    gauge('p2pcloud_store_disk_bytes', 'Size of the store on disk', (s) => s.diskBytes);
    new Gauge({
      name: 'p2pcloud_store_up',
      help: '1 when the store answered the last scrape, 0 when it failed',
      registers,
      async collect() {
        this.set((await stats()) ? 1 : 0);
      },
    });

    // Monotonic counts kept by NodeMetrics, copied at scrape time.
    const counter = <L extends string>(
      name: string,
      help: string,
      labelNames: readonly L[],
      read: () => Iterable<[Partial<Record<L, string>>, number]>,
    ): void => {
      new Counter<L>({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          for (const [labels, value] of read()) this.inc(labels, value);
        },
      });
    };
    counter('p2pcloud_requests_total', 'Requests to /put, /get and /hello', ['route'], () => [
      [{ route: 'put' }, metrics.putRequests],
      [{ route: 'get' }, metrics.getRequests],
      [{ route: 'hello' }, metrics.helloRequests],
    ]);
    counter(
      'p2pcloud_entries_stored_total',
      'Entries stored, by how they came: put (clients) or sync (peers, pushes included)',
      ['source'],
      () => [
        [{ source: 'put' }, metrics.stored - metrics.storedFromSync],
        [{ source: 'sync' }, metrics.storedFromSync],
      ],
    );
    counter(
      'p2pcloud_entries_duplicate_total',
      'Entries received that were stored already',
      [],
      () => [[{}, metrics.duplicates]],
    );
    counter('p2pcloud_entries_expired_total', 'Entries removed by retention sweeps', [], () => [
      [{}, metrics.expired],
    ]);
    counter(
      'p2pcloud_entries_rejected_total',
      'Entries refused, by error code (docs/protocol.md section 10)',
      ['code'],
      () => [...metrics.rejected].map(([code, n]) => [{ code }, n]),
    );
    counter('p2pcloud_sync_rounds_total', 'Sync rounds run', [], () => [[{}, metrics.syncRounds]]);
    counter(
      'p2pcloud_sync_sessions_total',
      'Sync sessions with a peer, by outcome',
      ['peer', 'outcome'],
      () =>
        [...metrics.peers].flatMap(([peer, counts]) =>
          [...counts.sessions].map(([outcome, n]): [Record<'peer' | 'outcome', string>, number] => [
            { peer, outcome },
            n,
          ]),
        ),
    );
    counter(
      'p2pcloud_sync_sent_bytes_total',
      'Bytes sent to a peer by sync and push',
      ['peer'],
      () => [...metrics.peers].map(([peer, counts]) => [{ peer }, counts.sentBytes]),
    );
    counter(
      'p2pcloud_sync_received_bytes_total',
      'Bytes received from a peer by sync and push',
      ['peer'],
      () => [...metrics.peers].map(([peer, counts]) => [{ peer }, counts.receivedBytes]),
    );

    this.latency = new Histogram({
      name: 'p2pcloud_request_duration_seconds',
      help: 'Time from a request to its answer, by route',
      labelNames: ['route'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.errors = new Counter({
      name: 'p2pcloud_http_errors_total',
      help: 'Error answers sent, by error code (docs/protocol.md section 10)',
      labelNames: ['code'],
      registers,
    });
  }

  /** The store's totals; the gauges of one scrape, asking together, share one read. */
  private storeStats(): Promise<StoreStats | undefined> {
    this.stats ??= this.ctx.store
      .stats()
      .catch(() => undefined)
      .finally(() => {
        this.stats = undefined;
      });
    return this.stats;
  }

  observe(route: string, seconds: number): void {
    this.latency.observe({ route }, seconds);
  }

  error(code: string): void {
    this.errors.inc({ code });
  }

  async render(): Promise<string> {
    const [own, process, ...extra] = await Promise.all([
      this.registry.metrics(),
      processMetrics().metrics(),
      ...this.ctx.metrics.extraMetrics.map((m) => m.metrics()),
    ]);
    return [own, ...extra, process].join('\n');
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
