/** An entry as the client library hands it out: checked (and, for OpenedEntry, opened). */
import type { Entry } from '../entry/format.js';

export interface VerifiedEntry {
  readonly id: string;
  readonly table: Buffer;
  readonly recipient: Buffer;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly powBits: number;
  readonly bytes: Buffer;
  readonly entry: Entry;
}

export interface OpenedEntry extends VerifiedEntry {
  readonly plaintext: Buffer;
  /** The plaintext decoded as UTF-8 (lossy for binary payloads). */
  readonly text: string;
}
