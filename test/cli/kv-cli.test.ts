/**
 * `p2pcloud kv …` and `p2pcloud log …` as a user runs them: two persons' real gateway processes
 * on one real node, members of one group, and each command a child process. Values set on one
 * gateway are read on the other, listings page through more keys than one range request
 * returns, a missing key is one `p2pcloud:` line and exit 1, and a log written by both reads
 * back in one order, followed as it grows.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { test } from 'node:test';
import { lookbackCursor, problemLines } from '../../src/cli/commands/log.js';
import { EventStreamReader } from '../../src/cli/event-stream.js';
import { decodeCursor } from '../../src/log/merge.js';
import { eventually } from '../helpers/gateways.js';
import {
  acceptWelcome,
  groupView,
  ok,
  refresh,
  startDevice,
  type Device,
} from '../helpers/identity.js';
import { spawnNode, type NodeProcess } from '../helpers/nodes.js';
import { cliEnvironment, runCli, type CliResult } from '../helpers/spawn.js';
import { cliPath } from '../helpers/paths.js';
import { tempDir } from '../helpers/tmp.js';

/** Runs `p2pcloud ARGS` to completion (killed after 90 s), feeding `stdin`. */
function cli(args: readonly string[], stdin = ''): Promise<CliResult> {
  return runCli(args, { stdin, cwd: tempDir(), timeoutMs: 90_000 });
}

/** A command that must succeed; the failure shows what it printed. */
async function okCli(args: readonly string[], stdin?: string): Promise<CliResult> {
  const run = await cli(args, stdin);
  assert.equal(run.code, 0, `p2pcloud ${args.join(' ')}: exit ${run.code}\n${run.stderr}`);
  return run;
}

/** A refusal: nothing on stdout, one `p2pcloud:` line on stderr, exit 1. */
function assertRefused(run: CliResult, pattern: RegExp, what: string): void {
  assert.equal(run.code, 1, `${what}: exit code (${run.stderr})`);
  assert.equal(run.stdout, '', `${what}: stdout`);
  const lines = run.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `${what}: one line on stderr, got ${run.stderr}`);
  assert.match(lines[0]!, /^p2pcloud: /, what);
  assert.match(lines[0]!, pattern, what);
}

/** A command that runs until interrupted: its output so far, and a way to stop it. */
interface Running {
  stdout(): string;
  stderr(): string;
  waitFor(pattern: RegExp, stream: 'stdout' | 'stderr', what: string): Promise<void>;
  interrupt(): Promise<number | null>;
}

