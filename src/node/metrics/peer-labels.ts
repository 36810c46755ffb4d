/**
 * Label values for peers, bounded: every labelled peer is a time series an operator's
 * Prometheus keeps, and peers are named by others, so the first `max` peers seen keep their
 * URL and all later ones share the label "other".
 */
export const OTHER_PEERS = 'other';

export class PeerLabels {
  private readonly labelled = new Set<string>();

  constructor(readonly max: number) {}

  label(url: string): string {
    if (this.labelled.has(url)) return url;
    if (this.labelled.size >= this.max) return OTHER_PEERS;
    this.labelled.add(url);
    return url;
  }
}
