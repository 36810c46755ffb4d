/**
 * The node's billing key: Ed25519, signs usage receipts, in `<data_dir>/billing-key.json`,
 * made at first start with mode 0600:
 *
 *   { "kind": "p2pcloud-billing-key", "version": 1, "signing_seed": hex64 }
 *
 * Apart from the node's other keys: receipts name it, and payers pin it (docs/billing.md §6).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { signingKeyPairFromSeed, type SigningKeyPair } from '../../crypto/ed25519.js';
import { randomBytes } from '../../crypto/random.js';
import { toHex } from '../../encoding/bytes.js';
import { P2PError } from '../../errors.js';
import { writeSecretFile } from '../../keys/key-file.js';

export const BILLING_KEY_FILE = 'billing-key.json';

const fileSchema = z.strictObject({
  kind: z.literal('p2pcloud-billing-key'),
  version: z.literal(1),
  signing_seed: z.string().regex(/^[0-9a-f]{64}$/),
});

export async function loadOrCreateBillingKey(dataDir: string): Promise<SigningKeyPair> {
  const path = join(dataDir, BILLING_KEY_FILE);
  let text: string | undefined;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new P2PError('bad_config', `cannot read ${path}: ${(error as Error).message}`);
    }
  }
  if (text === undefined) {
    const key = signingKeyPairFromSeed(randomBytes(32));
    const file = { kind: 'p2pcloud-billing-key', version: 1, signing_seed: toHex(key.seed) };
    await writeSecretFile(path, `${JSON.stringify(file, null, 2)}\n`);
    return key;
  }
  try {
    const parsed = fileSchema.parse(JSON.parse(text));
    return signingKeyPairFromSeed(Buffer.from(parsed.signing_seed, 'hex'));
  } catch {
    throw new P2PError('bad_config', `${path} is not a valid billing key file`);
  }
}
