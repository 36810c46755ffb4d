/**
 * Compute jobs over the files of a space (docs/gateway.md §17): the gateway stores nothing
 * new; it names the files' chunk entries as the job's module and inputs, grants each node the
 * keys of exactly those entries, runs the job on its nodes and keeps the majority's result for
 * the caller (docs/compute.md).
 *
 *   POST /api/jobs       { space, module: path, inputs: [path…], args, entry, limits, nodes }
 *                        → 202 { id, status: "running" }
 *   GET  /api/jobs/:id   → { id, status: "running" | "done" | "failed", … }
 *
 * Jobs are the caller's: another identity of the gateway gets 404 for them. A gateway keeps
 * the last 100 jobs in memory and runs at most 8 at once.
 */
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { newJobId } from '../../compute/job.js';
import { MAX_ARG_BYTES, MAX_JOB_ARGS, MAX_JOB_INPUTS } from '../../compute/limits.js';
import { runJob, type JobResult, type JobProgress } from '../../client/compute/run-job.js';
import { P2PError } from '../../errors.js';
import { identityText } from '../../keys/keys.js';
import { actorOf } from '../actor.js';
import type { Gateway } from '../gateway.js';
import { driveOf } from '../files/drive-of.js';
import { fileJobBlob } from '../files/job-blob.js';
import { parseBody } from './body.js';

/** Jobs kept for GET, finished ones dropped oldest first. */
export const KEEP_JOBS = 100;
/** Jobs running at once per gateway; past it, POST answers 429 rate_limited. */
export const MAX_RUNNING_JOBS = 8;
/** The gateway's record of the nodes' verdicts, in its data directory. */
export const REPUTATION_FILE = 'compute-reputation.json';

const limitsSchema = z
  .object({
    memory_pages: z.number().int().min(1).max(65536).optional(),
    fuel: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
    wall_ms: z
      .number()
      .int()
      .min(1)
      .max(24 * 3600 * 1000)
      .optional(),
    output_bytes: z
      .number()
      .int()
      .min(0)
      .max(2 ** 32)
      .optional(),
  })
  .strict();

const jobSchema = z
  .object({
    space: z.string().regex(/^[0-9a-f]{32}$/, 'must be a group id (32 hex)'),
    module: z.string().min(1).max(4096),
    inputs: z.array(z.string().min(1).max(4096)).max(MAX_JOB_INPUTS).default([]),
    args: z
      .array(z.string().refine((a) => Buffer.byteLength(a) <= MAX_ARG_BYTES, 'is too long'))
      .max(MAX_JOB_ARGS)
      .default([]),
    entry: z
      .string()
      .regex(/^[\x21-\x7e]{1,256}$/)
      .optional(),
    limits: limitsSchema.default({}),
    nodes: z.number().int().min(1).max(64).optional(),
  })
  .strict();

interface JobView {
  id: string;
  owner: string;
  status: 'running' | 'done' | 'failed';
  space: string;
  module: string;
  inputs: string[];
  started_at: number;
  finished_at: number | null;
  progress: Record<string, JobProgress['state']>;
  result?: Record<string, unknown>;
  error?: { code: string; message: string };
}

function isUtf8(bytes: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

function resultView(result: JobResult): Record<string, unknown> {
  const body = result.receipt.body;
  return {
    status: body.status,
    message: body.message,
    exit_code: body.exit_code,
    output_base64: result.output.toString('base64'),
    output_text: isUtf8(result.output) ? result.output.toString('utf8') : null,
    fuel: body.fuel,
    receipt: result.receipt.receipt,
    agreeing: result.agreeing,
    disagreeing: result.disagreeing,
    failed: result.failed,
    nodes: result.nodes.map((n) => ({ node: n.node, id: n.id ?? null, verdict: n.verdict })),
  };
}

export function registerJobRoutes(app: FastifyInstance, gateway: Gateway): void {
  const jobs = new Map<string, JobView>();
  let running = 0;

  const keep = (view: JobView): void => {
    jobs.set(view.id, view);
    for (const [id, old] of jobs) {
      if (jobs.size <= KEEP_JOBS) break;
      if (old.status !== 'running') jobs.delete(id);
    }
  };

  app.post('/api/jobs', async (request, reply) => {
    const body = parseBody(jobSchema, request.body);
    const actor = actorOf(gateway, request);
    const nodes = gateway.client.nodes;
    if (body.nodes !== undefined && body.nodes > nodes.length) {
      throw new P2PError(
        'bad_request',
        `nodes: this gateway knows ${nodes.length} node(s), ${body.nodes} asked for`,
      );
    }
    if (running >= MAX_RUNNING_JOBS) {
      throw new P2PError('rate_limited', `${MAX_RUNNING_JOBS} jobs are running: try again later`);
    }
    running += 1;
    let started = false;
    try {
      // The files are resolved before the answer, so that a bad path is this request's 4xx.
      const drive = await driveOf(gateway, actor, body.space);
      const module = await fileJobBlob(drive, body.module, gateway.client);
      const inputs = [];
      for (const path of body.inputs) inputs.push(await fileJobBlob(drive, path, gateway.client));
      const view: JobView = {
        id: newJobId(),
        owner: identityText(actor),
        status: 'running',
        space: body.space,
        module: module.file.path,
        inputs: inputs.map((i) => i.file.path),
        started_at: Date.now(),
        finished_at: null,
        progress: {},
      };
      keep(view);
      started = true;
      void runJob({
        nodes,
        ...(body.nodes !== undefined ? { count: body.nodes } : {}),
        identity: actor,
        module: module.blob,
        inputs: inputs.map((i) => i.blob),
        keys: [module, ...inputs].flatMap((b) => b.keys),
        args: body.args,
        ...(body.entry !== undefined ? { entry: body.entry } : {}),
        limits: body.limits,
        client: gateway.client,
        reputation: join(gateway.config.data_dir, REPUTATION_FILE),
        onProgress: (p) => {
          view.progress[p.node] = p.state;
        },
      })
        .then(
          (result) => {
            view.status = 'done';
            view.result = resultView(result);
          },
          (error: unknown) => {
            view.status = 'failed';
            const known = error instanceof P2PError;
            view.error = {
              code: known ? error.code : 'internal',
              message: known ? error.message : 'the job could not be run',
            };
            if (!known) gateway.log.error({ err: error, job: view.id }, 'compute job failed');
          },
        )
        .finally(() => {
          view.finished_at = Date.now();
          running -= 1;
        });
      void reply.code(202);
      return { id: view.id, status: view.status };
    } finally {
      if (!started) running -= 1;
    }
  });

  app.get('/api/jobs/:id', async (request) => {
    const actor = actorOf(gateway, request);
    const { id } = request.params as { id: string };
    const view = jobs.get(id);
    if (!view || view.owner !== identityText(actor)) {
      throw new P2PError('job_unknown', 'no such job of yours on this gateway');
    }
    const shown: Partial<JobView> = { ...view };
    delete shown.owner;
    return shown;
  });
}
