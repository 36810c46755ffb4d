/**
 * Every error p2pcloud reports carries a stable machine-readable code. The table below is the
 * single source of truth: the HTTP status a node answers with, and a default human message.
 * `docs/protocol.md` documents every code; a test keeps the two in step.
 */
export const ERROR_CODES = {
  // request-level (HTTP)
  bad_json: { status: 400, message: 'request body is not valid JSON' },
  bad_request: { status: 400, message: 'request is malformed' },
  bad_query: { status: 400, message: 'query parameter is invalid' },
  missing_filter: { status: 400, message: 'at least one filter is required' },
  bad_cursor: { status: 400, message: 'cursor is invalid or belongs to another query' },
  body_too_large: { status: 413, message: 'request body exceeds the size limit' },
  headers_too_large: { status: 431, message: 'request line and headers exceed the size limit' },
  request_timeout: { status: 408, message: 'the request was not received in time' },
  unsupported_media_type: { status: 415, message: 'content type is not supported' },
  not_found: { status: 404, message: 'no such route' },
  method_not_allowed: { status: 405, message: 'method not allowed on this route' },
  forbidden: { status: 403, message: 'request is not allowed from this client' },
  rate_limited: { status: 429, message: 'too many requests' },
  internal: { status: 500, message: 'internal error' },
  unavailable: { status: 503, message: 'node is not ready' },
  // live subscriptions (docs/protocol.md §15)
  subscription_limit: { status: 429, message: 'too many subscriptions on this node' },
  subscriber_too_slow: {
    status: 429,
    message: 'the subscriber did not read its messages fast enough',
  },
  no_subscriptions: { status: 501, message: 'this node offers no subscriptions' },
  // entry-level (each entry of a put batch gets its own)
  bad_base64: { status: 400, message: 'entry is not valid base64' },
  bad_encoding: { status: 400, message: 'entry bytes do not follow the canonical encoding' },
  unsupported_version: { status: 400, message: 'entry format version is not supported' },
  entry_too_large: { status: 413, message: 'entry exceeds the maximum entry size of this node' },
  bad_signature: { status: 422, message: 'table signature does not verify' },
  pow_too_low: { status: 422, message: 'proof of work is below the minimum of this node' },
  future_timestamp: { status: 422, message: 'created_at is too far in the future' },
  expired: { status: 422, message: 'entry has already expired' },
  table_not_accepted: { status: 403, message: 'this node does not mirror the table' },
  id_collision: { status: 409, message: 'a different entry with the same short id is stored' },
  table_rate_limited: { status: 429, message: 'the table took all the writes allowed per window' },
  quota_exceeded: { status: 403, message: 'the table is at its quota on this node' },
  policy_refused: { status: 403, message: "the node's write policy refused the entry" },
  policy_failed: { status: 503, message: "the node's write policy failed to decide" },
  // peers and sync
  bad_hello: { status: 400, message: 'hello message is invalid' },
  bad_peer_url: { status: 400, message: 'peer URL is not acceptable' },
  bad_sync_request: { status: 400, message: 'sync request is invalid' },
  // client side (SDK / CLI)
  bad_key: { status: 400, message: 'key is not valid' },
  bad_key_file: { status: 400, message: 'key file is not valid' },
  file_exists: { status: 409, message: 'file already exists' },
  decrypt_failed: { status: 422, message: 'entry cannot be opened with this key' },
  node_lied: { status: 502, message: 'node returned data that does not verify' },
  node_error: { status: 502, message: 'node returned an error' },
  node_unreachable: { status: 502, message: 'node cannot be reached' },
  proxy_unreachable: { status: 502, message: 'the SOCKS5 proxy cannot be reached or failed' },
  proxy_required: { status: 400, message: 'an onion address is reached only through a proxy' },
  all_nodes_failed: { status: 502, message: 'no node accepted the request' },
  bad_config: { status: 400, message: 'configuration is invalid' },
  bad_argument: { status: 400, message: 'argument is invalid' },
  aborted: { status: 499, message: 'operation was aborted' },
  // local gateway and apps
  unauthorized: { status: 401, message: 'sign in first: no valid session' },
  unknown_identity: { status: 403, message: 'this gateway does not hold that identity' },
  not_author: { status: 403, message: 'only the author of a record may change it' },
  no_such_space: { status: 404, message: 'no such space, or not a member of it' },
  no_such_record: { status: 404, message: 'no such record' },
  no_such_invite: { status: 404, message: 'no such invitation' },
  bad_record: { status: 400, message: 'record is not valid' },
  community_exists: { status: 409, message: 'a community with this short name exists already' },
  // devices and groups
  bad_link_code: { status: 400, message: 'link code is not valid' },
  link_code_used: { status: 409, message: 'this link code has been used already' },
  link_code_expired: { status: 410, message: 'this link code has expired' },
  link_timeout: { status: 504, message: 'the linking device did not answer in time' },
  not_linked: { status: 409, message: 'this device is not linked to a person' },
  already_linked: { status: 409, message: 'this device is linked already' },
  root_key_needed: { status: 403, message: "only the person's root key may do this" },
  no_such_device: { status: 404, message: 'no such device of this person' },
  no_such_group: { status: 404, message: 'no such group, or not a member of it' },
  forbidden_role: { status: 403, message: 'your role in this group does not allow this' },
  member_exists: { status: 409, message: 'already a member of this group' },
  not_member: { status: 404, message: 'not a member of this group' },
  group_incomplete: { status: 409, message: "the group's membership log is incomplete" },
  group_rekey_pending: {
    status: 409,
    message: "the group's keys are being changed: try again shortly",
  },
  // key-value store and logs (docs/kv.md)
  bad_kv_op: { status: 400, message: 'a key-value operation is not valid' },
  kv_batch_too_large: { status: 413, message: 'too many key-value operations in one request' },
  no_such_key: { status: 404, message: 'no such key' },
  bad_log: { status: 400, message: 'log name or position is not valid' },
  log_data_too_large: { status: 413, message: 'a log entry holds at most 32 KiB of data' },
  // files (docs/files.md, docs/gateway.md §15)
  bad_path: { status: 400, message: 'a file path is not valid' },
  upload_truncated: { status: 400, message: 'the upload did not carry the bytes it announced' },
  bad_range: { status: 416, message: 'the byte range is not within the file' },
  no_such_file: { status: 404, message: 'no such file' },
  chunk_unavailable: { status: 502, message: 'part of the file cannot be read from any node' },
  bad_manifest: { status: 502, message: "the file's manifest is not valid" },
  // files spread over providers (docs/spread.md)
  bad_spread_manifest: {
    status: 502,
    message: 'a spread manifest or shard page is not valid',
  },
  manifest_unavailable: { status: 502, message: 'no node given holds the spread manifest' },
  shards_unavailable: { status: 502, message: 'fewer than k providers hold good shards' },
  // tunnel relay (docs/tunnel-relay.md)
  relay_disabled: { status: 403, message: 'this node does not relay tunnels' },
  bad_relay_request: { status: 400, message: 'relay request or control message is not valid' },
  relay_auth_failed: { status: 401, message: "the leg's identity or signature does not verify" },
  relay_busy: { status: 429, message: 'a relay limit is reached' },
  relay_no_listener: { status: 404, message: 'no such device is registered for that service' },
  relay_no_such_leg: { status: 404, message: 'no such leg is waiting to be accepted' },
  relay_timeout: { status: 408, message: 'the relay step did not complete in time' },
  relay_replaced: { status: 409, message: 'a newer registration of this device replaced this one' },
  // tunnels: the secure channel between two devices (docs/tunnel-channel.md)
  tunnel_bad_handshake: {
    status: 400,
    message: 'the tunnel handshake is malformed or does not authenticate',
  },
  tunnel_version: { status: 400, message: 'the other end speaks another tunnel version' },
  tunnel_wrong_device: { status: 421, message: 'the device reached is not the one expected' },
  tunnel_refused: { status: 403, message: 'the other device refused the tunnel' },
  tunnel_timeout: { status: 504, message: 'the tunnel handshake did not complete in time' },
  tunnel_corrupt: {
    status: 502,
    message: 'a tunnel record was truncated, reordered, replayed or altered',
  },
  tunnel_lost: {
    status: 502,
    message: 'the connection under the tunnel ended before the tunnel was closed',
  },
  tunnel_closed: { status: 502, message: 'the other end closed the tunnel' },
  // tunnels between devices (docs/tunnels.md)
  bad_tunnel: { status: 400, message: 'a tunnel request is not valid' },
  no_such_tunnel: { status: 404, message: 'no such tunnel on this gateway' },
  tunnel_exists: { status: 409, message: 'a tunnel by this name or port is open already' },
  tunnel_forbidden: { status: 403, message: 'this device may not use this tunnel' },
  tunnel_limit: { status: 429, message: 'too many tunnel connections' },
  tunnel_no_device: { status: 404, message: 'no allowed device exposes this tunnel' },
  tunnel_unreachable: { status: 502, message: 'the tunnel could not be reached' },
  // compute jobs (docs/compute.md, docs/protocol.md §16)
  compute_disabled: { status: 404, message: 'this node does not run jobs' },
  job_invalid: { status: 400, message: 'the job request is not valid' },
  grant_invalid: { status: 400, message: "the job's grant is not valid for this job and node" },
  grant_expired: { status: 400, message: 'the job or its grant has expired' },
  input_not_granted: { status: 400, message: 'the grant holds no key for an entry the job reads' },
  input_missing: { status: 404, message: 'an entry the job reads is not on this node' },
  table_not_allowed: { status: 403, message: 'this node runs no jobs over that table' },
  limits_exceeded: { status: 400, message: "the job's limits exceed this node's" },
  job_replayed: { status: 409, message: 'this job was submitted already' },
  job_queue_full: { status: 503, message: "the node's job queue is full: try again later" },
  job_unknown: { status: 404, message: 'no such job on this node' },
  // compute jobs, client side (docs/compute.md)
  no_majority: {
    status: 502,
    message: 'no result was agreed on by a strict majority of the nodes asked',
  },
  bad_reputation: { status: 400, message: 'the reputation file is damaged' },
  node_duplicate: {
    status: 400,
    message: 'two node addresses lead to the same node',
  },
  job_failed: {
    status: 502,
    message: 'the node gave the job up without a receipt',
  },
  job_stopped: { status: 422, message: 'the job stopped before it finished' },
  // tickets (docs/tickets.md)
  ticket_invalid: {
    status: 422,
    message: 'a ticket is malformed or its signature does not verify',
  },
  ticket_unknown_issuer: {
    status: 403,
    message: 'the ticket is signed by an issuer key not trusted here',
  },
  ticket_expired: { status: 422, message: "the ticket's issuer key is not valid now" },
  ticket_spent: { status: 409, message: 'the ticket has been spent already' },
  ticket_issuer_unreachable: {
    status: 503,
    message: 'the ticket issuer cannot be reached to check the ticket',
  },
  tickets_insufficient: { status: 402, message: 'the tickets do not cover the bytes written' },
  tickets_not_accepted: { status: 403, message: 'this node accepts no tickets' },
  voucher_invalid: { status: 401, message: 'the voucher is not known to this issuer' },
  voucher_exhausted: { status: 402, message: 'the voucher has no tickets left' },
  // provider offers (docs/market.md)
  offer_invalid: {
    status: 422,
    message: "an offer is malformed or its signature is not the provider's",
  },
  offer_expired: { status: 422, message: 'the offer is not valid now' },
  // metering and billing (docs/billing.md)
  payer_invalid: {
    status: 401,
    message: 'the p2pcloud-payer header is malformed, out of time or not signed for this request',
  },
  payer_replayed: { status: 409, message: 'this payer signature was used already' },
  billing_disabled: { status: 404, message: 'this node meters no usage' },
  receipt_invalid: {
    status: 422,
    message: 'a usage receipt is malformed, its totals are wrong or its signature does not verify',
  },
  billing_mismatch: { status: 409, message: "the node's bill differs from the client's own count" },
  ledger_busy: { status: 409, message: "another process has the payer's ledger open" },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}

/** The one error class of p2pcloud: a stable `code`, an HTTP `status`, a human `message`. */
export class P2PError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message?: string, details?: Record<string, unknown>) {
    super(message ?? ERROR_CODES[code].message);
    this.name = 'P2PError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.details = details;
  }

  toJSON(): { error: { code: ErrorCode; message: string } & Record<string, unknown> } {
    return { error: { code: this.code, message: this.message, ...this.details } };
  }
}

/** Shorthand used by pure validators: `fail('bad_key', 'recipient must be 32 bytes')`. */
export function fail(code: ErrorCode, message?: string, details?: Record<string, unknown>): never {
  throw new P2PError(code, message, details);
}
