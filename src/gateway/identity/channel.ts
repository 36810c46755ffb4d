/** A space the identity layer reads besides the spaces of records (see layer.ts). */
import type { BoxKeyPair } from '../../crypto/x25519.js';

export interface ReadChannel {
  readonly table: Buffer;
  readonly reader: BoxKeyPair;
  readonly kind: 'directory' | 'control' | 'data' | 'link';
  /** Person (directory), group (control, data) or link secret (link). */
  readonly ref: string;
  readonly epoch?: string;
}
