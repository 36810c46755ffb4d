/**
 * The public SDK surface of p2pcloud: `import { Client, generateIdentity } from 'p2pcloud'`.
 * Everything exported here is documented in README.md and kept stable within a major version.
 */
export { Client, open } from './client/client.js';
export type {
  ClientOptions,
  PutOptions,
  PutReport,
  NodePutResult,
  NodePutStatus,
  ReadFilter,
  ReadResult,
  VerifiedEntry,
  OpenedEntry,
  NodeReadReport,
  SubscribeFilter,
  SubscribeOptions,
} from './client/client.js';
export { Subscription } from './client/subscription.js';
export type { SubscribedEntry, SubscriptionState } from './client/subscription.js';
export { solvePow } from './client/pow-solver.js';
export { storeBlob, blobOfEntries, runJob, readReputation } from './client/compute/index.js';
export type {
  RunJobOptions,
  JobResult,
  JobProgress,
  NodeJobOutcome,
  ReputationRecord,
} from './client/compute/index.js';
export type { PowProgress, SolveOptions } from './client/pow-solver.js';

export {
  generateIdentity,
  generateTableKey,
  identityText,
  tableText,
  recipientText,
  parseIdentity,
  parseTableKey,
  serializeIdentity,
  serializeTableKey,
} from './keys/keys.js';
export type { Identity, TableKey } from './keys/keys.js';
export { loadIdentity, loadTableKey, saveIdentity, saveTableKey } from './keys/key-file.js';
export { decodeKeyText, encodeKeyText, parsePublicKey } from './encoding/key-text.js';

export { createEntry, draftEntry, finishEntry } from './entry/create.js';
export type { EntryDraft, EntryDraftInput } from './entry/create.js';
export { decodeEntry, encodeEntry, entryId, ENTRY_VERSION } from './entry/format.js';
export type { Entry, EntryFields } from './entry/format.js';
export { verifyEntryBytes } from './entry/verify.js';
export type { VerifyOutcome } from './entry/verify.js';
export { openEntry } from './entry/open.js';
export { encodeFrames, decodeFrames, ENTRIES_MEDIA_TYPE } from './entry/framing.js';

export { P2PError, ERROR_CODES } from './errors.js';
export type { ErrorCode } from './errors.js';

export { startNode } from './node/server.js';
export type { RunningNode, StartOptions } from './node/server.js';
export { parseNodeConfig } from './node/config.js';
export type { NodeConfig, NodeConfigInput } from './node/config.js';
export type { Store } from './store/store.js';
export { openSqliteStore } from './store/sqlite/sqlite-store.js';

// The identity layer's rules (docs/identity.md): pure, the same in every client.
export {
  signStatement,
  decodeStatement,
  encodeStatement,
  statementMessage,
} from './identity/statement.js';
export type { Statement, StatementKind, NewStatement } from './identity/statement.js';
export { deviceState, directoryKeys, certBody, revokeBody } from './identity/directory.js';
export type { DeviceState, DeviceInfo } from './identity/directory.js';
export { createLinkCode, parseLinkCode, linkKeys } from './identity/link-code.js';
export {
  epochKeysFromSecret,
  epochKeysForReader,
  controlKeys,
  epochPublic,
  matchesEpoch,
  sealPackage,
  openPackage,
  encodeGroupKeys,
  decodeGroupKeys,
} from './identity/epoch.js';
export type { EpochKeys, PackageContent, HistoryItem } from './identity/epoch.js';
export { groupIdOf, groupOpBody, parseGroupOp } from './identity/group-op.js';
export type { GroupOp, OpKind, Role } from './identity/group-op.js';
export { groupState } from './identity/group-state.js';
export type { GroupState, RejectReason } from './identity/group-state.js';

// The local gateway in-process, and the key-value store and logs of its groups (docs/gateway.md
// §14, docs/kv.md).
export { startGateway } from './gateway/server.js';
export type { RunningGateway, GatewayStartOptions } from './gateway/server.js';
export { parseGatewayConfig } from './gateway/config.js';
export type { GatewayConfig, GatewayConfigInput } from './gateway/config.js';
export { openKV, openLog } from './gateway/kv/sdk.js';
// Files of a group space: the drive (docs/gateway.md §15, docs/files.md).
export { openFiles } from './gateway/files/sdk.js';
export type {
  Drive,
  FileView,
  FolderView,
  ListAnswer,
  PutAnswer,
  Source as FileSource,
} from './gateway/files/drive.js';
export type {
  SpaceOptions,
  KvLog,
  LogEntryView,
  LogPage,
  LogProblem,
  LogContradiction,
  AppendedEntry,
  LogHeadProof,
  FollowOptions,
} from './gateway/kv/sdk.js';
export { KvReplica } from './gateway/kv/replica.js';
export type { KvChange, ReplicaStatus } from './gateway/kv/replica.js';
export type { KvVersion } from './kv/merge.js';

