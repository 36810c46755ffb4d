/**
 * What a user of the provider market meets on the command line, against real processes: the
 * issuer names its current key when it starts and `issuer keys` lists its keys; a spread file
 * and its repair are paid with tickets, budgeted before anything is written; `get` on a
 * terminal shows a placeholder for an entry that is not text, and a pipe still gets it as before.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Client } from '../../src/client/client.js';
import { MAX_SHARD_BYTES } from '../../src/files/spread/layout.js';
import { loadIdentityFile, loadTableKeyFile } from '../../src/cli/inputs.js';
import { request } from '../helpers/http.js';
import { spawnNode } from '../helpers/nodes.js';
import { cliPath } from '../helpers/paths.js';
import { runCli, spawnCli, type CliResult } from '../helpers/spawn.js';
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
  assert.match(run.stderr, /^p2pcloud: [^\n]*\n$/);
  assert.match(run.stderr, why);
}

/** Runs `p2pcloud ARGS` with stdout on a terminal (util-linux `script` gives a pty). */
function onTerminal(args: readonly string[]): Promise<{ code: number; output: string }> {
  const quote = (arg: string): string => `'${arg.replace(/'/g, `'\\''`)}'`;
  const command = [process.execPath, cliPath, ...args].map(quote).join(' ');
  return new Promise((resolve) => {
    execFile(
      'script',
      ['-qec', command, '/dev/null'],
      { timeout: 60_000, env: { ...process.env, NO_COLOR: '1' }, encoding: 'latin1' },
      (error, stdout) => {
        const code = error ? Number((error as { code?: unknown }).code ?? 1) : 0;
        resolve({ code, output: stdout.replace(/\r/g, '') });
      },
    );
  });
}

const walletCount = (file: string): number =>
  (JSON.parse(readFileSync(file, 'utf8')) as { tickets: unknown[] }).tickets.length;

test(
  'issuer keys, and a spread file and its repair paid with tickets',
  { timeout: 240_000 },
  async () => {
    const dir = tempDir();
    const issuerDir = join(dir, 'issuer');
    const voucher = (await ok(['issuer', 'voucher', '--data', issuerDir, '--tickets', '46']))
      .lines[0]!;
    const issuer = await spawnCli(
      ['issuer', '--port', '0', '--data', issuerDir, '--ticket-bytes', '65536'],
      /listening on (http:\/\/[^\s]+) \(data: [^;]+; current key ([0-9a-f]{64})\)$/,
      'issuer',
    );
    const [, issuerUrl, startKey] = issuer.ready as unknown as [string, string, string];
    const published = (await request(issuerUrl, '/issuer/keys')).json as {
      current: string;
      keys: { id: string; not_before: number; not_after: number; value: number }[];
    };
    assert.equal(startKey, published.current, 'the start line names the current key');

    // issuer keys: the current id alone, a line per key, and JSON.
    assert.deepEqual((await ok(['issuer', 'keys', '--url', issuerUrl, '--current'])).lines, [
      published.current,
    ]);
    const key = published.keys.find((k) => k.id === published.current)!;
    const iso = (s: number): string => new Date(s * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
    assert.deepEqual((await ok(['issuer', 'keys', '--url', issuerUrl])).lines, [
      `${key.id}  current  ${iso(key.not_before)} to ${iso(key.not_after)}  write 65536 bytes`,
    ]);
    const json = (await ok(['issuer', 'keys', '--url', `${issuerUrl}/`, '--json'])).lines.map(
      (l) => JSON.parse(l) as Record<string, unknown>,
    );
    assert.deepEqual(json, [
      {
        id: key.id,
        state: 'current',
        kind: 'write',
        value: 65536,
        modulus_bits: 2048,
        not_before: key.not_before,
        not_after: key.not_after,
      },
    ]);
    await refused(
      ['issuer', 'keys', '--url', 'issuer.example'],
      /^p2pcloud: --url: .*not a node URL/,
    );
    const nodeOnly = await spawnNode(['--min-pow', '8']);
    await refused(['issuer', 'keys', '--url', nodeOnly.url], /^p2pcloud: .*\/issuer\/keys/);
    await nodeOnly.stop();

    // Four providers that take the issuer's tickets and ask 24 bits of proof of work otherwise:
    // a spread that solved it would take minutes.
    const config = join(dir, 'provider.json');
    writeFileSync(
      config,
      JSON.stringify({
        min_pow_bits: 24,
        min_pow_floor_bits: 24,
        sync: { enabled: false },
        tickets: { issuers: [{ url: issuerUrl, key_id: startKey }] },
      }),
    );
    const nodes = await Promise.all(
      Array.from({ length: 4 }, () => spawnNode(['--config', config])),
    );
    const urls = nodes.slice(0, 3).map((n) => n.url);
    const idFile = join(dir, 'me.key');
    const tableFile = join(dir, 'files.table');
    await ok(['keygen', '--out', idFile]);
    await ok(['table', 'create', '--out', tableFile]);
    const wallet = join(dir, 'wallet.json');
    const buy = (count: number) =>
      ok([
        'tickets',
        'buy',
        '--issuer',
        issuerUrl,
        '--voucher',
        voucher,
        '--count',
        String(count),
        '--wallet',
        wallet,
      ]);
    await buy(32);

    // Tickets of 64 KiB, one full shard entry each. A file of 9 full stripes spread 2-of-3
    // makes at each provider a put of 8 shards (8 tickets), one of 1 shard, one of its page and
    // one of the manifest (1 each): 33 tickets in 12 puts. With 32 the spread is refused before
    // anything is written.
    const file = join(dir, 'photo.bin');
    const bytes = randomBytes(9 * 2 * MAX_SHARD_BYTES);
    writeFileSync(file, bytes);
    const spread = [
      'files',
      'put',
      file,
      '--spread',
      '2/3',
      ...urls.flatMap((u) => ['--node', u]),
      '--identity',
      idFile,
      '--table',
      tableFile,
      '--tickets',
      wallet,
    ];
    await refused(
      spread,
      /^p2pcloud: the wallet holds 32 unexpired ticket\(s\); this needs 33 \(12 put\(s\)/,
    );
    assert.equal(walletCount(wallet), 32, 'no ticket spent');
    for (const url of urls) {
      const held = await ok(['get', '--node', url, '--key', idFile]);
      assert.deepEqual(held.lines, [], `nothing written to ${url}`);
    }
    await buy(1);
    const put = await ok([...spread, '--json']);
    const answer = JSON.parse(put.stdout) as { manifest: string; tickets_spent: number };
    assert.equal(answer.tickets_spent, 33);
    assert.equal(walletCount(wallet), 0, 'the wallet drops by the 33 the spread needs');
    const restored = join(dir, 'restored.bin');
    await ok([
      'files',
      'get',
      '--spread',
      answer.manifest,
      '--out',
      restored,
      '--node',
      urls[0]!,
      '--identity',
      idFile,
    ]);
    assert.equal(sha(readFileSync(restored)), sha(bytes));

    // Repair onto the fourth node, chosen from a candidate list that repeats the providers held:
    // the new provider's shards and page (3 puts, 10 tickets) and the manifest at each of 3.
    await nodes[1]!.kill9();
    const candidates = [urls[0], urls[2], nodes[3]!.url, urls[1]].join('\n');
    const repair = [
      'files',
      'repair',
      '--spread',
      answer.manifest,
      '--node',
      candidates,
      '--new-node',
      candidates,
      '--identity',
      idFile,
      '--table',
      tableFile,
      '--tickets',
      wallet,
    ];
    await buy(12);
    await refused(
      repair,
      /^p2pcloud: the wallet holds 12 unexpired ticket\(s\); this needs 13 \(6 put\(s\)/,
    );
    assert.equal(walletCount(wallet), 12);
    await buy(1);
    const repaired = await ok(repair);
    assert.match(repaired.stderr, /^replaced .* by .*$/m);
    assert.match(repaired.stderr, /^paid with 13 tickets, no proof of work$/m);
    assert.equal(walletCount(wallet), 0);
    const again = join(dir, 'again.bin');
    await ok([
      'files',
      'get',
      '--spread',
      repaired.lines[0]!,
      '--out',
      again,
      '--node',
      nodes[3]!.url,
      '--identity',
      idFile,
    ]);
    assert.ok(readFileSync(again).equals(bytes));

    await Promise.all([nodes[0]!, nodes[2]!, nodes[3]!].map((n) => n.stop()));
    await issuer.stop();
  },
);

test('get on a terminal shows a placeholder for an entry that is not text', async () => {
  const dir = tempDir();
  const node = await spawnNode(['--min-pow', '8']);
  const idFile = join(dir, 'me.key');
  const tableFile = join(dir, 't.table');
  await ok(['keygen', '--out', idFile]);
  await ok(['table', 'create', '--out', tableFile]);
  const identity = await loadIdentityFile('--key', idFile);
  const table = await loadTableKeyFile('--table', tableFile);
  const client = new Client({ nodes: [node.url] });
  // Invalid UTF-8 with an escape sequence in it: what a terminal must not be sent.
  const binary = Buffer.concat([
    Buffer.from([0xff, 0xfe, 0x1b, 0x5b, 0x32, 0x4a]),
    randomBytes(300),
  ]);
  await client.put({ table, to: identity.box.publicKey, data: binary, powBits: 8 });
  await client.put({ table, to: identity.box.publicKey, data: 'plain words', powBits: 8 });

  const shown = await onTerminal(['get', '--node', node.url, '--key', idFile, '--order', 'oldest']);
  assert.equal(shown.code, 0, shown.output);
  const lines = shown.output.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 2, shown.output);
  assert.match(
    lines[0]!,
    /^\S+ [0-9a-f]{16} \[binary, 306 bytes: not shown on a terminal; --json gives it in base64, files get --spread restores a spread file\]$/,
  );
  assert.match(lines[1]!, /^\S+ [0-9a-f]{16} plain words$/);
  assert.ok(!shown.output.includes('\x1b[2J'), 'no escape sequence reached the terminal');

  // A pipe gets the entry as it always did: its bytes decoded as UTF-8, on one line.
  const piped = await ok(['get', '--node', node.url, '--key', idFile, '--order', 'oldest']);
  assert.equal(piped.lines[0]!.replace(/^\S+ \S+ /, ''), binary.toString('utf8').split('\n')[0]);
  assert.doesNotMatch(piped.stdout, /not shown on a terminal/);
  await node.stop();
});

test('files put --tickets without --spread is refused: a drive upload is not paid so', async () => {
  const dir = tempDir();
  const file = join(dir, 'a.txt');
  writeFileSync(file, 'a');
  await refused(
    ['files', 'put', file, '--space', 'family', '--tickets', join(dir, 'wallet.json')],
    /^p2pcloud: --tickets is for --spread only\n$/,
  );
});
