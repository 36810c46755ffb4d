/**
 * The main-thread time one request costs a node, measured from outside: while the request
 * runs, a prober sends `/health` one after another (a few milliseconds apart); the node's main
 * thread answers `/health` from memory in well under a millisecond, so a probe that waits
 * longer than usual waited for the main thread. The stall of a request is the longest probe
 * overlapping it (and a short tail after its answer, for work the node does after answering),
 * less the median probe before it.
 */
import { median } from './latency.js';
import { send, type Answer } from './loopback-http.js';

export interface Stall {
  /** Longest wait of the main thread attributable to the request, in milliseconds. */
  readonly stallMs: number;
  /** Median `/health` latency just before the request (subtracted from the longest probe). */
  readonly baselineMs: number;
  readonly answer: Answer;
  readonly probes: number;
}

const WARMUP_MS = 150;
const TAIL_MS = 150;
const PROBE_GAP_MS = 2;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function measureStall(
  nodeUrl: string,
  probeFrom: string,
  fire: () => Promise<Answer>,
): Promise<Stall> {
  const probes: { started: number; ended: number; ms: number }[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const answer = await send(`${nodeUrl}/health`, { from: probeFrom, timeoutMs: 300_000 });
      probes.push({ started: answer.started, ended: answer.ended, ms: answer.ms });
      await sleep(PROBE_GAP_MS);
    }
  })();
  await sleep(WARMUP_MS);
  const before = probes.map((p) => p.ms);
  const answer = await fire();
  await sleep(TAIL_MS);
  running = false;
  await loop;
  const baselineMs = before.length > 0 ? median(before) : 0;
  const windowEnd = answer.ended + TAIL_MS;
  const during = probes.filter((p) => p.ended >= answer.started && p.started <= windowEnd);
  const longest = Math.max(0, ...during.map((p) => p.ms));
  return {
    stallMs: Math.max(0, longest - baselineMs),
    baselineMs,
    answer,
    probes: during.length,
  };
}
