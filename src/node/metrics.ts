/**
 * Counters a node keeps about itself for /health and the dashboard. In memory only: they
 * restart from zero with the process, which is what an operator watching a node expects.
 */
import type { ErrorCode } from '../errors.js';

export interface ActivityItem {
  readonly at: number;
  readonly kind: 'put' | 'sync' | 'hello' | 'reject' | 'sweep';
  readonly text: string;
}

const ACTIVITY_KEEP = 200;

export class NodeMetrics {
  readonly startedAt = Date.now();
  putRequests = 0;
  stored = 0;
  storedFromSync = 0;
  duplicates = 0;
  readonly rejected = new Map<ErrorCode, number>();
  readonly activity: ActivityItem[] = [];
  getRequests = 0;
  helloRequests = 0;
  expired = 0;

  reject(code: ErrorCode, count = 1): void {
    this.rejected.set(code, (this.rejected.get(code) ?? 0) + count);
  }

  note(kind: ActivityItem['kind'], text: string): void {
    this.activity.push({ at: Date.now(), kind, text });
    if (this.activity.length > ACTIVITY_KEEP)
      this.activity.splice(0, this.activity.length - ACTIVITY_KEEP);
  }

  rejectedTotal(): number {
    let total = 0;
    for (const value of this.rejected.values()) total += value;
    return total;
  }
}
