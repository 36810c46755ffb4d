/**
 * Two devices of one person, each with its own gateway process and its own folder, each
 * folder kept in step with the person's drive by a real `p2pcloud files sync` process. New
 * files, edits, deletes and renames on either side reach the other; a file edited on both at
 * once ends as two files on both (the conflict copy named after the device); a sync killed
 * with SIGKILL in the middle of its work and started again converges, with no file lost or
 * half written, and no partial file left behind.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  statSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { PART_SUFFIX } from '../../src/cli/files/names.js';
import { eventually } from '../helpers/gateways.js';
import { freePort } from '../helpers/http.js';
import { groupView, ok, refresh, startDevice, type Device } from '../helpers/identity.js';
import { spawnNodeAt } from '../helpers/kv.js';
import { cliPath } from '../helpers/paths.js';
import { cliEnvironment, runCli } from '../helpers/spawn.js';
import { testBytes } from '../helpers/files.js';
import { tempDir } from '../helpers/tmp.js';

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Every file under a folder (relative path → SHA-256), the sync's own folder left out. */
function tree(dir: string, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const entry of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (rel === '.p2pcloud') continue;
    if (entry.isDirectory()) for (const [p, h] of tree(dir, rel)) out.set(p, h);
    else out.set(rel, sha(readFileSync(join(dir, rel))));
  }
  return out;
}

function sorted(map: Map<string, string>): [string, string][] {
  return [...map].sort((x, y) => (x[0] < y[0] ? -1 : 1));
}

/** A running `p2pcloud files sync`: what it printed, and ways to stop it. */
class SyncProcess {
  private child!: ChildProcess;
  private exited!: Promise<number | null>;
  stdout = '';
  stderr = '';

  constructor(
    private readonly device: Device,
    readonly dir: string,
    private readonly group: string,
  ) {}

  start(): this {
    this.child = spawn(
      process.execPath,
      [
        cliPath,
        'files',
        'sync',
        this.dir,
        '--space',
        this.group,
        '--interval',
        '0.5',
        '--gateway',
        this.device.url,
        '--data',
        this.device.dataDir,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: cliEnvironment() },
    );
    this.child.stdout!.setEncoding('utf8').on('data', (c: string) => (this.stdout += c));
    this.child.stderr!.setEncoding('utf8').on('data', (c: string) => (this.stderr += c));
    this.exited = new Promise((resolve) => this.child.once('exit', resolve));
    const child = this.child;
    const killer = setTimeout(() => child.kill('SIGKILL'), 170_000);
    killer.unref();
    void this.exited.then(() => clearTimeout(killer));
    after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    return this;
  }

  async kill9(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
  }

  async stop(): Promise<number | null> {
    this.child.kill('SIGINT');
    return this.exited;
  }
}

function onceArgs(device: Device, dir: string, group: string): string[] {
  const at = ['--gateway', device.url, '--data', device.dataDir];
  return ['files', 'sync', dir, '--once', '--space', group, ...at];
}

/** Waits until both folders hold the same files and `check` accepts them. */
async function converged(
  what: string,
  a: SyncProcess,
  b: SyncProcess,
  check: (files: Map<string, string>) => boolean,
  timeoutMs = 45_000,
): Promise<Map<string, string>> {
  let last = '';
  return eventually(
    what,
    async () => {
      const [ta, tb] = [tree(a.dir), tree(b.dir)];
      last = `A ${JSON.stringify(sorted(ta))}\nB ${JSON.stringify(sorted(tb))}`;
      if (JSON.stringify(sorted(ta)) !== JSON.stringify(sorted(tb))) return undefined;
      return check(ta) ? ta : undefined;
    },
    timeoutMs,
    250,
  ).catch((error: Error) => {
    throw new Error(
      `${error.message}\n${last}\nA out: ${a.stdout}\nA err: ${a.stderr}\nB out: ${b.stdout}\nB err: ${b.stderr}`,
    );
  });
}

/**
 * Waits for a sync process to print a line: it prints an action's line just after the action,
 * so a test that saw the action's effect on disk may look before the line is there.
 */
async function printed(what: string, output: () => string, line: RegExp): Promise<void> {
  await eventually(what, async () => line.test(output()), 15_000, 50).catch((error: Error) => {
    throw new Error(`${error.message}\n${output().slice(-2000)}`);
  });
}

