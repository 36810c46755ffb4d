/**
 * The node's job queue: admitted jobs wait (bounded by workers + queue, counting the ones whose
 * inputs are being read) for a sandbox worker, run, and end with a signed receipt whatever the
 * module did. Plaintexts of modules and inputs live in memory only while their job waits or
 * runs; nothing of them is written anywhere.
 */
import type { Logger } from 'pino';
import { ComputeError } from '../../compute/errors.js';
import type { JobBody } from '../../compute/job.js';
import {
  MAX_MESSAGE_BYTES,
  RUN_STATUSES,
  signReceipt,
  type ReceiptBody,
} from '../../compute/receipt.js';
import { sealResult } from '../../compute/result.js';
import { sha256 } from '../../crypto/sha256.js';
import { fromHex, toHex } from '../../encoding/bytes.js';
import type { ComputeConfig } from './config.js';
import type { JobStore } from './job-store.js';
import type { ComputeKeys } from './key-file.js';
import type { JobSandbox, RunOutcome, RunStatus } from './sandbox-port.js';

export interface QueuedJob {
  readonly id: string;
  readonly hash: string;
  readonly body: JobBody;
  readonly module: Buffer;
  readonly inputs: readonly Buffer[];
  readonly expiresAt: number;
}

export interface RunnerCounters {
  /** Receipts signed since start, by run status. */
  readonly outcomes: Map<string, number>;
  /** Jobs that ended without a receipt since start, by reason. */
  readonly failures: Map<string, number>;
  fuel: number;
}

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** A message cut to the receipt's bound, on a character boundary. */
function boundedMessage(message: string | undefined): string | null {
  if (message === undefined) return null;
  let text = message;
  while (Buffer.byteLength(text) > MAX_MESSAGE_BYTES) text = text.slice(0, -16);
  return text;
}

function isRunStatus(code: unknown): code is RunStatus {
  return typeof code === 'string' && (RUN_STATUSES as readonly string[]).includes(code);
}

/** The outcome of a module that never ran: prepare refused it. */
function refusedOutcome(status: RunStatus, message: string): RunOutcome {
  return {
    status,
    message,
    fuel: 0,
    wallMs: 0,
    bytesRead: 0,
    bytesWritten: 0,
    output: Buffer.alloc(0),
    log: Buffer.alloc(0),
  };
}

export interface RunnerDeps {
  readonly sandbox: JobSandbox;
  readonly keys: ComputeKeys;
  readonly jobs: JobStore;
  readonly config: ComputeConfig;
  readonly attestation: { kind: string; evidence: string } | null;
  readonly log: Logger;
}

export class JobRunner {
  private readonly queue: QueuedJob[] = [];
  private readonly running = new Set<string>();
  /** Jobs admitted whose inputs are being read: they hold memory as the queued ones do. */
  private reserved = 0;
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly runs = new Set<Promise<void>>();
  private closed = false;
  readonly counters: RunnerCounters = { outcomes: new Map(), failures: new Map(), fuel: 0 };

  constructor(private readonly deps: RunnerDeps) {}

  /** Takes a place for a job about to be read; job_queue_full when none is left. */
  reserve(): () => void {
    const { workers, queue } = this.deps.config;
    if (this.closed) throw new ComputeError('job_queue_full', 'the node is stopping');
    if (this.reserved + this.queue.length + this.running.size >= workers + queue) {
      throw new ComputeError(
        'job_queue_full',
        `${this.queue.length} jobs wait and ${this.running.size} run: try again later`,
      );
    }
    this.reserved += 1;
    let released = false;
    return () => {
      if (!released) this.reserved -= 1;
      released = true;
    };
  }

  /** Queues a job whose place was reserved (the reservation passes to the queue). */
  enqueue(job: QueuedJob, release: () => void): void {
    release();
    this.queue.push(job);
    this.pump();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  stats(): { queued: number; running: number; reading: number } {
    return { queued: this.queue.length, running: this.running.size, reading: this.reserved };
  }

  /** Resolves when job `id` changes state, or after `ms`, or when the node stops. */
  waitFor(id: string, ms: number): Promise<void> {
    if (this.closed || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      let set = this.waiters.get(id);
      if (!set) this.waiters.set(id, (set = new Set()));
      const done = (): void => {
        clearTimeout(timer);
        set.delete(done);
        if (set.size === 0 && this.waiters.get(id) === set) this.waiters.delete(id);
        resolve();
      };
      const timer = setTimeout(done, ms);
      set.add(done);
    });
  }

