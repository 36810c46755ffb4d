/**
 * Requests metered by a payer key (docs/billing.md §2, §6): each is signed with a fresh
 * p2pcloud-payer header and written to the payer's ledger before it is sent, then completed
 * with what came back. Without a ledger nothing is metered: use the plain client.
 */
import type { SigningKeyPair } from '../../crypto/ed25519.js';
import { sha256 } from '../../crypto/sha256.js';
import { toHex } from '../../encoding/bytes.js';
import { OFFSET } from '../../entry/format.js';
import { ENTRIES_MEDIA_TYPE, encodeFrames } from '../../entry/framing.js';
import { P2PError } from '../../errors.js';
import { PAYER_HEADER, requestId, signPayerHeader } from '../../market/billing/payer.js';
import type { JobRequest } from '../../compute/job.js';
import type { VerifiedReceipt } from '../../compute/receipt.js';
import { submitJob } from '../compute/node-api.js';
import { call, endpoint, nodeError, type CallOptions, type RawResponse } from '../http.js';
import type { Ledger } from './ledger.js';
import { nodeBillingKey } from './node-key.js';

export interface Payer {
  readonly key: SigningKeyPair;
  readonly ledger: Ledger;
}

interface Signed {
  readonly header: string;
  readonly request: string;
}

/**
 * Signs one request for the node whose billing key is `nodeKey`: the path (with its query) as
 * the node will see it, and the body.
 */
export function signRequest(
  key: SigningKeyPair,
  nodeKey: Uint8Array,
  method: 'GET' | 'POST',
  url: string,
  body: Uint8Array | undefined,
  now = Date.now(),
): Signed {
  const target = new URL(url);
  const header = signPayerHeader(
    key,
    nodeKey,
    method,
    `${target.pathname}${target.search}`,
    now,
    body,
  );
  const sig = Buffer.from(header.slice(header.lastIndexOf('.') + 1), 'hex');
  return { header, request: requestId(sig) };
}

async function send(
  method: 'GET' | 'POST',
  url: string,
  body: Buffer | undefined,
  contentType: string | undefined,
  signed: Signed,
  options: CallOptions,
): Promise<RawResponse> {
  return call(method, url, body, contentType, {
    ...options,
    headers: { ...options.headers, [PAYER_HEADER]: signed.header },
  });
}

/**
 * What a put stored, from the node's answer (its status and parsed JSON body, null when it is
 * not JSON): the ids whose per-entry result is stored or duplicate. Undefined when the node did
 * not answer at all (status null): it commits its usage before it answers, so the put may have
 * stored every entry and they all stay billable (docs/billing.md §9.1). Likewise for 409
 * payer_replayed: an earlier copy of this very request (one the transport sent again after a
 * connection dropped) reached the node first. Any other answer that does not name the entries
 * one for one (status >= 300, no results, another count) is a refusal: nothing stored.
 */
export function storedByPut(
  ids: readonly string[],
  status: number | null,
  answer: unknown,
): string[] | undefined {
  if (status === null) return undefined;
  const body = (typeof answer === 'object' && answer !== null ? answer : {}) as {
    results?: unknown;
    error?: { code?: unknown } | null;
  };
  if (status === 409 && body.error?.code === 'payer_replayed') return undefined;
  const results = body.results;
  if (status >= 300 || !Array.isArray(results) || results.length !== ids.length) return [];
  return ids.filter((_, i) => {
    const r = results[i] as { status?: unknown } | null;
    return r?.status === 'stored' || r?.status === 'duplicate';
  });
}

/**
 * Signs a POST /put of `entries` (framed as `body`) to `url` and records it in the ledger
 * before it may be sent: the headers to send with it, and `answered`, to call with the
 * answer's status and parsed JSON body (null, null: no answer), which records what the node
 * stored (nothing without an answer: see storedByPut). The plain client and meteredPut both go
 * through here.
 */
