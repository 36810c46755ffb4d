/**
 * A token bucket that may go into debt: a chunk already read is always passed on, and the
 * debt it leaves is how long its sender waits before the next one is read. So the bucket never
 * makes the relay hold bytes, it only delays reading them.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  /**
   * @param rate bytes per second
   * @param burst most tokens saved up while idle (one second's worth by default)
   */
  constructor(
    readonly rate: number,
    readonly burst: number = rate,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = burst;
    this.last = now();
  }

  /** Takes `bytes`; returns how many milliseconds the sender should wait (0: none). */
  take(bytes: number): number {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.rate) / 1000);
    this.last = now;
    this.tokens -= bytes;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.rate);
  }
}
