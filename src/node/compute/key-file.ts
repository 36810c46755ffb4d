/**
 * The node's compute key pair: Ed25519 (signs receipts) and X25519 (opens grants), in
 * `<data_dir>/compute-key.json`, made at first start with mode 0600:
 *
 *   { "kind": "p2pcloud-compute-key", "version": 1, "signing_seed": hex64, "box_secret": hex64 }
 *
 * Apart from the node's other keys, so that an operator can rotate it (delete the file) without
 * touching anything else; requesters then see a new key in GET /jobs/info.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { signingKeyPairFromSeed, type SigningKeyPair } from '../../crypto/ed25519.js';
import { randomBytes } from '../../crypto/random.js';
import { boxKeyPairFromSecret, type BoxKeyPair } from '../../crypto/x25519.js';
import { toHex } from '../../encoding/bytes.js';
import { loadOrCreateSecretJson } from '../secret-json-file.js';

export const COMPUTE_KEY_FILE = 'compute-key.json';

export interface ComputeKeys {
  readonly signing: SigningKeyPair;
  readonly box: BoxKeyPair;
}

const hex32 = z.string().regex(/^[0-9a-f]{64}$/);
const fileSchema = z.strictObject({
  kind: z.literal('p2pcloud-compute-key'),
  version: z.literal(1),
  signing_seed: hex32,
  box_secret: hex32,
});

export function loadOrCreateComputeKeys(dataDir: string): Promise<ComputeKeys> {
  return loadOrCreateSecretJson(
    join(dataDir, COMPUTE_KEY_FILE),
    'compute key',
    () => {
      const keys = {
        signing: signingKeyPairFromSeed(randomBytes(32)),
        box: boxKeyPairFromSecret(randomBytes(32)),
      };
      const file = {
        kind: 'p2pcloud-compute-key',
        version: 1,
        signing_seed: toHex(keys.signing.seed),
        box_secret: toHex(keys.box.secretKey),
      };
      return { file, value: keys };
    },
    (json) => {
      const parsed = fileSchema.parse(json);
      return {
        signing: signingKeyPairFromSeed(Buffer.from(parsed.signing_seed, 'hex')),
        box: boxKeyPairFromSecret(Buffer.from(parsed.box_secret, 'hex')),
      };
    },
  );
}
