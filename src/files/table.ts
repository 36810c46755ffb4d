/**
 * The files table of a group epoch (docs/files.md §7.1): chunks, pages and large manifests are
 * entries of their own table, apart from the epoch's data table, so that the poller, which reads
 * a data table whole, does not download every file; they are fetched by entry id when read.
 * Derived from the data table's seed, which only the epoch's writers hold: readers cannot sign
 * for it.
 */
import { hkdfExpand, hkdfExtract } from '../crypto/hkdf.js';
import { signingKeyPairFromSeed } from '../crypto/ed25519.js';
import { utf8 } from '../encoding/bytes.js';
import type { TableKey } from '../keys/keys.js';

const FILES_TABLE_INFO = utf8('p2pcloud/v1/files/table');

/** files table seed = HKDF(salt = group id, ikm = data table seed, "p2pcloud/v1/files/table", 32) */
export function filesTableKey(groupId: Uint8Array, dataTableSeed: Uint8Array): TableKey {
  if (groupId.length !== 16) throw new RangeError('a group id is 16 bytes');
  if (dataTableSeed.length !== 32) throw new RangeError('a table seed is 32 bytes');
  const seed = hkdfExpand(hkdfExtract(groupId, dataTableSeed), FILES_TABLE_INFO, 32);
  return { signing: signingKeyPairFromSeed(seed) };
}
