/**
 * `p2pcloud files …` as a user runs it: a real node, a person's real gateway process, and each
 * command a child process. Files and folders go up and come back byte for byte; ls, rm and mv
 * change what the drive lists; bad paths, a missing file, two names that are one name in the
 * drive and a gateway that is not running are each one `p2pcloud:` line and a non-zero exit;
 * a download killed half way is continued from its partial file; on a terminal a bar shows.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { partName } from '../../src/cli/files/names.js';
import { eventually, newKeyFile } from '../helpers/gateways.js';
import { freePort } from '../helpers/http.js';
import { ok, startDevice, type Device } from '../helpers/identity.js';
import { spawnNode } from '../helpers/nodes.js';
import { cliPath } from '../helpers/paths.js';
import { cliEnvironment, runCli, type CliResult } from '../helpers/spawn.js';
import { tempDir } from '../helpers/tmp.js';
import { testBytes } from '../helpers/files.js';

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function at(device: Device, space: string): string[] {
  return ['--space', space, '--gateway', device.url, '--data', device.dataDir];
}

function cli(args: readonly string[], cwd: string): Promise<CliResult> {
  return runCli(args, { cwd, timeoutMs: 90_000 });
}

async function okCli(args: readonly string[], cwd: string): Promise<CliResult> {
  const run = await cli(args, cwd);
  assert.equal(run.code, 0, `p2pcloud ${args.join(' ')}: exit ${run.code}\n${run.stderr}`);
  return run;
}

/** A refusal: nothing on stdout, one `p2pcloud:` line on stderr, a non-zero exit. */
function assertRefused(run: CliResult, pattern: RegExp, what: string): void {
  assert.notEqual(run.code, 0, `${what}: exit code (${run.stderr})`);
  assert.equal(run.stdout, '', `${what}: stdout`);
  const lines = run.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `${what}: one line on stderr, got ${run.stderr}`);
  assert.match(lines[0]!, /^p2pcloud: /, what);
  assert.match(lines[0]!, pattern, `${what}: ${lines[0]}`);
}

/** Every file under a folder (relative path → SHA-256), the sync's own names left out. */
function tree(dir: string, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const entry of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) for (const [p, h] of tree(dir, rel)) out.set(p, h);
    else out.set(rel, sha(readFileSync(join(dir, rel))));
  }
  return out;
}

