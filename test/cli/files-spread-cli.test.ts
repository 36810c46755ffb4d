/**
 * `p2pcloud files put|get --spread` and `files repair` as a user runs them, against real node
 * processes: a file spread 2-of-4 comes back byte for byte, also with two nodes gone; repair
 * moves a dropped provider's shards to a new node and prints the new manifest; bad input and
 * too few providers are each one `p2pcloud:` line and a non-zero exit, naming what was wrong.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { spawnNode } from '../helpers/nodes.js';
import { runCli, type CliResult } from '../helpers/spawn.js';
import { tempDir } from '../helpers/tmp.js';

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function ok(args: readonly string[]): Promise<CliResult> {
  const run = await runCli(args, { timeoutMs: 120_000 });
  assert.equal(run.code, 0, `p2pcloud ${args.join(' ')}: exit ${run.code}\n${run.stderr}`);
  return run;
}

/** A refusal: nothing on stdout, one `p2pcloud:` line on stderr matching `why`, exit ≠ 0. */
async function refused(args: readonly string[], why: RegExp): Promise<void> {
  const run = await runCli(args, { timeoutMs: 120_000 });
  assert.notEqual(run.code, 0, `p2pcloud ${args.join(' ')} succeeded`);
  assert.equal(run.stdout, '');
  const lines = run.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, run.stderr);
  assert.match(lines[0]!, /^p2pcloud: /);
  assert.match(lines[0]!, why);
}

test('files put --spread 2/4, get --spread, repair, and their refusals', async () => {
  const dir = tempDir();
  const nodes = await Promise.all(Array.from({ length: 5 }, () => spawnNode(['--min-pow', '8'])));
  const urls = nodes.slice(0, 4).map((n) => n.url);
  const spare = nodes[4]!.url;
  const idFile = join(dir, 'me.key');
  const tableFile = join(dir, 'files.table');
  await ok(['keygen', '--out', idFile]);
  await ok(['table', 'create', '--out', tableFile]);
  const file = join(dir, 'photo.bin');
  const bytes = randomBytes(300_000);
  writeFileSync(file, bytes);
  const keys = ['--identity', idFile];
  const nodeArgs = urls.flatMap((u) => ['--node', u]);

  const put = await ok([
    'files',
    'put',
    file,
    '--spread',
    '2/4',
    ...nodeArgs,
    ...keys,
    '--table',
    tableFile,
  ]);
  assert.equal(put.lines.length, 1);
  const ref = put.lines[0]!;
  assert.match(ref, /^[0-9a-f]{64}$/);

  const out = join(dir, 'copy.bin');
  const got = await ok([
    'files',
    'get',
    '--spread',
    ref,
    '--out',
    out,
    '--node',
    urls[3]!,
    ...keys,
  ]);
  assert.match(got.stdout, /^got .*copy\.bin \(300 kB\), SHA-256 checked\n$/);
  assert.equal(sha(readFileSync(out)), sha(bytes));

  // Two providers gone: still there, and the failures are noted on stderr.
  await nodes[0]!.kill9();
  await nodes[1]!.kill9();
  const out2 = join(dir, 'copy2.bin');
  const json = await ok([
    'files',
    'get',
    '--spread',
    ref,
    '--out',
    out2,
    '--node',
    urls[2]!,
    ...keys,
    '--json',
  ]);
  const answer = JSON.parse(json.stdout) as { sha256: string; lost: { url: string }[] };
  assert.equal(answer.sha256, sha(bytes));
  assert.deepEqual(answer.lost.map((l) => l.url).sort(), [urls[0], urls[1]].sort());
  assert.equal(sha(readFileSync(out2)), sha(bytes));

  // A provider that is down: the put says which.
  await refused(
    ['files', 'put', file, '--spread', '2/4', ...nodeArgs, ...keys, '--table', tableFile],
    new RegExp(`${urls[0]}`),
  );
  // Repair with one spare for two gone providers: refused, saying how many are needed.
  await refused(
    [
      'files',
      'repair',
      '--spread',
      ref,
      '--node',
      urls[2]!,
      '--new-node',
      spare,
      ...keys,
      '--table',
      tableFile,
    ],
    /2 provider\(s\) need replacing .* but 1 new node\(s\)/,
  );
  // A node that holds nothing: no manifest found, each node's answer named.
  await refused(
    ['files', 'get', '--spread', ref, '--out', join(dir, 'x'), '--node', spare, ...keys],
    new RegExp(`no node given holds manifest ${ref} \\(${spare}: does not hold it\\)`),
  );
  assert.ok(!existsSync(join(dir, 'x')));
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.endsWith('.p2pcloud-part')),
    [],
    'a failed get leaves no partial file',
  );
  // Bad input, each named.
  await refused(
    ['files', 'put', file, '--spread', '3/5', ...nodeArgs, ...keys, '--table', tableFile],
    /--spread 3\/5 needs 5 --node URLs, one per provider; 4 given/,
  );
  await refused(
    ['files', 'put', file, '--spread', 'three', ...nodeArgs, ...keys, '--table', tableFile],
    /--spread: expected k\/n/,
  );
  await refused(
    ['files', 'put', file, '--spread', '1/9', ...nodeArgs, ...keys, '--table', tableFile],
    /--spread 1\/9: k is 1 to 24 and n − k is 1 to 6/,
  );
  await refused(
    [
      'files',
      'put',
      join(dir, 'none'),
      '--spread',
      '2/4',
      ...nodeArgs,
      ...keys,
      '--table',
      tableFile,
    ],
    /none: no such file/,
  );
  await refused(
    ['files', 'put', file, '--spread', '2/4', ...nodeArgs, ...keys],
    /--table is required with --spread/,
  );
  await refused(
    ['files', 'get', '--spread', 'abc', '--out', out, '--node', urls[2]!, ...keys],
    /--spread: expected a manifest id/,
  );
  await refused(
    ['files', 'get', '--spread', ref, '--node', urls[2]!, ...keys],
    /--out is required with --spread/,
  );
  await refused(['files', 'put', file], /required option '--space <group>'/);

  // Both gone providers replaced; the file then comes from the new one and one old one.
  const spare2 = await spawnNode(['--min-pow', '8']);
  const repair = await ok([
    'files',
    'repair',
    '--spread',
    ref,
    '--node',
    urls[2]!,
    '--new-node',
    spare,
    '--new-node',
    spare2.url,
    '--drop',
    urls[0]!,
    ...keys,
    '--table',
    tableFile,
  ]);
  assert.equal(repair.lines.length, 1);
  const ref2 = repair.lines[0]!;
  assert.match(ref2, /^[0-9a-f]{64}$/);
  assert.notEqual(ref2, ref);
  assert.match(repair.stderr, new RegExp(`replaced ${urls[0]} by ${spare}: dropped`));
  assert.match(repair.stderr, new RegExp(`replaced ${urls[1]} by ${spare2.url}: `));
  await nodes[2]!.kill9();
  const out3 = join(dir, 'copy3.bin');
  await ok(['files', 'get', '--spread', ref2, '--out', out3, '--node', spare, ...keys]);
  assert.equal(sha(readFileSync(out3)), sha(bytes));
});
