/**
 * An honest writer and a watcher: fresh entries are put on one node at a steady rate, and the
 * watcher polls another node for them, so the delay from an entry's put to its arrival there
 * (by replication) is known to within the polling period.
 */
import { entryId } from '../../src/entry/format.js';
import { ENTRIES_MEDIA_TYPE, encodeFrames } from '../../src/entry/framing.js';
import { toHex } from '../../src/encoding/bytes.js';
import { send, type LoopbackAddresses } from './loopback-http.js';

/** Ids per /get: 64 hex characters and "&id=" each, within the node's header size limit. */
const IDS_PER_QUERY = 150;

export interface Arrivals {
  readonly put: number;
  readonly arrived: number;
  /** Put-to-arrival delays in milliseconds; entries that never arrived count the time waited. */
  readonly delays: readonly number[];
  readonly putFailures: number;
}

export class HonestWriter {
  private readonly putAt = new Map<string, number>();
  private readonly delays: number[] = [];
  private readonly writeTimer: NodeJS.Timeout;
  private readonly watchTimer: NodeJS.Timeout;
  private readonly writerFrom: string;
  private readonly watchers: string[];
  private writing = true;
  private watching = false;
  private putCount = 0;
  private putFailures = 0;
  private watchRound = 0;

  constructor(
    private readonly source: string,
    private readonly target: string,
    /** The next fresh entry to put (made ahead of time: proof of work takes a while). */
    private readonly nextEntry: () => Buffer | undefined,
    addresses: LoopbackAddresses,
    everyMs: number,
    private readonly pollMs = 250,
  ) {
    this.writerFrom = addresses.take();
    this.watchers = Array.from({ length: 8 }, () => addresses.take());
    this.writeTimer = setInterval(() => void this.write(), everyMs);
    this.watchTimer = setInterval(() => void this.watch(), pollMs);
  }

  private async write(): Promise<void> {
    if (!this.writing) return;
    const bytes = this.nextEntry();
    if (!bytes) return;
    const answer = await send(`${this.source}/put`, {
      method: 'POST',
      from: this.writerFrom,
      headers: { 'content-type': ENTRIES_MEDIA_TYPE, 'p2pcloud-results': 'summary' },
      body: encodeFrames([bytes]),
    });
    const stored = answer.status === 200 && JSON.parse(answer.body.toString()).stored === 1;
    if (!stored) {
      this.putFailures += 1;
      return;
    }
    // The entry exists on the source from the moment its put was answered.
    this.putAt.set(toHex(entryId(bytes)), answer.ended);
    this.putCount += 1;
  }

  private async watch(): Promise<void> {
    if (this.watching || this.putAt.size === 0) return;
    this.watching = true;
    try {
      const ids = [...this.putAt.keys()];
      for (let i = 0; i < ids.length; i += IDS_PER_QUERY) {
        const chunk = ids.slice(i, i + IDS_PER_QUERY);
        const query = chunk.map((id) => `id=${id}`).join('&');
        const answer = await send(`${this.target}/get?format=binary&limit=1000&${query}`, {
          from: this.watchers[this.watchRound++ % this.watchers.length]!,
          timeoutMs: 60_000,
        });
        if (answer.status !== 200) continue;
        const body = answer.body;
        for (let offset = 0; offset + 4 <= body.length; ) {
          const length = body.readUInt32BE(offset);
          const id = toHex(entryId(body.subarray(offset + 4, offset + 4 + length)));
          const at = this.putAt.get(id);
          // Arrived by the end of this answer at the latest (and after the previous poll).
          if (at !== undefined) {
            this.delays.push(Math.max(0, answer.ended - at));
            this.putAt.delete(id);
          }
          offset += 4 + length;
        }
      }
    } finally {
      this.watching = false;
    }
  }

  /** Stops writing now; keeps watching for up to `graceMs` for the entries still on their way. */
  async stop(graceMs: number): Promise<Arrivals> {
    this.writing = false;
    clearInterval(this.writeTimer);
    const deadline = performance.now() + graceMs;
    while (this.putAt.size > 0 && performance.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, this.pollMs));
    clearInterval(this.watchTimer);
    while (this.watching) await new Promise((resolve) => setTimeout(resolve, 20));
    const now = performance.now();
    const delays = [...this.delays, ...[...this.putAt.values()].map((at) => now - at)];
    return {
      put: this.putCount,
      arrived: this.delays.length,
      delays,
      putFailures: this.putFailures,
    };
  }
}
