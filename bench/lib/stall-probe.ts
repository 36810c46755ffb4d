/**
 * The main-thread time one request costs a node, measured from outside: while the request
 * runs, a prober sends `/health` one after another (a few milliseconds apart); the node's main
 * thread answers `/health` from memory in well under a millisecond, so a probe that waits
 * longer than usual waited for the main thread. The stall of a request is the longest probe
 * overlapping it (and a short tail after its answer, for work the node does after answering),
 * less the median probe before it.
 *
 * A stall longer than `capMs` is not waited out (one 64 KiB request has been seen to hold a
 * node for many minutes): the measurement stops there, reports the cap as a lower bound, and
 * the caller replaces the node.
 */
import { median } from './latency.js';
import { send, type Answer } from './loopback-http.js';

export interface Stall {
  /** Longest wait of the main thread attributable to the request, in milliseconds. */
  readonly stallMs: number;
  /** The stall reached the cap: stallMs is a lower bound and the node is still stuck. */
  readonly capped: boolean;
  /** Median `/health` latency just before the request (subtracted from the longest probe). */
  readonly baselineMs: number;
  /** The request's answer; undefined when it was cut. */
  readonly answer: Answer | undefined;
  readonly probes: number;
}

const WARMUP_MS = 80;
const TAIL_MS = 100;
const PROBE_GAP_MS = 2;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function measureStall(
  nodeUrl: string,
  probeFrom: string,
  fire: () => Promise<Answer>,
  capMs: number,
): Promise<Stall> {
  const probes: { started: number; ended: number; ms: number }[] = [];
  let running = true;
  let probeSince: number | undefined;
  const loop = (async () => {
    while (running) {
      probeSince = performance.now();
      const answer = await send(`${nodeUrl}/health`, { from: probeFrom, timeoutMs: 600_000 });
      probeSince = undefined;
      probes.push({ started: answer.started, ended: answer.ended, ms: answer.ms });
      await sleep(PROBE_GAP_MS);
    }
  })();
  await sleep(WARMUP_MS);
  const before = probes.map((p) => p.ms);
  const baselineMs = before.length > 0 ? median(before) : 0;
  const firing = fire();
  // Watch for a probe stuck past the cap while the request runs.
  let capped = false;
  const answer = await Promise.race([
    firing,
    (async (): Promise<undefined> => {
      while (running) {
        await sleep(50);
        if (probeSince !== undefined && performance.now() - probeSince > capMs) {
          capped = true;
          return undefined;
        }
      }
      return undefined;
    })(),
  ]);
  const cut = (): Stall => ({
    stallMs: capMs,
    capped: true,
    baselineMs,
    answer: undefined,
    probes: probes.length,
  });
  if (capped || !answer) {
    // The probe in flight ends when the node is replaced; its loop is not waited for.
    running = false;
    return cut();
  }
  await sleep(TAIL_MS);
  running = false;
  // Work the node does after answering may hold the last probe past the cap too.
  const done = await Promise.race([loop.then(() => true), sleep(capMs).then(() => false)]);
  if (!done) return cut();
  const windowEnd = answer.ended + TAIL_MS;
  const during = probes.filter((p) => p.ended >= answer.started && p.started <= windowEnd);
  const longest = Math.max(0, ...during.map((p) => p.ms));
  return {
    stallMs: Math.max(0, longest - baselineMs),
    capped: false,
    baselineMs,
    answer,
    probes: during.length,
  };
}
