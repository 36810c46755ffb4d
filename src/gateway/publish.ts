/**
 * Writing entries for the gateway: seal a plaintext to a reader key, solve the proof of work
 * (a pool of threads, one entry per thread), sign with a table key, and send a batch to every node. A write succeeds when at
 * least one node holds each entry; what each node answered is reported.
 */
import { availableParallelism } from 'node:os';
import type { Client, NodePutResult, VerifiedEntry } from '../client/client.js';
import { PowPool } from '../client/pow-pool.js';
import { draftEntry, finishEntry } from '../entry/create.js';
import { decodeEntry } from '../entry/format.js';
import { entryPowBits } from '../entry/verify.js';
import { requiredPowBitsOfAll, type PowSubject } from '../entry/pow-rule.js';
import { P2PError } from '../errors.js';
import { toHex } from '../encoding/bytes.js';
import type { TableKey } from '../keys/keys.js';

export interface Sealed {
  readonly id: string;
  readonly bytes: Buffer;
  readonly createdAt: number;
  readonly table: Buffer;
}

export interface PublishItem {
  readonly table: TableKey;
  readonly to: Uint8Array;
  readonly plaintext: Buffer;
  readonly createdAt: number;
}

export interface PublishReport {
  readonly entries: Sealed[];
  /** Per entry, what each node answered. */
  readonly nodes: NodePutResult[][];
}

/** One pool per thread count, kept for the process: its idle threads do not hold it open. */
const pools = new Map<number, PowPool>();

function poolFor(threads: number | undefined): PowPool {
  const size = threads ?? availableParallelism();
  let pool = pools.get(size);
  if (!pool) pools.set(size, (pool = new PowPool(size)));
  return pool;
}

/** The proof of work of one entry: fixed, or from its table and size (the nodes' rules). */
export type PowBits = number | ((subject: PowSubject) => number);

export async function seal(item: PublishItem, powBits: PowBits, threads?: number): Promise<Sealed> {
  const draft = draftEntry({
    table: item.table,
    recipient: item.to,
    plaintext: item.plaintext,
    createdAt: item.createdAt,
    // Every entry a gateway writes is a size bucket: a node learns sizes only roughly.
    pad: true,
  });
  // The draft has the entry's final size: the nonce and signature fill fixed slots.
  const bits =
    typeof powBits === 'number'
      ? powBits
      : powBits({ table: item.table.signing.publicKey, size: draft.bytes.length });
  // Nothing to solve for a table a node waives: no round trip to a thread.
  const nonce = bits === 0 ? 0n : await poolFor(threads).solve(draft.challenge, bits);
  const { bytes, id } = finishEntry(draft, nonce);
  return { id: toHex(id), bytes, createdAt: item.createdAt, table: item.table.signing.publicKey };
}

/** Seals and sends entries; throws all_nodes_failed unless every entry reached a node. */
export async function publish(
  client: Client,
  items: readonly PublishItem[],
  threads?: number,
): Promise<PublishReport> {
  const rules = await client.powRules();
  const powBits = (subject: PowSubject): number => requiredPowBitsOfAll(rules, subject);
  // Stamped side by side: the pool gives each entry its own thread.
  const entries = await Promise.all(items.map((item) => seal(item, powBits, threads)));
  return sendSealed(client, entries);
}

/** Sends sealed entries to every node; throws all_nodes_failed unless each reached one. */
export async function sendSealed(
  client: Client,
  entries: readonly Sealed[],
): Promise<PublishReport> {
  const results = await client.putEncoded(entries.map((e) => e.bytes));
  const failed = results.findIndex((r) => r.accepted === 0);
  if (failed >= 0) {
    const reasons = [
      ...new Set(
        results[failed]!.nodes.map((n) => `${n.node}: ${n.message ?? n.code ?? n.status}`),
      ),
    ];
    throw new P2PError('all_nodes_failed', `no node accepted the entry (${reasons.join('; ')})`, {
      nodes: results[failed]!.nodes,
    });
  }
  return { entries: [...entries], nodes: results.map((r) => r.nodes) };
}

/** An entry this gateway made, in the shape of one read from a node (for ingest.ts). */
export function publishedEntry(sealed: Pick<Sealed, 'id' | 'bytes'>): VerifiedEntry {
  const entry = decodeEntry(sealed.bytes);
  return {
    id: sealed.id,
    table: entry.table,
    recipient: entry.recipient,
    createdAt: entry.createdAt,
    expiresAt: entry.expiresAt,
    powBits: entryPowBits(entry),
    bytes: sealed.bytes,
    entry,
  };
}
