/**
 * The compute routes of a node (docs/protocol.md §16): what the node offers, job submission,
 * a job's state and result, and the operator's list of recent jobs.
 */
import type { FastifyInstance } from 'fastify';
import { toBase64Url } from '../../compute/encoding.js';
import { ComputeError, refuse } from '../../compute/errors.js';
import { openGrant } from '../../compute/grant.js';
import { MAX_JOB_REQUEST_BYTES, parseJobRequest } from '../../compute/job.js';
import { toHex } from '../../encoding/bytes.js';
import { P2PError } from '../../errors.js';
import { expectMediaType } from '../../http/fastify-errors.js';
import type { Store } from '../../store/store.js';
import { metricsAccess } from '../metrics/access.js';
import type { NodeContext } from '../context.js';
import type { Attestation } from './attestation-load.js';
import { admitJob } from './admission.js';
import { allowedTables, type ComputeConfig } from './config.js';
import { loadBlob } from './inputs.js';
import type { JobRow, JobStore } from './job-store.js';
import type { ComputeKeys } from './key-file.js';
import type { JobRunner } from './runner.js';

/** Longest a GET /jobs/:id may wait for a change. */
export const MAX_WAIT_MS = 30_000;
/** Jobs GET /jobs lists. */
export const LIST_JOBS = 100;

export interface ComputeState {
  readonly config: ComputeConfig;
  readonly keys: ComputeKeys;
  readonly jobs: JobStore;
  readonly runner: JobRunner;
  readonly attestation: Attestation | null;
}

/** The routes of a node whose operator has not turned compute on. */
export function registerDisabledRoutes(app: FastifyInstance): void {
  const off = async (): Promise<never> => refuse('compute_disabled', 'this node does not run jobs');
  app.get('/jobs/info', off);
  app.get('/jobs', off);
  app.post('/jobs', off);
  app.get('/jobs/:id', off);
}

function waitParam(query: unknown): number {
  const q = (query ?? {}) as Record<string, unknown>;
  const keys = Object.keys(q);
  if (keys.some((k) => k !== 'wait')) throw new P2PError('bad_query', 'the only parameter is wait');
  if (q.wait === undefined) return 0;
  if (typeof q.wait !== 'string' || !/^\d{1,6}$/.test(q.wait) || Number(q.wait) > MAX_WAIT_MS) {
    throw new P2PError('bad_query', `wait must be milliseconds from 0 to ${MAX_WAIT_MS}`);
  }
  return Number(q.wait);
}

function listItem(row: JobRow): Record<string, unknown> {
  return {
    id: row.id,
    status: row.state,
    reason: row.reason,
    outcome: row.outcome,
    module: row.module,
    fuel: row.fuel,
    fuel_limit: row.fuelLimit,
    wall_ms: row.wallMs,
    received_at: row.receivedAt,
    started_at: row.startedAt,
    finished_at: row.finishedAt,
  };
}

async function submit(
  ctx: NodeContext,
  state: ComputeState,
  store: Store,
  input: unknown,
): Promise<Record<string, unknown>> {
  const { config, keys, jobs, runner } = state;
  const parsed = parseJobRequest(input);
  const grant = openGrant(keys.box, parsed.request.job, parsed.sealedGrant);
  const now = Date.now();
  const admitted = admitJob(
    parsed.body,
    grant,
    { signing: toHex(keys.signing.publicKey), config },
    now,
  );
  const { body, hash } = parsed;
  if (jobs.seen(body.id, hash)) refuse('job_replayed', `job ${body.id} was submitted already`);
  const release = runner.reserve();
  try {
    const tables = allowedTables(config);
    const module = await loadBlob(store, body.module, admitted.keys, tables, 'module');
    const inputs: Buffer[] = [];
    for (const [i, blob] of body.inputs.entries()) {
      inputs.push(await loadBlob(store, blob, admitted.keys, tables, `input ${i}`));
    }
    // Every entry is open: the keys are of no further use and are not kept.
    admitted.keys.clear();
    jobs.insert({
      id: body.id,
      hash,
      module: body.module.sha256,
      fuelLimit: body.limits.fuel,
      receivedAt: now,
      expiresAt: admitted.expiresAt,
    });
    runner.enqueue(
      { id: body.id, hash, body, module, inputs, expiresAt: admitted.expiresAt },
      release,
    );
  } catch (error) {
    release();
    admitted.keys.clear();
    throw error;
  }
  ctx.log.info({ job: body.id, inputs: body.inputs.length }, 'job queued');
  return { id: body.id, hash, status: 'queued' };
}

export function registerComputeRoutes(
  app: FastifyInstance,
  ctx: NodeContext,
  state: ComputeState,
): void {
  const { config, keys, jobs, runner } = state;
  const tables = allowedTables(config);

  app.get('/jobs/info', async () => ({
    v: 1,
    node: toHex(keys.signing.publicKey),
    box: toHex(keys.box.publicKey),
    limits: {
      ...config.max,
      max_module_bytes: config.max_module_bytes,
      max_input_bytes: config.max_input_bytes,
    },
    tables: tables === '*' ? '*' : [...tables],
    attestation: state.attestation,
  }));

  app.post(
    '/jobs',
    { bodyLimit: Math.min(MAX_JOB_REQUEST_BYTES, ctx.config.max_body_bytes) },
    async (request, reply) => {
      expectMediaType(request, ['application/json']);
      const answer = await submit(ctx, state, ctx.store, request.body);
      return reply.code(202).send(answer);
    },
  );

  app.get('/jobs/:id', async (request) => {
    const { id } = request.params as { id: string };
    if (!/^[0-9a-f]{32}$/.test(id))
      throw new ComputeError('job_unknown', `no job ${id.slice(0, 64)} on this node`);
    const wait = waitParam(request.query);
    let row = jobs.get(id);
    if (!row) throw new ComputeError('job_unknown', `no job ${id} on this node`);
    const deadline = Date.now() + wait;
    // Each change of the job wakes the wait; it goes on until the job ends or time is up.
    while (
      (row.state === 'queued' || row.state === 'running') &&
      Date.now() < deadline &&
      !runner.isClosed &&
      !request.raw.destroyed
    ) {
      await runner.waitFor(id, deadline - Date.now());
      row = jobs.get(id);
      if (!row) throw new ComputeError('job_unknown', `job ${id} was dropped`);
    }
    return {
      id: row.id,
      status: row.state,
      ...(row.state === 'failed' ? { reason: row.reason } : {}),
      ...(row.receipt ? { receipt: JSON.parse(row.receipt) as unknown } : {}),
      ...(row.output ? { output: toBase64Url(row.output) } : {}),
      ...(row.log ? { log: toBase64Url(row.log) } : {}),
    };
  });

  app.get('/jobs', async (request) => {
    const access = metricsAccess(
      ctx.config.metrics.token,
      request.socket.remoteAddress,
      request.headers.authorization,
    );
    if (!access.allowed) {
      throw new P2PError(
        'forbidden',
        ctx.config.metrics.token === null
          ? 'the job list is served to clients on this machine only'
          : 'the job list needs the bearer token set in metrics.token',
      );
    }
    return {
      v: 1,
      workers: config.workers,
      ...runner.stats(),
      counts: jobs.counts(),
      jobs: jobs.recent(LIST_JOBS).map(listItem),
    };
  });
}
