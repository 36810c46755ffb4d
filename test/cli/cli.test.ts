/**
 * The p2pcloud command end to end: every command runs as a child process, against nodes that run
 * as child processes too. The session: make keys, put text, get it back decrypted; and every
 * failure ends with one readable "p2pcloud: …" line on stderr, a non-zero exit and no stdout.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { toHex } from '../../src/encoding/bytes.js';
import { loadIdentity } from '../../src/keys/key-file.js';
import { generateTableKey } from '../../src/keys/keys.js';
import { makeEntry } from '../helpers/entries.js';
import { spawnNode } from '../helpers/nodes.js';
import { runCli as cli, type CliResult } from '../helpers/spawn.js';
import { tempDir } from '../helpers/tmp.js';
import { cliPath, repoRoot } from '../helpers/paths.js';
import { deadUrl, putFrames, putResults, storedIds } from '../helpers/http.js';

function lines(text: string): string[] {
  return text.split('\n').filter((line) => line.length > 0);
}

/** Asserts success with exactly one line on stdout, and returns it. */
function oneLine(result: CliResult): string {
  assert.equal(result.code, 0, `exit ${result.code}; stderr: ${result.stderr}`);
  assert.ok(result.stdout.endsWith('\n'), 'output does not end with a newline');
  const out = lines(result.stdout);
  assert.equal(out.length, 1, `expected one line, got: ${result.stdout}`);
  return out[0]!;
}

/** Asserts the failure contract: non-zero exit, nothing on stdout, one "p2pcloud:" line. */
function assertFails(result: CliResult, pattern?: RegExp): string {
  assert.notEqual(result.code, 0, `unexpected success: ${result.stdout}`);
  assert.equal(result.stdout, '', 'a failure printed on stdout');
  const err = lines(result.stderr);
  assert.equal(err.length, 1, `expected one line on stderr, got:\n${result.stderr}`);
  assert.match(err[0]!, /^p2pcloud: \S/);
  if (pattern) assert.match(err[0]!, pattern);
  return err[0]!;
}

const NODE_ARGS = ['--min-pow', '8', '--log-level', 'warn'];
// Nodes start at module level: the helpers register their clean-up with after(), which
// inside a before() hook would run as soon as that hook ends.
const [nodeA, nodeB] = await Promise.all([spawnNode(NODE_ARGS), spawnNode(NODE_ARGS)]);
const dir = tempDir();
const idFile = join(dir, 'me.key');
const tableFile = join(dir, 'notes.key');
const otherTableFile = join(dir, 'other.key');
let identity = '';
let table = '';
let otherTable = '';
const putIds: string[] = [];