export async function meterPut(
  payer: Payer,
  node: string,
  entries: readonly Buffer[],
  body: Uint8Array,
  options: CallOptions = {},
): Promise<{
  headers: Record<string, string>;
  answered: (status: number | null, answer: unknown) => Promise<void>;
}> {
  const url = endpoint(node, '/put');
  const nodeKey = await nodeBillingKey(node, payer.ledger, options);
  const signed = signRequest(payer.key, nodeKey, 'POST', url, body);
  const recorded = entries.map((bytes) => ({
    id: toHex(sha256(bytes)),
    bytes: bytes.length,
    expires_at: Number(bytes.readBigUInt64BE(OFFSET.expiresAt)),
  }));
  await payer.ledger.add({
    kind: 'put',
    request: signed.request,
    sent_at: Date.now(),
    entries: recorded,
  });
  const ids = recorded.map((e) => e.id);
  return {
    headers: { [PAYER_HEADER]: signed.header },
    answered: async (status, answer) => {
      const stored = storedByPut(ids, status, answer);
      // No answer: no update, as after a crash between sending and recording.
      if (stored) await payer.ledger.update(signed.request, { stored });
    },
  };
}

/**
 * Signs a GET /get of `url` and records it before it may be sent: the headers to send, and
 * `answered`, to call with the body bytes received, whatever the answer (the node bills the
 * bytes it sent).
 */
export async function meterGet(
  payer: Payer,
  node: string,
  url: string,
  options: CallOptions = {},
): Promise<{ headers: Record<string, string>; answered: (bytes: number) => Promise<void> }> {
  const nodeKey = await nodeBillingKey(node, payer.ledger, options);
  const signed = signRequest(payer.key, nodeKey, 'GET', url, undefined);
  await payer.ledger.add({
    kind: 'get',
    request: signed.request,
    sent_at: Date.now(),
    bytes: null,
  });
  return {
    headers: { [PAYER_HEADER]: signed.header },
    answered: (bytes) => payer.ledger.update(signed.request, { bytes }),
  };
}

/** Metered POST /put of encoded entries; the node's answer as parsed JSON. */
export async function meteredPut(
  node: string,
  entries: readonly Buffer[],
  payer: Payer,
  options: CallOptions = {},
): Promise<Record<string, unknown>> {
  const url = endpoint(node, '/put');
  const body = encodeFrames(entries);
  const metered = await meterPut(payer, node, entries, body, options);
  let response: RawResponse;
  try {
    response = await call('POST', url, body, ENTRIES_MEDIA_TYPE, {
      ...options,
      headers: { ...options.headers, ...metered.headers },
    });
  } catch (error) {
    await metered.answered(null, null);
    throw error;
  }
  let answer: Record<string, unknown> | null = null;
  try {
    answer = JSON.parse(response.body.toString('utf8')) as Record<string, unknown>;
  } catch {
    // recorded as storing nothing below; the status decides what is thrown
  }
  await metered.answered(response.status, answer);
  if (response.status >= 300 || !answer) throw nodeError(url, response.status, response.body);
  return answer;
}

/** Metered GET /get with `query`; the node's answer as parsed JSON (entries still to verify). */
export async function meteredGet(
  node: string,
  query: URLSearchParams,
  payer: Payer,
  options: CallOptions = {},
): Promise<{ entries: Record<string, unknown>[]; next_cursor: string | null }> {
  const url = endpoint(node, '/get', query);
  const metered = await meterGet(payer, node, url, options);
  const response = await call('GET', url, undefined, undefined, {
    ...options,
    headers: { ...options.headers, ...metered.headers },
  });
  await metered.answered(response.body.length);
  if (response.status >= 300) throw nodeError(url, response.status, response.body);
  return JSON.parse(response.body.toString('utf8')) as {
    entries: Record<string, unknown>[];
    next_cursor: string | null;
  };
}

/**
 * Meters one POST /jobs: signs the exact body and records the job, under the id its requester
 * chose (the node must answer that id), before it may be sent. A run stopped at any point after
 * this line can still be settled: `job result --payer` finds the job by that id.
 */
