/**
 * Seals the pieces of a spread file (shards, pages, manifests) as entries of the owner's table
 * to the owner's own box key, padded to a size bucket, with the proof of work the receiving
 * provider asks of that size and table, solved on a pool of threads.
 */
import { availableParallelism } from 'node:os';
import { draftEntry, finishEntry } from '../../entry/create.js';
import { decodeEntry } from '../../entry/format.js';
import { openEntry } from '../../entry/open.js';
import { requiredPowBitsOfAll, type PowRule } from '../../entry/pow-rule.js';
import { toHex } from '../../encoding/bytes.js';
import type { Identity, TableKey } from '../../keys/keys.js';
import { PowPool } from '../pow-pool.js';

export interface SealedPiece {
  /** Entry id (hex). */
  readonly id: string;
  readonly bytes: Buffer;
}

export class Sealer {
  private pool: PowPool | undefined;

  constructor(
    private readonly table: TableKey,
    private readonly owner: Identity,
    private readonly threads = availableParallelism(),
  ) {}

  async seal(plaintext: Buffer, rules: readonly PowRule[]): Promise<SealedPiece> {
    const draft = draftEntry({
      table: this.table,
      recipient: this.owner.box.publicKey,
      plaintext,
      pad: true,
    });
    const bits = requiredPowBitsOfAll(rules, {
      table: this.table.signing.publicKey,
      size: draft.bytes.length,
    });
    // A provider that waives the owner's table (a paying customer) costs no thread round trip.
    const nonce =
      bits === 0
        ? 0n
        : await (this.pool ??= new PowPool(this.threads)).solve(draft.challenge, bits);
    const { bytes, id } = finishEntry(draft, nonce);
    return { id: toHex(id), bytes };
  }

  async close(): Promise<void> {
    await this.pool?.close();
  }
}

/** The plaintext of a piece sealed to `owner`, or undefined if it does not open. */
export function openPiece(bytes: Buffer, owner: Identity): Buffer | undefined {
  let entry;
  try {
    entry = decodeEntry(bytes);
  } catch {
    return undefined;
  }
  return openEntry(entry, owner.box);
}
