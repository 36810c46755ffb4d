/**
 * `p2pcloud files sync` on bad input, as real processes against a real gateway and node:
 * names on disk that are one name in the drive, or that the drive refuses, are reported and
 * skipped while the rest syncs; a drive path the sync keeps for itself is not written; the
 * state file is as docs/files-sync.md §2 says; a second sync of the same folder, a damaged
 * state file, a folder synced with another space, a missing folder and a gateway that is not
 * running are each refused with one `p2pcloud:` line.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { putFile } from '../helpers/files.js';
import { eventually, newKeyFile, request, spawnGateway } from '../helpers/gateways.js';
import { freePort } from '../helpers/http.js';
import { ok, startDevice, type Device } from '../helpers/identity.js';
import { spawnNode } from '../helpers/nodes.js';
import { cliPath } from '../helpers/paths.js';
import { cliEnvironment, runCli, type CliResult } from '../helpers/spawn.js';
import { tempDir } from '../helpers/tmp.js';

const sha = (b: string): string => createHash('sha256').update(b).digest('hex');

function syncOnce(device: Device, dir: string, space: string): Promise<CliResult> {
  return runCli(
    [
      'files',
      'sync',
      dir,
      '--once',
      '--space',
      space,
      '--gateway',
      device.url,
      '--data',
      device.dataDir,
    ],
    { timeoutMs: 90_000 },
  );
}

function assertRefused(run: CliResult, pattern: RegExp, what: string): void {
  assert.notEqual(run.code, 0, `${what}: exit code (${run.stderr})`);
  assert.equal(run.stdout, '', `${what}: stdout`);
  const lines = run.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `${what}: one line on stderr, got ${run.stderr}`);
  assert.match(lines[0]!, /^p2pcloud: /, what);
  assert.match(lines[0]!, pattern, `${what}: ${lines[0]}`);
}

test('files sync skips names it cannot sync, keeps its state as specified, and refuses bad setups', async () => {
  const node = await spawnNode(['--min-pow', '0', '--sync-interval', '3600']);
  const a = await startDevice(node.url);
  const group = (await ok(a.url, 'POST', '/api/groups', { name: 'faults' }, 201)).id as string;
  const other = (await ok(a.url, 'POST', '/api/groups', { name: 'other' }, 201)).id as string;

  const dir = tempDir();
  writeFileSync(join(dir, 'ok.txt'), 'fine\n');
  writeFileSync(join(dir, 'Notes.txt'), 'one\n');
  writeFileSync(join(dir, 'notes.txt'), 'two\n');
  writeFileSync(join(dir, 'back\\slash.txt'), 'a name with a backslash\n');
  writeFileSync(join(dir, 'bell\u0007.txt'), 'a control character\n');
  // A drive path the sync keeps for itself on disk.
  assert.equal(
    (await putFile(a.url, group, '.p2pcloud/sync-state.json', Buffer.from('{}'))).status,
    201,
  );
  assert.equal((await putFile(a.url, group, 'from-drive.txt', Buffer.from('down\n'))).status, 201);

  const first = await syncOnce(a, dir, 'faults');
  assert.equal(first.code, 0, first.stderr);
  assert.deepEqual(first.lines.sort(), ['download from-drive.txt', 'upload ok.txt']);
  assert.match(
    first.stderr,
    /^skipped Notes\.txt: "Notes\.txt" and "notes\.txt" are one name in the drive \(they differ only in case or Unicode normalisation\): rename one$/m,
  );
  assert.match(first.stderr, /^skipped notes\.txt: /m);
  assert.match(
    first.stderr,
    /^skipped back\\slash\.txt: not a path the drive takes \(backslash\)$/m,
  );
  assert.match(first.stderr, /^skipped bell\\u0007\.txt: not a path the drive takes \(control\)$/m);
  assert.match(first.stderr, /^skipped \.p2pcloud\/sync-state\.json: this name is reserved/m);
  assert.equal(readFileSync(join(dir, 'from-drive.txt'), 'utf8'), 'down\n');
  const listed = await ok(a.url, 'GET', `/api/spaces/${group}/files/list?recursive=1`);
  assert.deepEqual((listed.files as { path: string }[]).map((f) => f.path).sort(), [
    '.p2pcloud/sync-state.json',
    'from-drive.txt',
    'ok.txt',
  ]);

  // The state file: versioned, the space, and each agreed path with what both sides held.
  const state = JSON.parse(readFileSync(join(dir, '.p2pcloud', 'sync-state.json'), 'utf8'));
  assert.deepEqual(Object.keys(state), ['type', 'v', 'space', 'files']);
  assert.equal(state.type, 'p2pcloud/sync-state');
  assert.equal(state.v, 1);
  assert.equal(state.space, group);
  assert.deepEqual(Object.keys(state.files).sort(), ['from-drive.txt', 'ok.txt']);
  assert.equal(state.files['ok.txt'].sha256, sha('fine\n'));
  assert.equal(state.files['ok.txt'].size, 5);
  assert.match(state.files['ok.txt'].version, /^[0-9a-f]{64}$/);
  assert.equal(
    state.files['from-drive.txt'].mtime,
    (await import('node:fs')).statSync(join(dir, 'from-drive.txt')).mtimeMs,
  );

  // A second round with nothing new does nothing, and says nothing new about the skipped names.
  const second = await syncOnce(a, dir, group);
  assert.equal(second.code, 0, second.stderr);
  assert.deepEqual(second.lines, []);

  // One sync per folder at a time.
  const running = spawn(
    process.execPath,
    [
      cliPath,
      'files',
      'sync',
      dir,
      '--space',
      group,
      '--interval',
      '30',
      '--gateway',
      a.url,
      '--data',
      a.dataDir,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], env: cliEnvironment() },
  );
  let runningErr = '';
  running.stderr!.setEncoding('utf8').on('data', (c: string) => (runningErr += c));
  const exited = new Promise((resolve) => running.once('exit', resolve));
  await eventually(
    'the long-running sync to start',
    async () => /^syncing /m.test(runningErr),
    30_000,
    50,
  );
  assertRefused(
    await syncOnce(a, dir, group),
    new RegExp(`another sync \\(process ${running.pid}\\) is running on `),
    'a second sync of the folder',
  );
  running.kill('SIGINT');
  assert.equal(await exited, 0, 'an interrupted sync exits cleanly');
  assert.equal(existsSync(join(dir, '.p2pcloud', 'lock')), false, 'the lock is given back');

  // The folder is synced with this space, not another.
  assertRefused(
    await syncOnce(a, dir, other),
    new RegExp(`is synced with the space ${group}, not ${other}`),
    'another space',
  );

  // A state file that is not one.
  const damaged = tempDir();
  mkdirSync(join(damaged, '.p2pcloud'));
  writeFileSync(
    join(damaged, '.p2pcloud', 'sync-state.json'),
    '{"type": "p2pcloud/sync-state", "v": 1, ',
  );
  assertRefused(
    await syncOnce(a, damaged, group),
    /sync-state\.json is not a sync state file: it is not JSON/,
    'a damaged state',
  );

  assertRefused(
    await syncOnce(a, join(dir, 'missing'), group),
    /missing: no such folder$/,
    'a missing folder',
  );

  // A gateway whose rate limit a folder of many files reaches: refused requests are asked
  // again after the wait the gateway names, and the round completes.
  const limitedKey = await newKeyFile();
  const limitedData = join(tempDir(), 'gateway');
  const limited = await spawnGateway([
    'gateway',
    '--port',
    '0',
    '--node',
    node.url,
    '--data',
    limitedData,
    '--key',
    limitedKey.path,
    '--log-level',
    'warn',
    '--rate-limit',
    '25',
  ]);
  const limitedGroup = (await ok(limited.url, 'POST', '/api/groups', { name: 'limited' }, 201))
    .id as string;
  const many = tempDir();
  for (let i = 0; i < 30; i++) writeFileSync(join(many, `n${i}.txt`), `note ${i}\n`);
  const throttled = await runCli(
    [
      'files',
      'sync',
      many,
      '--once',
      '--space',
      limitedGroup,
      '--gateway',
      limited.url,
      '--data',
      limitedData,
    ],
    { timeoutMs: 90_000 },
  );
  assert.equal(throttled.code, 0, throttled.stderr);
  assert.equal(throttled.lines.filter((l) => l.startsWith('upload ')).length, 30);
  const listedMany = await request(
    limited.url,
    'GET',
    `/api/spaces/${limitedGroup}/files/list?limit=100`,
  );
  assert.equal((listedMany.body.files as unknown[]).length, 30);
  await limited.stop();
  const nowhere = `http://127.0.0.1:${await freePort()}`;
  assertRefused(
    await runCli([
      'files',
      'sync',
      dir,
      '--once',
      '--space',
      group,
      '--gateway',
      nowhere,
      '--data',
      a.dataDir,
    ]),
    /no gateway is running at/,
    'no gateway',
  );
});