// Encrypted files (docs/files.md): the pure format, the same in every client.
export {
  Chunker,
  chunkAll,
  chunkMasks,
  CHUNK_MIN_BYTES,
  CHUNK_AVG_BYTES,
  CHUNK_MAX_BYTES,
  DEFAULT_CHUNK_SIZES,
} from './files/chunker.js';
export type { Chunk, ChunkSizes } from './files/chunker.js';
export { gearTable, gearDigest } from './files/gear.js';
export { fileKeys } from './files/keys.js';
export type { FileKeys } from './files/keys.js';
export { chunkId, chunkIdMatches } from './files/chunk-id.js';
export {
  encodeManifest,
  decodeManifest,
  encodePage,
  decodePage,
  isMediaType,
  MAX_ITEMS,
  MAX_MANIFEST_TEXT_BYTES,
  MAX_PAGE_DEPTH,
} from './files/manifest.js';
export type {
  ChunkRef,
  PageRef,
  FileManifest,
  FilePage,
  ManifestRefusal,
} from './files/manifest.js';
export { splitIntoPages, rangeChunks, verifyChunk } from './files/manifest-tree.js';
export type { Span, Extent } from './files/manifest-tree.js';
export {
  normalizePath,
  nameKey,
  pathKey,
  isValidName,
  conflictName,
  MAX_PATH_BYTES,
  MAX_SEGMENT_BYTES,
  MAX_PATH_SEGMENTS,
} from './files/path.js';
export type { PathCheck, PathRefusal } from './files/path.js';

// Files spread over providers by erasure coding (docs/spread.md).
export { spreadFile } from './client/spread/spread.js';
export type { SpreadOptions, SpreadProgress, SpreadResult } from './client/spread/spread.js';
export { restoreFile } from './client/spread/restore.js';
export type { RestoreOptions, RestoreProgress, RestoreResult } from './client/spread/restore.js';
export { repairFile } from './client/spread/repair.js';
export type {
  RepairOptions,
  RepairProgress,
  RepairResult,
  Replacement,
} from './client/spread/repair.js';
export { ErasureCode, isSupportedCode } from './files/spread/erasure.js';
export { MAX_SHARD_BYTES, shardBytesFor, stripeCount } from './files/spread/layout.js';
export { decodeSpreadManifest, encodeSpreadManifest } from './files/spread/manifest.js';
export type { SpreadManifest, SpreadProvider } from './files/spread/manifest.js';
export {
  decodePage as decodeShardPage,
  encodePage as encodeShardPage,
} from './files/spread/page.js';
export type { ShardPage, ShardRef } from './files/spread/page.js';

// The provider market: offers (docs/market.md), prepaid tickets (docs/tickets.md), metering
// and billing (docs/billing.md).
export { listOffers, publishOffer, rankMarket, probeNode } from './client/market/offers.js';
export type { OfferListing, NodeProbe } from './client/market/offers.js';
export { signOffer, encodeOffer, decodeOffer } from './market/offers/offer.js';
export type { Offer, OfferBody, OfferPrices } from './market/offers/offer.js';
export type { OfferFilter, RankInput } from './market/offers/select.js';
export { buyTickets } from './client/tickets/buy.js';
export { issuerKeys } from './client/tickets/issuer-keys.js';
export { readWallet, writeWallet } from './client/tickets/wallet.js';
export type { WalletFile, WalletTicket } from './client/tickets/wallet.js';
export { Ledger } from './client/billing/ledger.js';
export type { LedgerData } from './client/billing/ledger.js';
export type { Payer } from './client/billing/metered.js';
export { fetchReceipts, recordJobReceipt } from './client/billing/metered.js';
export { fetchJobResult } from './client/compute/job-result.js';
export { billingInfo } from './client/billing/node-key.js';
export { checkReceipts, checkInvoice } from './client/billing/check.js';
export type { CheckResult, Difference, DifferenceReason } from './client/billing/check.js';
export { verifyUsageReceipt } from './market/billing/receipt.js';
export type { UsageBody, UsageReceipt, HeldFigures } from './market/billing/receipt.js';
