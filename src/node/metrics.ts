/**
 * Counters a node keeps about itself for /health and the dashboard. In memory only: they
 * restart from zero with the process, which is what an operator watching a node expects.
 */
import type { ErrorCode } from '../errors.js';
import { PeerLabels } from './metrics/peer-labels.js';

export interface ActivityItem {
  readonly at: number;
  readonly kind: 'put' | 'sync' | 'hello' | 'reject' | 'sweep';
  readonly text: string;
}

const ACTIVITY_KEEP = 200;

/** What this node exchanged with one peer (or with all peers labelled "other"). */
export interface PeerCounts {
  /** Sync sessions by outcome. */
  readonly sessions: Map<string, number>;
  sentBytes: number;
  receivedBytes: number;
}

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
  syncRounds = 0;
  /** Keyed by peer label: bounded by the label cap. */
  readonly peers = new Map<string, PeerCounts>();
  /** Metrics of optional subsystems (compute, …), rendered after the node's own in /metrics. */
  readonly extraMetrics: { metrics(): Promise<string> }[] = [];
  private readonly peerLabels: PeerLabels;

  constructor(maxPeerLabels = 100) {
    this.peerLabels = new PeerLabels(maxPeerLabels);
  }

  private peer(url: string): PeerCounts {
    const label = this.peerLabels.label(url);
    let counts = this.peers.get(label);
    if (!counts) {
      counts = { sessions: new Map(), sentBytes: 0, receivedBytes: 0 };
      this.peers.set(label, counts);
    }
    return counts;
  }

  syncSession(url: string, outcome: string): void {
    const { sessions } = this.peer(url);
    sessions.set(outcome, (sessions.get(outcome) ?? 0) + 1);
  }

  syncTraffic(url: string, sentBytes: number, receivedBytes: number): void {
    const counts = this.peer(url);
    counts.sentBytes += sentBytes;
    counts.receivedBytes += receivedBytes;
  }

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
