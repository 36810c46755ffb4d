/**
 * The interface of a write-policy module (docs/operations.md, "Write policy"). A module's
 * default export is a factory; the node calls it once at start with the `options` of its
 * config and a context, and then calls the policy's `check` with every batch of verified
 * entries before storing them.
 */

/** 'put' from a client, 'push' from a peer that just stored it, 'sync' fetched from a peer. */
export type IngestSource = 'put' | 'push' | 'sync';

/** What a policy is told of an entry: never its payload (which the node cannot read anyway). */
export interface PolicyEntry {
  /** Entry id, 64 lower-case hex characters. */
  readonly id: string;
  /** The table's public key, 64 lower-case hex characters. */
  readonly table: string;
  /** The recipient's public key, 64 lower-case hex characters. */
  readonly recipient: string;
  /** Size of the whole entry in bytes. */
  readonly bytes: number;
  /** Milliseconds since 1970. */
  readonly createdAt: number;
  /** Milliseconds since 1970; 0 when the entry never expires. */
  readonly expiresAt: number;
  readonly source: IngestSource;
}

export type PolicyDecision =
  | { readonly accept: true }
  | {
      readonly accept: false;
      /** A 4xx error code of docs/protocol.md section 10, such as quota_exceeded or policy_refused. */
      readonly code: string;
      /** For the writer: why, in a sentence. */
      readonly message: string;
    };

export interface WritePolicy {
  /** One decision per entry, in order; may return a promise. */
  check(
    entries: readonly PolicyEntry[],
  ): readonly PolicyDecision[] | Promise<readonly PolicyDecision[]>;
  /**
   * Entries of an earlier check that were accepted but not stored after all (the store found
   * them already stored, or the transaction failed): a policy that counts what it accepts
   * takes them back here. Optional; errors are logged and ignored.
   */
  notStored?(entries: readonly PolicyEntry[]): void | Promise<void>;
  /** Called once when the node stops. */
  close?(): void | Promise<void>;
}

export interface TableUse {
  /** 64 lower-case hex characters. */
  readonly table: string;
  readonly entries: number;
  readonly bytes: number;
}

export interface WritePolicyContext {
  /** What the store holds per table: every table with entries, or those listed (hex keys). */
  tableStats(tables?: readonly string[]): Promise<TableUse[]>;
  /** The node's logger (pino): info, warn and error take an object and/or a message. */
  readonly log: {
    info(...args: unknown[]): void;
    warn(...args: unknown[]): void;
    error(...args: unknown[]): void;
  };
}

export type WritePolicyFactory = (
  options: Readonly<Record<string, unknown>>,
  context: WritePolicyContext,
) => WritePolicy | Promise<WritePolicy>;