export async function meterJob(
  payer: Payer,
  node: string,
  body: Uint8Array,
  job: string,
  options: CallOptions = {},
): Promise<{ headers: Record<string, string> }> {
  const url = endpoint(node, '/jobs');
  const nodeKey = await nodeBillingKey(node, payer.ledger, options);
  const signed = signRequest(payer.key, nodeKey, 'POST', url, body);
  await payer.ledger.add({
    kind: 'job',
    request: signed.request,
    sent_at: Date.now(),
    job,
    receipt: null,
    fuel: null,
  });
  return { headers: { [PAYER_HEADER]: signed.header } };
}

/** Metered POST /jobs; the node's job id. */
export async function meteredSubmitJob(
  node: string,
  job: JobRequest,
  payer: Payer,
  options: CallOptions = {},
): Promise<{ id: string; hash: string }> {
  return submitJob(node, job, options, (body, id) => meterJob(payer, node, body, id, options));
}

/** Notes the compute receipt the client verified for a metered job: the fuel it may be billed. */
export async function recordJobReceipt(ledger: Ledger, receipt: VerifiedReceipt): Promise<void> {
  const record = ledger.requestOfJob(receipt.body.job_id);
  if (!record) throw new RangeError(`job ${receipt.body.job_id} is not in the ledger`);
  await ledger.update(record.request, { receipt: receipt.hash, fuel: receipt.body.fuel });
}

