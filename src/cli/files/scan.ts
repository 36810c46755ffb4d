/**
 * The local side of a sync round: every regular file under a folder, with its size, time and
 * SHA-256. A file whose size and time are those of the last agreement is not read again: its
 * hash is the one recorded then. The work is one stat per entry and one read per changed file.
 */
import { createReadStream } from 'node:fs';
import { lstat, opendir } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { normalizePath, pathKey } from '../../files/path.js';
import { PART_SUFFIX, isReserved } from './names.js';
import type { LocalFile, SyncedFile } from './plan.js';

export interface ScanProblem {
  readonly path: string;
  readonly detail: string;
}

export interface Scan {
  readonly files: LocalFile[];
  readonly problems: ScanProblem[];
  /** Partial downloads found (relative paths on disk). */
  readonly parts: string[];
}

/** SHA-256 of a file's bytes, read as a stream. */
export async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}

/** A regular file found by the walk, not yet hashed. */
export interface FoundFile {
  readonly path: string;
  readonly fsPath: string;
  readonly size: number;
  readonly mtime: number;
}

export interface Walk {
  readonly files: FoundFile[];
  readonly problems: ScanProblem[];
  readonly parts: string[];
}

/**
 * Every regular file under `dir` (relative paths, `/`-separated), without the sync's own
 * names; names the drive would refuse (docs/files.md §5.1), links and devices are problems.
 */
export async function walkFolder(dir: string): Promise<Walk> {
  const files: FoundFile[] = [];
  const problems: ScanProblem[] = [];
  const parts: string[] = [];
  const pending: string[] = [''];
  while (pending.length > 0) {
    const folder = pending.pop()!;
    let handle;
    try {
      handle = await opendir(join(dir, folder));
    } catch (error) {
      problems.push({
        path: folder,
        detail: `cannot read this folder: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      });
      continue;
    }
    for await (const entry of handle) {
      const fsPath = folder === '' ? entry.name : `${folder}/${entry.name}`;
      if (entry.isFile() && entry.name.endsWith(PART_SUFFIX)) {
        parts.push(fsPath);
        continue;
      }
      if (isReserved(fsPath)) continue;
      const check = normalizePath(fsPath);
      if (!check.ok) {
        problems.push({ path: fsPath, detail: `not a path the drive takes (${check.reason})` });
        continue;
      }
      if (entry.isDirectory()) {
        pending.push(fsPath);
        continue;
      }
      if (!entry.isFile()) {
        problems.push({
          path: fsPath,
          detail: 'not a regular file (a link or a device): left out',
        });
        continue;
      }
      let info;
      try {
        info = await lstat(join(dir, fsPath));
      } catch {
        continue; // gone since it was listed: the next round sees it as it is then
      }
      if (!info.isFile()) continue;
      files.push({ path: check.path, fsPath, size: info.size, mtime: info.mtimeMs });
    }
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { files, problems, parts };
}

/**
 * Scans `dir`. `known` maps a collision key (docs/files.md §5.2) to what was last agreed for
 * that path; a file whose size and mtime match it keeps its recorded hash.
 */
export async function scanFolder(
  dir: string,
  known: ReadonlyMap<string, SyncedFile>,
): Promise<Scan> {
  const walk = await walkFolder(dir);
  const files: LocalFile[] = [];
  const problems = [...walk.problems];
  for (const found of walk.files) {
    const before = known.get(pathKey(found.path));
    if (before && before.size === found.size && before.mtime === found.mtime) {
      files.push({ ...found, sha256: before.sha256 });
      continue;
    }
    try {
      files.push({ ...found, sha256: await hashFile(join(dir, found.fsPath)) });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') continue; // deleted since the walk
      problems.push({ path: found.fsPath, detail: `cannot read it: ${code ?? String(error)}` });
    }
  }
  return { files, problems, parts: walk.parts };
}
