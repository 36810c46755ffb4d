/**
 * `p2pcloud device …` and `p2pcloud group …` as a user runs them, against real gateway
 * processes on one node: Alice's root gateway, her phone's, and Bob's. Each command is a child
 * process; what it prints is checked line by line, and every refusal is one `p2pcloud:` line
 * on stderr with the gateway's code and a non-zero exit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { randomBytes } from '../../src/crypto/random.js';
import { createLinkCode } from '../../src/identity/link-code.js';
import { identityText } from '../../src/keys/keys.js';
import { apiKeyPath, gatewayFailure } from '../../src/cli/gateway-client.js';
import {
  eventually,
  newKeyFile,
  request,
  spawnGateway,
  type GatewayProcess,
} from '../helpers/gateways.js';
import { spawnNode } from '../helpers/nodes.js';
import { runCli, type CliResult } from '../helpers/spawn.js';
import { tempDir } from '../helpers/tmp.js';

/** Runs `p2pcloud ARGS` to completion (killed after 90 s). */
function cli(
  args: readonly string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<CliResult> {
  return runCli(args, { ...options, cwd: options.cwd ?? tempDir(), timeoutMs: 90_000 });
}

/** A refusal: nothing on stdout, one `p2pcloud:` line on stderr, a non-zero exit. */
function assertRefused(run: CliResult, pattern: RegExp, what: string): void {
  assert.notEqual(run.code, 0, `${what}: exit code`);
  assert.equal(run.stdout, '', `${what}: stdout`);
  const lines = run.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `${what}: one line on stderr, got ${run.stderr}`);
  assert.match(lines[0]!, /^p2pcloud: /, what);
  assert.match(lines[0]!, pattern, what);
}

interface Person {
  gateway: GatewayProcess;
  data: string;
  /** --gateway and --data for this gateway. */
  at: string[];
}

async function startPerson(node: string): Promise<Person> {
  const dir = tempDir();
  const { path } = await newKeyFile(dir);
  const data = join(dir, 'gateway');
  const gateway = await spawnGateway([
    'gateway',
    '--key',
    path,
    '--node',
    node,
    '--port',
    '0',
    '--data',
    data,
    '--poll-interval',
    '0.3',
    '--log-level',
    'warn',
  ]);
  return { gateway, data, at: ['--gateway', gateway.url, '--data', data] };
}

// One node and three gateways for the whole file, stopped when it ends.
const node = await spawnNode(['--min-pow', '8', '--log-level', 'warn']);
const [alice, phone, bob] = (await Promise.all([
  startPerson(node.url),
  startPerson(node.url),
  startPerson(node.url),
])) as [Person, Person, Person];

test("the API key file and the gateway's refusals, in the user's terms", () => {
  const env = { P2PCLOUD_API_KEY_FILE: '/keys/api-key' };
  assert.equal(apiKeyPath({ data: 'gw' }, env), join('gw', 'api-key'));
  assert.equal(apiKeyPath({}, env), '/keys/api-key');
  assert.equal(apiKeyPath({}, {}), join('gateway-data', 'api-key'));
  const refused = gatewayFailure(
    'http://127.0.0.1:5000',
    403,
    Buffer.from('{"error":{"code":"forbidden_role","message":"not for readers"}}'),
  );
  assert.equal(refused.code, 'forbidden_role');
  assert.equal(refused.message, 'not for readers (forbidden_role)');
  // Something in between that does not speak the gateway's JSON: its status, and no code.
  const proxy = gatewayFailure('http://127.0.0.1:5000', 502, Buffer.from('<html>Bad'));
  assert.equal(proxy.code, 'node_error');
  assert.equal(proxy.message, 'the gateway at http://127.0.0.1:5000 answered HTTP 502');
  // A code this version does not know is shown as it came, under a generic one.
  const unknown = gatewayFailure(
    'http://127.0.0.1:5000',
    409,
    Buffer.from('{"error":{"code":"brand_new","message":"later"}}'),
  );
  assert.equal(unknown.code, 'node_error');
  assert.equal(unknown.message, 'later (brand_new)');
});

