/**
 * The plan of one round of two-way folder sync (docs/files-sync.md §3): from what is on disk,
 * what is in the drive and what both sides last agreed on, the actions that bring them together
 * again. Pure: the caller scans, lists and carries the actions out.
 *
 * Files are matched by collision key (docs/files.md §5.2), not by spelling: `Notes.txt` on disk
 * and `notes.txt` in the drive are one file, as the drive itself treats them.
 */
import { conflictName, pathKey } from '../../files/path.js';

/** A file on disk, as the scan saw it. `fsPath` is its name on disk (relative, `/`-separated). */
export interface LocalFile {
  readonly path: string;
  readonly fsPath: string;
  readonly size: number;
  readonly mtime: number;
  readonly sha256: string;
}

/** A file of the drive (docs/gateway.md §15), with the versions of it that lost a concurrent write when they were asked for. */
export interface RemoteFile {
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
  readonly version: string;
  readonly modified: number;
  /** Versions that lost a concurrent write of this path, when known (`stat`). */
  readonly lost?: readonly string[];
}

/** What both sides held when they last agreed on a path. */
export interface SyncedFile {
  readonly size: number;
  readonly mtime: number;
  readonly sha256: string;
  readonly version: string;
}

export type SyncState = ReadonlyMap<string, SyncedFile>;

export type Action =
  /**
   * Send the local file to the drive at `path`, over the drive's version `base` as listed
   * (none: the drive had no file there).
   */
  | {
      readonly type: 'upload';
      readonly path: string;
      readonly local: LocalFile;
      readonly base?: string;
    }
  /** Write the drive's version to disk at `fsPath` (through a temporary file). */
  | {
      readonly type: 'download';
      readonly path: string;
      readonly fsPath: string;
      readonly remote: RemoteFile;
      /** The file on disk that this replaces, if any: left alone if it changed since the scan. */
      readonly replaces?: LocalFile;
    }
  | { readonly type: 'delete_local'; readonly path: string; readonly local: LocalFile }
  | { readonly type: 'delete_remote'; readonly path: string; readonly remote: RemoteFile }
  /** The drive moved a file: rename it on disk, nothing is downloaded. */
  | {
      readonly type: 'move_local';
      readonly from: LocalFile;
      readonly to: string;
      readonly remote: RemoteFile;
    }
  /** A file was renamed on disk: move it in the drive, nothing is uploaded. */
  | {
      readonly type: 'move_remote';
      readonly from: string;
      readonly to: LocalFile;
      readonly synced: SyncedFile;
    }
  /**
   * Both sides changed `path`: the drive's version keeps the name; the local one is renamed
   * on disk to `conflictPath`, uploaded there, and the drive's is downloaded to `path`.
   */
  | {
      readonly type: 'conflict';
      readonly path: string;
      readonly conflictPath: string;
      readonly local: LocalFile;
      readonly remote: RemoteFile;
    }
  /** Both sides hold the same bytes: only the record of the agreement changes. */
  | {
      readonly type: 'agree';
      readonly path: string;
      readonly local: LocalFile;
      readonly remote: RemoteFile;
    }
  /** Gone from both sides: the record goes. */
  | { readonly type: 'forget'; readonly path: string };

export type SkipReason =
  /** Two names on disk that the drive (and a case-insensitive disk) holds as one. */
  | 'same_name'
  /** A drive path that cannot be written here (the state folder, or a temporary file's name). */
  | 'reserved';

export interface Skipped {
  readonly path: string;
  readonly reason: SkipReason;
  readonly detail: string;
}

export interface PlanInput {
  readonly local: readonly LocalFile[];
  readonly remote: readonly RemoteFile[];
  readonly state: SyncState;
  /** Device name and time for conflict names (files.md §5.3). */
  readonly device: string;
  /** Whether a drive path may not be written to disk (reserved names). */
  readonly reserved?: (path: string) => boolean;
}

export interface Plan {
  readonly actions: readonly Action[];
  readonly skipped: readonly Skipped[];
}

function folderOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '' : path.slice(0, slash);
}

function nameOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function join(folder: string, name: string): string {
  return folder === '' ? name : `${folder}/${name}`;
}

/** Groups by collision key; keys seen more than once are returned apart. */
function byKey<T extends { path: string }>(
  items: readonly T[],
): {
  one: Map<string, T>;
  many: Map<string, T[]>;
} {
  const all = new Map<string, T[]>();
  for (const item of items) {
    const key = pathKey(item.path);
    const list = all.get(key);
    if (list) list.push(item);
    else all.set(key, [item]);
  }
  const one = new Map<string, T>();
  const many = new Map<string, T[]>();
  for (const [key, list] of all) {
    if (list.length === 1) one.set(key, list[0]!);
    else many.set(key, list);
  }
  return { one, many };
}

/** The order actions are carried out in, and listed: by kind, then by path. */
const ORDER: Record<Action['type'], number> = {
  move_remote: 0,
  move_local: 1,
  delete_remote: 2,
  delete_local: 3,
  conflict: 4,
  upload: 5,
  download: 6,
  agree: 7,
  forget: 8,
};

function actionPath(action: Action): string {
  if (action.type === 'move_local') return action.to;
  if (action.type === 'move_remote') return action.to.path;
  return action.path;
}

/**
 * The actions of one round, in the order they are to be carried out, and the paths left out
 * (each with why). The rules, in order, are those of docs/files-sync.md §3.
 */
