/**
 * The sync state file (docs/files-sync.md §2): what a folder and the drive last agreed on,
 * path by path. Written whole to a temporary file that is then renamed over the old one, so a
 * crash leaves the old state or the new, never a mix.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { P2PError } from '../../errors.js';
import { replacePrivateFile } from '../../client/private-file.js';
import { normalizePath, pathKey } from '../../files/path.js';
import type { SyncedFile } from './plan.js';

/** The folder inside a synced folder that holds the state, never synced itself. */
export const STATE_DIR = '.p2pcloud';
export const STATE_FILE = 'sync-state.json';
const STATE_TYPE = 'p2pcloud/sync-state';

export interface FolderState {
  /** The group whose drive the folder is synced with. */
  readonly space: string;
  readonly files: Map<string, SyncedFile>;
}

const HEX64 = /^[0-9a-f]{64}$/;

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function syncedFile(value: unknown): SyncedFile | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  if (Object.keys(v).sort().join(',') !== 'mtime,sha256,size,version') return undefined;
  if (!isCount(v.size) || typeof v.mtime !== 'number' || !Number.isFinite(v.mtime))
    return undefined;
  if (typeof v.sha256 !== 'string' || !HEX64.test(v.sha256)) return undefined;
  if (typeof v.version !== 'string' || !HEX64.test(v.version)) return undefined;
  return { size: v.size, mtime: v.mtime, sha256: v.sha256, version: v.version };
}

/** The state's text: one JSON object, files in path order. Pure. */
export function encodeState(state: FolderState): string {
  const files: Record<string, SyncedFile> = {};
  for (const path of [...state.files.keys()].sort()) {
    const f = state.files.get(path)!;
    files[path] = { size: f.size, mtime: f.mtime, sha256: f.sha256, version: f.version };
  }
  return `${JSON.stringify({ type: STATE_TYPE, v: 1, space: state.space, files })}\n`;
}

/** The state of a text, or the reason it is not one. Pure. */
export function decodeState(text: string): FolderState | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return 'it is not JSON';
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return 'it is not a JSON object';
  }
  const o = parsed as Record<string, unknown>;
  if (o.type !== STATE_TYPE) return `its type is not "${STATE_TYPE}"`;
  if (o.v !== 1) return 'it is of a version this program does not read';
  if (Object.keys(o).sort().join(',') !== 'files,space,type,v') return 'its members are wrong';
  if (typeof o.space !== 'string' || !/^[0-9a-f]{32}$/.test(o.space))
    return 'its space is not a group id';
  if (typeof o.files !== 'object' || o.files === null || Array.isArray(o.files)) {
    return 'its files are not an object';
  }
  const files = new Map<string, SyncedFile>();
  const keys = new Set<string>();
  for (const [path, value] of Object.entries(o.files as Record<string, unknown>)) {
    const check = normalizePath(path);
    const file = syncedFile(value);
    if (!check.ok || check.path !== path || !file)
      return `its record of ${JSON.stringify(path.slice(0, 100))} is malformed`;
    // One record per name of the drive (files.md §5.2): two spellings of one name are a fault.
    if (keys.has(pathKey(path))) return `it records ${JSON.stringify(path.slice(0, 100))} twice`;
    keys.add(pathKey(path));
    files.set(path, file);
  }
  return { space: o.space, files };
}

export function statePath(dir: string): string {
  return join(dir, STATE_DIR, STATE_FILE);
}

/** The folder's state; a fresh one (nothing agreed yet) when it has none. */
export async function readState(dir: string, space: string): Promise<FolderState> {
  const path = statePath(dir);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { space, files: new Map() };
    throw new P2PError('bad_argument', `cannot read ${path}: ${(error as Error).message}`);
  }
  const state = decodeState(text);
  if (typeof state === 'string') {
    throw new P2PError(
      'bad_argument',
      `${path} is not a sync state file: ${state} (move it away to sync this folder afresh: nothing is deleted on a first sync)`,
    );
  }
  if (state.space !== space) {
    throw new P2PError(
      'bad_argument',
      `${dir} is synced with the space ${state.space}, not ${space}: sync another folder`,
    );
  }
  return state;
}

/** Writes the state: a temporary file, flushed to disk, then renamed over the old one. */
export async function writeState(dir: string, state: FolderState): Promise<void> {
  await replacePrivateFile(statePath(dir), encodeState(state));
}