/** A signed GET of a billing route: the answer as parsed JSON. */
export async function billingGet(
  node: string,
  path: '/billing/receipts' | '/billing/invoice',
  query: URLSearchParams,
  key: SigningKeyPair,
  options: CallOptions = {},
): Promise<Record<string, unknown>> {
  const url = endpoint(node, path, query);
  const response = await send(
    'GET',
    url,
    undefined,
    undefined,
    signRequest(key, await nodeBillingKey(node, undefined, options), 'GET', url, undefined),
    {
      maxResponseBytes: 256 * 1024 * 1024,
      ...options,
    },
  );
  if (response.status >= 300) throw nodeError(url, response.status, response.body);
  try {
    return JSON.parse(response.body.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new P2PError('node_lied', `${url}: answer is not JSON`);
  }
}

/** What fetchReceipts holds at most, whatever the node's pages say. */
export const MAX_FETCHED_RECEIPTS = 100_000;
export const MAX_FETCHED_BYTES = 256 * 1024 * 1024;
export const MAX_FETCHED_PAGES = 10_000;

/** Where a fetch stopped before the node's last page, when it did: the limit it reached. */
export type FetchLimit = 'receipts' | 'bytes' | 'pages';

/**
 * The receipts fetched, in the order they came. `stopped` is set when the fetch reached one
 * of its limits before the node answered `complete`: the list then ends with the last whole
 * period it holds (when it holds more than one), and the rest starts at seq `next`.
 */
export type FetchedReceipts = unknown[] & {
  readonly stopped?: FetchLimit;
  readonly next: number;
};

export interface FetchLimits {
  readonly receipts?: number;
  readonly bytes?: number;
  readonly pages?: number;
}

/** `receipts` with where the fetch ended, as members that do not count as array content. */
function fetched(receipts: unknown[], next: number, stopped?: FetchLimit): FetchedReceipts {
  Object.defineProperty(receipts, 'next', { value: next, enumerable: false });
  if (stopped) Object.defineProperty(receipts, 'stopped', { value: stopped, enumerable: false });
  return receipts as FetchedReceipts;
}

/** The seq and period start of a receipt, as its body says (checked later, not here). */
function placeOf(receipt: unknown): { seq: number; from: number } | null {
  const body = (receipt as { body?: unknown } | null)?.body;
  if (typeof body !== 'string') return null;
  try {
    const { seq, from } = JSON.parse(body) as { seq?: unknown; from?: unknown };
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return null;
    return { seq, from: typeof from === 'number' ? from : Number.NaN };
  } catch {
    return null;
  }
}

/**
 * The receipts without those of the last period they hold, and the seq it starts at: a chunk
 * checked and compacted must end with a whole period, as a split period's later receipts
 * bill what compaction would drop. All of them when they hold one period only.
 */
function wholePeriods(
  receipts: readonly unknown[],
  next: number,
): { receipts: unknown[]; next: number } {
  const placed = receipts.map((r) => ({ r, ...placeOf(r)! })).sort((a, b) => a.seq - b.seq);
  const last = placed[placed.length - 1];
  if (!last) return { receipts: [], next };
  let cut = placed.length - 1;
  while (cut > 0 && placed[cut - 1]!.from === last.from) cut--;
  if (cut === 0) return { receipts: [...receipts], next };
  return { receipts: placed.slice(0, cut).map((p) => p.r), next: placed[cut]!.seq };
}

/**
 * The payer's receipts from seq `since` on, page by page. Each page's `next` must be one more
 * than the highest seq received so far, and move forward, else node_lied. The receipts, bytes
 * (each receipt as its compact JSON text) and pages held are bounded: a fetch that reaches a
 * bound stops there, with the lowest seqs of the page that fit, and says so (`stopped`); an
 * honest node's long list is fetched in several calls from `next`.
 */
export async function fetchReceipts(
  node: string,
  key: SigningKeyPair,
  since = 0,
  maxPages = MAX_FETCHED_PAGES,
  options: CallOptions = {},
  limits: FetchLimits = {},
): Promise<FetchedReceipts> {
  const maxReceipts = limits.receipts ?? MAX_FETCHED_RECEIPTS;
  const maxBytes = limits.bytes ?? MAX_FETCHED_BYTES;
  const pages = Math.min(maxPages, limits.pages ?? maxPages);
  let receipts: unknown[] = [];
  let next = since;
  let highest = since - 1;
  let bytes = 0;
  const lied = (why: string): never => {
    throw new P2PError('node_lied', `${node}: /billing/receipts ${why}`);
  };
  const stop = (stopped: FetchLimit): FetchedReceipts => {
    const whole = wholePeriods(receipts, next);
    return fetched(whole.receipts, whole.next, stopped);
  };
  for (let page = 0; page < pages; page++) {
    const answer = await billingGet(
      node,
      '/billing/receipts',
      new URLSearchParams({ since: String(next) }),
      key,
      options,
    );
    if (!Array.isArray(answer.receipts) || typeof answer.next !== 'number') {
      lied('answered without receipts and next');
    }
    const got = answer.receipts as unknown[];
    const placed = got.map((r) => {
      const seq = placeOf(r)?.seq;
      if (seq === undefined || seq < next) lied(`answered a receipt below seq ${next}`);
      return { r, seq: seq!, size: JSON.stringify(r).length };
    });
    const pageBytes = placed.reduce((sum, p) => sum + p.size, 0);
    const over: FetchLimit | null =
      receipts.length + got.length > maxReceipts
        ? 'receipts'
        : bytes + pageBytes > maxBytes
          ? 'bytes'
          : null;
    if (over) {
      // Only the lowest seqs of the page that fit are taken: a gap below them is the node's,
      // and none is made above them.
      placed.sort((a, b) => a.seq - b.seq);
      for (const p of placed) {
        if (receipts.length + 1 > maxReceipts || bytes + p.size > maxBytes) break;
        receipts.push(p.r);
        bytes += p.size;
        highest = Math.max(highest, p.seq);
      }
      if (receipts.length === 0) lied(`sent a receipt of more than ${maxBytes} bytes`);
      next = highest + 1;
      return stop(over);
    }
    for (const p of placed) highest = Math.max(highest, p.seq);
    receipts = receipts.concat(got);
    bytes += pageBytes;
    if (answer.complete === true) return fetched(receipts, highest + 1);
    if (answer.next !== highest + 1 || answer.next <= next) {
      lied(`next ${String(answer.next)} is not one past the highest seq received (${highest})`);
    }
    next = answer.next as number;
  }
  return stop('pages');
}
