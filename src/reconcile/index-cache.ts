import type { IndexView } from '../store/store.js';
import { bucketDigest, indexRoot } from './buckets.js';

/**
 * The bucket digests and the root over them, memoised per state of the store: only buckets
 * whose state changed since the last call are hashed again.
 */
export class IndexDigests {
  private view: IndexView | undefined;
  private digests: Buffer[] = [];
  private root: Buffer = Buffer.alloc(0);

  compute(view: IndexView): { digests: Buffer[]; root: Buffer } {
    if (this.view?.version !== view.version || this.view.buckets !== view.buckets) {
      const previous = this.view;
      this.digests = view.states.map((state, b) => {
        const old = previous?.states[b];
        if (old && old.count === state.count && old.sum.equals(state.sum) && this.digests[b]) {
          return this.digests[b]!;
        }
        return bucketDigest(state.count, state.sum);
      });
      this.root = indexRoot(view.count, this.digests);
      this.view = view;
    }
    return { digests: this.digests, root: this.root };
  }
}
