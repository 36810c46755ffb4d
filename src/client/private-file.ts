/**
 * Replaces a small file the requester keeps for itself (a wallet, a reputation record) so that
 * a crash leaves either the old text or the new one, never a mix: the text goes to a fresh
 * temporary file (mode 0600), is flushed to disk, then renamed over the old file.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';

export async function replacePrivateFile(path: string, text: string): Promise<void> {
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
}