function start(args: readonly string[]): Running {
  const child: ChildProcess = spawn(process.execPath, [cliPath, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: cliEnvironment(),
    cwd: tempDir(),
  });
  const text = { stdout: '', stderr: '' };
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (text.stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (text.stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const killer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  void exited.then(() => clearTimeout(killer));
  return {
    stdout: () => text.stdout,
    stderr: () => text.stderr,
    waitFor: (pattern, stream, what) =>
      eventually(what, async () => pattern.test(text[stream]), 30_000, 50).then(
        () => undefined,
        (error: Error) => {
          throw new Error(`${error.message}; stdout: ${text.stdout}; stderr: ${text.stderr}`);
        },
      ),
    interrupt: async () => {
      child.kill('SIGINT');
      return exited;
    },
  };
}

function at(device: Device): string[] {
  return ['--gateway', device.url, '--data', device.dataDir];
}

/** A node and two persons' gateways, both writers of one group named "shared notes". */
async function twoPersons(): Promise<{ node: NodeProcess; a: Device; b: Device; group: string }> {
  const node = await spawnNode(['--min-pow', '0', '--sync-interval', '3600']);
  const [a, b] = await Promise.all([startDevice(node.url), startDevice(node.url)]);
  const group = (await ok(a.url, 'POST', '/api/groups', { name: 'shared notes' }, 201))
    .id as string;
  await ok(a.url, 'POST', `/api/groups/${group}/members`, { member: b.text, role: 'writer' }, 201);
  await acceptWelcome(b.url, group);
  await eventually('b holds the keys', async () => {
    await refresh(b.url);
    return (await groupView(b.url, group)).writable;
  });

  return { node, a, b, group };
}

test('p2pcloud kv and log: put, get, ls, del, append, tail between two persons', async () => {
  const { node, a, b, group } = await twoPersons();

  // put and get, the space named by its group name or id.
  const put = await okCli(['kv', 'put', 'shared notes', 'colour', 'blue', ...at(a)]);
  assert.match(put.stdout, /^[0-9a-f]{64}\n$/);
  assert.equal((await okCli(['kv', 'get', group, 'colour', ...at(a)])).stdout, 'blue\n');
  const json = JSON.parse((await okCli(['kv', 'get', group, 'colour', '--json', ...at(a)])).stdout);
  assert.equal(json.value, 'blue');
  assert.equal(json.person, a.text);
  assert.deepEqual(json.conflicts, []);

  // A value from stdin: one trailing newline dropped, tabs and newlines kept.
  await okCli(['kv', 'put', group, 'poem', '-', ...at(a)], 'line one\nline\ttwo\n');
  assert.equal(
    (await okCli(['kv', 'get', group, 'poem', ...at(a)])).stdout,
    'line one\nline\ttwo\n',
  );
  const b64 = await okCli(['kv', 'get', group, 'cG9lbQ==', '--base64', ...at(a)]);
  assert.equal(Buffer.from(b64.stdout.trim(), 'base64').toString(), 'line one\nline\ttwo');

  // The other person's gateway reads what a wrote.
  const seen = await eventually('b reads the colour', async () => {
    await refresh(b.url);
    const run = await cli(['kv', 'get', group, 'colour', ...at(b)]);
    return run.code === 0 ? run.stdout : undefined;
  });
  assert.equal(seen, 'blue\n');

  // ls: one escaped line per entry, in key order; more keys than one range request returns.
  // In requests of 400 operations: each becomes one batch, one statement of moderate size.
  const items = Array.from({ length: 1100 }, (_, i) => `item/${String(i).padStart(4, '0')}`);
  for (let i = 0; i < items.length; i += 400) {
    await ok(a.url, 'POST', `/api/spaces/${group}/kv/batch`, {
      ops: items.slice(i, i + 400).map((key, j) => ({ type: 'put', key, value: `value ${i + j}` })),
    });
  }
  await ok(a.url, 'PUT', `/api/spaces/${group}/kv/value`, { key: 'itemz', value: 'after' });
  const top = await okCli(['kv', 'ls', group, '--limit', '2', ...at(a)]);
  assert.deepEqual(top.lines, ['colour\tblue', 'item/0000\tvalue 0']);
  const listed = await okCli(['kv', 'ls', group, '--prefix', 'item/', ...at(a)]);
  assert.equal(listed.lines.length, 1100);
  assert.deepEqual(
    listed.lines,
    items.map((key, i) => `${key}\tvalue ${i}`),
  );
  const capped = await okCli(['kv', 'ls', group, '--prefix', 'item/', '--limit', '1050', ...at(a)]);
  assert.deepEqual(capped.lines, listed.lines.slice(0, 1050));
  const reversed = await okCli(['kv', 'ls', group, '--reverse', '--prefix', 'item/', ...at(a)]);
  assert.deepEqual(reversed.lines, [...listed.lines].reverse());
  const all = await okCli(['kv', 'ls', group, ...at(a)]);
  assert.deepEqual(all.lines.slice(-2), ['itemz\tafter', 'poem\tline one\\nline\\ttwo']);
  assert.equal(all.lines.length, 1103);
  const asJson = await okCli(['kv', 'ls', group, '--prefix', 'p', '--json', ...at(a)]);
  assert.deepEqual(
    asJson.lines.map((l) => JSON.parse(l)),
    [{ key: 'poem', value: 'line one\nline\ttwo' }],
  );

  // del, then get: the missing key is one line and exit 1.
  await okCli(['kv', 'del', group, 'colour', ...at(a)]);
  assertRefused(
    await cli(['kv', 'get', group, 'colour', ...at(a)]),
    new RegExp(`^p2pcloud: no such key "colour" in ${group} \\(no_such_key\\)$`),
    'kv get of a deleted key',
  );
  assertRefused(
    await cli(['kv', 'get', 'no such group', 'k', ...at(a)]),
    /you are in no group named "no such group"/,
    'kv get in an unknown group',
  );
  assertRefused(
    await cli(['kv', 'put', group, 'k'.repeat(1025), 'v', ...at(a)]),
    /a key is 1025 bytes; at most 1024 \(bad_kv_op\)$/,
    'kv put of a key too long',
  );
  assertRefused(
    await cli(['kv', 'ls', group, '--limit', '0', ...at(a)]),
    /--limit: expected an integer/,
    'kv ls --limit 0',
  );

  // Both write one key without seeing the other's write: get notes the conflict on stderr.
  await Promise.all([
    ok(a.url, 'PUT', `/api/spaces/${group}/kv/value`, { key: 'title', value: 'from a' }),
    ok(b.url, 'PUT', `/api/spaces/${group}/kv/value`, { key: 'title', value: 'from b' }),
  ]);
  const conflicted = await eventually('a sees both versions of title', async () => {
    await refresh(a.url, b.url);
    const run = await cli(['kv', 'get', group, 'title', ...at(a)]);
    return run.code === 0 && run.stderr !== '' ? run : undefined;
  });
  assert.match(conflicted.stdout, /^from [ab]\n$/);
  assert.equal(
    conflicted.stderr,
    'note: 2 concurrent versions of "title" exist; this one won, --json lists the other\n',
  );
  const both = JSON.parse((await okCli(['kv', 'get', group, 'title', '--json', ...at(a)])).stdout);
  assert.deepEqual([both.value, both.conflicts[0].value].sort(), ['from a', 'from b']);

  // log append (an argument, stdin) and tail, on both gateways.
  const first = await okCli(['log', 'append', group, 'audit', 'first entry', ...at(a)]);
  assert.match(first.stdout, /^1 [0-9a-f]{64}\n$/);
  const second = await okCli(['log', 'append', group, 'audit', '-', ...at(a)], 'second\tentry\n');
  assert.match(second.stdout, /^2 [0-9a-f]{64}\n$/);
  await okCli(['log', 'append', group, 'audit', 'from b', ...at(b)]);
  const tail = await eventually('a reads three entries', async () => {
    await refresh(a.url);
    const run = await okCli(['log', 'tail', group, 'audit', ...at(a)]);
    return run.lines.length === 3 ? run : undefined;
  });
  const line = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (p2pid1[a-z0-9]+) (\d+) (.*)$/;
  const parsed = tail.lines.map((l) => line.exec(l)!);
  assert.ok(
    parsed.every((m) => m !== null),
    tail.stdout,
  );
  assert.deepEqual(
    parsed.map((m) => [m[2], m[3], m[4]]).filter((x) => x[0] === a.text),
    [
      [a.text, '1', 'first entry'],
      [a.text, '2', 'second\\tentry'],
    ],
  );
  assert.ok(parsed.some((m) => m[2] === b.text && m[3] === '1' && m[4] === 'from b'));
  assert.equal(tail.stderr, '');
  const last = await okCli(['log', 'tail', group, 'audit', '--limit', '2', ...at(a)]);
  assert.deepEqual(last.lines, tail.lines.slice(1));
  const entries = (await okCli(['log', 'tail', group, 'audit', '--json', ...at(a)])).lines.map(
    (l) => JSON.parse(l) as { cursor: string; data: string },
  );
  assert.equal(entries.length, 3);
  const rest = await okCli([
    'log',
    'tail',
    group,
    'audit',
    '--after',
    entries[0]!.cursor,
    '--limit',
    '1',
    ...at(a),
  ]);
  assert.deepEqual(rest.lines, [tail.lines[1]]);
  assertRefused(
    await cli(['log', 'tail', group, 'audit', '--after', 'nowhere', ...at(a)]),
    /cursor\) is not valid \(bad_log\)$/,
    'log tail --after with a bad cursor',
  );

  // tail --follow prints entries as they arrive, until interrupted.
  const follow = start(['log', 'tail', group, 'audit', '--follow', ...at(b)]);
  await follow.waitFor(/first entry/, 'stdout', 'the entries so far');
  // An entry that reaches b after b printed a later one: the node is paused while a appends,
  // then b appends (later by the clock) and prints its own entry before a's arrives.
  node.child.kill('SIGSTOP');
  try {
    await okCli(['log', 'append', group, 'audit', 'later', ...at(a)]);
    await okCli(['log', 'append', group, 'audit', 'b again', ...at(b)]);
    await follow.waitFor(/ 2 b again\n/, 'stdout', "b's own new entry");
    assert.doesNotMatch(follow.stdout(), / 3 later\n/);
  } finally {
    node.child.kill('SIGCONT');
  }
  await follow.waitFor(/ 3 later\n/, 'stdout', "a's entry, arrived late");
  assert.equal(await follow.interrupt(), 0);
  assert.equal(
    follow
      .stdout()
      .split('\n')
      .filter((l) => / 3 later$/.test(l)).length,
    1,
  );

  await Promise.all([a.stop(), b.stop(), node.stop()]);
});

test('log tail warns about a forked, gapped or rewritten chain, naming the writer and seq', () => {
  const writer = 'p2pid1writer';
  const lines = problemLines('audit', [
    {
      writer,
      verified: 2,
      gaps: [{ from: 5, to: 7 }],
      forks: [{ seq: 3, reason: 'same-seq' }],
      rewrites: [{ seq: 4, reason: 'head-mismatch' }],
    },
  ]);
  assert.deepEqual(lines, [
    `warning: log audit: writer ${writer} signed two entries at seq 3 (fork, same-seq); only its entries 1-2 are shown`,
    `warning: log audit: writer ${writer} has a gap: seq 5-7 not received; only its entries 1-2 are shown`,
    `warning: log audit: writer ${writer} contradicts its signed head at seq 4 (rewrite, head-mismatch); only its entries 1-2 are shown`,
  ]);
  assert.deepEqual(problemLines('audit', []), []);
});

test('log tail --follow reads again from a while before the last entry, never before --after', () => {
  const writer =
    'p2pid1xtqvyqs8x8dfpstf4zccg7597kw3cakfj0rvmpjsry0ejde5zc9qqm0h628pza6hf0c7fjn4j6zv6va5z70hv4wjp3wpsyquy0f6q9qq7s22u';
  const last = `1.1767225600000.7.${writer}`;
  assert.equal(lookbackCursor(undefined, undefined, 600_000), undefined);
  assert.equal(lookbackCursor(last, undefined, 600_000), `1.1767224999999.1.${writer}`);
  assert.equal(lookbackCursor(`1.5.2.${writer}`, undefined, 600_000), undefined);
  const floor = decodeCursor(`1.1767225500000.3.${writer}`)!;
  assert.equal(lookbackCursor(last, floor, 600_000), `1.1767225500000.3.${writer}`);
  assert.equal(lookbackCursor(undefined, floor, 600_000), `1.1767225500000.3.${writer}`);
  const early = decodeCursor(`1.1767220000000.3.${writer}`)!;
  assert.equal(lookbackCursor(last, early, 600_000), `1.1767224999999.1.${writer}`);
});

test('p2pcloud kv watch prints local and remote changes until interrupted', async () => {
  const { node, a, b, group } = await twoPersons();
  // watch prints one line per change until interrupted.
  const watch = start(['kv', 'watch', group, ...at(a)]);
  await watch.waitFor(/^watching /, 'stderr', 'the watch to start');
  await okCli(['kv', 'put', group, 'watched\tkey', 'x', ...at(a)]);
  await watch.waitFor(/^local\twatched\\tkey\n/m, 'stdout', 'the local change');
  await okCli(['kv', 'put', group, 'from-b', 'y', ...at(b)]);
  await watch.waitFor(/^remote\tfrom-b\n/m, 'stdout', "b's change, read from the node");
  assert.equal(await watch.interrupt(), 0);

  await Promise.all([a.stop(), b.stop(), node.stop()]);
});

test('the event stream reader takes events split anywhere, CRLF lines and comments', () => {
  const text =
    ': watching\n\nevent: change\r\ndata: {"origin":"local",\ndata: "keys":["a"]}\r\n\r\n: ping\n\ndata: plain\n\n';
  const bytes = Buffer.from(text);
  for (const size of [1, 2, 7, bytes.length]) {
    const reader = new EventStreamReader();
    const events = [];
    for (let i = 0; i < bytes.length; i += size)
      events.push(...reader.push(bytes.subarray(i, i + size)));
    assert.deepEqual(events, [
      { event: 'change', data: '{"origin":"local",\n"keys":["a"]}' },
      { event: 'message', data: 'plain' },
    ]);
  }
  // A multi-byte character split between chunks stays whole.
  const reader = new EventStreamReader();
  const euro = Buffer.from('data: \u20ac\n\n');
  assert.deepEqual(
    [...reader.push(euro.subarray(0, 7)), ...reader.push(euro.subarray(7))],
    [{ event: 'message', data: '\u20ac' }],
  );
});
