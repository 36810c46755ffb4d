/**
 * The path every entry takes into a node, whether it arrives by /put or by sync: size and
 * encoding, policy (clock, expiry, tables), then proof of work and signature on the worker
 * pool, then one transaction. Each entry gets its own outcome; one bad entry never spoils a batch.
 */
import type { ErrorCode } from '../errors.js';
import { entryId, inspectEntry, isEntryFault, type Entry } from '../entry/format.js';
import { toHex } from '../encoding/bytes.js';
import type { PutItem, PutResult, Store } from '../store/store.js';
import {
  checkEntryPolicy,
  checkSize,
  entryPowBitsRequired,
  powTooLowMessage,
  type Policy,
  type Rejection,
} from './policy.js';
import type { VerifyPool } from './verify-pool.js';
import { VERIFY_STATUS } from './verify-protocol.js';
import type { NodeMetrics } from './metrics.js';
import { noteHandled } from './memory.js';
import type { WritePolicyGate } from './write-policy/gate.js';
import type { IngestSource } from './write-policy/types.js';

export type IngestStatus = 'stored' | 'duplicate' | 'rejected';

export interface IngestResult {
  readonly status: IngestStatus;
  /** Hex id, when the bytes decoded far enough to have one. */
  readonly id?: string;
  readonly code?: ErrorCode;
  readonly message?: string;
}

/** An incoming item: raw entry bytes, or a rejection found while parsing the request. */
export type IngestItem =
  | {
      readonly bytes: Buffer;
      /** SHA-256 of bytes, when the caller has already computed it. */
      readonly id?: Buffer;
    }
  | { readonly rejection: Rejection };

/** 'push': sent by a peer right after it received the entry (not pushed on again). */
export type { IngestSource };

export interface StoredListener {
  (entries: readonly { id: Buffer; bytes: Buffer }[], source: IngestSource): void;
}

/** A batch that passed check(): results so far (rejections), and the entries to store. */
export interface CheckedBatch {
  readonly source: IngestSource;
  readonly results: readonly (IngestResult | undefined)[];
  readonly valid: readonly (PutItem & { index: number })[];
}

export class Ingestor {
  private readonly listeners: StoredListener[] = [];

  constructor(
    private readonly storeBackend: Store,
    private readonly pool: VerifyPool,
    private readonly policy: Policy,
    private readonly metrics: NodeMetrics,
    /** The operator's write policy, asked about every verified entry before it is stored. */
    private readonly writePolicy?: WritePolicyGate,
  ) {}

  onStored(listener: StoredListener): void {
    this.listeners.push(listener);
  }

  /** Checks a batch and stores what passes: one transaction, one outcome per item. */
  async ingest(
    items: readonly IngestItem[],
    source: IngestSource,
    now = Date.now(),
  ): Promise<IngestResult[]> {
    const [results] = await this.store([await this.check(items, source, now)]);
    return results!;
  }

