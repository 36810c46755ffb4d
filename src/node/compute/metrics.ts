/**
 * The compute plugin's Prometheus metrics, on a registry of its own that /metrics renders with
 * the node's: jobs by state (those kept), receipts by run status and fuel used since start.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { JobStore } from './job-store.js';
import type { JobRunner } from './runner.js';

export function computeRegistry(jobs: JobStore, runner: JobRunner): Registry {
  const registry = new Registry();
  const registers = [registry];
  new Gauge({
    name: 'p2pcloud_compute_jobs',
    help: 'Jobs kept by this node, by state (queued, running, done, failed)',
    labelNames: ['state'],
    registers,
    collect() {
      for (const [state, n] of Object.entries(jobs.counts())) this.set({ state }, n);
    },
  });
  new Counter({
    name: 'p2pcloud_compute_receipts_total',
    help: 'Receipts signed since start, by run status',
    labelNames: ['status'],
    registers,
    collect() {
      this.reset();
      for (const [status, n] of runner.counters.outcomes) this.inc({ status }, n);
    },
  });
  new Counter({
    name: 'p2pcloud_compute_failed_total',
    help: 'Jobs ended without a receipt since start, by reason (expired, internal)',
    labelNames: ['reason'],
    registers,
    collect() {
      this.reset();
      for (const [reason, n] of runner.counters.failures) this.inc({ reason }, n);
    },
  });
  new Counter({
    name: 'p2pcloud_compute_fuel_total',
    help: 'Fuel used by jobs since start (docs/compute-sandbox.md, fuel v1)',
    registers,
    collect() {
      this.reset();
      this.inc(runner.counters.fuel);
    },
  });
  return registry;
}
