/**
 * The ticket commands as a user runs them: `p2pcloud issuer` and `issuer voucher`, `tickets
 * buy` and `list`, and `put --tickets` against a node that asks 24 bits of proof of work (a
 * put that solved it would take the CLI many seconds; one that pays with a ticket solves none).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from '../helpers/http.js';
import { spawnNode } from '../helpers/nodes.js';
import { runCli, spawnCli } from '../helpers/spawn.js';
import { tempDir } from '../helpers/tmp.js';

test('buy with a voucher, list, and put with tickets instead of proof of work', async () => {
  const dir = tempDir();
  const issuerDir = join(dir, 'issuer');
  const voucher = await runCli(['issuer', 'voucher', '--data', issuerDir, '--tickets', '3']);
  assert.equal(voucher.code, 0, voucher.stderr);
  assert.match(voucher.lines[0]!, /^[A-Za-z0-9_-]{32}$/);
  const issuer = await spawnCli(
    ['issuer', '--port', '0', '--data', issuerDir],
    /listening on (http:\/\/[^\s]+)/,
    'issuer',
  );
  const issuerUrl = issuer.ready[1]!;
  const keyId = ((await request(issuerUrl, '/issuer/keys')).json as { current: string }).current;
  writeFileSync(
    join(dir, 'node.json'),
    JSON.stringify({
      min_pow_bits: 24,
      min_pow_floor_bits: 24,
      sync: { enabled: false },
      tickets: { issuers: [{ url: issuerUrl, key_id: keyId }] },
    }),
  );
  const node = await spawnNode(['--config', join(dir, 'node.json')]);
  const wallet = join(dir, 'wallet.json');

  const bought = await runCli([
    'tickets',
    'buy',
    '--issuer',
    issuerUrl,
    '--voucher',
    voucher.lines[0]!,
    '--count',
    '2',
    '--wallet',
    wallet,
  ]);
  assert.equal(bought.code, 0, bought.stderr);
  assert.match(bought.lines[0]!, /^bought 2 ticket\(s\) of 1048576 bytes .* the wallet holds 2$/);
  assert.equal(statSync(wallet).mode & 0o777, 0o600);
  const listed = await runCli(['tickets', 'list', '--wallet', wallet, '--json']);
  assert.equal(listed.code, 0, listed.stderr);
  assert.deepEqual(
    listed.lines
      .map((l) => JSON.parse(l) as { count: number; key_id: string })
      .map((g) => [g.count, g.key_id]),
    [[2, keyId]],
  );

  // The voucher had 3: a second purchase of 2 is refused, in one line.
  const refused = await runCli([
    'tickets',
    'buy',
    '--issuer',
    issuerUrl,
    '--voucher',
    voucher.lines[0]!,
    '--count',
    '2',
    '--wallet',
    wallet,
  ]);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /^p2pcloud: .*1 ticket\(s\) left; the batch asks for 2\n$/);

  const key = join(dir, 'a.key');
  const table = join(dir, 't.table');
  assert.equal((await runCli(['keygen', '--out', key])).code, 0);
  assert.equal((await runCli(['table', 'create', '--out', table])).code, 0);
  const to = (await runCli(['pubkey', key])).lines[0]!;
  for (const [text, left] of [
    ['first', 1],
    ['second', 0],
  ] as const) {
    const put = await runCli(
      ['put', '--node', node.url, '--table', table, '--to', to, '--tickets', wallet, text],
      { timeoutMs: 30_000 },
    );
    assert.equal(put.code, 0, put.stderr);
    assert.match(put.stderr, /^paid with 1 ticket at its node$/m);
    assert.doesNotMatch(put.stderr, /proof of work/);
    const held = JSON.parse(readFileSync(wallet, 'utf8')) as { tickets: unknown[] };
    assert.equal(held.tickets.length, left);
  }
  const empty = await runCli([
    'put',
    '--node',
    node.url,
    '--table',
    table,
    '--to',
    to,
    '--tickets',
    wallet,
    'third',
  ]);
  assert.notEqual(empty.code, 0);
  assert.match(empty.stderr, /^p2pcloud: the wallet holds too few unexpired tickets/);
  const got = await runCli(['get', '--node', node.url, '--key', key]);
  assert.deepEqual(got.lines.map((l) => l.split(' ').at(-1)).sort(), ['first', 'second']);
  await node.stop();
  await issuer.stop();
});
