/**
 * The compute endpoints of one node (docs/protocol.md, compute section): what it offers, job
 * submission and the long-poll for a job's state. Answers are read within bounds and their
 * shape checked here; receipts and sealed parts are checked by the caller, which knows the job.
 */
import { fromHex } from '../../encoding/bytes.js';
import { P2PError } from '../../errors.js';
import type { JobRequest } from '../../compute/job.js';
import { call, callJson, endpoint, nodeError, type CallOptions } from '../http.js';

/** GET /jobs/info, as far as a requester needs it. */
export interface ComputeNodeInfo {
  /** The node's compute signing key, 64 hex. */
  readonly node: string;
  /** Its compute box key, 32 bytes. */
  readonly box: Buffer;
  readonly limits: Readonly<Record<string, number>>;
  readonly tables: readonly string[] | '*';
  readonly attestation: { kind: string; evidence: string } | null;
}

export interface JobState {
  readonly id: string;
  readonly status: 'queued' | 'running' | 'done';
  readonly receipt?: unknown;
  readonly output?: string;
  readonly log?: string;
}

/** A job state is small; its sealed output is bounded by the node's output_bytes limit. */
const MAX_JOB_STATE_BYTES = 64 * 1024 * 1024;
/** The longest wait a node grants one poll (docs: 30 s). */
export const MAX_POLL_WAIT_MS = 30_000;

function lied(node: string, what: string): P2PError {
  return new P2PError('node_lied', `${node}: ${what}`, { node });
}

export async function jobsInfo(node: string, options: CallOptions = {}): Promise<ComputeNodeInfo> {
  const info = await callJson<Record<string, unknown>>(
    'GET',
    endpoint(node, '/jobs/info'),
    undefined,
    { ...options, maxResponseBytes: 256 * 1024 },
  );
  if (typeof info !== 'object' || info === null || Array.isArray(info)) {
    throw lied(node, '/jobs/info is not a JSON object');
  }
  const key = typeof info.node === 'string' && /^[0-9a-f]{64}$/.test(info.node) ? info.node : '';
  const box = typeof info.box === 'string' ? fromHex(info.box, 32) : undefined;
  if (!key || !box || info.v !== 1) throw lied(node, '/jobs/info is not a version 1 answer');
  const limits: Record<string, number> = {};
  if (typeof info.limits === 'object' && info.limits !== null) {
    for (const [name, value] of Object.entries(info.limits)) {
      if (typeof value === 'number') limits[name] = value;
    }
  }
  const tables =
    info.tables === '*'
      ? '*'
      : Array.isArray(info.tables)
        ? info.tables.filter((t): t is string => typeof t === 'string')
        : [];
  const a = info.attestation as { kind?: unknown; evidence?: unknown } | null | undefined;
  const attestation =
    a && typeof a.kind === 'string' && typeof a.evidence === 'string'
      ? { kind: a.kind, evidence: a.evidence }
      : null;
  return { node: key, box, limits, tables, attestation };
}

function jobIdOf(request: JobRequest): string {
  let id: unknown;
  try {
    id = (JSON.parse(request.job) as { id?: unknown } | null)?.id;
  } catch {
    // refused below
  }
  if (typeof id !== 'string') throw new P2PError('job_invalid', 'the job request names no job id');
  return id;
}

/**
 * Meters one POST /jobs (docs/billing.md §2): given the exact body bytes and the job's id, signs
 * the request and records it in the payer's ledger before it may be sent; gives the headers to
 * send with it.
 */
export type JobMeter = (
  body: Buffer,
  id: string,
) => Promise<{ readonly headers: Readonly<Record<string, string>> }>;

/**
 * POST /jobs: the node's id for the job (the body's id) once it queued it. With `meter`, the
 * request is metered: what is signed is the body as sent, so it is encoded once, here.
 */
export async function submitJob(
  node: string,
  request: JobRequest,
  options: CallOptions = {},
  meter?: JobMeter,
): Promise<{ id: string; hash: string }> {
  const url = endpoint(node, '/jobs');
  // The job is known by the id its requester chose: a node that answers another would have a
  // ledger wait for the receipt of a job nobody sent.
  const sent = jobIdOf(request);
  const body = Buffer.from(JSON.stringify(request));
  const metered = meter ? await meter(body, sent) : undefined;
  const response = await call('POST', url, body, 'application/json', {
    ...options,
    ...(metered ? { headers: { ...options.headers, ...metered.headers } } : {}),
    maxResponseBytes: 64 * 1024,
  });
  if (response.status < 200 || response.status >= 300) {
    throw nodeError(url, response.status, response.body);
  }
  let answer: { id?: unknown; hash?: unknown } | null;
  try {
    answer = JSON.parse(response.body.toString('utf8')) as typeof answer;
  } catch {
    throw lied(node, 'POST /jobs answer is not JSON');
  }
  if (typeof answer?.id !== 'string' || typeof answer.hash !== 'string') {
    throw lied(node, 'POST /jobs answered without the job id and hash');
  }
  if (answer.id !== sent) {
    const named = JSON.stringify(answer.id.slice(0, 40));
    throw lied(node, `POST /jobs answered job ${named}, not ${sent}`);
  }
  return { id: answer.id, hash: answer.hash };
}

/** GET /jobs/:id, waiting up to `waitMs` on the node for the job to finish. */
export async function jobState(
  node: string,
  id: string,
  waitMs: number,
  options: CallOptions = {},
): Promise<JobState> {
  if (!/^[0-9a-f]{32}$/.test(id)) throw new P2PError('bad_argument', `not a job id: ${id}`);
  const wait = Math.max(0, Math.min(MAX_POLL_WAIT_MS, Math.round(waitMs)));
  const url = endpoint(node, `/jobs/${id}`, new URLSearchParams({ wait: String(wait) }));
  const response = await call('GET', url, undefined, undefined, {
    ...options,
    // The node holds the request up to `wait`; the deadline leaves room for the answer.
    timeoutMs: wait + (options.timeoutMs ?? 15_000),
    maxResponseBytes: MAX_JOB_STATE_BYTES,
  });
  if (response.status !== 200) throw nodeError(node, response.status, response.body);
  let parsed: unknown;
  try {
    parsed = JSON.parse(response.body.toString('utf8'));
  } catch {
    throw lied(node, `GET /jobs/${id} answer is not JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null) {
    throw lied(node, `GET /jobs/${id} answer is not a job state`);
  }
  const state = parsed as Record<string, unknown>;
  const status = state.status;
  if (state.id === id && status === 'failed') {
    // The node gave the job up without a receipt (docs/protocol.md §16): not a lie, a failure.
    const reason = typeof state.reason === 'string' ? state.reason.slice(0, 64) : 'unknown';
    throw new P2PError('job_failed', `${node}: the node gave the job up (${reason})`, {
      node,
      reason,
    });
  }
  if (state.id !== id || (status !== 'queued' && status !== 'running' && status !== 'done')) {
    throw lied(node, `GET /jobs/${id} answer is not a job state`);
  }
  return {
    id,
    status,
    ...(state.receipt !== undefined ? { receipt: state.receipt } : {}),
    ...(typeof state.output === 'string' ? { output: state.output } : {}),
    ...(typeof state.log === 'string' ? { log: state.log } : {}),
  };
}
