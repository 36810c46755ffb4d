/**
 * Ingest: clients post framed batches of entries over HTTP to one node (a separate process);
 * every entry is verified and stored. Reports the sustained rate, the rate over the last tenth
 * of the run (so a rate that sags as the store grows shows), peak RSS and bytes on disk.
 */
import { ENTRIES_MEDIA_TYPE, encodeFrames } from '../src/entry/framing.js';
import { readFrames } from './fixtures.js';
import { cpuMs, RssSampler } from './lib/proc.js';
import type { BenchNode } from './lib/node-process.js';

export interface IngestResult {
  readonly entries: number;
  readonly seconds: number;
  readonly rate: number;
  readonly tailRate: number;
  readonly peakRss: number;
  readonly rawBytes: number;
  /** CPU time of the node process (all its threads) per stored entry, in microseconds. */
  readonly cpuPerEntryUs: number;
}

export async function ingest(
  node: BenchNode,
  file: string,
  options: { batch: number; clients: number; limit?: number; log: (line: string) => void },
): Promise<IngestResult> {
  const batches = readFrames(file, options.batch, options.limit);
  const sampler = new RssSampler(node.pid);
  let stored = 0;
  let rawBytes = 0;
  const marks: { at: number; stored: number }[] = [];
  const cpuBefore = cpuMs(node.pid);
  const started = performance.now();
  let lastLog = started;
  async function client(): Promise<void> {
    for (;;) {
      const next = batches.next();
      if (next.done) return;
      for (const entry of next.value) rawBytes += entry.length;
      const response = await fetch(`${node.url}/put`, {
        method: 'POST',
        body: encodeFrames(next.value),
        headers: { 'content-type': ENTRIES_MEDIA_TYPE, 'p2pcloud-results': 'summary' },
      });
      const answer = (await response.json()) as { stored?: number; rejected?: number };
      if (!response.ok || (answer.rejected ?? 0) > 0)
        throw new Error(`ingest failed: ${JSON.stringify(answer).slice(0, 300)}`);
      stored += answer.stored ?? 0;
      const now = performance.now();
      marks.push({ at: now, stored });
      if (now - lastLog > 5000) {
        options.log(`    ingest: ${stored} stored`);
        lastLog = now;
      }
    }
  }
  await Promise.all(Array.from({ length: options.clients }, () => client()));
  const ended = performance.now();
  const cpuPerEntryUs = ((cpuMs(node.pid) - cpuBefore) * 1000) / Math.max(1, stored);
  const seconds = (ended - started) / 1000;
  // The rate over the last 10% of entries: how fast the node still takes entries when full.
  const tailStart = marks.find((m) => m.stored >= stored * 0.9) ?? marks[0]!;
  const tailRate = (stored - tailStart.stored) / Math.max(0.001, (ended - tailStart.at) / 1000);
  return {
    entries: stored,
    seconds,
    rate: stored / seconds,
    tailRate,
    peakRss: sampler.stop(),
    rawBytes,
    cpuPerEntryUs,
  };
}
