/**
 * Runs every crafted request against a node, each a few times from fresh source addresses,
 * and keeps per route the request that stalled the node's main thread longest (the median of
 * its repetitions, so one scheduling hiccup of a shared machine does not decide the figure).
 */
import {
  CRAFTED_REQUESTS,
  MAX_REQUEST_BYTES,
  requestBytes,
  type Victim,
} from './crafted-requests.js';
import { median } from './latency.js';
import { send, type LoopbackAddresses } from './loopback-http.js';
import { measureStall } from './stall-probe.js';

export interface RequestCost {
  readonly route: string;
  readonly name: string;
  readonly bytes: number;
  /** Median main-thread stall over the repetitions, in milliseconds. */
  readonly stallMs: number;
  /** Median time to the answer's last byte. */
  readonly answerMs: number;
  readonly statuses: readonly number[];
}

export async function measureRequestCosts(
  victim: Victim,
  addresses: LoopbackAddresses,
  repetitions: number,
  log: (line: string) => void,
): Promise<RequestCost[]> {
  const costs: RequestCost[] = [];
  for (const crafted of CRAFTED_REQUESTS) {
    const stalls: number[] = [];
    const answers: number[] = [];
    const statuses: number[] = [];
    let bytes = 0;
    for (let i = 0; i < repetitions; i++) {
      const built = await crafted.build(victim);
      bytes = requestBytes(built);
      if (bytes > MAX_REQUEST_BYTES)
        throw new Error(`${crafted.route} (${crafted.name}) is ${bytes} bytes, over 64 KiB`);
      const from = addresses.take();
      const stall = await measureStall(victim.url, addresses.take(), () =>
        send(`${victim.url}${built.path}`, {
          method: built.method,
          headers: built.headers,
          ...(built.body ? { body: built.body } : {}),
          from,
          timeoutMs: 120_000,
        }),
      );
      stalls.push(stall.stallMs);
      answers.push(stall.answer.ms);
      statuses.push(stall.answer.status);
    }
    const cost: RequestCost = {
      route: crafted.route,
      name: crafted.name,
      bytes,
      stallMs: median(stalls),
      answerMs: median(answers),
      statuses,
    };
    log(
      `    ${cost.route} · ${cost.name} (${bytes} B): stall ${cost.stallMs.toFixed(1)} ms, answer ${cost.answerMs.toFixed(1)} ms, HTTP ${statuses.join('/')}`,
    );
    costs.push(cost);
  }
  return costs;
}

/** The costliest request of each route, in the order the routes were first measured. */
export function worstPerRoute(costs: readonly RequestCost[]): RequestCost[] {
  const worst = new Map<string, RequestCost>();
  for (const cost of costs) {
    const current = worst.get(cost.route);
    if (!current || cost.stallMs > current.stallMs) worst.set(cost.route, cost);
  }
  return [...worst.values()];
}
