/**
 * The write requests a spread or a repair makes of one provider, as entry bytes each, known
 * from the layout before anything is written (docs/spread.md §5.4): one per run of stripes
 * (that run's shards), one per shard page, one for the manifest. A payer budgets on them.
 */
import { entryBytesFor } from '../../entry/create.js';
import { pageCount, pageStripes } from '../../files/spread/layout.js';
import { PAGE_HEADER_BYTES } from '../../files/spread/page.js';

/** Bytes of one page reference: entry id and SHA-256. */
const PAGE_REF_BYTES = 64;

/** Entry bytes of each request that stores one provider's shards and pages. */
export function shardRequestBytes(
  stripes: number,
  shardBytes: number,
  runStripes: number,
): number[] {
  const shardEntry = entryBytesFor(shardBytes, true);
  const requests: number[] = [];
  for (let first = 0; first < stripes; first += runStripes) {
    requests.push(Math.min(runStripes, stripes - first) * shardEntry);
  }
  for (let page = 0; page < pageCount(stripes); page++) {
    const { count } = pageStripes(stripes, page);
    requests.push(entryBytesFor(PAGE_HEADER_BYTES + count * PAGE_REF_BYTES, true));
  }
  return requests;
}

/** Entry bytes of the request that stores a manifest of `manifestBytes` on one provider. */
export function manifestRequestBytes(manifestBytes: number): number {
  return entryBytesFor(manifestBytes, true);
}
