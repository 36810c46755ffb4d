/**
 * `p2pcloud files …`: a group's drive (docs/gateway.md §15) through a running gateway. put and
 * get stream files and folders (a bar on a terminal, one line per file otherwise); get writes
 * each file beside its target first and renames it into place once checked, and continues a
 * broken download; sync keeps a folder and the drive in step both ways (docs/files-sync.md).
 */
import type { Command } from 'commander';
import { stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { P2PError, type ErrorCode } from '../../errors.js';
import { normalizePath, pathKey, type PathRefusal } from '../../files/path.js';
import { connectGateway, gatewayClientOptions, type GatewayFlags } from '../gateway-client.js';
import { parseNumberOption } from '../parse.js';
import { groupId } from './group.js';
import { Drive, type FileView, type PutAnswer } from '../files/drive.js';
import { formatBytes, progressOn } from '../files/progress.js';
import { walkFolder } from '../files/scan.js';
import { shownPath } from '../files/names.js';
import { FolderSync, deviceName, lockFolder } from '../files/sync.js';
import { downloadFile } from '../files/transfer.js';
import { stopSignal } from '../stop-signal.js';
import {
  registerSpreadRepair,
  spreadGet,
  spreadOptions,
  spreadPut,
  type SpreadFlags,
} from './files-spread.js';

type Flags = GatewayFlags & { space: string };

const WHY: Record<PathRefusal, string> = {
  not_unicode: 'it is not valid Unicode',
  empty: 'it is empty',
  backslash: 'it holds a backslash (use / between folders)',
  absolute: 'it starts with / (drive paths start at the drive’s root, without /)',
  control: 'it holds a control character',
  too_long: 'it is longer than 4096 bytes',
  too_deep: 'it has more than 64 segments',
  empty_segment: 'it has an empty segment (// or a trailing /)',
  dot_segment: 'it has a . or .. segment',
  segment_too_long: 'one of its names is longer than 255 bytes',
};

/** A drive path given on the command line, in its one spelling; a refusal names the rule. */
export function drivePath(what: string, text: string): string {
  const check = normalizePath(text);
  if (!check.ok) {
    throw new P2PError(
      'bad_argument',
      `${what} ${JSON.stringify(text.slice(0, 200))} is not a drive path: ${WHY[check.reason]} (${check.reason})`,
    );
  }
  return check.path;
}

/** A folder of the drive: like a path, and empty (or "/") for the root. */
function driveFolder(what: string, text: string | undefined): string {
  if (text === undefined || text === '' || text === '/') return '';
  return drivePath(what, text.replace(/\/+$/, ''));
}

function joinPath(folder: string, name: string): string {
  return folder === '' ? name : `${folder}/${name}`;
}

function plural(n: number, one: string): string {
  return `${n} ${one}${n === 1 ? '' : 's'}`;
}

/** --space, which put and get require outside their spread mode. */
function needSpace(flags: { space?: string }): void {
  if (flags.space === undefined) {
    throw new P2PError('bad_argument', "required option '--space <group>' not specified");
  }
}

/** Whether a failure is the gateway's refusal with this code. */
function isCode(error: unknown, code: ErrorCode): boolean {
  return error instanceof P2PError && error.code === code;
}

async function openDrive(flags: Flags): Promise<Drive> {
  const gateway = await connectGateway(flags);
  return new Drive(gateway, await groupId(gateway, flags.space));
}

/** Whether a drive path is a folder: something is in it. */
async function isFolder(drive: Drive, path: string): Promise<boolean> {
  const listing = await drive.list(path).catch((error: unknown) => {
    if (isCode(error, 'no_such_file') || isCode(error, 'bad_path')) return undefined;
    throw error;
  });
  return listing !== undefined && (listing.files.length > 0 || listing.folders.length > 0);
}

async function statLocal(path: string): Promise<'file' | 'folder' | undefined> {
  try {
    const info = await stat(path);
    return info.isDirectory() ? 'folder' : info.isFile() ? 'file' : undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new P2PError(
      'bad_argument',
      `cannot read ${path}: ${(error as NodeJS.ErrnoException).code}`,
    );
  }
}

function putLine(answer: PutAnswer): string {
  return `put ${answer.file.path} (${formatBytes(answer.file.size)}): sent ${plural(answer.sent.chunks, 'chunk')} (${formatBytes(answer.sent.bytes)}), reused ${plural(answer.reused.chunks, 'chunk')}`;
}

function lsLine(file: FileView): string {
  const when = new Date(file.modified).toISOString().slice(0, 16).replace('T', ' ');
  const note =
    file.conflicts > 0
      ? `  (${plural(file.conflicts, 'concurrent version')} lost to this one)`
      : '';
  return `${formatBytes(file.size).padStart(9)}  ${when}  ${file.name}${note}`;
}

export function registerFilesCommands(
  program: Command,
  out: (line: string) => void,
  err: (line: string) => void,
): void {
  const files = program
    .command('files')
    .description("a group's drive through a running gateway: put, get, ls, rm, mv, share and sync");
  const withSpace = (command: Command): Command =>
    gatewayClientOptions(command).requiredOption(
      '--space <group>',
      'the group whose drive it is (id or name)',
    );
  // put and get also have a spread mode without a gateway, where --space has no place.
  const withSpaceUnlessSpread = (command: Command): Command =>
    gatewayClientOptions(command).option(
      '--space <group>',
      'the group whose drive it is (id or name; required unless --spread)',
    );
  registerSpreadRepair(files, out, err);

  spreadOptions(
    withSpaceUnlessSpread(
      files
        .command('put')
        .description(
          'upload a file, or a folder with everything in it; or, with --spread k/n, spread a file over n nodes',
        )
        .argument('<local>', 'a file or folder on disk')
        .argument(
          '[remote]',
          'where in the drive (default: its name at the root; a path ending in / puts it in that folder)',
        )
        .option('--media-type <type>', 'the media type of a file put alone (default: none)'),
    ),
    true,
  ).action(
    async (
      local: string,
      remoteText: string | undefined,
      flags: Flags & SpreadFlags & { mediaType?: string },
    ) => {
      if (flags.spread !== undefined) return spreadPut(local, flags, out, err);
      if (flags.tickets !== undefined)
        throw new P2PError('bad_argument', '--tickets is for --spread only');
      needSpace(flags);
      const kind = await statLocal(local);
      if (kind === undefined)
        throw new P2PError('bad_argument', `${local}: no such file or folder`);
      const name = basename(resolve(local));
      const remote =
        remoteText === undefined
          ? drivePath('the name of', name)
          : remoteText.endsWith('/')
            ? joinPath(driveFolder('REMOTE_PATH', remoteText), drivePath('the name of', name))
            : drivePath('REMOTE_PATH', remoteText);
      // Everything is checked before the first byte is sent: a put is not left half done by a
      // name the drive refuses.
      const items: { fsPath: string; path: string; size: number; mtime: number }[] = [];
      if (kind === 'file') {
        const info = await stat(local);
        items.push({ fsPath: local, path: remote, size: info.size, mtime: info.mtimeMs });
      } else {
        const walk = await walkFolder(local);
        const problem = walk.problems[0];
        if (problem)
          throw new P2PError(
            'bad_argument',
            `${shownPath(join(local, problem.path))}: ${problem.detail}`,
          );
        const seen = new Map<string, string>();
        for (const f of walk.files) {
          const key = pathKey(f.path);
          const other = seen.get(key);
          if (other !== undefined) {
            throw new P2PError(
              'bad_argument',
              `${join(local, other)} and ${join(local, f.fsPath)} are one name in the drive (they differ only in case or Unicode normalisation): rename one`,
            );
          }
          seen.set(key, f.fsPath);
          items.push({
            fsPath: join(local, f.fsPath),
            path: joinPath(remote, f.path),
            size: f.size,
            mtime: f.mtime,
          });
        }
      }
      const drive = await openDrive(flags);
      // A file put onto a folder of the drive goes into it, as cp does.
      if (kind === 'file' && remoteText !== undefined && !remoteText.endsWith('/')) {
        if (await isFolder(drive, remote))
          items[0] = { ...items[0]!, path: joinPath(remote, name) };
      }
      const progress = progressOn();
      for (const item of items) {
        const bar = progress.start(item.path, item.size);
        let answer: PutAnswer;
        try {
          answer = await drive.upload(item.path, item.fsPath, item.size, {
            modified: item.mtime,
            ...(flags.mediaType !== undefined && kind === 'file'
              ? { mediaType: flags.mediaType }
              : {}),
            onBytes: (n) => bar.add(n),
          });
        } finally {
          bar.stop();
        }
        out(flags.json ? JSON.stringify(answer) : putLine(answer));
      }
    },
  );

  spreadOptions(
    withSpaceUnlessSpread(
      files
        .command('get')
        .description(
          'download a file, or a folder with everything in it (a broken download continues where it stopped); or, with --spread MANIFEST, a spread file',
        )
        .argument('[remote]', 'a path in the drive')
        .argument(
          '[local]',
          'where on disk (default: its name in the current folder; an existing folder: into it)',
        )
        .option(
          '--version-id <id>',
          'an earlier version, or one that lost a concurrent write (ids from ls --json or the stat route)',
        ),
    ),
    false,
  ).action(
    async (
      remoteArg: string | undefined,
      localText: string | undefined,
      flags: Flags & SpreadFlags & { versionId?: string },
    ) => {
      if (flags.spread !== undefined) {
        if (remoteArg !== undefined) {
          throw new P2PError(
            'bad_argument',
            'files get --spread takes no REMOTE path: the manifest names the file, --out where it goes',
          );
        }
        return spreadGet(flags, out, err);
      }
      needSpace(flags);
      if (remoteArg === undefined) {
        throw new P2PError('bad_argument', "missing required argument 'remote'");
      }
      const remoteText = remoteArg;
      const remote = drivePath('REMOTE_PATH', remoteText.replace(/(.)\/+$/, '$1'));
      if (flags.versionId !== undefined && !/^[0-9a-f]{64}$/.test(flags.versionId)) {
        throw new P2PError(
          'bad_argument',
          `--version-id: expected a version id (64 hex), got ${JSON.stringify(flags.versionId.slice(0, 80))}`,
        );
      }
      const drive = await openDrive(flags);
      let single: FileView | undefined;
      try {
        const stat = await drive.stat(remote);
        single = stat.file;
        if (flags.versionId !== undefined && flags.versionId !== single.version) {
          single = [...stat.versions, ...stat.conflicts].find((v) => v.version === flags.versionId);
          if (!single) {
            throw new P2PError(
              'no_such_file',
              `${remote} has no version ${flags.versionId} (no_such_file)`,
            );
          }
          single = { ...single, path: remote, name: remote.slice(remote.lastIndexOf('/') + 1) };
        }
      } catch (error) {
        if (!isCode(error, 'no_such_file') || flags.versionId !== undefined) throw error;
      }
      let targets: { file: FileView; local: string }[];
      if (single) {
        const given = localText ?? single.name;
        const local = (await statLocal(given)) === 'folder' ? join(given, single.name) : given;
        targets = [{ file: single, local }];
      } else {
        const listed = await drive.listAll(remote).catch((error: unknown) => {
          if (isCode(error, 'no_such_file') || isCode(error, 'bad_path')) return [];
          throw error;
        });
        if (listed.length === 0) {
          throw new P2PError(
            'no_such_file',
            `no such file or folder in the drive: ${remote} (no_such_file)`,
          );
        }
        const root = localText ?? basename(remote);
        targets = listed.map((file) => ({
          file,
          local: join(root, ...file.path.slice(remote.length + 1).split('/')),
        }));
      }
      const progress = progressOn();
      for (const { file, local } of targets) {
        let resumed = 0;
        const bar = progress.start(file.path, file.size);
        let result;
        try {
          result = await downloadFile(drive, file, local, {
            onBytes: (n) => bar.add(n),
            onResume: (from) => {
              resumed = from;
              bar.add(from);
            },
          });
        } finally {
          bar.stop();
        }
        const kept = result.resumedFrom;
        if (flags.json) {
          out(
            JSON.stringify({
              path: file.path,
              local,
              size: file.size,
              sha256: file.sha256,
              version: file.version,
              resumed_from: kept,
            }),
          );
        } else {
          out(
            `got ${file.path} -> ${local} (${formatBytes(file.size)})${kept > 0 ? `, resumed at byte ${kept}` : resumed > 0 ? ', started again (the partial file was not of this version)' : ''}`,
          );
        }
      }
    },
  );

  withSpace(
    files
      .command('ls')
      .description(
        'list a folder of the drive: its folders, then its files (size, time written, name)',
      )
      .argument('[folder]', 'a folder (default: the root)')
      .option('--recursive', 'every file under the folder, by path'),
  ).action(async (folderText: string | undefined, flags: Flags & { recursive?: boolean }) => {
    const folder = driveFolder('FOLDER', folderText);
    const drive = await openDrive(flags);
    if (flags.recursive) {
      const all = await drive.listAll(folder);
      if (flags.json) out(JSON.stringify({ folder, files: all }));
      else for (const f of all) out(lsLine({ ...f, name: f.path }));
      return;
    }
    const answer = await drive.list(folder);
    if (answer.more) {
      err(
        `note: ${folder || 'the root'} holds more files than the ${answer.files.length} listed: ls --recursive lists them all`,
      );
    }
    if (flags.json) {
      out(JSON.stringify(answer));
      return;
    }
    for (const f of answer.folders)
      out(`${`${plural(f.files, 'file')}`.padStart(9)}  ${' '.repeat(16)}  ${f.name}/`);
    for (const f of answer.files) out(lsLine(f));
  });

  withSpace(
    files
      .command('rm')
      .description('remove a file from the drive (its earlier versions stay readable)')
      .argument('<path>', 'a path in the drive'),
  ).action(async (pathText: string, flags: Flags) => {
    const path = drivePath('PATH', pathText);
    const drive = await openDrive(flags);
    const answer = await drive.remove(path);
    out(flags.json ? JSON.stringify(answer) : `deleted ${path}`);
  });

  withSpace(
    files
      .command('mv')
      .description('move or rename a file or folder in the drive (nothing is copied)')
      .argument('<from>', 'a path in the drive')
      .argument('<to>', 'its new path'),
  ).action(async (fromText: string, toText: string, flags: Flags) => {
    const from = drivePath('FROM', fromText);
    let to = drivePath('TO', toText);
    const drive = await openDrive(flags);
    // Onto a folder of the drive: into it, as mv does.
    if (await isFolder(drive, to)) to = joinPath(to, from.slice(from.lastIndexOf('/') + 1));
    const answer = await drive.move(from, to);
    out(
      flags.json
        ? JSON.stringify(answer)
        : `moved ${from} -> ${to} (${plural(answer.moved, 'file')})`,
    );
  });

  withSpace(
    files
      .command('share')
      .description(
        'share a folder with a person: a new group holding a copy of it, with them as a member; prints its id',
      )
      .argument(
        '<folder>',
        'a folder of the drive ("" or / for the whole drive: adds them to this group)',
      )
      .requiredOption('--with <person>', "the person's identity text (p2pid1…)")
      .option('--role <role>', 'reader or writer', 'reader'),
  ).action(async (folderText: string, flags: Flags & { with: string; role: string }) => {
    if (flags.role !== 'reader' && flags.role !== 'writer') {
      throw new P2PError(
        'bad_argument',
        `--role: expected reader or writer, got ${JSON.stringify(flags.role)}`,
      );
    }
    const folder = driveFolder('FOLDER', folderText);
    const drive = await openDrive(flags);
    const answer = await drive.share(folder, flags.with.trim(), flags.role);
    if (flags.json) out(JSON.stringify(answer));
    else {
      out(answer.space);
      err(
        `shared ${folder === '' ? 'the drive' : folder} with ${flags.with.trim().slice(0, 16)}… as ${flags.role}: ${plural(answer.files, 'file')}`,
      );
    }
  });

  withSpace(
    files
      .command('sync')
      .description(
        'keep a folder and the drive in step both ways, round after round, until interrupted',
      )
      .argument('<dir>', 'the folder on disk (its state is kept in DIR/.p2pcloud/)')
      .option('--interval <seconds>', 'time between rounds', '10')
      .option('--once', 'one round, then exit (non-zero if a change could not be made)')
      .option(
        '--device <name>',
        "the name in conflict copies' names (default: this device's name, or the host's)",
      ),
  ).action(
    async (dir: string, flags: Flags & { interval: string; once?: boolean; device?: string }) => {
      const interval = parseNumberOption('--interval', flags.interval, 0.1, 86_400);
      if ((await statLocal(dir)) !== 'folder')
        throw new P2PError('bad_argument', `${dir}: no such folder`);
      const gateway = await connectGateway(flags);
      const drive = new Drive(gateway, await groupId(gateway, flags.space));
      const device = flags.device?.trim() || (await deviceName(gateway));
      const unlock = await lockFolder(dir);
      let stopping = false;
      let wake: (() => void) | undefined;
      void stopSignal().then(() => {
        stopping = true;
        wake?.();
      });
      const sync = new FolderSync({
        dir,
        drive,
        gateway,
        device,
        progress: progressOn(),
        out,
        err,
        stopping: () => stopping,
      });
      try {
        if (flags.once) {
          const report = await sync.runRound();
          if (report.failed > 0) {
            throw new P2PError(
              'aborted',
              `${plural(report.failed, 'change')} could not be made this round (named above)`,
            );
          }
          return;
        }
        err(`syncing ${dir} with ${drive.space} every ${interval} s; interrupt (Ctrl-C) to stop`);
        while (!stopping) {
          try {
            await sync.runRound();
          } catch (error) {
            // A gateway that went away is waited for: the sync goes on once it is back.
            if (!(error instanceof P2PError) || error.code !== 'node_unreachable') throw error;
            err(`p2pcloud: ${error.message}; trying again in ${interval} s`);
          }
          if (stopping) break;
          await new Promise<void>((done) => {
            const timer = setTimeout(done, interval * 1000);
            // An interrupt ends the wait at once, and leaves no timer holding the process.
            wake = () => {
              clearTimeout(timer);
              done();
            };
          });
        }
      } finally {
        await unlock();
      }
    },
  );
}
