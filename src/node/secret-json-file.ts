/**
 * A node's own key files (compute-key.json, billing-key.json): JSON made at first start with
 * mode 0600, read back as it was written on every later start. A file that is present but
 * unreadable or malformed stops the node (bad_config) instead of being replaced: a new key
 * would silently break everything signed with the old one.
 */
import { readFile } from 'node:fs/promises';
import { P2PError } from '../errors.js';
import { writeSecretFile } from '../keys/key-file.js';

export async function loadOrCreateSecretJson<T>(
  path: string,
  what: string,
  create: () => { file: object; value: T },
  parse: (json: unknown) => T,
): Promise<T> {
  let text: string | undefined;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new P2PError('bad_config', `cannot read ${path}: ${(error as Error).message}`);
    }
  }
  if (text === undefined) {
    const made = create();
    await writeSecretFile(path, `${JSON.stringify(made.file, null, 2)}\n`);
    return made.value;
  }
  try {
    return parse(JSON.parse(text));
  } catch {
    throw new P2PError('bad_config', `${path} is not a valid ${what} file`);
  }
}
