/**
 * Compute near the data as a node plugin (docs/compute.md, docs/protocol.md §16): the node's
 * compute keys, its job store, the sandbox, the job queue, the routes, metrics and a "compute"
 * section in /health. A node whose operator has not turned compute on only answers
 * compute_disabled on the routes, and makes no file, key or worker.
 */
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { NodeContext } from '../context.js';
import type { NodeApp } from '../app.js';
import type { NodePlugin } from '../server.js';
import { loadAttestation } from './attestation-load.js';
import { COMPUTE_DB_FILE, JobStore } from './job-store.js';
import { loadOrCreateComputeKeys } from './key-file.js';
import { computeRegistry } from './metrics.js';
import { registerComputeRoutes, registerDisabledRoutes, type ComputeState } from './routes.js';
import { JobRunner } from './runner.js';
import { Sandbox } from '../../sandbox/index.js';
import type { JobSandbox } from './sandbox-port.js';

export interface SandboxFactory {
  (options: { workers: number; maxModuleBytes: number }): JobSandbox | Promise<JobSandbox>;
}

/** How long a stopping node waits for runs in flight after closing the sandbox. */
const SETTLE_MS = 5000;

export class ComputePlugin implements NodePlugin {
  state: ComputeState | undefined;

  constructor(private readonly createSandbox: SandboxFactory = (options) => new Sandbox(options)) {}

  readonly routes = async (app: FastifyInstance, ctx: NodeContext): Promise<void> => {
    const config = ctx.config.compute;
    if (!config.enabled) {
      registerDisabledRoutes(app);
      return;
    }
    const keys = await loadOrCreateComputeKeys(ctx.config.data_dir);
    // Made before the store is opened, so a bad module stops the start with nothing to undo.
    const attestation = config.attestation ? await loadAttestation(config.attestation, keys) : null;
    const jobs = new JobStore(join(ctx.config.data_dir, COMPUTE_DB_FILE));
    let sandbox: JobSandbox;
    try {
      const interrupted = jobs.markInterrupted(Date.now());
      if (interrupted > 0)
        ctx.log.warn({ jobs: interrupted }, 'jobs left unfinished by the last run marked failed');
      jobs.prune(config.keep_jobs, Date.now());
      sandbox = await this.createSandbox({
        workers: config.workers,
        maxModuleBytes: config.max_module_bytes,
      });
    } catch (error) {
      jobs.close();
      throw error;
    }
    const log = ctx.log.child({ component: 'compute' });
    const runner = new JobRunner({ sandbox, keys, jobs, config, attestation, log });
    const state: ComputeState = { config, keys, jobs, runner, attestation };
    this.state = state;
    registerComputeRoutes(app, ctx, state);
    ctx.metrics.extraMetrics.push(computeRegistry(jobs, runner));
    ctx.status.set('compute', () => ({
      enabled: true,
      node: keys.signing.publicKey.toString('hex'),
      workers: config.workers,
      ...runner.stats(),
      jobs: jobs.counts(),
      fuel: runner.counters.fuel,
    }));
    // Long polls end at once when the node stops; the sandbox ends the runs in flight.
    app.addHook('preClose', (done) => {
      runner.close();
      done();
    });
    app.addHook('onClose', async () => {
      runner.close();
      await sandbox.close();
      await Promise.race([runner.settled(), new Promise((r) => setTimeout(r, SETTLE_MS).unref())]);
      jobs.close();
    });
  };

  start(_ctx: NodeContext, _app: NodeApp): Promise<() => Promise<void>> {
    return Promise.resolve(async () => undefined);
  }
}