  private notify(id: string): void {
    for (const done of [...(this.waiters.get(id) ?? [])]) done();
  }

  private pump(): void {
    while (!this.closed && this.running.size < this.deps.config.workers && this.queue.length > 0) {
      const job = this.queue.shift()!;
      this.running.add(job.id);
      const run = this.runOne(job)
        .catch((error: unknown) => {
          if (this.closed) return;
          this.deps.log.error({ err: error, job: job.id }, 'job failed inside the node');
          this.deps.jobs.failed(job.id, 'internal', Date.now());
          bump(this.counters.failures, 'internal');
        })
        .finally(() => {
          this.running.delete(job.id);
          this.runs.delete(run);
          this.notify(job.id);
          this.pump();
        });
      this.runs.add(run);
    }
  }

  private async outcomeOf(job: QueuedJob): Promise<RunOutcome> {
    const { sandbox } = this.deps;
    const { limits } = job.body;
    let prepared;
    try {
      prepared = await sandbox.prepare(job.module, limits.memory_pages);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (!isRunStatus(code)) throw error;
      return refusedOutcome(code, (error as Error).message);
    }
    return sandbox.run({
      module: prepared,
      entry: job.body.entry,
      args: job.body.args,
      inputs: job.inputs,
      limits: {
        memoryPages: limits.memory_pages,
        fuel: limits.fuel,
        wallMs: limits.wall_ms,
        outputBytes: limits.output_bytes,
      },
    });
  }

  private async runOne(job: QueuedJob): Promise<void> {
    const { jobs, keys, config } = this.deps;
    const startedAt = Date.now();
    if (startedAt >= job.expiresAt) {
      // Its grant is no longer valid: the node does not use what it opened with it.
      jobs.failed(job.id, 'expired', startedAt);
      bump(this.counters.failures, 'expired');
      return;
    }
    jobs.started(job.id, startedAt);
    this.notify(job.id);
    const outcome = await this.outcomeOf(job);
    // A node stopping ends its runs: the job stays running and is marked node_restarted at
    // the next start, like one a crash ended.
    if (this.closed) return;
    const finishedAt = Math.max(Date.now(), startedAt);
    const hasOutput = outcome.status === 'ok' || outcome.status === 'exit';
    const body: ReceiptBody = {
      job: job.hash,
      job_id: job.id,
      node: toHex(keys.signing.publicKey),
      module: job.body.module.sha256,
      inputs: job.body.inputs.map((b) => b.sha256),
      status: outcome.status,
      message: outcome.status === 'ok' ? null : boundedMessage(outcome.message ?? outcome.status),
      exit_code: outcome.exitCode ?? null,
      output: hasOutput ? toHex(sha256(outcome.output)) : null,
      fuel: outcome.fuel,
      fuel_limit: job.body.limits.fuel,
      wall_ms: Math.round(outcome.wallMs),
      bytes_read: outcome.bytesRead,
      bytes_written: outcome.bytesWritten,
      started_at: startedAt,
      finished_at: finishedAt,
      attestation: this.deps.attestation,
    };
    const signed = signReceipt(body, keys.signing);
    const resultTo = fromHex(job.body.result_to, 32)!;
    jobs.finished(
      job.id,
      {
        outcome: outcome.status,
        fuel: outcome.fuel,
        wallMs: body.wall_ms,
        startedAt,
        finishedAt,
      },
      {
        receipt: JSON.stringify(signed.receipt),
        output: hasOutput ? sealResult('output', resultTo, signed.hash, outcome.output) : null,
        log: sealResult('log', resultTo, signed.hash, outcome.log),
      },
    );
    jobs.prune(config.keep_jobs, finishedAt);
    bump(this.counters.outcomes, outcome.status);
    this.counters.fuel += outcome.fuel;
    this.deps.log.info(
      { job: job.id, status: outcome.status, fuel: outcome.fuel, wallMs: body.wall_ms },
      'job finished',
    );
  }

  /** Stops taking jobs, drops the queued ones and wakes every waiter; running ones end with the sandbox. */
  close(): void {
    this.closed = true;
    this.queue.length = 0;
    for (const id of [...this.waiters.keys()]) this.notify(id);
  }

  /** Resolves when the runs in flight have ended (the sandbox's close ends them). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.runs]);
  }
}
