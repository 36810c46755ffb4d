/**
 * Running one job on several nodes and accepting what a strict majority of them agree on
 * (docs/compute.md §8, docs/compute-client.md). Each node gets a job of its own: its own
 * random id, its key in the body, its grant sealed to it. Each answer is checked before it
 * counts: the receipt's signature by that node, that it names this job, module and inputs, and
 * that the sealed output opens for it and hashes to what it says. A node whose answer fails a
 * check is `failed`; one whose valid receipt differs from the majority's is `disagreeing`.
 */
import type { Blob } from '../../compute/blob.js';
import type { GrantKey } from '../../compute/entry-keys.js';
import { createJobRequest, newJobId, type JobLimits } from '../../compute/job.js';
import type { VerifiedReceipt } from '../../compute/receipt.js';
import { P2PError } from '../../errors.js';
import type { Identity } from '../../keys/keys.js';
import { meterJob, recordJobReceipt, type Payer } from '../billing/metered.js';
import { nodeBillingKey } from '../billing/node-key.js';
import { Client, type ClientOptions } from '../client.js';
import type { CallOptions } from '../http.js';
import { checkAnswer, type Checked } from './answer.js';
import { blobGrantKeys } from './blob-store.js';
import { decideMajority, type NodeReport } from './majority.js';
import { jobState, jobsInfo, submitJob, type ComputeNodeInfo } from './node-api.js';
import { readReputation, recordVerdicts, type Verdict } from './reputation.js';

/** Limits used where the requester sets none and the node allows them (docs/compute.md). */
export const DEFAULT_JOB_LIMITS: JobLimits = {
  memory_pages: 256,
  fuel: 1_000_000_000,
  wall_ms: 5000,
  output_bytes: 1024 * 1024,
};

/** How long a job and its grant stay valid beyond its wall-clock limit: time to queue. */
const DEFAULT_QUEUE_MS = 120_000;

export interface RunJobOptions {
  /** Node base URLs the job may be sent to. */
  readonly nodes: readonly string[];
  /** How many of them to run it on (default: all); the majority is of this many. */
  readonly count?: number;
  readonly identity: Identity;
  readonly module: Blob;
  readonly inputs?: readonly Blob[];
  readonly entry?: string;
  readonly args?: readonly string[];
  /** Limits set; the others are the defaults, lowered to what each node allows. */
  readonly limits?: Partial<JobLimits>;
  /** Path of the reputation file to record each node's verdict in, and to rank nodes by. */
  readonly reputation?: string;
  readonly signal?: AbortSignal;
  /** The client whose connector fetches the blobs' chunks (default: one over `nodes`). */
  readonly client?: Client;
  /**
   * The grant keys of every chunk entry of the module and inputs, when the caller made them
   * (entries sealed to another key than the identity's, such as a group's files); by default
   * they are made from the chunks fetched and opened with the identity's box key.
   */
  readonly keys?: readonly GrantKey[];
  /** How long the job may wait in a node's queue before it expires (default 2 minutes). */
  readonly queueMs?: number;
  /** Told of each node's progress: submitted, running, done or failed. */
  readonly onProgress?: (event: JobProgress) => void;
  /**
   * Payer per node URL, as a Client takes them (docs/billing.md §2, §8): the job sent to one of
   * these nodes is metered (signed, and recorded in the payer's ledger before it is sent), and
   * the compute receipt of its answer, once verified, is noted in that ledger as the fuel the
   * node may bill. An answer that fails verification is not noted.
   */
  readonly payers?: ClientOptions['payers'];
}

export interface JobProgress {
  readonly node: string;
  readonly state: 'submitted' | 'queued' | 'running' | 'done' | 'failed';
  readonly message?: string;
}

export interface NodeJobOutcome {
  readonly node: string;
  /** The node's compute signing key, when it told it. */
  readonly key?: string;
  readonly verdict: Verdict;
  readonly code?: string;
  readonly message?: string;
  readonly receipt?: VerifiedReceipt;
  /** The id of this node's job (each node's job has its own). */
  readonly id?: string;
  /** The job hash of this node's job. */
  readonly hash?: string;
}

export interface JobResult {
  /** The id of the job on the node whose receipt was taken (each node has its own). */
  readonly id: string;
  /** The output the majority's receipt names (empty when the run stopped without one). */
  readonly output: Buffer;
  /** The log of the node whose receipt was taken, when it sent one that opens. */
  readonly log: Buffer | undefined;
  readonly receipt: VerifiedReceipt;
  readonly agreeing: string[];
  readonly disagreeing: string[];
  readonly failed: { node: string; code: string; message: string }[];
  readonly nodes: NodeJobOutcome[];
}

function failure(error: unknown): { code: string; message: string } {
  if (error instanceof P2PError) {
    const nodeCode = error.details?.nodeCode;
    return { code: typeof nodeCode === 'string' ? nodeCode : error.code, message: error.message };
  }
  return { code: 'internal', message: (error as Error).message ?? String(error) };
}