describe('the README session', () => {
  test('README writes its secret key files under keys/, which .gitignore covers', () => {
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    const outs = [...readme.matchAll(/p2pcloud (?:keygen|table create) --out (\S+)/g)].map(
      (m) => m[1]!,
    );
    assert.ok(outs.length >= 2, 'README no longer shows keygen and table create');
    for (const out of outs) assert.match(out, /^keys\//);
    const ignored = readFileSync(join(repoRoot, '.gitignore'), 'utf8').split('\n');
    assert.ok(ignored.includes('/keys/'), '.gitignore does not cover /keys/');
  });

  test('keygen --out FILE prints the p2pid1… text and writes a 0600 key file', async () => {
    identity = oneLine(await cli(['keygen', '--out', idFile]));
    assert.match(identity, /^p2pid1[02-9ac-hj-np-z]{100,}$/);
    assert.equal(statSync(idFile).mode & 0o777, 0o600);
    const key = JSON.parse(readFileSync(idFile, 'utf8')) as Record<string, unknown>;
    assert.equal(key.kind, 'p2pcloud-identity');
    assert.equal(key.public, identity);
    assert.equal(oneLine(await cli(['pubkey', idFile])), identity);
  });

  test('table create --out FILE prints the p2ptable1… text', async () => {
    table = oneLine(await cli(['table', 'create', '--out', tableFile]));
    assert.match(table, /^p2ptable1[02-9ac-hj-np-z]+$/);
    assert.equal(statSync(tableFile).mode & 0o777, 0o600);
    assert.equal(oneLine(await cli(['pubkey', tableFile])), table);
    otherTable = oneLine(await cli(['table', 'create', '--out', otherTableFile]));
    assert.notEqual(otherTable, table);
  });

  test('put --node URL --table FILE --to PUBKEY TEXT prints the entry id', async () => {
    const result = await cli([
      'put',
      '--node',
      nodeA.url,
      '--table',
      tableFile,
      '--to',
      identity,
      'hello from the CLI',
    ]);
    const id = oneLine(result);
    assert.match(id, /^[0-9a-f]{64}$/);
    assert.match(result.stderr, /proof of work: \d+ bits/);
    assert.equal((await storedIds(nodeA.url, [id])).size, 1);
    assert.equal((await storedIds(nodeB.url, [id])).size, 0);
    putIds.push(id);
  });

  test('put - reads the text from stdin, less one trailing newline', async () => {
    const id = oneLine(
      await cli(
        ['put', '--node', nodeA.url, '--table', tableFile, '--to', identity, '-'],
        'piped through stdin\n',
      ),
    );
    assert.equal((await storedIds(nodeA.url, [id])).size, 1);
    putIds.push(id);
  });

  test('put to two nodes stores the entry on both', async () => {
    const result = await cli([
      'put',
      '--node',
      nodeA.url,
      '--node',
      nodeB.url,
      '--table',
      otherTableFile,
      '--to',
      identity,
      'on two nodes',
    ]);
    const id = oneLine(result);
    for (const node of [nodeA, nodeB]) {
      assert.equal((await storedIds(node.url, [id])).size, 1, node.url);
      assert.match(result.stderr, new RegExp(`${node.url}: stored`));
    }
    putIds.push(id);
  });

  test('get --node URL --key FILE prints the decrypted texts', async () => {
    const result = await cli(['get', '--node', nodeA.url, '--key', idFile]);
    assert.equal(result.code, 0, result.stderr);
    const out = lines(result.stdout);
    assert.equal(out.length, 3, result.stdout);
    // Newest first: "<ISO time> <id prefix> <text>".
    assert.deepEqual(
      out.map((line) => line.replace(/^\S+ \S+ /, '')),
      ['on two nodes', 'piped through stdin', 'hello from the CLI'],
    );
    for (const [i, line] of out.entries()) {
      const [time, prefix] = line.split(' ');
      assert.ok(!Number.isNaN(Date.parse(time!)), line);
      assert.equal(prefix, putIds[2 - i]!.slice(0, 16));
    }
    assert.equal(result.stderr, '');
  });

  test('get --json prints one JSON object per line', async () => {
    const result = await cli([
      'get',
      '--node',
      nodeA.url,
      '--node',
      nodeB.url,
      '--key',
      idFile,
      '--json',
      '--order',
      'oldest',
    ]);
    assert.equal(result.code, 0, result.stderr);
    const objects = lines(result.stdout).map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.equal(objects.length, 3);
    assert.deepEqual(
      objects.map((o) => [o.id, o.table, o.text]),
      [
        [putIds[0], table, 'hello from the CLI'],
        [putIds[1], table, 'piped through stdin'],
        [putIds[2], otherTable, 'on two nodes'],
      ],
    );
    for (const o of objects) {
      assert.equal(typeof o.created_at, 'number');
      assert.ok(Math.abs((o.created_at as number) - Date.now()) < 10 * 60_000);
    }
  });

  test('--table filters by table; --since 1h leaves out older entries', async () => {
    const only = await cli(['get', '--node', nodeA.url, '--key', idFile, '--table', otherTable]);
    assert.equal(only.code, 0, only.stderr);
    assert.deepEqual(
      lines(only.stdout).map((line) => line.replace(/^\S+ \S+ /, '')),
      ['on two nodes'],
    );
    // An entry from two hours ago, sealed to the same identity and put over HTTP.
    const me = await loadIdentity(idFile);
    const old = makeEntry({
      table: generateTableKey(),
      recipient: me,
      createdAt: Date.now() - 2 * 3_600_000,
      text: 'two hours old',
      powBits: 8,
    });
    assert.equal(putResults(await putFrames(nodeA.url, [old.bytes]))[0]!.status, 'stored');
    const all = await cli(['get', '--node', nodeA.url, '--key', idFile, '--json']);
    assert.ok(lines(all.stdout).some((line) => line.includes(toHex(old.id))));
    const recent = await cli([
      'get',
      '--node',
      nodeA.url,
      '--key',
      idFile,
      '--since',
      '1h',
      '--json',
    ]);
    assert.equal(recent.code, 0, recent.stderr);
    const ids = lines(recent.stdout).map((line) => (JSON.parse(line) as { id: string }).id);
    assert.deepEqual(ids.sort(), [...putIds].sort());
  });
});

/** Runs `p2pcloud ARGS` with stdout and stderr on a terminal (util-linux `script` gives a pty). */
function cliOnTerminal(args: readonly string[]): Promise<{ code: number; output: string }> {
  const quote = (arg: string): string => `'${arg.replace(/'/g, `'\\''`)}'`;
  const command = [process.execPath, cliPath, ...args].map(quote).join(' ');
  return new Promise((resolve) => {
    execFile(
      'script',
      ['-qec', command, '/dev/null'],
      { timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } },
      (error, stdout) => {
        const code = error ? Number((error as { code?: unknown }).code ?? 1) : 0;
        resolve({ code, output: stdout.replace(/\r/g, '') });
      },
    );
  });
}

describe('reading: tables by key file, and an empty answer', () => {
  test('get --table takes the table key file that put takes', async () => {
    const result = await cli(['get', '--node', nodeA.url, '--key', idFile, '--table', tableFile]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(
      lines(result.stdout).map((line) => line.replace(/^\S+ \S+ /, '')),
      ['piped through stdin', 'hello from the CLI'],
    );
  });

  test('nothing matches: silent in a pipe, said on a terminal', async () => {
    const args = ['get', '--node', nodeA.url, '--key', idFile, '--since', '1m', '--table'];
    const empty = oneTableArgs(args);
    const piped = await cli(empty);
    assert.deepEqual(
      { code: piped.code, stdout: piped.stdout, stderr: piped.stderr },
      { code: 0, stdout: '', stderr: '' },
    );
    const shown = await cliOnTerminal(empty);
    assert.equal(shown.code, 0, shown.output);
    assert.deepEqual(lines(shown.output), [
      `no entries match (identity ${identity.slice(0, 16)}…, ${nodeA.url})`,
    ]);
    // On a terminal, entries print as usual and the notice does not appear.
    const some = await cliOnTerminal(['get', '--node', nodeA.url, '--key', idFile]);
    assert.equal(some.code, 0, some.output);
    assert.ok(lines(some.output).length >= 3, some.output);
    assert.doesNotMatch(some.output, /no entries/);
  });
});

/** A --table filter that matches nothing: a fresh table nobody wrote to. */
function oneTableArgs(args: readonly string[]): string[] {
  const key = generateTableKey();
  return [...args, toHex(key.signing.publicKey)];
}

describe('help', () => {
  test('no command, or a command group without its subcommand: help on stderr, exit 2', async () => {
    for (const [args, usage] of [
      [[], /^Usage: p2pcloud \[options\] \[command\]/],
      [['table'], /^Usage: p2pcloud table /],
      [['app'], /^Usage: p2pcloud app /],
    ] as const) {
      const result = await cli(args);
      assert.equal(result.code, 2, `${args.join(' ')}: exit ${result.code}`);
      assert.equal(result.stdout, '');
      assert.match(result.stderr, usage);
      assert.match(result.stderr, /Commands:/);
    }
  });

  test('--help asked for: help on stdout, exit 0', async () => {
    for (const args of [['--help'], ['table', '--help'], ['put', '--help']]) {
      const result = await cli(args);
      assert.equal(result.code, 0, `${args.join(' ')}: exit ${result.code}`);
      assert.match(result.stdout, /^Usage: p2pcloud/);
      assert.equal(result.stderr, '');
    }
  });

  test('node --help shows the defaults', async () => {
    const result = await cli(['node', '--help']);
    assert.equal(result.code, 0);
    const help = result.stdout.replace(/\s+/g, ' ');
    for (const expected of [
      /--port <n> .*\(default 7447\)/,
      /--host <host> .*\(default 127\.0\.0\.1\)/,
      /--data <dir> .*\(default \.\/data\)/,
      /--min-pow <bits> .*\(default 16\)/,
      /--sync-interval <seconds> .*\(default 30\)/,
      /--peers-per-round <n> .*\(default 3\)/,
      /--log-level <level> .*\(default info\)/,
    ]) {
      assert.match(help, expected);
    }
  });
});

describe('failures: one "p2pcloud:" line on stderr, non-zero exit, nothing on stdout', () => {
  const esc = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

  test('missing options', async () => {
    for (const [args, pattern] of [
      [['keygen'], /required option '--out <file>'/],
      [['table', 'create'], /required option '--out <file>'/],
      [['put', '--table', tableFile, '--to', 'x', 'text'], /required option '--node <url>'/],
      [['put', '--node', nodeA.url, '--to', 'x', 'text'], /required option '--table <file>'/],
      [['put', '--node', nodeA.url, '--table', tableFile, 'text'], /required option '--to/],
      [['get', '--node', nodeA.url], /required option '--key <file>'/],
      [['get', '--key', idFile], /required option '--node <url>'/],
      [
        ['put', '--node', nodeA.url, '--table', tableFile, '--to', identity],
        /give the TEXT to store, or - to read it from stdin/,
      ],
      [['frobnicate'], /unknown command 'frobnicate'/],
      [['get', '--node', nodeA.url, '--key', idFile, '--bogus'], /unknown option '--bogus'/],
    ] as const) {
      assertFails(await cli(args), pattern);
    }
  });

  test('key files: missing, not JSON, the wrong kind, damaged', async () => {
    const garbage = join(dir, 'garbage.key');
    writeFileSync(garbage, 'not json at all');
    const damaged = join(dir, 'damaged.key');
    writeFileSync(
      damaged,
      readFileSync(idFile, 'utf8').replace(
        /"box_secret": "(.)/,
        (_m, c: string) => `"box_secret": "${c === '0' ? '1' : '0'}`,
      ),
    );
    const partial = join(dir, 'partial.key');
    writeFileSync(partial, JSON.stringify({ kind: 'p2pcloud-identity' }));
    const missing = join(dir, 'missing.key');
    const get = (key: string): string[] => ['get', '--node', nodeA.url, '--key', key];
    const put = (key: string): string[] => [
      ...['put', '--node', nodeA.url, '--table', key, '--to', identity, 'x'],
    ];
    for (const [args, message] of [
      // One wording for a missing file, whichever option or command names it.
      [get(missing), `--key: cannot read ${missing}: no such file`],
      [put(missing), `--table: cannot read ${missing}: no such file`],
      [['pubkey', missing], `cannot read ${missing}: no such file`],
      [get(dir), `--key: cannot read ${dir}: it is a directory`],
      [get(garbage), `--key: ${garbage} is not a p2pcloud key file (it is not JSON)`],
      [put(garbage), `--table: ${garbage} is not a p2pcloud key file (it is not JSON)`],
      [['pubkey', garbage], `${garbage} is not a p2pcloud key file (it is not JSON)`],
      [
        get(tableFile),
        `--key: ${tableFile} is a table key file (made by p2pcloud table create); --key wants an identity key file (made by p2pcloud keygen)`,
      ],
      [
        put(idFile),
        `--table: ${idFile} is an identity key file (made by p2pcloud keygen); --table wants a table key file (made by p2pcloud table create)`,
      ],
      [
        get(damaged),
        `--key: ${damaged} is a damaged identity key file: its public key does not match its secret key`,
      ],
      [
        get(partial),
        `--key: ${partial} is a damaged identity key file: a field is missing or malformed`,
      ],
    ] as const) {
      assert.equal(assertFails(await cli(args)), `p2pcloud: ${message}`);
    }
  });

  test('--to: not a key, the wrong kind, a typo, a file name', async () => {
    const before = (await storedIds(nodeA.url, putIds)).size;
    const typo = identity.slice(0, -1) + (identity.endsWith('q') ? 'p' : 'q');
    const wants =
      '--to wants an identity text (p2pid1…), a recipient key (p2prcpt1…) or 64 hex characters';
    for (const [to, message] of [
      ['alice', `--to: "alice" is not a key: ${wants}`],
      [table, `--to: "${table.slice(0, 20)}…" is a table's public key (p2ptable1…); ${wants}`],
      [
        typo,
        `--to: "${typo.slice(0, 20)}…" is not a valid identity key text: its checksum fails (a typo, or part of it is missing)`,
      ],
      [
        identity.slice(0, -5),
        `--to: "${identity.slice(0, 20)}…" is not a valid identity key text: its checksum fails (a typo, or part of it is missing)`,
      ],
      [
        idFile,
        `--to: ${idFile} is a file; --to wants the key's public text, which p2pcloud pubkey ${idFile} prints`,
      ],
    ] as const) {
      const result = await cli(['put', '--node', nodeA.url, '--table', tableFile, '--to', to, 'x']);
      assert.equal(assertFails(result), `p2pcloud: ${message}`);
      assert.doesNotMatch(result.stderr, /invalid string length|separator|expected \(/);
    }
    assert.equal((await storedIds(nodeA.url, putIds)).size, before);
  });

  test('get --table: the wrong kind of key or file', async () => {
    const get = (value: string): string[] => [
      ...['get', '--node', nodeA.url, '--key', idFile, '--table', value],
    ];
    assert.equal(
      assertFails(await cli(get(identity))),
      `p2pcloud: --table: "${identity.slice(0, 20)}…" is an identity text (p2pid1…); --table wants a table's public key (p2ptable1…)`,
    );
    assert.equal(
      assertFails(await cli(get(idFile))),
      `p2pcloud: --table: ${idFile} is an identity key file (made by p2pcloud keygen); --table wants a table key file (made by p2pcloud table create)`,
    );
    assert.equal(
      assertFails(await cli(get('notes'))),
      `p2pcloud: --table: "notes" is not a key: --table wants a table's public key (p2ptable1…)`,
    );
  });

  test('a node that is down: its URL and the reason, not the request made', async () => {
    const dead = await deadUrl();
    const refused = `${dead}: connection refused (is a node running there?)`;
    for (const [args, message] of [
      [
        ['put', '--node', dead, '--table', tableFile, '--to', identity, 'x'],
        `no node answered: ${refused}`,
      ],
      [
        ['put', '--node', dead, '--table', tableFile, '--to', identity, '--pow', '0', 'x'],
        `no node accepted the entry: ${refused}`,
      ],
      [['get', '--node', dead, '--key', idFile], `no node answered: ${refused}`],
    ] as const) {
      assert.equal(assertFails(await cli(args)), `p2pcloud: ${message}`);
    }
    // One node down out of two: the entry is read, and the down node is named on stderr.
    const result = await cli(['get', '--node', dead, '--node', nodeA.url, '--key', idFile]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(lines(result.stdout).length >= 3, true);
    assert.equal(result.stderr, `${refused}\n`);
  });

  test('one wording for every bad node URL', async () => {
    for (const url of ['not-a-url', 'ftp://example.org', 'http//127.0.0.1:7447']) {
      const message = new RegExp(
        `^p2pcloud: --node: ${esc(JSON.stringify(url))} is not a node URL \\(expected http://HOST:PORT\\)$`,
      );
      assertFails(await cli(['get', '--node', url, '--key', idFile]), message);
      assertFails(
        await cli(['put', '--node', url, '--table', tableFile, '--to', identity, 'x']),
        message,
      );
    }
  });

  test('put refuses an empty text, from the argument or from stdin', async () => {
    const before = await cli(['get', '--node', nodeA.url, '--key', idFile, '--json']);
    const put = ['put', '--node', nodeA.url, '--table', tableFile, '--to', identity];
    assert.equal(
      assertFails(await cli([...put, ''])),
      'p2pcloud: the TEXT is empty: nothing to store',
    );
    for (const stdin of ['', '\n', '\r\n']) {
      assert.equal(
        assertFails(await cli([...put, '-'], stdin)),
        'p2pcloud: stdin is empty: nothing to store',
      );
    }
    const after = await cli(['get', '--node', nodeA.url, '--key', idFile, '--json']);
    assert.equal(after.stdout, before.stdout);
  });

  test('keygen or table create onto an existing file leaves the file alone', async () => {
    const before = readFileSync(idFile, 'utf8');
    assertFails(await cli(['keygen', '--out', idFile]), /already exists/);
    assertFails(await cli(['table', 'create', '--out', idFile]), /already exists/);
    assert.equal(readFileSync(idFile, 'utf8'), before);
    const nowhere = join(dir, 'no', 'such', 'dir.key');
    assert.equal(
      assertFails(await cli(['keygen', '--out', nowhere])),
      `p2pcloud: --out: cannot write ${nowhere}: no such directory ${join(dir, 'no', 'such')}`,
    );
  });

  test('a node that cannot start says why', async () => {
    const data = join(dir, 'never-started');
    const unknownKey = join(dir, 'unknown-key.json');
    writeFileSync(unknownKey, JSON.stringify({ min_pow_bits: 3, colour: 'blue' }));
    const notJson = join(dir, 'not-json.json');
    writeFileSync(notJson, '{ min_pow_bits: 3 ');
    for (const [args, pattern] of [
      [
        ['--config', join(dir, 'missing.json')],
        new RegExp(
          `^p2pcloud: --config: cannot read ${esc(join(dir, 'missing.json'))}: no such file$`,
        ),
      ],
      [['--config', unknownKey], /colour/],
      [['--config', notJson], /not valid JSON/],
      [['--port', '99999'], /--port/],
      [['--min-pow', 'lots'], /--min-pow/],
      [['--mirror', 'not-a-table-key'], /mirror/],
      [['--peer', 'nowhere'], /^p2pcloud: --peer: "nowhere" is not a node URL/],
    ] as const) {
      assertFails(await cli(['node', '--data', data, ...args]), pattern);
    }
  });

  test('bad option values', async () => {
    const get = ['get', '--node', nodeA.url, '--key', idFile];
    const put = ['put', '--node', nodeA.url, '--table', tableFile, '--to', identity];
    for (const [args, pattern] of [
      [[...get, '--since', 'yesterday'], /^p2pcloud: --since: expected a time/],
      [[...get, '--limit', '0'], /^p2pcloud: --limit: expected an integer in 1\.\.100000/],
      [[...get, '--order', 'sideways'], /^p2pcloud: --order: expected newest or oldest/],
      [[...put, '--pow', '99', 'x'], /^p2pcloud: --pow: expected an integer in 0\.\.40/],
      [[...put, '--expires', 'soon', 'x'], /^p2pcloud: --expires: expected a duration/],
    ] as const) {
      assertFails(await cli(args), pattern);
    }
  });
});
