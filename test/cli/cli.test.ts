/**
 * The p2pcloud command end to end: every command runs as a child process, against nodes that run
 * as child processes too. The session: make keys, put text, get it back decrypted; and every
 * failure ends with one readable "p2pcloud: …" line on stderr, a non-zero exit and no stdout.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toHex } from '../../src/encoding/bytes.js';
import { loadIdentity } from '../../src/keys/key-file.js';
import { generateTableKey } from '../../src/keys/keys.js';
import { makeEntry } from '../helpers/entries.js';
import { spawnNode } from '../helpers/nodes.js';
import { runCli as cli, type CliResult } from '../helpers/spawn.js';
import { tempDir } from '../helpers/tmp.js';
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

  test('put - reads the text from stdin', async () => {
    const id = oneLine(
      await cli(
        ['put', '--node', nodeA.url, '--table', tableFile, '--to', identity, '-'],
        'piped through stdin',
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

describe('failures: one "p2pcloud:" line on stderr, non-zero exit, nothing on stdout', () => {
  test('missing options', async () => {
    for (const args of [
      ['keygen'],
      ['table', 'create'],
      ['put', '--table', tableFile, '--to', 'x', 'text'],
      ['put', '--node', nodeA.url, '--to', 'x', 'text'],
      ['put', '--node', nodeA.url, '--table', tableFile, 'text'],
      ['get', '--node', nodeA.url],
      ['get', '--key', idFile],
    ]) {
      assertFails(await cli(args), /required option|--\w+/);
    }
    // No text and no "-".
    assertFails(await cli(['put', '--node', nodeA.url, '--table', tableFile, '--to', identity]));
    // Unknown command and unknown option.
    assertFails(await cli(['frobnicate']));
    assertFails(await cli(['get', '--node', nodeA.url, '--key', idFile, '--bogus']));
  });

  test('bad key files', async () => {
    const garbage = join(dir, 'garbage.key');
    writeFileSync(garbage, 'not json at all');
    const damaged = join(dir, 'damaged.key');
    const text = readFileSync(idFile, 'utf8').replace(
      /"box_secret": "(.)/,
      (_m, c: string) => `"box_secret": "${c === '0' ? '1' : '0'}`,
    );
    writeFileSync(damaged, text);
    for (const key of [join(dir, 'missing.key'), garbage, tableFile, damaged]) {
      assertFails(await cli(['get', '--node', nodeA.url, '--key', key]), /key file|damaged/);
    }
    for (const key of [join(dir, 'missing.key'), garbage, idFile]) {
      assertFails(
        await cli(['put', '--node', nodeA.url, '--table', key, '--to', identity, 'x']),
        /key file/,
      );
    }
    assertFails(await cli(['pubkey', garbage]));
  });

  test('unreachable node', async () => {
    const dead = await deadUrl();
    assertFails(
      await cli(['put', '--node', dead, '--table', tableFile, '--to', identity, 'x']),
      new RegExp(dead.replace(/[.:/]/g, '\\$&')),
    );
    assertFails(
      await cli(['put', '--node', dead, '--table', tableFile, '--to', identity, '--pow', '0', 'x']),
      /no node accepted/,
    );
    assertFails(
      await cli(['get', '--node', dead, '--key', idFile]),
      /no node answered.*ECONNREFUSED|no node answered/,
    );
    assertFails(await cli(['get', '--node', 'not-a-url', '--key', idFile]));
  });

  test('bad --to', async () => {
    const before = (await storedIds(nodeA.url, putIds)).size;
    for (const to of ['p2pid1garbage', table, 'hello', identity.slice(0, -1)]) {
      assertFails(
        await cli(['put', '--node', nodeA.url, '--table', tableFile, '--to', to, 'x']),
        /key/,
      );
    }
    assert.equal((await storedIds(nodeA.url, putIds)).size, before);
  });

  test('keygen or table create onto an existing file leaves the file alone', async () => {
    const before = readFileSync(idFile, 'utf8');
    assertFails(await cli(['keygen', '--out', idFile]), /already exists/);
    assertFails(await cli(['table', 'create', '--out', idFile]), /already exists/);
    assert.equal(readFileSync(idFile, 'utf8'), before);
    assertFails(await cli(['keygen', '--out', join(dir, 'no', 'such', 'dir.key')]));
  });

  test('a node that cannot start says why', async () => {
    const data = join(dir, 'never-started');
    const unknownKey = join(dir, 'unknown-key.json');
    writeFileSync(unknownKey, JSON.stringify({ min_pow_bits: 3, colour: 'blue' }));
    const notJson = join(dir, 'not-json.json');
    writeFileSync(notJson, '{ min_pow_bits: 3 ');
    for (const [args, pattern] of [
      [['--config', join(dir, 'missing.json')], /cannot read config file/],
      [['--config', unknownKey], /colour/],
      [['--config', notJson], /not valid JSON/],
      [['--port', '99999'], /--port/],
      [['--min-pow', 'lots'], /--min-pow/],
      [['--mirror', 'not-a-table-key'], /mirror/],
    ] as const) {
      assertFails(await cli(['node', '--data', data, ...args]), pattern);
    }
  });

  test('bad option values', async () => {
    for (const args of [
      ['get', '--node', nodeA.url, '--key', idFile, '--since', 'yesterday'],
      ['get', '--node', nodeA.url, '--key', idFile, '--limit', '0'],
      ['get', '--node', nodeA.url, '--key', idFile, '--order', 'sideways'],
      ['put', '--node', nodeA.url, '--table', tableFile, '--to', identity, '--pow', '99', 'x'],
      [
        'put',
        '--node',
        nodeA.url,
        '--table',
        tableFile,
        '--to',
        identity,
        '--expires',
        'soon',
        'x',
      ],
    ]) {
      assertFails(await cli(args));
    }
  });
});
