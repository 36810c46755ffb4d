/**
 * The node's billing key: Ed25519, signs usage receipts, in `<data_dir>/billing-key.json`,
 * made at first start with mode 0600:
 *
 *   { "kind": "p2pcloud-billing-key", "version": 1, "signing_seed": hex64 }
 *
 * Apart from the node's other keys: receipts name it, and payers pin it (docs/billing.md §6).
 */
import { join } from 'node:path';
import { z } from 'zod';
import { signingKeyPairFromSeed, type SigningKeyPair } from '../../crypto/ed25519.js';
import { randomBytes } from '../../crypto/random.js';
import { toHex } from '../../encoding/bytes.js';
import { loadOrCreateSecretJson } from '../secret-json-file.js';

export const BILLING_KEY_FILE = 'billing-key.json';

const fileSchema = z.strictObject({
  kind: z.literal('p2pcloud-billing-key'),
  version: z.literal(1),
  signing_seed: z.string().regex(/^[0-9a-f]{64}$/),
});

export function loadOrCreateBillingKey(dataDir: string): Promise<SigningKeyPair> {
  return loadOrCreateSecretJson(
    join(dataDir, BILLING_KEY_FILE),
    'billing key',
    () => {
      const key = signingKeyPairFromSeed(randomBytes(32));
      return {
        file: { kind: 'p2pcloud-billing-key', version: 1, signing_seed: toHex(key.seed) },
        value: key,
      };
    },
    (json) => signingKeyPairFromSeed(Buffer.from(fileSchema.parse(json).signing_seed, 'hex')),
  );
}