test('two devices sync their folders through the drive: edits, deletes, renames, a conflict, kill -9', async () => {
  const port = await freePort();
  await spawnNodeAt(port, tempDir());
  const nodeUrl = `http://127.0.0.1:${port}`;
  const [desk, laptop] = await Promise.all([startDevice(nodeUrl), startDevice(nodeUrl)]);
  // The laptop becomes a second device of the desk's person.
  const code = await ok(desk.url, 'POST', '/api/devices/link', {}, 201);
  await ok(laptop.url, 'POST', '/api/devices/accept', {
    code: code.code,
    name: 'laptop',
    wait_seconds: 30,
  });
  const group = (await ok(desk.url, 'POST', '/api/groups', { name: 'my drive' }, 201)).id as string;
  await eventually('the laptop may write the drive', async () => {
    await refresh(laptop.url);
    return (await groupView(laptop.url, group)).writable;
  });

  const dirA = tempDir();
  const dirB = tempDir();
  // Something already in the desk's folder before the first round.
  writeFileSync(join(dirA, 'before.txt'), 'there before the sync\n');
  const a = new SyncProcess(desk, dirA, group).start();
  const b = new SyncProcess(laptop, dirB, group).start();

  // New files on both sides, in folders, one of them a few hundred chunks long.
  const big = testBytes(6_000_000);
  mkdirSync(join(dirA, 'docs', 'notes'), { recursive: true });
  writeFileSync(join(dirA, 'docs', 'notes', 'a.md'), '# a\n');
  writeFileSync(join(dirA, 'big.bin'), big);
  writeFileSync(join(dirB, 'from-laptop.txt'), 'written on the laptop\n');
  writeFileSync(join(dirB, 'café.txt'), 'accents\n');
  let files = await converged('new files on both sides', a, b, (t) =>
    ['before.txt', 'docs/notes/a.md', 'big.bin', 'from-laptop.txt', 'café.txt'].every((p) =>
      t.has(p),
    ),
  );
  assert.equal(files.get('big.bin'), sha(big));
  assert.equal(files.size, 5);

  // An edit on the laptop, a delete on the desk, a rename on the laptop, a drive move seen on the desk.
  writeFileSync(join(dirB, 'before.txt'), 'edited on the laptop\n');
  rmSync(join(dirA, 'docs', 'notes', 'a.md'));
  mkdirSync(join(dirB, 'moved'));
  renameSync(join(dirB, 'big.bin'), join(dirB, 'moved', 'big renamed.bin'));
  files = await converged(
    'an edit, a delete and a rename',
    a,
    b,
    (t) =>
      t.get('before.txt') === sha(Buffer.from('edited on the laptop\n')) &&
      !t.has('docs/notes/a.md') &&
      !t.has('big.bin') &&
      t.get('moved/big renamed.bin') === sha(big),
  );
  assert.equal(files.size, 4);
  assert.ok(!existsSync(join(dirB, 'docs')), 'the folders the delete emptied are gone');
  // The rename travelled as a move: the laptop moved it in the drive, the desk renamed it on
  // disk; neither sent nor fetched its bytes again.
  assert.match(b.stdout, /^move remote big\.bin -> moved\/big renamed\.bin$/m);
  // The desk prints its line just after the rename the convergence saw.
  await printed(
    'the desk to report its rename',
    () => a.stdout,
    /^move local big\.bin -> moved\/big renamed\.bin$/m,
  );
  assert.doesNotMatch(a.stdout, /^download moved\/big renamed\.bin$/m);

  // The same file edited on both devices at once: both versions end on both sides.
  await Promise.all([a.stop(), b.stop()]);
  writeFileSync(join(dirA, 'from-laptop.txt'), 'the desk’s edit\n');
  writeFileSync(join(dirB, 'from-laptop.txt'), 'the laptop’s edit\n');
  a.start();
  b.start();
  files = await converged('a conflict', a, b, (t) => t.size === 5);
  const versions = [...files].filter(([p]) => p.startsWith('from-laptop'));
  assert.equal(versions.length, 2, JSON.stringify(sorted(files)));
  assert.deepEqual(
    versions.map(([, h]) => h).sort(),
    [sha(Buffer.from('the desk’s edit\n')), sha(Buffer.from('the laptop’s edit\n'))].sort(),
  );
  const copy = versions.find(([p]) => p !== 'from-laptop.txt')![0];
  const today = new Date().toISOString().slice(0, 10);
  assert.match(copy, new RegExp(`^from-laptop \\(conflict from .+ ${today}\\)\\.txt$`));

  // Again, each device's sync sending its edit at the same moment (one round each): both
  // writes reach the drive, one wins, and the device whose write lost keeps it as a copy.
  await Promise.all([a.stop(), b.stop()]);
  // Large enough that each upload takes longer than the two processes' start differs.
  const deskAgain = testBytes(8_000_000);
  const laptopAgain = testBytes(8_000_000);
  writeFileSync(join(dirA, 'before.txt'), deskAgain);
  writeFileSync(join(dirB, 'before.txt'), laptopAgain);
  const [onceA, onceB] = await Promise.all([
    runCli(onceArgs(desk, dirA, group), { timeoutMs: 60_000 }),
    runCli(onceArgs(laptop, dirB, group), { timeoutMs: 60_000 }),
  ]);
  assert.equal(onceA.code, 0, onceA.stderr);
  assert.equal(onceB.code, 0, onceB.stderr);
  // Each round planned an upload: neither had seen the other's edit.
  const sent = /^(upload|conflict) before\.txt/m;
  const bothSent = sent.test(onceA.stdout) && sent.test(onceB.stdout);
  a.start();
  b.start();
  files = await converged('a second conflict', a, b, (t) => t.size === 6);
  const again = [...files].filter(([p]) => p.startsWith('before'));
  assert.deepEqual(
    again.map(([, h]) => h).sort(),
    [sha(deskAgain), sha(laptopAgain)].sort(),
    JSON.stringify(sorted(files)),
  );
  if (bothSent) {
    // Neither saw the other's write when it planned its upload: the copy was made afterwards.
    await printed(
      'a conflict copy of before.txt',
      () => `${onceA.stdout}${onceB.stdout}${a.stdout}${b.stdout}`,
      /^conflict before\.txt: /m,
    );
  }

  // Much to do on the desk, which is killed half way through it; the laptop is killed while
  // it fetches. Both started again: everything arrives whole.
  const batch = new Map<string, Buffer>();
  for (let i = 0; i < 40; i++)
    batch.set(
      `batch/file-${String(i).padStart(2, '0')}.txt`,
      Buffer.from(`file ${i}\n`.repeat(i + 1)),
    );
  batch.set('batch/large.bin', testBytes(30_000_000));
  mkdirSync(join(dirA, 'batch'));
  for (const [p, bytes] of batch) writeFileSync(join(dirA, p), bytes);
  // The desk is killed once the small files are sent, while the large one is on its way; the
  // laptop while it fetches the large one.
  await eventually(
    'the desk to be half way',
    async () => /^upload batch\/file-39\.txt$/m.test(a.stdout),
    45_000,
    20,
  );
  await new Promise((resolve) => setTimeout(resolve, 150));
  await a.kill9();
  a.start();
  const largePart = (): string | undefined =>
    readdirSync(join(dirB, 'batch')).find(
      (n) => n.includes('large.bin') && n.endsWith(PART_SUFFIX),
    );
  await eventually(
    'the laptop to be fetching the large file',
    async () => {
      const part = existsSync(join(dirB, 'batch')) ? largePart() : undefined;
      return part !== undefined && statSync(join(dirB, 'batch', part)).size > 0;
    },
    60_000,
    10,
  );
  await b.kill9();
  // Killed before the large file was complete (it may have finished in the instant before the
  // signal landed: then there is nothing to continue).
  const cutShort = largePart() !== undefined && !existsSync(join(dirB, 'batch', 'large.bin'));
  b.start();
  files = await converged(
    'after kill -9 of both',
    a,
    b,
    (t) => [...batch.keys()].every((p) => t.has(p)),
    90_000,
  );
  for (const [p, bytes] of batch) assert.equal(files.get(p), sha(bytes), `${p} whole`);
  assert.equal(files.size, 6 + batch.size);
  // The laptop continued what it had fetched of the large file before it was killed.
  // The line is printed just after the file is renamed into place: wait for it, not only for
  // the file.
  if (cutShort) {
    await printed(
      'the laptop to say it resumed the large file',
      () => b.stdout,
      /^download batch\/large\.bin \(resumed at byte [1-9]\d*\)$/m,
    );
  }
  for (const dir of [dirA, dirB]) {
    const parts = [...tree(dir).keys()].filter((p) => p.endsWith(PART_SUFFIX));
    assert.deepEqual(parts, [], 'no partial file left');
  }
  assert.equal(await a.stop(), 0);
  assert.equal(await b.stop(), 0);
});