test('where the gateway or its API key is not, the command says so in one line', async () => {
  const free = 'http://127.0.0.1:9';
  const missing = join(tempDir(), 'nothing');
  // No gateway listening: named, with how to start one, whether or not a key was found.
  assertRefused(
    await cli(['device', 'list', '--gateway', free, '--data', alice.data]),
    /no gateway is running at http:\/\/127\.0\.0\.1:9 .*p2pcloud gateway --key FILE --node URL/,
    'not running',
  );
  assertRefused(
    await cli(['group', 'list', '--gateway', free]),
    /no gateway is running at http:\/\/127\.0\.0\.1:9/,
    'not running, no key either',
  );
  // A running gateway, but no key where the command looked: the file is named.
  assertRefused(
    await cli(['device', 'list', '--gateway', alice.gateway.url, '--data', missing]),
    new RegExp(`cannot read the gateway's API key ${missing}/api-key: no such file`),
    'no key file',
  );
  assertRefused(
    await cli(['group', 'list', '--gateway', 'ftp://x']),
    /^p2pcloud: --gateway: "ftp:\/\/x" is not a gateway URL/,
    'bad URL',
  );
  // P2PCLOUD_API_KEY_FILE names the key when --data does not (here: no ./gateway-data).
  const byEnv = await cli(['device', 'list', '--json', '--gateway', alice.gateway.url], {
    env: { P2PCLOUD_API_KEY_FILE: alice.gateway.apiKeyFile },
  });
  assert.equal(byEnv.code, 0, byEnv.stderr);
  assert.equal(JSON.parse(byEnv.lines[0]!).device, alice.gateway.identity);
  // --data wins over the environment.
  const both = await cli(['device', 'list', '--json', ...bob.at], {
    env: { P2PCLOUD_API_KEY_FILE: alice.gateway.apiKeyFile },
  });
  assert.equal(both.code, 0, both.stderr);
  assert.equal(JSON.parse(both.lines[0]!).device, bob.gateway.identity);
  // A command group without its subcommand: its help on stderr, exit 2, as for `table`.
  for (const group of ['device', 'group']) {
    const help = await cli([group]);
    assert.equal(help.code, 2);
    assert.equal(help.stdout, '');
    assert.match(help.stderr, new RegExp(`^Usage: p2pcloud ${group} [^]*Commands:`));
  }
  // Someone else's key: the gateway's refusal, with its code.
  const wrong = await cli(['device', 'list', '--gateway', alice.gateway.url, '--data', bob.data]);
  assertRefused(wrong, /\(unauthorized\)$/, 'wrong key');
});

