/**
 * Client-side figures: entries the SDK opens (decode, verify signature and work, decrypt) per
 * second on one core, and proof-of-work hashing on one core versus all cores.
 */
import { availableParallelism } from 'node:os';
import { solvePow } from '../src/client/pow-solver.js';
import { openEntry } from '../src/entry/open.js';
import { verifyEntryBytes } from '../src/entry/verify.js';
import { fixtureRecipient, readFrames } from './fixtures.js';

export function openRate(
  file: string,
  wanted: number,
  seconds: number,
): { rate: number; opened: number } {
  const recipient = fixtureRecipient(0);
  const mine: Buffer[] = [];
  for (const batch of readFrames(file, 10_000)) {
    for (const bytes of batch) {
      if (bytes.subarray(33, 65).equals(recipient.publicKey)) mine.push(Buffer.from(bytes));
    }
    if (mine.length >= wanted) break;
  }
  if (mine.length === 0) throw new Error('no fixture entry is sealed to recipient 0');
  let opened = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  while (performance.now() < deadline) {
    for (const bytes of mine) {
      const verified = verifyEntryBytes(bytes);
      if (!verified.ok) throw new Error(`fixture entry does not verify: ${verified.code}`);
      if (!openEntry(verified.value.entry, recipient))
        throw new Error('fixture entry does not open');
      opened += 1;
    }
  }
  return { rate: opened / ((performance.now() - started) / 1000), opened };
}

/** Hashes per second of the proof-of-work solver with `threads` threads (stopped after `ms`). */
export async function powRate(threads: number, ms: number): Promise<number> {
  let hashes = 0;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), ms);
  const started = performance.now();
  try {
    // 60 bits: no solution will be found; the search runs until aborted.
    await solvePow(Buffer.alloc(32, 9), 60, {
      threads,
      signal: controller.signal,
      onProgress: (p) => {
        hashes = p.hashes;
      },
    });
  } catch {
    // aborted, as intended
  } finally {
    clearTimeout(timer);
  }
  return hashes / ((performance.now() - started) / 1000);
}

export const cores = availableParallelism();
