/**
 * Amounts counted per key in fixed windows of time, in a map of bounded size. Each key's
 * window starts with the first amount counted for it; when it ends the key starts afresh.
 * The map is bounded, so a flood of keys costs a fixed amount of memory. When it is full,
 * keys whose window has ended are dropped first; then, with whenFull 'evict' (the default),
 * the least recently counted key is dropped (it starts afresh, which favours the flooded keys
 * only as long as the flood lasts), and with 'refuse' a new key is not counted at all: add()
 * returns false and hasRoom() tells beforehand, so that no active count is ever reset.
 */
export interface WindowUse {
  /** What was counted in the current window, one number per dimension. */
  readonly used: readonly number[];
  /** Whole seconds until the window ends (at least 1). */
  readonly retryAfterSeconds: number;
}

interface Slot {
  start: number;
  used: number[];
}

export class WindowCounters {
  private readonly slots = new Map<string, Slot>();

  constructor(
    readonly windowMs: number,
    readonly maxKeys: number,
    /** How many amounts are counted per key (entries and bytes, for one). */
    readonly dimensions = 1,
    readonly whenFull: 'evict' | 'refuse' = 'evict',
  ) {}

  /** Drops every key whose window has ended; O(keys), so only done when the map is full. */
  private dropExpired(now: number): void {
    for (const [key, slot] of this.slots) {
      if (now - slot.start >= this.windowMs) this.slots.delete(key);
    }
  }

  /** Whether add() would count `key` now (always, unless whenFull is 'refuse'). */
  hasRoom(key: string, now = Date.now()): boolean {
    if (this.whenFull === 'evict' || this.slots.size < this.maxKeys) return true;
    const slot = this.slots.get(key);
    if (slot && now - slot.start < this.windowMs) return true;
    this.dropExpired(now);
    return this.slots.size < this.maxKeys;
  }

  private slot(key: string, now: number, create: boolean): Slot | undefined {
    let slot = this.slots.get(key);
    if (slot && now - slot.start >= this.windowMs) {
      this.slots.delete(key);
      slot = undefined;
    }
    if (!slot && create) {
      if (this.slots.size >= this.maxKeys) this.dropExpired(now);
      if (this.slots.size >= this.maxKeys) {
        if (this.whenFull === 'refuse') return undefined;
        const oldest = this.slots.keys().next().value as string;
        this.slots.delete(oldest);
      }
      slot = { start: now, used: new Array<number>(this.dimensions).fill(0) };
    }
    if (slot) {
      // Map order is the recency order: the most recently counted key goes last.
      this.slots.delete(key);
      this.slots.set(key, slot);
    }
    return slot;
  }

  /** What `key` has used in its current window (zeros if nothing). */
  use(key: string, now = Date.now()): WindowUse {
    const slot = this.slots.get(key);
    if (!slot || now - slot.start >= this.windowMs) {
      return {
        used: new Array<number>(this.dimensions).fill(0),
        retryAfterSeconds: Math.max(1, Math.ceil(this.windowMs / 1000)),
      };
    }
    return {
      used: [...slot.used],
      retryAfterSeconds: Math.max(1, Math.ceil((slot.start + this.windowMs - now) / 1000)),
    };
  }

  /** Counts `amounts` for `key` in its current window; false if the map had no room for it. */
  add(key: string, amounts: readonly number[], now = Date.now()): boolean {
    const slot = this.slot(key, now, true);
    if (!slot) return false;
    for (let i = 0; i < this.dimensions; i++) slot.used[i]! += amounts[i] ?? 0;
    return true;
  }

  /**
   * Gives back `amounts` counted at `countedAt`, if that was in the key's current window (a
   * window that ended has been forgotten already).
   */
  refund(key: string, amounts: readonly number[], countedAt: number): void {
    const slot = this.slots.get(key);
    if (!slot || countedAt < slot.start) return;
    for (let i = 0; i < this.dimensions; i++) {
      slot.used[i] = Math.max(0, slot.used[i]! - (amounts[i] ?? 0));
    }
  }

  get size(): number {
    return this.slots.size;
  }
}