test('a device is linked, listed and revoked from the command line', async () => {
  // Alice has a group, which the phone receives when it is linked.
  const created = await cli(['group', 'create', 'home', ...alice.at]);
  assert.equal(created.code, 0, created.stderr);
  const [home] = created.lines as [string];
  assert.match(home, /^[0-9a-f]{32}$/);

  const link = await cli(['device', 'link', ...alice.at]);
  assert.equal(link.code, 0, link.stderr);
  assert.equal(link.lines.length, 1, 'the code alone on stdout');
  const code = link.lines[0]!;
  assert.match(code, /^p2plink1[02-9ac-hj-np-z]{38}$/);
  assert.match(link.stderr, /valid once, until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/);

  // A typo in the code: caught by its checksum, on the new device, before any waiting.
  const typo = code.slice(0, 20) + (code[20] === 'q' ? 'p' : 'q') + code.slice(21);
  assertRefused(
    await cli(['device', 'accept', typo, ...phone.at]),
    /^p2pcloud: link code is damaged: its checksum does not match .*\(bad_link_code\)$/,
    'typo',
  );
  // A code whose time is up.
  const stale = createLinkCode(randomBytes(16), Math.floor(Date.now() / 1000) - 5);
  assertRefused(
    await cli(['device', 'accept', stale, ...phone.at]),
    /has expired.*\(link_code_expired\)$/,
    'expired',
  );
  assertRefused(
    await cli(['device', 'link', '--ttl', '29', ...alice.at]),
    /^p2pcloud: --ttl: expected an integer in 30\.\.86400, got "29"$/,
    'ttl too short',
  );

  const accepted = await cli(['device', 'accept', code, '--name', 'phone', ...phone.at]);
  assert.equal(accepted.code, 0, accepted.stderr);
  assert.deepEqual(accepted.lines, [alice.gateway.identity], 'prints the person');
  assert.match(accepted.stderr, /linked: .* 1 group\(s\) shared/);

  // The code is spent: Bob's gateway cannot use it, and stays its own person.
  assertRefused(
    await cli(['device', 'accept', code, '--wait', '30', ...bob.at]),
    /linked another device already.*\(link_code_used\)$/,
    'used',
  );
  const bobDevices = await request(bob.gateway.url, 'GET', '/api/devices');
  assert.equal(bobDevices.body.root, true);

  const listed = await cli(['device', 'list', ...alice.at]);
  assert.equal(listed.code, 0, listed.stderr);
  const rows = listed.lines.map((l) => l.split(/\s{2,}/));
  assert.deepEqual(rows[0], ['NAME', 'DEVICE', 'CERTIFIED', 'REVOKED']);
  assert.deepEqual(rows[1], ['root (this one)', alice.gateway.identity, 'root', 'no']);
  assert.equal(rows[2]![0], 'phone');
  assert.equal(rows[2]![1], phone.gateway.identity);
  assert.match(rows[2]![2]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal(rows[2]![3], 'no');
  assert.equal(rows.length, 3);
  const onPhone = await cli(['device', 'list', ...phone.at]);
  assert.match(onPhone.lines[2]!, /^phone \(this one\) /);

  // The phone reads the group it was given.
  await eventually('the group on the phone', async () => {
    const groups = await cli(['group', 'list', '--json', ...phone.at]);
    return groups.lines.some((l) => JSON.parse(l).id === home);
  });

  // Only the root's gateway revokes.
  assertRefused(
    await cli(['device', 'revoke', 'phone', ...phone.at]),
    /root key.*\(root_key_needed\)$/,
    'revoke from a device',
  );
  assertRefused(
    await cli(['device', 'revoke', 'tablet', ...alice.at]),
    /no device named "tablet"/,
    'no such device',
  );
  const revoked = await cli(['device', 'revoke', 'phone', ...alice.at]);
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.deepEqual(revoked.lines, [`revoked ${phone.gateway.identity}`, `rekeyed ${home} home`]);

  // The revoked phone reads its revocation, and neither changes the group by itself (its
  // operations would be refused by every member) nor lets its user believe it can.
  await eventually('the revocation on the phone', async () => {
    const seen = await cli(['device', 'list', '--json', ...phone.at]);
    return seen.lines.some((l) => JSON.parse(l).revoked_at !== null);
  });
  assertRefused(
    await cli(['group', 'rekey', home, ...phone.at]),
    /revoked.*\(forbidden\)$/,
    'a revoked device commits',
  );
  await request(phone.gateway.url, 'POST', '/api/refresh', {});
  await request(alice.gateway.url, 'POST', '/api/refresh', {});

  const after = await cli(['device', 'list', '--json', ...alice.at]);
  const devices = after.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(devices.length, 2);
  assert.equal(devices[1]!.device, phone.gateway.identity);
  assert.equal(typeof devices[1]!.revoked_at, 'number');
  // The group moved to an epoch whose keys reach Alice's root only.
  const shown = await cli(['group', 'show', home, '--json', ...alice.at]);
  const group = JSON.parse(shown.lines[0]!) as {
    epochs: number;
    clean: boolean;
    rejected: unknown[];
  };
  assert.equal(group.epochs, 2);
  assert.equal(group.clean, true);
  assert.deepEqual(group.rejected, [], 'no operation of the revoked phone');
});

test('groups are created and their members managed from the command line', async () => {
  const bobText = bob.gateway.identity;
  const created = await cli(['group', 'create', 'club', ...alice.at]);
  assert.equal(created.code, 0, created.stderr);
  const club = created.lines[0]!;

  const added = await cli(['group', 'add', 'club', bobText, '--role', 'reader', ...alice.at]);
  assert.equal(added.code, 0, added.stderr);
  assert.deepEqual(added.lines, [`added ${bobText} to club as reader (epoch 2)`]);
  assertRefused(
    await cli(['group', 'add', 'club', bobText, ...alice.at]),
    /\(member_exists\)$/,
    'added twice',
  );
  const typo = bobText.slice(0, 30) + (bobText[30] === 'q' ? 'p' : 'q') + bobText.slice(31);
  assertRefused(
    await cli(['group', 'add', 'club', typo, ...alice.at]),
    /typo.*\(bad_key\)$/,
    'mistyped member',
  );
  const badRole = await cli(['group', 'add', 'club', bobText, '--role', 'boss', ...alice.at]);
  assertRefused(badRole, /'boss' is invalid\. Allowed choices are admin, writer, reader/, 'role');
  assertRefused(
    await cli(['group', 'show', 'no-such-club', ...alice.at]),
    /no group named "no-such-club".*$/,
    'unknown group name',
  );
  assertRefused(
    await cli(['group', 'show', 'ab'.repeat(16), ...alice.at]),
    /\(no_such_group\)$/,
    'unknown group id',
  );

  // Bob sees the invitation and joins, as a reader.
  await eventually('the invitation on Bob’s gateway', async () => {
    const invitations = await cli(['group', 'invitations', '--json', ...bob.at]);
    return invitations.lines.some((l) => JSON.parse(l).space === club);
  });
  const joined = await cli(['group', 'join', 'club', ...bob.at]);
  assert.equal(joined.code, 0, joined.stderr);
  assert.deepEqual(joined.lines, [club]);
  const bobList = await cli(['group', 'list', ...bob.at]);
  assert.match(bobList.lines.find((l) => l.startsWith(club)) ?? '', /\sclub\s+reader\s+2\s+2$/);

  // A reader may neither manage members nor write.
  const carol = (await newKeyFile()).identity;
  assertRefused(
    await cli(['group', 'add', club, identityText(carol), ...bob.at]),
    /\(forbidden_role\)$/,
    'reader adds',
  );
  const write = await request(
    bob.gateway.url,
    'POST',
    `/api/spaces/${club}/collections/notes/records`,
    { data: { text: 'from a reader' } },
  );
  assert.equal(write.status, 403);
  assert.equal((write.body.error as { code: string }).code, 'forbidden_role');

  // Promoted to writer, Bob writes.
  const promoted = await cli(['group', 'role', 'club', bobText, 'writer', ...alice.at]);
  assert.equal(promoted.code, 0, promoted.stderr);
  assert.deepEqual(promoted.lines, [`${bobText} is writer in club (epoch 3)`]);
  await eventually('Bob writes as a writer', async () => {
    await request(bob.gateway.url, 'POST', '/api/refresh', {});
    const attempt = await request(
      bob.gateway.url,
      'POST',
      `/api/spaces/${club}/collections/notes/records`,
      { data: { text: 'from a writer' } },
    );
    return attempt.status === 201;
  });

  const shown = await cli(['group', 'show', 'club', ...alice.at]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.equal(shown.lines[0], `group    ${club}`);
  assert.equal(shown.lines[1], 'name     club');
  assert.equal(shown.lines[3], 'you      owner');
  assert.match(shown.lines[4]!, /^epoch {4}3 \([0-9a-f]{16}…\)$/);
  assert.deepEqual(shown.lines.slice(-3), [
    'ROLE    MEMBER',
    `owner   ${alice.gateway.identity}`,
    `writer  ${bobText}`,
  ]);

  const removed = await cli(['group', 'remove', 'club', bobText, ...alice.at]);
  assert.equal(removed.code, 0, removed.stderr);
  assert.deepEqual(removed.lines, [`removed ${bobText} from club (epoch 4)`]);
  assertRefused(
    await cli(['group', 'remove', 'club', bobText, ...alice.at]),
    /\(not_member\)$/,
    'removed twice',
  );
  const rekeyed = await cli(['group', 'rekey', club, '--json', ...alice.at]);
  assert.equal(rekeyed.code, 0, rekeyed.stderr);
  const view = JSON.parse(rekeyed.lines[0]!) as { epochs: number; members: unknown[] };
  assert.equal(view.epochs, 5);
  assert.deepEqual(view.members, [{ member: alice.gateway.identity, role: 'owner' }]);
});
