/**
 * Carrying out one planned sync action (plan.ts) on the disk and in the drive, and recording
 * the agreement it reaches. The record changes only once the action is complete, so a crash
 * at any point leaves a state that is behind, never ahead: the next round's plan finishes the
 * work (docs/files-sync.md §5).
 *
 * A file on disk is touched only if it is still as the scan saw it (size and time): a file
 * someone is editing is left for the next round.
 */
import { lstat, mkdir, rename, rmdir, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { conflictName, pathKey } from '../../files/path.js';
import { P2PError } from '../../errors.js';
import { ChangedWhileSent, type Drive, type FileView, type PutAnswer } from './drive.js';
import type { Action, LocalFile, SyncedFile } from './plan.js';
import type { Progress } from './progress.js';
import { downloadFile } from './transfer.js';

/** The in-memory record of agreements, by the drive's spelling of each path. */
export class Agreements {
  /** Collision key → the spelling recorded, so that a change of spelling replaces, in O(1). */
  private readonly spellings = new Map<string, string>();

  constructor(readonly files: Map<string, SyncedFile>) {
    for (const path of files.keys()) this.spellings.set(pathKey(path), path);
  }

  /** Records `path`, replacing a record of another spelling of the same name. */
  set(path: string, file: SyncedFile): void {
    this.remove(path);
    this.files.set(path, file);
    this.spellings.set(pathKey(path), path);
  }

  remove(path: string): void {
    const key = pathKey(path);
    const known = this.spellings.get(key);
    if (known !== undefined) this.files.delete(known);
    this.spellings.delete(key);
  }
}

export interface ApplyContext {
  readonly dir: string;
  readonly drive: Drive;
  readonly agreements: Agreements;
  readonly progress: Progress;
  /** The device name in conflict names (files.md §5.3). */
  readonly device: string;
}

/** What was done, for the line the sync prints; undefined for record-only actions. */
export type Applied = string | undefined;

async function statOf(path: string): Promise<{ size: number; mtime: number } | undefined> {
  try {
    const info = await lstat(path);
    return info.isFile() ? { size: info.size, mtime: info.mtimeMs } : undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/** Whether the file on disk is still the one the scan saw. */
async function unchanged(dir: string, local: LocalFile): Promise<boolean> {
  const now = await statOf(join(dir, local.fsPath));
  return now !== undefined && now.size === local.size && now.mtime === local.mtime;
}

class Changed extends P2PError {
  constructor(path: string) {
    super('aborted', `${path} changed on disk during the round: left for the next one`);
  }
}

/** Removes the folders a file left empty, up to (not including) the synced folder. */
async function pruneEmpty(dir: string, fsPath: string): Promise<void> {
  let folder = dirname(fsPath);
  while (folder !== '.' && folder !== '' && folder !== '/') {
    try {
      await rmdir(join(dir, folder));
    } catch {
      return; // not empty, or gone: either way nothing more to prune
    }
    folder = dirname(folder);
  }
}

function synced(
  local: { size: number; mtime: number },
  file: FileView,
  sha256: string,
): SyncedFile {
  return { size: local.size, mtime: local.mtime, sha256, version: file.version };
}

async function upload(ctx: ApplyContext, path: string, local: LocalFile): Promise<PutAnswer> {
  const bar = ctx.progress.start(path, local.size);
  let answer;
  try {
    answer = await ctx.drive.upload(path, join(ctx.dir, local.fsPath), local.size, {
      modified: local.mtime,
      onBytes: (n) => bar.add(n),
      // Only the bytes the plan is about: a file scanned in the middle of a write, or written
      // since, would leave a version that was never the file whole.
      beforeEnd: async (sha256) => sha256 === local.sha256,
    });
  } catch (error) {
    if (error instanceof ChangedWhileSent) throw new Changed(local.fsPath);
    throw error;
  } finally {
    bar.stop();
  }
  // A drive that reports other bytes than those sent: recorded with no time, so the next scan
  // hashes the file again and sends it again if it differs.
  const same = answer.file.sha256 === local.sha256;
  ctx.agreements.set(answer.file.path, {
    size: local.size,
    mtime: same ? local.mtime : -1,
    sha256: answer.file.sha256,
    version: answer.file.version,
  });
  return answer;
}

/**
 * The version an upload replaced, when it is not the one the plan saw (`base`): another
 * device's write that reached this gateway while the upload was on its way, which the upload
 * then overwrote as if it had been seen. Undefined when nothing was lost that way.
 */
async function overwritten(
  ctx: ApplyContext,
  answer: PutAnswer,
  local: LocalFile,
  base: string | undefined,
): Promise<FileView | undefined> {
  if (answer.file.version === base) return undefined;
  const stat = await ctx.drive.stat(answer.file.path);
  // Written over again since: the next round sees to it.
  if (stat.file.version !== answer.file.version) return undefined;
  const replaced = stat.versions[0];
  if (!replaced || replaced.version === base) return undefined;
  if (replaced.sha256 === local.sha256 || replaced.sha256 === answer.file.sha256) return undefined;
  return replaced;
}

/** A conflict name beside `path` free on disk (in `fsFolder`) and in the drive. */
async function freeConflictName(
  ctx: ApplyContext,
  path: string,
  fsFolder: string,
  at: number,
): Promise<{ path: string; fsPath: string }> {
  const slash = path.lastIndexOf('/');
  const folder = slash < 0 ? '' : path.slice(0, slash);
  for (let n = 1; n <= 100; n++) {
    const name = conflictName(path.slice(slash + 1), ctx.device, Math.max(0, Math.floor(at)), n);
    const candidate = folder === '' ? name : `${folder}/${name}`;
    const fsPath = fsFolder === '.' ? name : `${fsFolder}/${name}`;
    if (await exists(join(ctx.dir, fsPath))) continue;
    const taken = await ctx.drive.stat(candidate).then(
      () => true,
      (error: unknown) => {
        if (error instanceof P2PError && error.code === 'no_such_file') return false;
        throw error;
      },
    );
    if (!taken) return { path: candidate, fsPath };
  }
  throw new P2PError('aborted', `no free conflict name beside ${path}`);
}

/**
 * An upload overwrote a version it had not seen: that version keeps the name, as in any
 * conflict (docs/files-sync.md §4). This device's bytes move aside on disk and go to the drive
 * under the conflict name; the overwritten version comes down and goes back up under the name.
 */
async function keepOverwritten(
  ctx: ApplyContext,
  path: string,
  local: LocalFile,
  replaced: FileView,
): Promise<string> {
  const aside = await freeConflictName(ctx, path, dirname(local.fsPath), local.mtime);
  await rename(join(ctx.dir, local.fsPath), join(ctx.dir, aside.fsPath));
  const moved = await statOf(join(ctx.dir, aside.fsPath));
  if (moved) await upload(ctx, aside.path, { ...local, ...aside, ...moved });
  await download(ctx, { ...replaced, path }, local.fsPath, undefined);
  const now = await statOf(join(ctx.dir, local.fsPath));
  if (now) {
    await upload(ctx, path, { path, fsPath: local.fsPath, ...now, sha256: replaced.sha256 });
  }
  return `conflict ${path}: another device's version written meanwhile keeps the name; this device's kept as ${aside.path}`;
}

async function download(
  ctx: ApplyContext,
  file: FileView,
  fsPath: string,
  replaces: LocalFile | undefined,
): Promise<number> {
  const target = join(ctx.dir, fsPath);
  const bar = ctx.progress.start(file.path, file.size);
  let result;
  try {
    result = await downloadFile(ctx.drive, file, target, {
      onBytes: (n) => bar.add(n),
      beforeRename: async () => (replaces ? unchanged(ctx.dir, replaces) : !(await exists(target))),
    });
  } finally {
    bar.stop();
  }
  if (!result.written) throw new Changed(fsPath);
  const now = await statOf(target);
  if (now) ctx.agreements.set(file.path, synced(now, file, file.sha256));
  return result.resumedFrom;
}

function asView(remote: {
  path: string;
  size: number;
  sha256: string;
  version: string;
  modified: number;
}): FileView {
  return {
    path: remote.path,
    name: remote.path.slice(remote.path.lastIndexOf('/') + 1),
    size: remote.size,
    sha256: remote.sha256,
    media_type: null,
    modified: remote.modified,
    version: remote.version,
    writer: '',
    conflicts: 0,
  };
}

/** Carries out one action; throws (leaving the record as it was) if it could not be done. */
export async function applyAction(ctx: ApplyContext, action: Action): Promise<Applied> {
  const { dir, drive, agreements } = ctx;
  switch (action.type) {
    case 'upload': {
      const answer = await upload(ctx, action.path, action.local);
      const lost = await overwritten(ctx, answer, action.local, action.base);
      if (lost) return keepOverwritten(ctx, answer.file.path, action.local, lost);
      return `upload ${action.path}`;
    }
    case 'download': {
      const resumed = await download(ctx, asView(action.remote), action.fsPath, action.replaces);
      return `download ${action.path}${resumed > 0 ? ` (resumed at byte ${resumed})` : ''}`;
    }
    case 'delete_local': {
      if (!(await unchanged(dir, action.local))) throw new Changed(action.local.fsPath);
      await unlink(join(dir, action.local.fsPath));
      agreements.remove(action.path);
      await pruneEmpty(dir, action.local.fsPath);
      return `delete local ${action.path}`;
    }
    case 'delete_remote': {
      try {
        await drive.remove(action.remote.path);
      } catch (error) {
        if (!(error instanceof P2PError && error.code === 'no_such_file')) throw error;
      }
      agreements.remove(action.path);
      return `delete remote ${action.path}`;
    }
    case 'move_local': {
      const from = join(dir, action.from.fsPath);
      const to = join(dir, action.to);
      if (!(await unchanged(dir, action.from))) throw new Changed(action.from.fsPath);
      if (await exists(to)) throw new Changed(action.to);
      await mkdir(dirname(to), { recursive: true });
      await rename(from, to);
      agreements.remove(action.from.path);
      const now = await statOf(to);
      if (now) agreements.set(action.to, synced(now, asView(action.remote), action.remote.sha256));
      await pruneEmpty(dir, action.from.fsPath);
      return `move local ${action.from.path} -> ${action.to}`;
    }
    case 'move_remote': {
      await drive.move(action.from, action.to.path);
      agreements.remove(action.from);
      agreements.set(action.to.path, {
        size: action.to.size,
        mtime: action.to.mtime,
        sha256: action.to.sha256,
        version: action.synced.version,
      });
      return `move remote ${action.from} -> ${action.to.path}`;
    }
    case 'conflict': {
      // This device's version moves aside on disk, goes to the drive under that name, and the
      // drive's version comes down under the original name. Each step is one the next round
      // would also take from where it stopped.
      const aside = join(
        dirname(action.local.fsPath),
        action.conflictPath.slice(action.conflictPath.lastIndexOf('/') + 1),
      );
      if (await exists(join(dir, aside))) throw new Changed(aside);
      await rename(join(dir, action.local.fsPath), join(dir, aside));
      const moved = await statOf(join(dir, aside));
      if (moved) {
        await upload(ctx, action.conflictPath, { ...action.local, fsPath: aside, ...moved });
      }
      await download(ctx, asView(action.remote), action.local.fsPath, undefined);
      return `conflict ${action.path}: this device's version kept as ${action.conflictPath}`;
    }
    case 'agree':
      agreements.set(action.remote.path, {
        size: action.local.size,
        mtime: action.local.mtime,
        sha256: action.local.sha256,
        version: action.remote.version,
      });
      return undefined;
    case 'forget':
      agreements.remove(action.path);
      return undefined;
  }
}
