/**
 * A file of the drive written to disk: into a partial file beside the target, named after the
 * version, then checked against the file's SHA-256, flushed, and renamed over the target. The
 * target name never holds a half-written file; a partial file left by a broken download is
 * continued from its end with a Range request the next time the same version is fetched.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, open, rename, unlink, utimes, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { P2PError } from '../../errors.js';
import type { Drive, FileView } from './drive.js';
import { partName } from './names.js';

export interface DownloadOptions {
  /** Bytes as they arrive (a progress bar). */
  readonly onBytes?: (n: number) => void;
  /** Told when an earlier partial download is continued, with its length. */
  readonly onResume?: (from: number) => void;
  /**
   * Called when the file is complete and checked, just before it is renamed into place; if it
   * answers false the target is left alone and the partial file removed.
   */
  readonly beforeRename?: () => Promise<boolean>;
}

export interface Downloaded {
  /** Bytes of an earlier partial download kept, 0 if it started afresh. */
  readonly resumedFrom: number;
  /** Bytes fetched this time. */
  readonly fetched: number;
  /** Whether the target was written (false when beforeRename said no). */
  readonly written: boolean;
}

/** A sink that hashes what it writes to an open file. */
function hashingSink(handle: FileHandle, hash: ReturnType<typeof createHash>): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      handle.write(chunk).then(
        () => done(),
        (error: Error) => done(error),
      );
    },
  });
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    const info = await lstat(path);
    return info.isFile() ? info.size : undefined;
  } catch {
    return undefined;
  }
}

async function hashPrefix(path: string, hash: ReturnType<typeof createHash>): Promise<void> {
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }))
    hash.update(chunk as Buffer);
}

/** One attempt: resume from the partial file if `resume`, else start afresh. */
async function attempt(
  drive: Drive,
  file: FileView,
  part: string,
  resume: boolean,
  options: DownloadOptions,
): Promise<{ resumedFrom: number; fetched: number; ok: boolean }> {
  const existing = resume ? await sizeOf(part) : undefined;
  const start = existing !== undefined && existing <= file.size ? existing : 0;
  let hash = createHash('sha256');
  if (start > 0) {
    await hashPrefix(part, hash);
    options.onResume?.(start);
  }
  let handle: FileHandle | undefined;
  let resumedFrom = 0;
  let fetched = 0;
  try {
    if (start < file.size || file.size === 0) {
      const result = await drive.download(
        file.path,
        file.version,
        start < file.size ? start : 0,
        async (from) => {
          resumedFrom = from;
          if (from === 0) hash = createHash('sha256');
          handle = await open(part, from > 0 ? 'a' : 'w', 0o600);
          return hashingSink(handle, hash);
        },
        options.onBytes,
      );
      fetched = result.bytes;
    } else {
      resumedFrom = start;
      handle = await open(part, 'a', 0o600);
    }
    await handle!.sync();
  } finally {
    await handle?.close();
  }
  const ok = resumedFrom + fetched === file.size && hash.digest('hex') === file.sha256;
  return { resumedFrom, fetched, ok };
}

/** Downloads `file` to `target` (a path on disk); see the module's comment. */
export async function downloadFile(
  drive: Drive,
  file: FileView,
  target: string,
  options: DownloadOptions = {},
): Promise<Downloaded> {
  const folder = dirname(target);
  await mkdir(folder, { recursive: true });
  const part = join(folder, partName(basename(target), file.version));
  let result = await attempt(drive, file, part, true, options);
  if (!result.ok && result.resumedFrom > 0) {
    // The kept part was not a prefix of this version after all: fetch the whole file once.
    result = await attempt(drive, file, part, false, options);
  }
  if (!result.ok) {
    await unlink(part).catch(() => undefined);
    throw new P2PError(
      'node_lied',
      `${file.path}: the bytes the gateway sent do not match the file's SHA-256: nothing was written`,
    );
  }
  const when = new Date(Math.max(0, file.modified));
  await utimes(part, when, when).catch(() => undefined);
  if (options.beforeRename && !(await options.beforeRename())) {
    await unlink(part).catch(() => undefined);
    return { resumedFrom: result.resumedFrom, fetched: result.fetched, written: false };
  }
  await rename(part, target);
  return { resumedFrom: result.resumedFrom, fetched: result.fetched, written: true };
}
