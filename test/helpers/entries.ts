import { createEntry } from '../../src/entry/create.js';
import {
  generateIdentity,
  generateTableKey,
  type Identity,
  type TableKey,
} from '../../src/keys/keys.js';

export interface TestEntryOptions {
  table?: TableKey;
  recipient?: Identity;
  text?: string;
  powBits?: number;
  createdAt?: number;
  expiresAt?: number;
}

/** A valid entry with low proof of work (test nodes run with min_pow_bits 0 unless told). */
export function makeEntry(options: TestEntryOptions = {}): {
  bytes: Buffer;
  id: Buffer;
  table: TableKey;
  recipient: Identity;
} {
  const table = options.table ?? generateTableKey();
  const recipient = options.recipient ?? generateIdentity();
  const { bytes, id } = createEntry({
    table,
    recipient: recipient.box.publicKey,
    plaintext: Buffer.from(options.text ?? 'hello'),
    powBits: options.powBits ?? 0,
    ...(options.createdAt !== undefined ? { createdAt: options.createdAt } : {}),
    ...(options.expiresAt !== undefined ? { expiresAt: options.expiresAt } : {}),
  });
  return { bytes, id, table, recipient };
}