  /**
   * The first half of ingest: size, encoding, policy, and (on the verification threads) proof
   * of work and signature. Nothing is stored; several checked batches can then be stored in
   * one transaction with store(), which costs far less per entry when they arrive in random
   * order, as they do from sync.
   */
  async check(
    items: readonly IngestItem[],
    source: IngestSource,
    now = Date.now(),
    /** The batch is paid for by tickets (node/tickets/gate.ts): no proof of work is asked. */
    powWaived = false,
  ): Promise<CheckedBatch> {
    const results: (IngestResult | undefined)[] = new Array(items.length);
    const candidates: { index: number; entry: Entry; id: Buffer }[] = [];

    items.forEach((item, index) => {
      if ('rejection' in item) {
        results[index] = { status: 'rejected', ...item.rejection };
        return;
      }
      const size = checkSize(this.policy, item.bytes.length);
      if (size) {
        results[index] = { status: 'rejected', ...size };
        return;
      }
      const entry = inspectEntry(item.bytes);
      if (isEntryFault(entry)) {
        results[index] = { status: 'rejected', code: entry.code, message: entry.message };
        return;
      }
      const id = item.id ?? entryId(entry.bytes);
      const rejection = checkEntryPolicy(this.policy, entry, now);
      if (rejection) {
        results[index] = { status: 'rejected', id: toHex(id), ...rejection };
        return;
      }
      candidates.push({ index, entry, id });
    });

    // Copies of one entry in one batch are checked and counted once: the first is the
    // candidate, the others are answered as duplicates of it, so that repeating an entry costs
    // no verification and cannot count several times against a write policy's quota.
    const firstOf = new Set<string>();
    const distinct = candidates.filter((candidate) => {
      const key = candidate.id.toString('hex');
      if (!firstOf.has(key)) {
        firstOf.add(key);
        return true;
      }
      results[candidate.index] = { status: 'duplicate', id: key };
      return false;
    });

    // Entries already stored are byte-identical (same SHA-256): no need to verify them again.
    // Entries fetched by sync were asked for because they were missing a moment ago; the
    // store still refuses any duplicate, so the check is skipped rather than done twice.
    const known =
      distinct.length > 0 && source !== 'sync'
        ? await this.storeBackend.hasIds(distinct.map((c) => c.id))
        : [];
    const fresh = distinct.filter((candidate, i) => {
      if (!known[i]) return true;
      results[candidate.index] = { status: 'duplicate', id: toHex(candidate.id) };
      return false;
    });

    const verdicts = await this.pool.verify(
      fresh.map((c) => c.entry.bytes),
      fresh.map((c) => (powWaived ? 0 : entryPowBitsRequired(this.policy, c.entry))),
    );
    const valid: (PutItem & { index: number })[] = [];
    fresh.forEach((candidate, i) => {
      const verdict = verdicts[i]!;
      const id = toHex(candidate.id);
      if (verdict.status === VERIFY_STATUS.ok) {
        valid.push({ index: candidate.index, entry: candidate.entry, id: candidate.id });
      } else if (verdict.status === VERIFY_STATUS.powTooLow) {
        results[candidate.index] = {
          status: 'rejected',
          id,
          code: 'pow_too_low',
          message: powTooLowMessage(this.policy, candidate.entry, verdict.powBits),
        };
      } else if (verdict.status === VERIFY_STATUS.badSignature) {
        results[candidate.index] = {
          status: 'rejected',
          id,
          code: 'bad_signature',
          message: 'table signature does not verify',
        };
      } else {
        results[candidate.index] = {
          status: 'rejected',
          id,
          code: 'bad_encoding',
          message: 'entry bytes do not decode',
        };
      }
    });
    if (!this.writePolicy || valid.length === 0) return { source, results, valid };
    const refusals = await this.writePolicy.decide(valid, source);
    const accepted = valid.filter((item, i) => {
      const refusal = refusals[i];
      if (!refusal) return true;
      results[item.index] = { status: 'rejected', id: toHex(item.id), ...refusal };
      return false;
    });
    return { source, results, valid: accepted };
  }

  /** Gives up a checked batch without storing it: what the write policy accepted is given back. */
  async discard(batch: CheckedBatch): Promise<void> {
    await this.unstored([batch], () => true);
  }

  /** The second half of ingest: stores checked batches in one transaction. */
  async store(batches: readonly CheckedBatch[]): Promise<IngestResult[][]> {
    const all = batches.flatMap((batch) => batch.valid);
    noteHandled(all.reduce((sum, item) => sum + item.entry.bytes.length, 0));
    let outcomes: PutResult[];
    try {
      outcomes = all.length > 0 ? await this.storeBackend.putMany(all) : [];
    } catch (error) {
      // Nothing was stored: what the write policy accepted is given back.
      await this.unstored(batches, () => true);
      throw error;
    }
    let next = 0;
    const results = batches.map((batch) => {
      const results = [...batch.results];
      const stored: { id: Buffer; bytes: Buffer }[] = [];
      for (const item of batch.valid) {
        const outcome = outcomes[next++];
        const id = toHex(item.id);
        if (outcome === 'stored') {
          stored.push({ id: item.id, bytes: item.entry.bytes });
          results[item.index] = { status: 'stored', id };
        } else if (outcome === 'duplicate') {
          results[item.index] = { status: 'duplicate', id };
        } else {
          results[item.index] = {
            status: 'rejected',
            id,
            code: 'id_collision',
            message: 'a different entry with the same 8-byte short id is stored',
          };
        }
      }
      const final = results as IngestResult[];
      this.count(final, batch.source);
      if (stored.length > 0) for (const listener of this.listeners) listener(stored, batch.source);
      return final;
    });
    let at = 0;
    await this.unstored(batches, () => outcomes[at++] !== 'stored');
    return results;
  }

  /**
   * Tells the write policy which of the entries it accepted were not stored after all
   * (duplicates found by the store, short-id collisions, a failed transaction), so that a
   * policy counting what it accepts counts only what the store holds. `unstored` is called
   * once per accepted entry, in order.
   */
  private async unstored(batches: readonly CheckedBatch[], unstored: () => boolean): Promise<void> {
    if (!this.writePolicy) return;
    for (const batch of batches) {
      const given = batch.valid.filter(() => unstored());
      if (given.length > 0) await this.writePolicy.notStored(given, batch.source);
    }
  }

  private count(results: readonly IngestResult[], source: IngestSource): void {
    let stored = 0;
    for (const result of results) {
      if (result.status === 'stored') stored += 1;
      else if (result.status === 'duplicate') this.metrics.duplicates += 1;
      else if (result.code) this.metrics.reject(result.code);
    }
    if (source !== 'put') this.metrics.storedFromSync += stored;
    this.metrics.stored += stored;
  }
}