test('p2pcloud files: put, get, ls, rm, mv, share, bad input, a resumed get, a bar on a terminal', async () => {
  const node = await spawnNode(['--min-pow', '0', '--sync-interval', '3600']);
  const a = await startDevice(node.url);
  const group = (await ok(a.url, 'POST', '/api/groups', { name: 'photos' }, 201)).id as string;
  const work = tempDir();

  // A file, named by the group's name.
  const notes = Buffer.from('milk, bread\n');
  writeFileSync(join(work, 'notes.txt'), notes);
  const put = await okCli(['files', 'put', 'notes.txt', ...at(a, 'photos')], work);
  assert.match(put.stdout, /^put notes\.txt \(12 B\): sent 1 chunk \(12 B\), reused 0 chunks\n$/);

  // A folder, recursively, into a named place; --json prints the gateway's answers.
  const album = join(work, 'album');
  mkdirSync(join(album, '2026', 'winter'), { recursive: true });
  const pictures = {
    'a.jpg': testBytes(300_000),
    '2026/b.jpg': testBytes(50_000),
    '2026/winter/c.jpg': testBytes(1_000),
    '2026/winter/empty': Buffer.alloc(0),
  };
  for (const [path, bytes] of Object.entries(pictures)) writeFileSync(join(album, path), bytes);
  const folderPut = await okCli(
    ['files', 'put', 'album', 'pictures/album', '--json', ...at(a, group)],
    work,
  );
  const answers = folderPut.lines.map(
    (l) => JSON.parse(l) as { file: { path: string; sha256: string } },
  );
  assert.deepEqual(
    answers.map((x) => x.file.path).sort(),
    Object.keys(pictures)
      .map((p) => `pictures/album/${p}`)
      .sort(),
  );
  for (const x of answers) {
    const rel = x.file.path.slice('pictures/album/'.length) as keyof typeof pictures;
    assert.equal(x.file.sha256, sha(pictures[rel]), rel);
  }

  // ls: folders then files; --json is the gateway's listing; --recursive every path.
  const ls = await okCli(['files', 'ls', ...at(a, group)], work);
  assert.equal(ls.lines.length, 2, ls.stdout);
  assert.match(ls.lines[0]!, /^\s+\d+ files?\s+pictures\/$/);
  assert.match(ls.lines[1]!, /^\s+12 B\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+notes\.txt$/);
  const lsJson = JSON.parse(
    (await okCli(['files', 'ls', 'pictures/album/2026', '--json', ...at(a, group)], work)).stdout,
  );
  assert.deepEqual(
    lsJson.files.map((f: { name: string }) => f.name),
    ['b.jpg'],
  );
  assert.deepEqual(
    lsJson.folders.map((f: { name: string }) => f.name),
    ['winter'],
  );
  const recursive = await okCli(['files', 'ls', 'pictures', '--recursive', ...at(a, group)], work);
  assert.equal(recursive.lines.length, 4);
  assert.ok(recursive.lines.some((l) => l.endsWith(' pictures/album/2026/winter/c.jpg')));

  // get: a file to its name, into a folder, to a given name; a folder with everything in it.
  const down = tempDir();
  await okCli(['files', 'get', 'notes.txt', ...at(a, group)], down);
  assert.ok(readFileSync(join(down, 'notes.txt')).equals(notes));
  mkdirSync(join(down, 'into'));
  await okCli(['files', 'get', 'notes.txt', 'into', ...at(a, group)], down);
  assert.ok(readFileSync(join(down, 'into', 'notes.txt')).equals(notes));
  const got = await okCli(['files', 'get', 'pictures/album', 'copy', ...at(a, group)], down);
  assert.equal(got.lines.length, 4, got.stdout);
  assert.deepEqual(
    [...tree(join(down, 'copy'))].sort(),
    Object.entries(pictures)
      .map(([p, b]) => [p, sha(b)])
      .sort(),
  );

  // An earlier version, by its id.
  const firstNotes = JSON.parse(
    (await okCli(['files', 'ls', '--json', ...at(a, group)], work)).stdout,
  ).files[0] as { version: string };
  writeFileSync(join(work, 'notes.txt'), 'milk, bread, eggs\n');
  await okCli(['files', 'put', 'notes.txt', ...at(a, group)], work);
  await okCli(
    ['files', 'get', 'notes.txt', 'old.txt', '--version-id', firstNotes.version, ...at(a, group)],
    down,
  );
  assert.ok(readFileSync(join(down, 'old.txt')).equals(notes), 'the earlier version');
  assertRefused(
    await cli(['files', 'get', 'notes.txt', '--version-id', 'f'.repeat(64), ...at(a, group)], down),
    /notes\.txt has no version f{64} \(no_such_file\)$/,
    'a version the file never had',
  );
  writeFileSync(join(work, 'notes.txt'), notes);

  // mv and rm change what ls shows.
  const mv = await okCli(
    ['files', 'mv', 'notes.txt', 'lists/groceries.txt', ...at(a, group)],
    work,
  );
  assert.equal(mv.stdout, 'moved notes.txt -> lists/groceries.txt (1 file)\n');
  // A file put or moved onto a folder goes into it.
  await okCli(['files', 'put', 'notes.txt', 'lists', ...at(a, group)], work);
  assert.equal(
    (await okCli(['files', 'mv', 'lists/notes.txt', 'pictures', ...at(a, group)], work)).stdout,
    'moved lists/notes.txt -> pictures/notes.txt (1 file)\n',
  );
  await okCli(['files', 'rm', 'pictures/notes.txt', ...at(a, group)], work);
  const rm = await okCli(['files', 'rm', 'lists/groceries.txt', ...at(a, group)], work);
  assert.equal(rm.stdout, 'deleted lists/groceries.txt\n');
  const after = await okCli(['files', 'ls', '--recursive', ...at(a, group)], work);
  assert.equal(after.lines.length, 4);
  assert.ok(!after.stdout.includes('groceries'));

  // share: a new group with a copy of the folder.
  const bob = await newKeyFile();
  const { identityText } = await import('../../src/keys/keys.js');
  const shared = await okCli(
    [
      'files',
      'share',
      'pictures/album/2026',
      '--with',
      identityText(bob.identity),
      '--role',
      'reader',
      ...at(a, group),
    ],
    work,
  );
  assert.match(shared.stdout, /^[0-9a-f]{32}\n$/);
  assert.match(shared.stderr, /shared pictures\/album\/2026 with p2pid1.* as reader: 3 files/);

  // Bad input: one line, non-zero exit, nothing done.
  assertRefused(
    await cli(['files', 'put', 'notes.txt', '../up.txt', ...at(a, group)], work),
    /REMOTE_PATH "\.\.\/up\.txt" is not a drive path: .*\(dot_segment\)$/,
    'a path with ..',
  );
  assertRefused(
    await cli(['files', 'put', 'notes.txt', '/etc/x', ...at(a, group)], work),
    /"\/etc\/x" is not a drive path: it starts with \/.*\(absolute\)$/,
    'an absolute path',
  );
  assertRefused(
    await cli(['files', 'get', 'a/../../b', ...at(a, group)], work),
    /\(dot_segment\)$/,
    'get with ..',
  );
  assertRefused(
    await cli(['files', 'put', 'missing.txt', ...at(a, group)], work),
    /^p2pcloud: missing\.txt: no such file or folder$/,
    'a missing local file',
  );
  assertRefused(
    await cli(['files', 'get', 'nothing/here.txt', ...at(a, group)], work),
    /no such file or folder in the drive: nothing\/here\.txt \(no_such_file\)$/,
    'a missing drive file',
  );
  assertRefused(
    await cli(['files', 'rm', 'nothing.txt', ...at(a, group)], work),
    /no_such_file/,
    'rm of a missing file',
  );
  const twins = join(work, 'twins');
  mkdirSync(twins);
  writeFileSync(join(twins, 'Report.txt'), 'one');
  writeFileSync(join(twins, 'report.TXT'), 'two');
  assertRefused(
    await cli(['files', 'put', 'twins', ...at(a, group)], work),
    /twins\/Report\.txt and twins\/report\.TXT are one name in the drive \(they differ only in case/,
    'names that differ only by case',
  );
  const lsTwins = await cli(['files', 'ls', 'twins', '--json', ...at(a, group)], work);
  assert.deepEqual(
    JSON.parse(lsTwins.stdout || '{"files":[]}').files ?? [],
    [],
    'nothing of it was put',
  );
  assertRefused(
    await cli(
      ['files', 'mv', 'pictures/album/2026/b.jpg', 'PICTURES/Album/A.JPG', ...at(a, group)],
      work,
    ),
    /file_exists/,
    'a move onto a name that is taken',
  );
  assertRefused(
    await cli(
      ['files', 'ls', '--space', 'no such group', '--gateway', a.url, '--data', a.dataDir],
      work,
    ),
    /you are in no group named "no such group"/,
    'an unknown space',
  );
  const nowhere = `http://127.0.0.1:${await freePort()}`;
  assertRefused(
    await cli(['files', 'ls', '--space', group, '--gateway', nowhere, '--data', a.dataDir], work),
    /no gateway is running at http:\/\/127\.0\.0\.1:\d+/,
    'no gateway',
  );

  // A download killed half way leaves only its partial file; the next get continues it.
  const big = testBytes(24_000_000);
  writeFileSync(join(work, 'big.bin'), big);
  const bigPut = JSON.parse(
    (await okCli(['files', 'put', 'big.bin', '--json', ...at(a, group)], work)).stdout,
  ) as { file: { version: string } };
  const target = tempDir();
  const part = join(target, partName('big.bin', bigPut.file.version));
  const child = spawn(process.execPath, [cliPath, 'files', 'get', 'big.bin', ...at(a, group)], {
    cwd: target,
    env: cliEnvironment(),
    stdio: 'ignore',
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await eventually(
    'the partial file to grow',
    async () => existsSync(part) && statSync(part).size >= 2_000_000,
    60_000,
    5,
  );
  child.kill('SIGKILL');
  await exited;
  const kept = statSync(part).size;
  assert.ok(kept > 0 && kept < big.length, `partial file of ${kept} bytes`);
  assert.ok(!existsSync(join(target, 'big.bin')), 'no half file under the real name');
  const resumed = await okCli(['files', 'get', 'big.bin', '--json', ...at(a, group)], target);
  const report = JSON.parse(resumed.stdout) as { resumed_from: number; size: number };
  assert.ok(report.resumed_from >= kept, `resumed from ${report.resumed_from}, kept ${kept}`);
  assert.equal(sha(readFileSync(join(target, 'big.bin'))), sha(big));
  assert.ok(!existsSync(part), 'the partial file became the file');

  // A partial file that is not a prefix of the version is caught by the hash: fetched again.
  writeFileSync(part, Buffer.alloc(1_000_000, 7));
  const again = await okCli(['files', 'get', 'big.bin', 'big2.bin', ...at(a, group)], target);
  assert.match(again.stdout, /^got big\.bin -> big2\.bin \(24 MB\)/);
  assert.equal(sha(readFileSync(join(target, 'big2.bin'))), sha(big));
  assert.equal(again.stderr, '', 'no bar when stderr is not a terminal');

  // On a terminal a bar with bytes and rate is drawn on stderr, and the line still printed.
  const shown = await new Promise<string>((resolve, reject) => {
    const quoted = [
      process.execPath,
      cliPath,
      'files',
      'get',
      'big.bin',
      'tty.bin',
      ...at(a, group),
    ]
      .map((x) => `'${x}'`)
      .join(' ');
    execFile(
      'script',
      ['-qec', quoted, '/dev/null'],
      { cwd: target, timeout: 90_000 },
      (error, stdout) => (error && !stdout ? reject(error) : resolve(stdout)),
    );
  });
  assert.match(shown, /big\.bin \[[=-]+\] \d+% \| [\d.]+ [kM]?B of 24 MB \| [\d.]+ [kM]?B\/s/);
  assert.match(shown, /got big\.bin -> tty\.bin \(24 MB\)/);
  assert.equal(sha(readFileSync(join(target, 'tty.bin'))), sha(big));
});
