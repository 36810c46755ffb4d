/**
 * The gateway's API key: what a program proves it runs as the gateway's owner with. A gateway
 * on a shared machine listens on loopback, where every local user can connect; only the owner
 * can read the data directory (0700) and this file in it (0600), so presenting its content as
 * `Authorization: Bearer <key>` is what makes a request the owner's.
 *
 * The key is 32 random bytes in base64url (43 characters), created at the first start and kept
 * across restarts, so programs configured with it keep working.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { chmod, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from '../crypto/random.js';
import { P2PError } from '../errors.js';
import { writeSecretFile } from '../keys/key-file.js';

export const API_KEY_FILE = 'api-key';
const KEY_RE = /^[A-Za-z0-9_-]{43}$/;

export interface ApiKey {
  /** Where the key is: named in the answers that ask for it. */
  readonly path: string;
  readonly key: string;
}

/** Reads DATA/api-key, creating it (mode 0600) on the first start. */
export async function loadOrCreateApiKey(dataDir: string): Promise<ApiKey> {
  const path = join(dataDir, API_KEY_FILE);
  let text: string | undefined;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new P2PError(
        'bad_config',
        `cannot read the API key file ${path}: ${(error as Error).message}`,
      );
    }
  }
  if (text === undefined) {
    const key = randomBytes(32).toString('base64url');
    await writeSecretFile(path, `${key}\n`);
    return { path, key };
  }
  const key = text.trim();
  if (!KEY_RE.test(key)) {
    throw new P2PError(
      'bad_config',
      `${path} does not hold an API key (43 base64url characters): delete it and a new one is made at the next start`,
    );
  }
  // A copy restored from a backup may have lost its mode: the key is only as secret as the file.
  await chmod(path, 0o600);
  return { path, key };
}

export type BearerCheck = 'absent' | 'valid' | 'wrong';

/**
 * Checks an Authorization header against the key. Compares digests in constant time, so the
 * time taken tells nothing about how much of a guess was right (nor about its length). Pure.
 */
export function checkBearer(header: string | undefined, key: string): BearerCheck {
  if (header === undefined) return 'absent';
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  if (!match) return 'wrong';
  const given = createHash('sha256').update(match[1]!).digest();
  const expected = createHash('sha256').update(key).digest();
  return timingSafeEqual(given, expected) ? 'valid' : 'wrong';
}
