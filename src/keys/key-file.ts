import { chmod, open, readFile } from 'node:fs/promises';
import { P2PError, fail } from '../errors.js';
import {
  parseIdentity,
  parseTableKey,
  serializeIdentity,
  serializeTableKey,
  type Identity,
  type TableKey,
} from './keys.js';

/**
 * Writes a secret key file readable by its owner only (mode 0600). Refuses to replace an
 * existing file unless `overwrite` is set: losing a key loses the data sealed to it.
 */
export async function writeSecretFile(
  path: string,
  text: string,
  overwrite = false,
): Promise<void> {
  let handle;
  try {
    handle = await open(path, overwrite ? 'w' : 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      fail('file_exists', `${path} already exists (use --force to replace it)`);
    }
    throw new P2PError('bad_argument', `cannot write ${path}: ${(error as Error).message}`);
  }
  try {
    // The mode passed to open() only applies when the file is created; enforce it either way.
    await handle.chmod(0o600);
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await chmod(path, 0o600);
}

async function readKeyFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    fail(
      'bad_key_file',
      `cannot read key file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
}

export async function saveIdentity(
  path: string,
  identity: Identity,
  overwrite = false,
): Promise<void> {
  await writeSecretFile(path, serializeIdentity(identity), overwrite);
}

export async function saveTableKey(
  path: string,
  table: TableKey,
  overwrite = false,
): Promise<void> {
  await writeSecretFile(path, serializeTableKey(table), overwrite);
}

export async function loadIdentity(path: string): Promise<Identity> {
  return parseIdentity(await readKeyFile(path));
}

export async function loadTableKey(path: string): Promise<TableKey> {
  return parseTableKey(await readKeyFile(path));
}
