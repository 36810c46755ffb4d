/**
 * Two-way sync of a folder with a group's drive (docs/files-sync.md): rounds of scan, list,
 * plan and apply, the agreement recorded in the folder's state file as actions complete. One
 * sync at a time per folder (a lock file naming the process); a lock left by a process that
 * died is taken over.
 */
import { hostname } from 'node:os';
import { mkdir, open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { P2PError } from '../../errors.js';
import { pathKey } from '../../files/path.js';
import type { GatewayClient } from '../gateway-client.js';
import { Agreements, applyAction } from './apply.js';
import type { Drive, FileView } from './drive.js';
import { isReserved, partName, shownPath } from './names.js';
import { planSync, type RemoteFile, type SyncedFile } from './plan.js';
import type { Progress } from './progress.js';
import { scanFolder } from './scan.js';
import { STATE_DIR, readState, writeState } from './state.js';

/** The record is written at most this often while a round runs (and always at its end). */
const SAVE_EVERY_MS = 1000;

export interface SyncContext {
  readonly dir: string;
  readonly drive: Drive;
  readonly gateway: GatewayClient;
  readonly device: string;
  readonly progress: Progress;
  /** A line for each action done (stdout). */
  readonly out: (line: string) => void;
  /** Notes and problems (stderr). */
  readonly err: (line: string) => void;
  /** Whether to stop after the action under way (an interrupt). */
  readonly stopping?: () => boolean;
}

export interface RoundReport {
  readonly actions: number;
  readonly failed: number;
  readonly skipped: number;
}

/**
 * The name this device gives its conflict copies: its name among the person's devices, or the
 * host's name for the root device (whose name, "root", says nothing to a person).
 */
export async function deviceName(gateway: GatewayClient): Promise<string> {
  const answer = await gateway.call<{
    device: string;
    devices: { device: string; name: string; root: boolean }[];
  }>('GET', '/api/devices');
  const self = answer.devices.find((d) => d.device === answer.device);
  return self && !self.root && self.name ? self.name : hostname();
}

/** Holds the folder's sync lock; throws if a live process holds it. */
export async function lockFolder(dir: string): Promise<() => Promise<void>> {
  await mkdir(join(dir, STATE_DIR), { recursive: true, mode: 0o700 });
  const path = join(dir, STATE_DIR, 'lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, 'wx', 0o600);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return () => unlink(path).catch(() => undefined);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
    let alive = false;
    if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid) {
      try {
        process.kill(pid, 0);
        alive = true;
      } catch (error) {
        alive = (error as NodeJS.ErrnoException).code === 'EPERM';
      }
    }
    if (alive) {
      throw new P2PError('bad_argument', `another sync (process ${pid}) is running on ${dir}`);
    }
    await unlink(path).catch(() => undefined);
  }
  throw new P2PError('bad_argument', `cannot take the sync lock of ${dir}`);
}

export class FolderSync {
  private agreements: Agreements | undefined;
  private readonly reported = new Set<string>();
  private round = 0;

  constructor(private readonly ctx: SyncContext) {}

  private note(key: string, line: string): void {
    if (this.reported.has(key)) return;
    this.reported.add(key);
    this.ctx.err(line);
  }

  private async save(): Promise<void> {
    await writeState(this.ctx.dir, { space: this.ctx.drive.space, files: this.agreements!.files });
  }

  /** The drive's files, with the versions that lost a concurrent write where this device's last one may be among them. */
  private async remoteFiles(known: ReadonlyMap<string, SyncedFile>): Promise<RemoteFile[]> {
    const files: FileView[] = await this.ctx.drive.listAll('');
    const out: RemoteFile[] = [];
    for (const file of files) {
      const last = known.get(pathKey(file.path));
      if (file.conflicts > 0 && last && last.version !== file.version) {
        const stat = await this.ctx.drive.stat(file.path).catch(() => undefined);
        if (stat) {
          out.push({ ...file, lost: stat.conflicts.map((c) => c.version) });
          continue;
        }
      }
      out.push(file);
    }
    return out;
  }

  /** One round: scan, list, plan, apply. Throws only when the gateway cannot be reached. */
  async runRound(): Promise<RoundReport> {
    const { dir, drive, gateway } = this.ctx;
    this.round += 1;
    if (!this.agreements)
      this.agreements = new Agreements((await readState(dir, drive.space)).files);
    const agreements = this.agreements;
    // Pull in what other devices wrote before comparing: a poll of the nodes.
    await gateway.call('POST', '/api/refresh', {}).catch((error: unknown) => {
      if (error instanceof P2PError && error.code === 'node_unreachable') throw error;
    });
    const known = new Map<string, SyncedFile>();
    for (const [path, file] of agreements.files) known.set(pathKey(path), file);
    const scan = await scanFolder(dir, known);
    const remote = await this.remoteFiles(known);
    const plan = planSync({
      local: scan.files,
      remote,
      state: agreements.files,
      device: this.ctx.device,
      reserved: isReserved,
    });
    for (const problem of scan.problems) {
      this.note(`scan ${problem.path}`, `skipped ${shownPath(problem.path)}: ${problem.detail}`);
    }
    for (const skip of plan.skipped) {
      this.note(`plan ${skip.path}`, `skipped ${shownPath(skip.path)}: ${skip.detail}`);
    }
    let actions = 0;
    let failed = 0;
    let saved = Date.now();
    for (const action of plan.actions) {
      if (this.ctx.stopping?.()) break;
      try {
        const line = await applyAction(
          { dir, drive, agreements, progress: this.ctx.progress, device: this.ctx.device },
          action,
        );
        if (line !== undefined) {
          actions += 1;
          this.ctx.out(line);
        }
      } catch (error) {
        if (error instanceof P2PError && error.code === 'node_unreachable') {
          await this.save();
          throw error;
        }
        failed += 1;
        const what =
          action.type === 'move_local'
            ? action.to
            : action.type === 'move_remote'
              ? action.to.path
              : action.path;
        this.ctx.err(`p2pcloud: ${what}: ${(error as Error).message}`);
      }
      if (Date.now() - saved >= SAVE_EVERY_MS) {
        await this.save();
        saved = Date.now();
      }
    }
    await this.save();
    // Partial downloads of versions this round did not fetch are of nothing current.
    const current = new Set(
      remote.map((r) => {
        const slash = r.path.lastIndexOf('/');
        return slash < 0
          ? partName(r.path, r.version)
          : `${r.path.slice(0, slash)}/${partName(r.path.slice(slash + 1), r.version)}`;
      }),
    );
    for (const part of scan.parts) {
      if (!current.has(part)) await unlink(join(dir, part)).catch(() => undefined);
    }
    if (actions > 0 || failed > 0) {
      this.ctx.err(
        `round ${this.round}: ${actions} change(s)${failed > 0 ? `, ${failed} failed (retried next round)` : ''}`,
      );
    }
    return { actions, failed, skipped: scan.problems.length + plan.skipped.length };
  }
}
