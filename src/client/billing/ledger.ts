/**
 * The payer's own count of what it asked one node for (docs/billing.md §6): every metered
 * request, written before the request is sent and completed once it is answered, in a private
 * file replaced whole on each change, so that a crash leaves the old count or the new one.
 *
 *   { "kind": "p2pcloud-billing-ledger", "v": 1, "payer": hex64, "node_key": hex64 | null,
 *     "requests": [ LedgerRecord, … ] }
 */
import { readFile } from 'node:fs/promises';
import { P2PError } from '../../errors.js';
import { replacePrivateFile } from '../private-file.js';

export const LEDGER_KIND = 'p2pcloud-billing-ledger';

export interface LedgerEntry {
  /** Entry id, 64 hex. */
  readonly id: string;
  readonly bytes: number;
  /** 0: never. */
  readonly expires_at: number;
}

export type LedgerRecord =
  | {
      readonly kind: 'put';
      readonly request: string;
      readonly sent_at: number;
      readonly entries: readonly LedgerEntry[];
    }
  | {
      readonly kind: 'get';
      readonly request: string;
      readonly sent_at: number;
      /** Body bytes received; null while the answer has not come (or never came). */
      readonly bytes: number | null;
    }
  | {
      readonly kind: 'job';
      readonly request: string;
      readonly sent_at: number;
      /** The node's job id, once it answered. */
      readonly job: string | null;
      /** Hash and fuel of the compute receipt the client verified, once the job ended. */
      readonly receipt: string | null;
      readonly fuel: number | null;
    };

export interface LedgerData {
  readonly kind: typeof LEDGER_KIND;
  readonly v: 1;
  readonly payer: string;
  /** The node's billing key, pinned at the first receipts read. */
  node_key: string | null;
  readonly requests: LedgerRecord[];
}

const HEX64 = /^[0-9a-f]{64}$/;

function bad(path: string, why: string): never {
  throw new P2PError('bad_argument', `${path} is not a version 1 billing ledger: ${why}`);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function checkRecord(r: unknown, path: string, i: number): LedgerRecord {
  const o = r as Record<string, unknown> | null;
  if (typeof o !== 'object' || o === null) bad(path, `request ${i} is not an object`);
  if (typeof o.request !== 'string' || !HEX64.test(o.request) || !isCount(o.sent_at)) {
    bad(path, `request ${i} lacks its id or time`);
  }
  const nullableCount = (v: unknown): boolean => v === null || isCount(v);
  if (o.kind === 'put' && Array.isArray(o.entries)) {
    for (const e of o.entries as Record<string, unknown>[]) {
      if (
        typeof e?.id !== 'string' ||
        !HEX64.test(e.id) ||
        !isCount(e.bytes) ||
        !isCount(e.expires_at)
      ) {
        bad(path, `request ${i} has a malformed entry`);
      }
    }
    return o as unknown as LedgerRecord;
  }
  if (o.kind === 'get' && nullableCount(o.bytes)) return o as unknown as LedgerRecord;
  if (
    o.kind === 'job' &&
    (o.job === null || (typeof o.job === 'string' && /^[0-9a-f]{32}$/.test(o.job))) &&
    (o.receipt === null || (typeof o.receipt === 'string' && HEX64.test(o.receipt))) &&
    nullableCount(o.fuel)
  ) {
    return o as unknown as LedgerRecord;
  }
  return bad(path, `request ${i} is malformed`);
}

/** Reads a ledger text; bad_argument naming the file for anything not a v1 ledger. */
export function parseLedger(text: string, path: string): LedgerData {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    bad(path, 'not JSON');
  }
  const o = value as Record<string, unknown> | null;
  if (typeof o !== 'object' || o === null || o.kind !== LEDGER_KIND || o.v !== 1) {
    bad(path, 'wrong kind or version');
  }
  if (typeof o.payer !== 'string' || !HEX64.test(o.payer)) bad(path, 'no payer');
  if (o.node_key !== null && (typeof o.node_key !== 'string' || !HEX64.test(o.node_key))) {
    bad(path, 'node_key is malformed');
  }
  if (!Array.isArray(o.requests)) bad(path, 'no requests');
  return {
    kind: LEDGER_KIND,
    v: 1,
    payer: o.payer,
    node_key: o.node_key,
    requests: o.requests.map((r, i) => checkRecord(r, path, i)),
  };
}

/** A ledger file: changes are applied in order, each one written whole before it resolves. */
export class Ledger {
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    readonly path: string,
    readonly data: LedgerData,
  ) {}

  /** Opens the ledger of `payer` (64 hex) at `path`, or starts an empty one. */
  static async open(path: string, payer: string): Promise<Ledger> {
    let text: string | undefined;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new P2PError('bad_argument', `cannot read ${path}: ${(error as Error).message}`);
      }
    }
    if (text === undefined) {
      return new Ledger(path, { kind: LEDGER_KIND, v: 1, payer, node_key: null, requests: [] });
    }
    const data = parseLedger(text, path);
    if (data.payer !== payer) {
      throw new P2PError(
        'bad_argument',
        `${path} is the ledger of another payer (${data.payer.slice(0, 16)}…)`,
      );
    }
    return new Ledger(path, data);
  }

  private save(): Promise<void> {
    const text = `${JSON.stringify(this.data)}\n`;
    const next = this.writing.then(() => replacePrivateFile(this.path, text));
    this.writing = next.catch(() => undefined);
    return next;
  }

  add(record: LedgerRecord): Promise<void> {
    this.data.requests.push(record);
    return this.save();
  }

  /** Replaces the record of `request` with `change` applied. */
  update(request: string, change: (record: LedgerRecord) => LedgerRecord): Promise<void> {
    const i = this.data.requests.findIndex((r) => r.request === request);
    if (i < 0) throw new RangeError(`no request ${request} in the ledger`);
    this.data.requests[i] = change(this.data.requests[i]!);
    return this.save();
  }

  pinNodeKey(key: string): Promise<void> {
    this.data.node_key = key;
    return this.save();
  }
}