/**
 * One set of limits for every node: honest nodes given different fuel limits could report
 * different outcomes (one out of fuel, one done) and be told apart as liars. A limit the caller
 * leaves open is the default, lowered to what the strictest node allows; a limit the caller sets
 * is sent as it is, and a node that allows less refuses the job (limits_exceeded) and fails.
 */
function commonLimits(infos: readonly ComputeNodeInfo[], wanted: Partial<JobLimits>): JobLimits {
  const pick = (name: keyof JobLimits): number => {
    const set = wanted[name];
    if (set !== undefined) return set;
    let value = DEFAULT_JOB_LIMITS[name];
    for (const info of infos) {
      const max = info.limits[name];
      if (max !== undefined && max >= 0) value = Math.min(value, max);
    }
    return value;
  };
  return {
    memory_pages: pick('memory_pages'),
    fuel: pick('fuel'),
    wall_ms: pick('wall_ms'),
    output_bytes: pick('output_bytes'),
  };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Runs the job on each node and decides; see the module comment. */
export async function runJob(options: RunJobOptions): Promise<JobResult> {
  const urls = options.nodes.map((n) => n.replace(/\/+$/, ''));
  if (urls.length === 0) throw new P2PError('bad_argument', 'a job needs at least one node');
  if (new Set(urls).size !== urls.length) {
    throw new P2PError('bad_argument', 'a node is named twice: each runs the job once');
  }
  const count = options.count ?? urls.length;
  if (!Number.isInteger(count) || count < 1 || count > urls.length) {
    throw new P2PError('bad_argument', `cannot run on ${count} of ${urls.length} nodes`);
  }
  const client = options.client ?? new Client({ nodes: urls });
  const callOptions: CallOptions = {
    ...(client.connector ? { connector: client.connector } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  };
  const inputs = options.inputs ?? [];
  const payerOf = (url: string): Payer | undefined =>
    options.payers?.[url] ?? options.payers?.[`${url}/`];
  const progress = options.onProgress ?? (() => undefined);
  // Reading the reputation first refuses a damaged file before any node does any work.
  const reputation = options.reputation ? await readReputation(options.reputation) : undefined;

  const answers = await Promise.all(
    urls.map((url) =>
      jobsInfo(url, callOptions).then(
        (info) => ({ url, info }),
        (error: unknown) => ({ url, error: failure(error) }),
      ),
    ),
  );
  // One node reached under two URLs must not vote twice: its key decides, not the URL.
  const firstUrlOf = new Map<string, string>();
  const infos = answers.map((x) => {
    if (!('info' in x)) return x;
    const first = firstUrlOf.get(x.info.node);
    if (first === undefined) {
      firstUrlOf.set(x.info.node, x.url);
      return x;
    }
    return {
      url: x.url,
      error: {
        code: 'node_duplicate',
        message: `${x.url} is the node already asked at ${first} (the same compute key)`,
      },
    };
  });
  // With a choice, nodes that answer come first, the least often caught disagreeing first.
  const flagged = (key: string): number => reputation?.nodes[key]?.disagreed ?? 0;
  const ranked = infos
    .map((x, order) => ({ ...x, order }))
    .sort((a, b) => {
      const aUp = 'info' in a ? 0 : 1;
      const bUp = 'info' in b ? 0 : 1;
      if (aUp !== bUp) return aUp - bUp;
      if ('info' in a && 'info' in b && flagged(a.info.node) !== flagged(b.info.node)) {
        return flagged(a.info.node) - flagged(b.info.node);
      }
      return a.order - b.order;
    })
    .slice(0, count)
    .sort((a, b) => a.order - b.order);

  let keys = options.keys;
  const up = ranked.filter((x) => 'info' in x);
  // A node that meters nothing, or names another billing key than the ledger pinned, is
  // refused before any job is sent: the ledger would count what nobody may bill.
  await Promise.all(
    up.map((x) => {
      const payer = payerOf(x.url);
      return payer ? nodeBillingKey(x.url, payer.ledger, callOptions) : undefined;
    }),
  );
  // A ledger that cannot be written is the requester's failure, not the node's: it ends the
  // run, once every job sent has settled, rather than count against the node.
  let ledgerFailure: unknown;
  const inLedger = <T>(step: Promise<T>): Promise<T> =>
    step.catch((error: unknown) => {
      ledgerFailure ??= error;
      throw error;
    });
  const limits = commonLimits(
    up.map((x) => x.info),
    options.limits ?? {},
  );
  if (!keys && up.length > 0) {
    keys = await blobGrantKeys(
      client,
      options.identity,
      [options.module, ...inputs],
      [...up.map((x) => x.url), ...urls.filter((u) => !up.some((x) => x.url === u))],
      options.signal,
    );
  }

  const runOne = async (url: string, info: ComputeNodeInfo): Promise<NodeJobOutcome & Checked> => {
    const id = newJobId();
    const now = Date.now();
    const expiresAt = now + limits.wall_ms + (options.queueMs ?? DEFAULT_QUEUE_MS);
    const job = createJobRequest({
      requester: options.identity,
      node: { signing: info.node, box: info.box },
      resultTo: options.identity.box.publicKey,
      module: options.module,
      inputs,
      ...(options.entry !== undefined ? { entry: options.entry } : {}),
      ...(options.args ? { args: options.args } : {}),
      limits,
      keys: keys!,
      id,
      createdAt: now,
      expiresAt,
    });
    const payer = payerOf(url);
    await submitJob(
      url,
      job.request,
      callOptions,
      payer && ((body, jobId) => inLedger(meterJob(payer, url, body, jobId, callOptions))),
    );
    progress({ node: url, state: 'submitted', message: `job ${id}` });
    // The node may keep the job queued until it expires, then run it for up to wall_ms.
    const deadline = expiresAt + limits.wall_ms + 10_000;
    let last = '';
    for (;;) {
      if (options.signal?.aborted) throw new P2PError('aborted', 'the job run was aborted');
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new P2PError('node_error', `${url}: the job did not finish before it expired`, {
          node: url,
        });
      }
      const state = await jobState(url, id, Math.min(left, 25_000), callOptions);
      if (state.status !== last) {
        last = state.status;
        progress({ node: url, state: state.status });
      }
      if (state.status === 'done') {
        const checked = checkAnswer(
          url,
          info.node,
          { id, sent: { hash: job.hash, module: options.module, inputs } },
          options.identity,
          state,
        );
        // Only a receipt that verified is the fuel this node may bill.
        if (payer) await inLedger(recordJobReceipt(payer.ledger, checked.receipt));
        return { node: url, key: info.node, verdict: 'agreed', id, hash: job.hash, ...checked };
      }
      // A node that answers at once instead of holding the poll is not allowed to spin us.
      await sleep(200, options.signal);
    }
  };

  const settled = await Promise.all(
    ranked.map(async (x) => {
      if (!('info' in x)) {
        progress({ node: x.url, state: 'failed', message: x.error.message });
        return { node: x.url, ok: false as const, ...x.error };
      }
      try {
        return { ok: true as const, ...(await runOne(x.url, x.info)) };
      } catch (error) {
        const why = failure(error);
        progress({ node: x.url, state: 'failed', message: why.message });
        return { node: x.url, key: x.info.node, ok: false as const, ...why };
      }
    }),
  );

  if (ledgerFailure !== undefined) throw ledgerFailure;

  const reports: NodeReport<NodeJobOutcome & Checked>[] = settled.map((s) =>
    s.ok
      ? { node: s.node, ok: true, body: s.receipt.body, receipt: s }
      : { node: s.node, ok: false, code: s.code, message: s.message },
  );
  const decision = decideMajority(reports, count);
  const verdictOf = (url: string): Verdict =>
    decision.agreeing.includes(url)
      ? 'agreed'
      : decision.disagreeing.includes(url)
        ? 'disagreed'
        : 'failed';
  const outcomes: NodeJobOutcome[] = settled.map((s) => ({
    node: s.node,
    ...('key' in s && s.key !== undefined ? { key: s.key } : {}),
    verdict: verdictOf(s.node),
    ...(s.ok
      ? { receipt: s.receipt, id: s.id, hash: s.hash }
      : { code: s.code, message: s.message }),
  }));
  if (options.reputation) {
    // Without a majority no node can be told right or wrong: only failures are recorded.
    const verdicts = outcomes
      .filter((o) => o.key !== undefined && (decision.winner || o.verdict === 'failed'))
      .map((o) => ({ node: o.key!, verdict: o.verdict }));
    await recordVerdicts(options.reputation, verdicts);
  }
  if (!decision.winner) {
    const told = outcomes.map((o) =>
      o.verdict === 'failed'
        ? `${o.node} failed (${o.code}: ${o.message})`
        : `${o.node} ${o.receipt!.body.status} output ${o.receipt!.body.output?.slice(0, 12) ?? 'none'} fuel ${o.receipt!.body.fuel}`,
    );
    throw new P2PError(
      'no_majority',
      `no result was agreed on by more than ${Math.floor(count / 2)} of ${count} nodes: ${told.join('; ')}`,
      { agreeing: decision.agreeing, disagreeing: decision.disagreeing, failed: decision.failed },
    );
  }
  const winner = decision.winner.receipt;
  return {
    id: winner.id!,
    output: winner.output,
    log: winner.log,
    receipt: winner.receipt,
    agreeing: decision.agreeing,
    disagreeing: decision.disagreeing,
    failed: decision.failed,
    nodes: outcomes,
  };
}