export function planSync(input: PlanInput): Plan {
  const skipped: Skipped[] = [];
  const actions: Action[] = [];

  // Names on disk that are one name in the drive: neither is synced until one is renamed.
  const local = byKey(input.local);
  for (const [, list] of local.many) {
    const names = list.map((f) => f.fsPath).sort();
    for (const file of list) {
      skipped.push({
        path: file.path,
        reason: 'same_name',
        detail: `${names.map((n) => JSON.stringify(n)).join(' and ')} are one name in the drive (they differ only in case or Unicode normalisation): rename one`,
      });
    }
  }
  const remoteAll = byKey(input.remote.filter((r) => !input.reserved?.(r.path)));
  for (const r of input.remote) {
    if (input.reserved?.(r.path)) {
      skipped.push({
        path: r.path,
        reason: 'reserved',
        detail: 'this name is reserved for the sync itself on disk',
      });
    }
  }
  const remote = remoteAll.one;
  const state = new Map<string, { path: string; synced: SyncedFile }>();
  for (const [path, synced] of input.state) state.set(pathKey(path), { path, synced });

  // Keys not to touch this round: colliding names on disk.
  const blocked = new Set(local.many.keys());
  const done = new Set<string>();

  // Every name a folder holds or will hold, by collision key, so that conflict names are new.
  const taken = new Set<string>([
    ...input.local.map((f) => pathKey(f.path)),
    ...input.remote.map((r) => pathKey(r.path)),
  ]);

  // Renames in the drive: a synced path gone from the drive while another path, new to both
  // the state and the disk, holds the same version. The disk copy must be unchanged.
  const newRemoteByVersion = new Map<string, string[]>();
  for (const [key, r] of remote) {
    if (state.has(key) || local.one.has(key) || blocked.has(key)) continue;
    const list = newRemoteByVersion.get(r.version);
    if (list) list.push(key);
    else newRemoteByVersion.set(r.version, [key]);
  }
  // Renames on disk: a synced path gone from the disk while another path, new to both the
  // state and the drive, holds the same bytes. The drive's copy must be unchanged.
  const newLocalBySha = new Map<string, string[]>();
  for (const [key, f] of local.one) {
    if (state.has(key) || remote.has(key)) continue;
    const list = newLocalBySha.get(f.sha256);
    if (list) list.push(key);
    else newLocalBySha.set(f.sha256, [key]);
  }
  for (const list of [...newRemoteByVersion.values(), ...newLocalBySha.values()]) list.sort();

  const stateKeys = [...state.keys()].sort();
  for (const key of stateKeys) {
    if (blocked.has(key)) continue;
    const { synced } = state.get(key)!;
    const l = local.one.get(key);
    const r = remote.get(key);
    if (l && !r && l.sha256 === synced.sha256) {
      const candidates = newRemoteByVersion.get(synced.version);
      const target = candidates?.shift();
      if (target !== undefined) {
        actions.push({
          type: 'move_local',
          from: l,
          to: remote.get(target)!.path,
          remote: remote.get(target)!,
        });
        done.add(key).add(target);
        continue;
      }
    }
    if (!l && r && r.version === synced.version) {
      const candidates = newLocalBySha.get(synced.sha256);
      const target = candidates?.shift();
      if (target !== undefined) {
        actions.push({ type: 'move_remote', from: r.path, to: local.one.get(target)!, synced });
        done.add(key).add(target);
        continue;
      }
    }
  }

  const keys = new Set<string>([...local.one.keys(), ...remote.keys(), ...state.keys()]);
  for (const key of [...keys].sort()) {
    if (blocked.has(key) || done.has(key)) continue;
    const l = local.one.get(key);
    const r = remote.get(key);
    const s = state.get(key)?.synced;
    const statePath = state.get(key)?.path;
    if (!l && !r) {
      actions.push({ type: 'forget', path: statePath! });
      continue;
    }
    if (l && !r) {
      // New on disk, or changed on disk after the drive deleted it (the change wins): send it.
      if (!s || l.sha256 !== s.sha256) actions.push({ type: 'upload', path: l.path, local: l });
      else actions.push({ type: 'delete_local', path: l.path, local: l });
      continue;
    }
    if (!l && r) {
      if (!s || r.sha256 !== s.sha256) {
        actions.push({ type: 'download', path: r.path, fsPath: r.path, remote: r });
      } else actions.push({ type: 'delete_remote', path: r.path, remote: r });
      continue;
    }
    const lf = l!;
    const rf = r!;
    if (lf.sha256 === rf.sha256) {
      // Same bytes on both sides: at most the record changes.
      if (
        !s ||
        s.sha256 !== lf.sha256 ||
        s.version !== rf.version ||
        s.size !== lf.size ||
        s.mtime !== lf.mtime
      ) {
        actions.push({ type: 'agree', path: rf.path, local: lf, remote: rf });
      }
      continue;
    }
    const localChanged = !s || lf.sha256 !== s.sha256;
    const remoteChanged = !s || rf.sha256 !== s.sha256;
    // This device's last write lost a concurrent write in the drive: its bytes are still on
    // disk and nowhere else under a name, so they are kept as a conflict copy.
    const lostHere = s !== undefined && !localChanged && (rf.lost ?? []).includes(s.version);
    if (localChanged && !remoteChanged) {
      actions.push({ type: 'upload', path: lf.path, local: lf, base: rf.version });
    } else if (!localChanged && remoteChanged && !lostHere) {
      actions.push({
        type: 'download',
        path: rf.path,
        fsPath: lf.fsPath,
        remote: rf,
        replaces: lf,
      });
    } else {
      const folder = folderOf(lf.path);
      let conflictPath = '';
      for (let n = 1; ; n++) {
        const name = conflictName(
          nameOf(lf.path),
          input.device,
          Math.max(0, Math.floor(lf.mtime)),
          n,
        );
        const candidate = join(folder, name);
        if (!taken.has(pathKey(candidate))) {
          conflictPath = candidate;
          break;
        }
      }
      taken.add(pathKey(conflictPath));
      actions.push({ type: 'conflict', path: rf.path, conflictPath, local: lf, remote: rf });
    }
  }

  actions.sort(
    (a, b) =>
      ORDER[a.type] - ORDER[b.type] ||
      (actionPath(a) < actionPath(b) ? -1 : actionPath(a) > actionPath(b) ? 1 : 0),
  );
  return {
    actions,
    skipped: skipped.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
  };
}
