/**
 * `/health` latency as a user of the node sees it: one request every `everyMs` whether or not
 * the previous ones were answered (a frozen node accumulates slow samples, as it would
 * accumulate waiting users), from a pool of source addresses so that the prober's own rate
 * does not meet the node's per-address limits. A request still unanswered when sampling stops
 * counts with the time it has waited so far.
 */
import { percentiles, type Percentiles } from './latency.js';
import { NO_ANSWER, send, type LoopbackAddresses } from './loopback-http.js';

export interface HealthLatency extends Percentiles {
  /** Answers other than 200, by status (0 = no answer). */
  readonly statuses: Record<string, number>;
}

export class HealthSampler {
  /** Latency of each probe, with when it was sent. */
  private readonly samples: { sent: number; ms: number }[] = [];
  private readonly statuses: Record<string, number> = {};
  private readonly pending = new Map<number, number>();
  private readonly timer: NodeJS.Timeout;
  private readonly sources: string[];
  private sent = 0;

  constructor(
    private readonly url: string,
    addresses: LoopbackAddresses,
    everyMs = 75,
    sources = 16,
    private readonly maxPending = 400,
  ) {
    this.sources = Array.from({ length: sources }, () => addresses.take());
    this.timer = setInterval(() => this.probe(), everyMs);
  }

  private probe(): void {
    if (this.pending.size >= this.maxPending) return;
    const id = this.sent++;
    this.pending.set(id, performance.now());
    void send(`${this.url}/health`, {
      from: this.sources[id % this.sources.length]!,
      timeoutMs: 60_000,
    }).then((answer) => {
      if (!this.pending.delete(id)) return;
      // No answer at all (the node is gone or refuses connections) is no latency bound.
      this.samples.push({
        sent: answer.started,
        ms: answer.status === NO_ANSWER ? Infinity : answer.ms,
      });
      if (answer.status !== 200) {
        const key = answer.status === NO_ANSWER ? 'none' : String(answer.status);
        this.statuses[key] = (this.statuses[key] ?? 0) + 1;
      }
    });
  }

  stop(): HealthLatency {
    clearInterval(this.timer);
    const now = performance.now();
    for (const sent of this.pending.values()) this.samples.push({ sent, ms: now - sent });
    if (this.pending.size > 0) this.statuses.unanswered = this.pending.size;
    this.pending.clear();
    return { ...percentiles(this.samples.map((s) => s.ms)), statuses: { ...this.statuses } };
  }

  /** Percentiles of the probes sent in [from, to) (performance.now() times), after stop(). */
  window(from: number, to: number): Percentiles {
    return percentiles(this.samples.filter((s) => s.sent >= from && s.sent < to).map((s) => s.ms));
  }
}
