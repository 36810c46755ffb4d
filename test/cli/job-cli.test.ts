/**
 * `p2pcloud job run|status|result` as child processes against compute node processes: the
 * majority output on stdout (or --out), progress and verdicts on stderr, --json, a node that
 * is down, and every bad argument refused with one "p2pcloud:" line and no output.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnComputeNode } from '../helpers/compute-node.js';
import { deadUrl } from '../helpers/http.js';
import { runCli, type CliResult } from '../helpers/spawn.js';
import { tempDir } from '../helpers/tmp.js';
import { countWords, wordCountModule } from '../helpers/word-count.js';

function assertFails(result: CliResult, pattern: RegExp): void {
  assert.notEqual(result.code, 0, `unexpected success: ${result.stdout}`);
  assert.equal(result.stdout, '', 'a failure printed on stdout');
  const lines = result.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${result.stderr}`);
  assert.match(lines[0]!, /^p2pcloud: \S/);
  assert.match(lines[0]!, pattern);
}

const [a, liar, b] = await Promise.all([
  spawnComputeNode(),
  spawnComputeNode({}, 'lying-compute-node'),
  spawnComputeNode(),
]);
const dir = tempDir();
const identity = join(dir, 'me.key');
const table = join(dir, 'notes.table');
const wasm = join(dir, 'wc.wasm');
const notes = join(dir, 'notes.txt');
const more = join(dir, 'more.txt');
writeFileSync(wasm, wordCountModule());
const TEXT = `${'the quick brown fox '.repeat(5000)}\n`;
const MORE = 'and\tthree more\n';
writeFileSync(notes, TEXT);
writeFileSync(more, MORE);
assert.equal((await runCli(['keygen', '--out', identity])).code, 0);
assert.equal((await runCli(['table', 'create', '--out', table])).code, 0);
const base = ['job', 'run', '--module', wasm, '--identity', identity, '--table', table];
const EXPECTED = `${countWords(TEXT + MORE)}\n`;

test('job run on three nodes prints the majority output and names the liar on stderr', async () => {
  const reputation = join(dir, 'reputation.json');
  const result = await runCli(
    [
      ...base,
      '--input',
      notes,
      '--input',
      more,
      '--node',
      a.url,
      '--node',
      liar.url,
      '--node',
      b.url,
      '--nodes',
      '3',
      '--reputation',
      reputation,
    ],
    { timeoutMs: 120_000 },
  );
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, EXPECTED);
  assert.match(result.stderr, /stored .*wc\.wasm \(\d+ bytes, 1 chunk entries\)/);
  assert.match(result.stderr, /stored .*notes\.txt \(100001 bytes, 2 chunk entries\)/);
  assert.match(result.stderr, /: ok, fuel \d+, .*2 of 3 nodes agree/);
  assert.ok(result.stderr.includes(`${liar.url}: DISAGREES with the majority`), result.stderr);
  const record = JSON.parse(readFileSync(reputation, 'utf8')) as {
    nodes: Record<string, { disagreed: number }>;
  };
  assert.equal(Object.values(record.nodes).filter((n) => n.disagreed === 1).length, 1);
});

test('job run --json, then job status and job result on one of the nodes', async () => {
  const out = join(dir, 'count.txt');
  const run = await runCli(
    [
      ...base,
      '--input',
      notes,
      '--input',
      more,
      '--node',
      a.url,
      '--node',
      b.url,
      '--json',
      '--out',
      out,
      '--fuel',
      '500000000',
      '--wall-ms',
      '4000',
      '--arg',
      'x',
    ],
    { timeoutMs: 120_000 },
  );
  assert.equal(run.code, 0, run.stderr);
  assert.equal(readFileSync(out, 'utf8'), EXPECTED);
  const answer = JSON.parse(run.stdout) as Record<string, unknown>;
  assert.equal(answer.status, 'ok');
  assert.deepEqual(answer.agreeing, [a.url, b.url]);
  assert.equal(answer.output_base64, undefined, 'the output went to --out');
  assert.match(answer.id as string, /^[0-9a-f]{32}$/);
  // Each node ran a job of its own id; the one taken is the first agreeing node's.
  const ids = (answer.nodes as { node: string; id: string }[]).map((n) => n.id);
  assert.equal(ids[0], answer.id);
  assert.notEqual(ids[0], ids[1]);
  const id = ids[1]!;
  assert.match(run.stderr, new RegExp(`${b.url}: submitted \\(job ${id}\\)`));

  const status = await runCli(['job', 'status', id, '--node', b.url]);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /^done: ok, fuel \d+, \d+ ms, read 100016 B, wrote \d+ B/);
  const statusJson = JSON.parse(
    (await runCli(['job', 'status', id, '--node', b.url, '--json'])).stdout,
  ) as {
    status: string;
    receipt: { body: string };
  };
  assert.equal(statusJson.status, 'done');
  assert.equal((JSON.parse(statusJson.receipt.body) as { job_id: string }).job_id, id);

  const result = await runCli(['job', 'result', ids[0]!, '--node', a.url, '--identity', identity]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, EXPECTED);

  // Someone else's key does not open the result.
  const stranger = join(dir, 'stranger.key');
  await runCli(['keygen', '--out', stranger]);
  assertFails(
    await runCli(['job', 'result', ids[0]!, '--node', a.url, '--identity', stranger]),
    /does not open/,
  );
  assertFails(
    await runCli(['job', 'status', '0'.repeat(32), '--node', a.url]),
    /: no job 0{32} on this node$/,
  );
});

test('a node that is down is reported as failed; the other two make the majority', async () => {
  const down = await deadUrl();
  const result = await runCli(
    [...base, '--input', more, '--node', a.url, '--node', down, '--node', b.url],
    { timeoutMs: 120_000 },
  );
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, `${countWords(MORE)}\n`);
  assert.match(result.stderr, /2 of 3 nodes agree/);
  assert.ok(result.stderr.includes(`${down}: failed (node_unreachable)`), result.stderr);
});

test('no majority is one p2pcloud: line naming each node', async () => {
  const down = await deadUrl();
  const result = await runCli(
    [...base, '--input', more, '--node', a.url, '--node', liar.url, '--node', down],
    { timeoutMs: 120_000 },
  );
  assert.equal(result.code, 1);
  assert.equal(result.stdout, '');
  const last = result.stderr.trimEnd().split('\n').at(-1)!;
  assert.match(last, /^p2pcloud: no result was agreed on by more than 1 of 3 nodes/);
  assert.ok(last.includes(down) && last.includes(liar.url));
});

test('a run the nodes agree stopped (out of fuel) fails with job_stopped after its verdict', async () => {
  const result = await runCli(
    [...base, '--input', notes, '--node', a.url, '--node', b.url, '--fuel', '1000'],
    { timeoutMs: 120_000 },
  );
  assert.equal(result.code, 1);
  assert.equal(result.stdout, '');
  assert.match(result.stderr, /: out_of_fuel, fuel 1000, .*2 of 2 nodes agree/);
  assert.match(
    result.stderr.trimEnd().split('\n').at(-1)!,
    /^p2pcloud: the job stopped: out_of_fuel/,
  );
});

test('bad arguments: one p2pcloud: line naming what is wrong, before anything is stored', async () => {
  const node = ['--node', a.url];
  const cases: [string[], RegExp][] = [
    [[...base, '--input', notes], /required option '--node <url>'/],
    [['job', 'run', '--module', wasm, '--table', table, ...node], /required option '--identity/],
    [[...base, ...node, '--nodes', '2'], /--nodes: expected an integer in 1\.\.1, got "2"/],
    [[...base, ...node, '--nodes', 'two'], /--nodes: expected an integer/],
    [[...base, ...node, '--node', a.url], /--node: a node is given twice/],
    [[...base, '--node', 'ftp://x'], /--node: "ftp:\/\/x" is not a node URL/],
    [[...base, ...node, '--fuel', '0'], /--fuel: expected an integer in 1\.\./],
    [[...base, ...node, '--fuel', '1.5'], /--fuel: expected an integer/],
    [
      [...base, ...node, '--memory-pages', '65537'],
      /--memory-pages: expected an integer in 1\.\.65536/,
    ],
    [[...base, ...node, '--wall-ms', '-5'], /--wall-ms: expected an integer/],
    [[...base, ...node, '--output-bytes', 'lots'], /--output-bytes: expected an integer/],
    [
      [...base, ...node, '--entry', 'two words'],
      /--entry: expected the name of an exported function/,
    ],
    [
      [...base, ...node, '--input', join(dir, 'nope.txt')],
      /--input: cannot read .*nope\.txt: no such file/,
    ],
    [[...base, ...node, '--input', dir], /--input: cannot read .*: it is a directory/],
    [
      [
        'job',
        'run',
        '--module',
        join(dir, 'no.wasm'),
        '--identity',
        identity,
        '--table',
        table,
        ...node,
      ],
      /--module: cannot read .*no\.wasm: no such file/,
    ],
    [
      ['job', 'run', '--module', wasm, '--identity', table, '--table', table, ...node],
      /--identity: .*is a table key file/,
    ],
    [
      ['job', 'run', '--module', wasm, '--identity', identity, '--table', identity, ...node],
      /--table: .*is an identity key file/,
    ],
    [
      [...base, ...node, '--reputation', notes],
      /reputation file .*notes\.txt is damaged \(it is not JSON\)/,
    ],
    [['job', 'status', 'abc', '--node', a.url], /"abc" is not a job id/],
    [['job', 'result', 'f'.repeat(32), '--node', a.url], /required option '--identity/],
  ];
  for (const [args, pattern] of cases) {
    assertFails(await runCli(args), pattern);
  }
  // Nothing was sent for the refused runs: the damaged reputation file is as it was.
  assert.equal(readFileSync(notes, 'utf8'), TEXT);
});
