/**
 * Runs every crafted request against a node, each a few times from fresh source addresses,
 * and keeps per route the request that stalled the node's main thread longest (the median of
 * its repetitions, so one scheduling hiccup of a shared machine does not decide the figure).
 * A request that holds the node past the cap is measured once, as "at least the cap", and the
 * node is replaced (killed and started again on the same store) before the next request.
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
  /** Median main-thread stall over the repetitions, in milliseconds (the cap if cut). */
  readonly stallMs: number;
  /** The stall reached the cap: stallMs is a lower bound. */
  readonly capped: boolean;
  /** Median time to the answer's last byte (NaN if cut). */
  readonly answerMs: number;
  /** HTTP statuses of the repetitions (0 = no answer; -1 = cut at the cap). */
  readonly statuses: readonly number[];
}

export interface CostOptions {
  readonly repetitions: number;
  readonly capMs: number;
  /** Replaces a node left stuck by a request; answers the new one. */
  readonly replace: (stuck: Victim) => Promise<Victim>;
  readonly log: (line: string) => void;
}

export async function measureRequestCosts(
  first: Victim,
  addresses: LoopbackAddresses,
  options: CostOptions,
): Promise<RequestCost[]> {
  let victim = first;
  const costs: RequestCost[] = [];
  for (const crafted of CRAFTED_REQUESTS) {
    const stalls: number[] = [];
    const answers: number[] = [];
    const statuses: number[] = [];
    let bytes = 0;
    let capped = false;
    for (let i = 0; i < options.repetitions && !capped; i++) {
      const built = await crafted.build(victim);
      bytes = requestBytes(built);
      if (bytes > MAX_REQUEST_BYTES)
        throw new Error(`${crafted.route} (${crafted.name}) is ${bytes} bytes, over 64 KiB`);
      const from = addresses.take();
      const url = victim.url;
      const stall = await measureStall(
        url,
        addresses.take(),
        () =>
          send(`${url}${built.path}`, {
            method: built.method,
            headers: built.headers,
            ...(built.body ? { body: built.body } : {}),
            from,
            timeoutMs: 600_000,
          }),
        options.capMs,
      );
      stalls.push(stall.stallMs);
      if (stall.answer) answers.push(stall.answer.ms);
      statuses.push(stall.answer ? stall.answer.status : -1);
      if (stall.capped) {
        capped = true;
        options.log(
          `    ${crafted.route} · ${crafted.name}: stuck past ${options.capMs} ms; replacing the node`,
        );
        victim = await options.replace(victim);
      }
    }
    const cost: RequestCost = {
      route: crafted.route,
      name: crafted.name,
      bytes,
      stallMs: capped ? options.capMs : median(stalls),
      capped,
      answerMs: answers.length > 0 ? median(answers) : NaN,
      statuses,
    };
    options.log(
      `    ${cost.route} · ${cost.name} (${bytes} B): stall ${capped ? '≥ ' : ''}${cost.stallMs.toFixed(1)} ms, answer ${cost.answerMs.toFixed(1)} ms, HTTP ${statuses.join('/')}`,
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
