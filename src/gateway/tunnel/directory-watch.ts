/**
 * Fresh directories for the persons a tunnel involves (docs/tunnels.md §5). The poller reads
 * every directory every poll interval, seconds apart; a revoked device must lose its tunnels
 * within a second. So while tunnels are open, this reads just those directory tables, from a
 * cursor, every 250 ms, hands what it finds to the identity layer (which judges and keeps the
 * statements as the poller would), and then tells the tunnels to check their sessions again.
 * A new connection asks for a read no older than one interval before it is let in.
 */
import type { Logger } from 'pino';
import type { IdentityLayer } from '../identity/layer.js';

export const WATCH_INTERVAL_MS = 250;
/** Statements that reach a node late (through another node) still have times this recent. */
const LOOKBACK_MS = 10_000;
/** A read that takes longer is given up: the next tick tries again. */
const READ_TIMEOUT_MS = 2_000;
const PAGE = 500;
const MAX_PAGES = 20;
/** Tables one read names at most (a node's limit). */
const TABLES_PER_READ = 64;
/** Persons read this often at most: four reads per interval. */
const MAX_PERSONS = 256;

export class DirectoryWatch {
  private cursor = 0;
  private lastRead = 0;
  private reading: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private failing = false;

  constructor(
    private readonly layer: IdentityLayer,
    /** The persons whose directories matter now; none: the watch idles. */
    private readonly persons: () => readonly string[],
    /** Called after each read that was asked for by the timer (the tunnels re-check sessions). */
    private readonly checked: () => void,
    private readonly log: Logger,
  ) {}

  /** Reads every interval while `active()` says there is something to guard. */
  start(active: () => boolean): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (!active()) return;
      void this.fresh(0).then(() => this.checked());
    }, WATCH_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Resolves once the directories have been read no longer than `maxAgeMs` ago (one read in
   * flight is shared). Never rejects: a read that fails leaves what the poller last read.
   */
  fresh(maxAgeMs = WATCH_INTERVAL_MS): Promise<void> {
    if (Date.now() - this.lastRead <= maxAgeMs && maxAgeMs > 0) return Promise.resolve();
    this.reading ??= this.read()
      .then(
        () => {
          if (this.failing) this.log.info('tunnel directory reads work again');
          this.failing = false;
        },
        (error: unknown) => {
          // Once per run of failures: they come every interval while the nodes are down.
          if (!this.failing) this.log.warn({ err: error }, 'tunnel directory read failed');
          this.failing = true;
        },
      )
      .finally(() => {
        this.reading = undefined;
      });
    return this.reading;
  }

  private async read(): Promise<void> {
    const started = Date.now();
    // Past the first persons, a directory is as fresh as the poller keeps it.
    const persons = [...new Set(this.persons())].slice(0, MAX_PERSONS);
    if (persons.length === 0) {
      this.lastRead = started;
      return;
    }
    for (const person of persons) this.layer.directories.follow(person);
    // Directories never read are read whole first (and so become known).
    await this.layer.readDirectories(persons);
    let newest = this.cursor;
    for (let at = 0; at < persons.length; at += TABLES_PER_READ) {
      newest = Math.max(newest, await this.readSome(persons.slice(at, at + TABLES_PER_READ)));
    }
    this.cursor = newest;
    this.lastRead = started;
  }

  /** Reads the directories of up to 64 persons from the cursor; returns the newest time seen. */
  private async readSome(persons: readonly string[]): Promise<number> {
    const tables = persons.map((p) => this.layer.directories.keysOf(p).table.signing.publicKey);
    let since = Math.max(0, this.cursor - LOOKBACK_MS);
    let newest = this.cursor;
    for (let page = 0; page < MAX_PAGES; page++) {
      const result = await this.layer.client.get({
        tables,
        since,
        order: 'asc',
        limit: PAGE,
        signal: AbortSignal.timeout(READ_TIMEOUT_MS),
      });
      if (!result.nodes.some((n) => n.ok)) throw new Error('no node answered');
      this.layer.index.transaction(() => {
        for (const entry of result.entries) {
          const person = persons.find((p) =>
            this.layer.directories.keysOf(p).table.signing.publicKey.equals(entry.table),
          );
          if (person) this.layer.ingestChannel(this.layer.directoryChannel(person), entry);
          newest = Math.max(newest, entry.createdAt);
        }
      });
      if (result.entries.length < PAGE) break;
      since = result.entries.at(-1)!.createdAt;
    }
    return newest;
  }
}
