/**
 * The client of the spread benchmark, as a process of its own so that its peak RSS is its
 * own: spreads a generated file (never held whole) over the nodes given, or restores one and
 * hashes what comes back without keeping it. Prints one JSON line with the outcome, timings
 * and its peak RSS.
 *
 *   node spread-client.js spread SEED BYTES K URL…
 *   node spread-client.js restore REF IDENTITY_JSON URL
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  generateIdentity,
  generateTableKey,
  parseIdentity,
  serializeIdentity,
} from '../../src/keys/keys.js';
import { spreadFile } from '../../src/client/spread/spread.js';
import { restoreFile } from '../../src/client/spread/restore.js';
import { seededPieces } from './seeded-bytes.js';

async function* generated(seed: string, length: number): AsyncGenerator<Buffer> {
  for (const piece of seededPieces({ seed, length })) yield piece;
}

/**
 * Peak RSS of this process's own memory (VmHWM). Not getrusage's maxRSS: Linux carries the
 * high-water mark of the memory a process had before exec into it, so a client spawned by a
 * big parent would report the parent's size.
 */
function peakRss(): number {
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return match ? Number(match[1]) * 1024 : process.resourceUsage().maxRSS * 1024;
}

/** User and system CPU time of this process so far. */
function cpuMs(): number {
  const usage = process.resourceUsage();
  return (usage.userCPUTime + usage.systemCPUTime) / 1000;
}

const [mode, ...args] = process.argv.slice(2);
const started = performance.now();
if (mode === 'spread') {
  const [seed, bytes, k, ...urls] = args;
  const identity = generateIdentity();
  const table = generateTableKey();
  const { ref, manifest } = await spreadFile({
    source: generated(seed!, Number(bytes)),
    size: Number(bytes),
    k: Number(k),
    providers: urls,
    identity,
    table,
  });
  console.log(
    JSON.stringify({
      ref,
      sha256: manifest.sha256,
      stripes: manifest.stripes,
      ms: performance.now() - started,
      identity: serializeIdentity(identity),
      peak_rss: peakRss(),
      cpu_ms: cpuMs(),
    }),
  );
} else if (mode === 'restore') {
  const [ref, identityText, url] = args;
  const identity = parseIdentity(identityText!);
  const hash = createHash('sha256');
  let bytes = 0;
  const { lost } = await restoreFile({
    ref: ref!,
    nodes: [url!],
    identity,
    write: (chunk) => {
      hash.update(chunk);
      bytes += chunk.length;
    },
  });
  console.log(
    JSON.stringify({
      sha256: hash.digest('hex'),
      bytes,
      lost: lost.length,
      ms: performance.now() - started,
      peak_rss: peakRss(),
      cpu_ms: cpuMs(),
    }),
  );
} else {
  throw new Error(`unknown mode ${mode}`);
}
