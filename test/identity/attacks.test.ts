/**
 * Attacks on the identity layer, crafted by hand with the pure core (statement.ts, group-op.ts,
 * directory.ts, record.ts) and published straight to a real node; gateways in this process
 * judge them over real HTTP. Each attack must change nothing: forged or late statements are
 * ignored, bad operations are rejected with their reason, bad link codes get their error, and
 * every record stored before stays readable.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Client } from '../../src/client/client.js';
import { randomBytes } from '../../src/crypto/random.js';
import { certBody, directoryKeys } from '../../src/identity/directory.js';
import {
  encodeGroupKeys,
  epochKeysFromSecret,
  epochPublic,
  type EpochKeys,
} from '../../src/identity/epoch.js';
import { groupOpBody } from '../../src/identity/group-op.js';
import { createLinkCode } from '../../src/identity/link-code.js';
import { encodeStatement, signStatement, type Statement } from '../../src/identity/statement.js';
import { encodeVersion, signVersion, type RecordVersion } from '../../src/gateway/record.js';
import { publish } from '../../src/gateway/publish.js';
import {
  generateIdentity,
  identityText,
  type Identity,
  type TableKey,
} from '../../src/keys/keys.js';
import type { BoxKeyPair } from '../../src/crypto/x25519.js';
import { eventually, request, startTestGateway } from '../helpers/gateways.js';
import {
  acceptWelcome,
  groupView,
  ok,
  recordData,
  refresh,
  seenEverywhere,
  writeRecord,
} from '../helpers/identity.js';
import { startTestNode } from '../helpers/nodes.js';

type Gw = Awaited<ReturnType<typeof startTestGateway>>;

interface World {
  client: Client;
  alice: Gw;
  bob: Gw;
  carol: Gw;
  phone: Gw;
  group: string;
  /** Marks of the records that must stay readable on Alice's gateway. */
  kept: string[];
}

let world: World;

function text(gw: Gw): string {
  return identityText(gw.identity);
}

function errorCode(body: Record<string, unknown>): string | undefined {
  return (body.error as { code?: string } | undefined)?.code;
}

/** The keys of the group's current epoch as a gateway holds them. */
function currentKeys(gw: Gw): EpochKeys & { epoch: string } {
  const keys = gw.gateway.identity.groups.currentKeys(world.group);
  assert.ok(keys, 'the gateway holds the current keys');
  return keys;
}

async function publishVersions(
  table: TableKey,
  reader: BoxKeyPair,
  versions: readonly RecordVersion[],
): Promise<void> {
  await publish(
    world.client,
    versions.map((v) => ({
      table,
      to: reader.publicKey,
      plaintext: encodeVersion(v),
      createdAt: v.at,
    })),
  );
}

async function publishStatements(
  space: { table: TableKey; reader: BoxKeyPair },
  statements: readonly Statement[],
): Promise<void> {
  await publish(
    world.client,
    statements.map((s) => ({
      table: space.table,
      to: space.reader.publicKey,
      plaintext: Buffer.from(encodeStatement(s)),
      createdAt: s.at,
    })),
  );
}

function version(
  author: Identity,
  mark: string,
  options: { person?: string; seq?: number; at?: number; key?: string } = {},
): RecordVersion {
  return signVersion({
    collection: 'notes',
    key: options.key ?? `k${randomBytes(6).toString('hex')}`,
    author,
    ...(options.person ? { device: { person: options.person, seq: options.seq ?? 1 } } : {}),
    at: options.at ?? Date.now(),
    deleted: false,
    data: JSON.stringify({ mark }),
  });
}

/** Waits for the control mark on Alice's gateway, then checks none of `absent` shows. */
async function onlyControlCounts(control: string, absent: readonly string[]): Promise<void> {
  await seenEverywhere([world.alice.url], world.group, control);
  await refresh(world.alice.url);
  const marks = (await recordData(world.alice.url, world.group)).map((d) => d.mark as string);
  for (const mark of absent) assert.ok(!marks.includes(mark), `${mark} was ignored: ${marks}`);
  world.kept.push(control);
  for (const mark of world.kept) assert.ok(marks.includes(mark), `${mark} is still readable`);
}

async function devicesOf(gw: Gw): Promise<{ device: string; revoked_at: number | null }[]> {
  return (await ok(gw.url, 'GET', '/api/devices')).devices as {
    device: string;
    revoked_at: number | null;
  }[];
}

async function link(
  root: Gw,
  device: Gw,
  code?: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const linkCode =
    code ?? ((await ok(root.url, 'POST', '/api/devices/link', {}, 201)).code as string);
  return request(device.url, 'POST', '/api/devices/accept', {
    code: linkCode,
    name: 'device',
    wait_seconds: 20,
  });
}

/** Alice (with a linked phone) owns a group where Bob writes and Carol reads. */
async function setup(): Promise<void> {
  const node = await startTestNode();
  const [alice, bob, carol, phone] = await Promise.all(
    Array.from({ length: 4 }, () => startTestGateway([node.url])),
  );
  const client = new Client({ nodes: [node.url] });
  const group = (await ok(alice!.url, 'POST', '/api/groups', { name: 'attacked' }, 201))
    .id as string;
  world = { client, alice: alice!, bob: bob!, carol: carol!, phone: phone!, group, kept: [] };
  const linked = await link(world.alice, world.phone);
  assert.equal(linked.status, 200, JSON.stringify(linked.body));
  await ok(
    alice!.url,
    'POST',
    `/api/groups/${group}/members`,
    { member: text(bob!), role: 'writer' },
    201,
  );
  await ok(
    alice!.url,
    'POST',
    `/api/groups/${group}/members`,
    { member: text(carol!), role: 'reader' },
    201,
  );
  await acceptWelcome(bob!.url, group);
  await acceptWelcome(carol!.url, group);
  const epoch = (await groupView(alice!.url, group)).epoch;
  for (const gw of [bob!, carol!, phone!]) {
    await eventually(`${gw.url} in the current epoch`, async () => {
      await refresh(gw.url);
      return (await groupView(gw.url, group)).epoch === epoch;
    });
  }
  await writeRecord(alice!.url, group, { mark: 'alice-1' });
  await writeRecord(bob!.url, group, { mark: 'bob-1' });
  await writeRecord(phone!.url, group, { mark: 'phone-in-time' });
  await seenEverywhere([alice!.url, bob!.url, carol!.url], group, 'phone-in-time');
  await seenEverywhere([alice!.url], group, 'bob-1');
  world.kept.push('alice-1', 'bob-1', 'phone-in-time');
}

// Set up at the top level: what the helpers start is stopped when the file ends.
await setup();

test('a device certificate signed by a non-device is not listed, and its records are ignored', async () => {
  const { alice } = world;
  const person = text(alice);
  const mallory = generateIdentity();
  const at = Date.now();
  const cert = signStatement({
    kind: 'device-cert',
    person,
    signer: mallory,
    seq: 1,
    at,
    body: certBody(identityText(mallory), 'evil'),
  });
  await publishStatements(directoryKeys(person), [cert]);
  const keys = currentKeys(alice);
  await publishVersions(keys.table!, keys.reader, [
    version(mallory, 'mallory-as-alice', { person, seq: 2 }),
    version(alice.identity, 'control-forged-cert'),
  ]);
  await onlyControlCounts('control-forged-cert', ['mallory-as-alice']);
  const listed = (await devicesOf(alice)).map((d) => d.device);
  assert.ok(!listed.includes(identityText(mallory)), 'the forged device is not listed');
  assert.equal(listed.length, 2, 'the root and the phone');
});

test('a revoked device: its certificates after the cutoff and its back-dated records are ignored', async () => {
  const { alice, phone, bob } = world;
  const person = text(alice);
  const oldKeys = currentKeys(alice);
  const revoked = await ok(alice.url, 'POST', `/api/devices/${text(phone)}/revoke`, {});
  const revokedAt = revoked.revoked_at as number;
  const lastSeq = revoked.last_seq as number;
  assert.ok(lastSeq >= 1);
  const eve = generateIdentity();
  // After the cutoff in time; and one in time but past last_seq.
  const lateCert = signStatement({
    kind: 'device-cert',
    person,
    signer: phone.identity,
    seq: lastSeq + 10,
    at: Date.now(),
    body: certBody(identityText(eve), 'eve'),
  });
  const eve2 = generateIdentity();
  const backCert = signStatement({
    kind: 'device-cert',
    person,
    signer: phone.identity,
    seq: lastSeq + 11,
    at: revokedAt - 5_000,
    body: certBody(identityText(eve2), 'eve2'),
  });
  await publishStatements(directoryKeys(person), [lateCert, backCert]);
  const keys = currentKeys(alice);
  await publishVersions(keys.table!, keys.reader, [
    version(eve, 'eve-as-alice', { person, seq: 1 }),
    version(eve2, 'eve2-as-alice', { person, seq: 1 }),
    version(alice.identity, 'control-late-cert'),
  ]);
  // The phone writes into the epoch it holds, back-dated before its revocation.
  const back = revokedAt - 1_000;
  await publishVersions(oldKeys.table!, oldKeys.reader, [
    version(phone.identity, 'phone-backdated', { person, seq: lastSeq + 1, at: back }),
    version(phone.identity, 'phone-late', { person, seq: lastSeq + 2 }),
    version(alice.identity, 'control-backdated', { at: back }),
  ]);
  await onlyControlCounts('control-late-cert', ['eve-as-alice', 'eve2-as-alice']);
  await onlyControlCounts('control-backdated', ['phone-backdated', 'phone-late']);
  const devices = await devicesOf(alice);
  const listed = devices.map((d) => d.device);
  assert.ok(!listed.includes(identityText(eve)) && !listed.includes(identityText(eve2)));
  assert.equal(devices.find((d) => d.device === text(phone))?.revoked_at, revokedAt);
  // Bob, another person, judges the same way.
  await seenEverywhere([bob.url], world.group, 'control-backdated');
  const bobMarks = (await recordData(bob.url, world.group)).map((d) => d.mark);
  for (const mark of ['phone-backdated', 'phone-late', 'eve-as-alice', 'eve2-as-alice'])
    assert.ok(!bobMarks.includes(mark), mark);
  assert.ok(bobMarks.includes('phone-in-time'));
  // The phone, once it has read its revocation, commits nothing: not on request, and not by
  // itself when it sees keys that reached a revoked device (itself).
  await eventually('the phone reads its revocation', async () => {
    await refresh(phone.url);
    const own = (await devicesOf(phone)).find((d) => d.device === text(phone));
    return own?.revoked_at === revokedAt;
  });
  const rekey = await request(phone.url, 'POST', `/api/groups/${world.group}/rekey`, {});
  assert.equal(rekey.status, 403, JSON.stringify(rekey.body));
  assert.equal(errorCode(rekey.body), 'forbidden');
  await refresh(phone.url);
  await refresh(phone.url, alice.url);
  const view = await groupView(alice.url, world.group);
  assert.deepEqual(view.rejected, [], 'no operation signed by the revoked phone');
});

test("a reader holds no table key; a writer cannot sign for the reader's authorship", async () => {
  const { carol, bob, alice } = world;
  await eventually('carol in the current epoch', async () => {
    await refresh(carol.url);
    return (
      (await groupView(carol.url, world.group)).epoch ===
      (await groupView(alice.url, world.group)).epoch
    );
  });
  const held = carol.gateway.identity.store.epochs(world.group);
  assert.ok(held.length >= 1);
  assert.ok(
    held.every((e) => e.epochSecret === undefined),
    'no epoch secret reached the reader',
  );
  assert.equal(carol.gateway.identity.groups.currentKeys(world.group)?.table, undefined);
  const refused = await request(
    carol.url,
    'POST',
    `/api/spaces/${world.group}/collections/notes/records`,
    {
      data: { mark: 'carol-write' },
    },
  );
  assert.equal(refused.status, 403);
  assert.equal(errorCode(refused.body), 'forbidden_role');

  await eventually('bob in the current epoch', async () => {
    await refresh(bob.url);
    return (
      (await groupView(bob.url, world.group)).epoch ===
      (await groupView(alice.url, world.group)).epoch
    );
  });
  const keys = currentKeys(bob);
  const signedByBob = version(bob.identity, 'carol-by-bob');
  const claimed = { ...signedByBob, author: text(carol) };
  const asDevice = version(bob.identity, 'carol-by-bob-device', { person: text(carol), seq: 1 });
  // Claiming the owner's authorship: the role would allow it, only the signature stops it.
  const asOwner = { ...version(bob.identity, 'alice-by-bob'), author: text(alice) };
  await publishVersions(keys.table!, keys.reader, [
    claimed,
    asDevice,
    asOwner,
    version(bob.identity, 'control-bob'),
  ]);
  await onlyControlCounts('control-bob', ['carol-by-bob', 'carol-by-bob-device', 'alice-by-bob']);
});

test("a writer's membership operation is rejected as not_allowed; a replayed operation changes nothing", async () => {
  const { alice, bob } = world;
  const viewBefore = await groupView(alice.url, world.group);
  const bobState = bob.gateway.identity.groups.state(world.group);
  const fresh = epochKeysFromSecret(world.group, randomBytes(32));
  const op = signStatement({
    kind: 'group-op',
    person: text(bob),
    signer: bob.identity,
    seq: 10_000,
    at: Date.now(),
    body: groupOpBody({
      group: world.group,
      prev: [...bobState.heads].sort(),
      op: 'add',
      member: identityText(generateIdentity()),
      role: 'admin',
      epoch: epochPublic(fresh),
    }),
  });
  // The operation that added Bob, published again as it was.
  const replayed = alice.gateway.identity.groups
    .state(world.group)
    .applied.find((o) => o.op === 'add' && o.member === text(bob))!.statement;
  const control = currentKeys(bob).control;
  await publishStatements(control, [op, replayed]);
  const after = await eventually('the rejection on Alice', async () => {
    await refresh(alice.url);
    const view = await groupView(alice.url, world.group);
    return view.rejected.some((r) => r.op === op.hash) ? view : undefined;
  });
  assert.deepEqual(after.rejected, [{ op: op.hash, reason: 'not_allowed' }]);
  assert.deepEqual(after.members, viewBefore.members);
  assert.equal(after.epoch, viewBefore.epoch);
  assert.equal(after.epochs, viewBefore.epochs);
  assert.equal(after.complete, true);
  await writeRecord(alice.url, world.group, { mark: 'control-after-ops' });
  await onlyControlCounts('control-after-ops', []);
});

test('a writer claiming more recipients for the current epoch does not make admins rekey', async () => {
  const { alice, bob } = world;
  const before = await groupView(alice.url, world.group);
  const keys = currentKeys(bob);
  const stranger = generateIdentity();
  // Who received an epoch is believed from its op's own signer only: Bob is not Alice.
  const junk = encodeGroupKeys(world.group, keys.epoch, [
    { to: stranger.box.publicKey, ct: Buffer.alloc(64, 7).toString('base64') },
  ]).map((chunk) =>
    signStatement({
      kind: 'group-keys',
      person: text(bob),
      signer: bob.identity,
      seq: 20_000,
      at: Date.now(),
      body: JSON.parse(chunk.toString('utf8')) as Record<string, unknown>,
    }),
  );
  await publishStatements(keys.control, junk);
  await writeRecord(alice.url, world.group, { mark: 'control-after-junk-keys' });
  await onlyControlCounts('control-after-junk-keys', []);
  for (let i = 0; i < 3; i++) await refresh(alice.url);
  const after = await groupView(alice.url, world.group);
  assert.equal(after.epoch, before.epoch, 'no rekey');
  assert.equal(after.epochs, before.epochs);
  assert.equal(after.clean, true);
});

test('a truncated log (a parent withheld) is incomplete and refuses commits until it arrives', async () => {
  const { alice, bob } = world;
  const state = alice.gateway.identity.groups.state(world.group);
  const viewBefore = await groupView(alice.url, world.group);
  const person = text(alice);
  const sign = (seq: number, prev: string[], member: string) =>
    signStatement({
      kind: 'group-op',
      person,
      signer: alice.identity,
      seq,
      at: Date.now(),
      // A role the member has already: judged same_role, so the log heals without new keys.
      body: groupOpBody({
        group: world.group,
        prev,
        op: 'role',
        member,
        role: 'writer',
        epoch: epochPublic(epochKeysFromSecret(world.group, randomBytes(32))),
      }),
    });
  const parent = sign(20_000, [...state.heads].sort(), text(bob));
  const child = sign(20_001, [parent.hash], text(bob));
  const control = currentKeys(alice).control;
  await publishStatements(control, [child]);
  await eventually('the log is incomplete', async () => {
    await refresh(alice.url);
    const view = await groupView(alice.url, world.group);
    return view.complete === false && view.missing === 1;
  });
  const commit = await request(alice.url, 'POST', `/api/groups/${world.group}/members`, {
    member: identityText(generateIdentity()),
    role: 'reader',
  });
  assert.equal(commit.status, 409, JSON.stringify(commit.body));
  assert.equal(errorCode(commit.body), 'group_incomplete');
  const rekey = await request(alice.url, 'POST', `/api/groups/${world.group}/rekey`, {});
  assert.equal(rekey.status, 409);
  assert.equal(errorCode(rekey.body), 'group_incomplete');
  // Nothing stored is lost meanwhile.
  const marks = (await recordData(alice.url, world.group)).map((d) => d.mark as string);
  for (const mark of world.kept) assert.ok(marks.includes(mark), mark);

  await publishStatements(control, [parent]);
  const healed = await eventually('the log is complete again', async () => {
    await refresh(alice.url);
    const view = await groupView(alice.url, world.group);
    return view.complete ? view : undefined;
  });
  assert.deepEqual(healed.members, viewBefore.members);
  assert.equal(healed.epoch, viewBefore.epoch);
  const reasons = healed.rejected.filter((r) => r.op === parent.hash || r.op === child.hash);
  assert.deepEqual(
    reasons.map((r) => r.reason),
    ['same_role', 'same_role'],
  );
  const rekeyed = await request(alice.url, 'POST', `/api/groups/${world.group}/rekey`, {});
  assert.equal(rekeyed.status, 200, JSON.stringify(rekeyed.body));
});

test("a reader's operation naming a parent that never comes does not stop commits", async () => {
  const { alice, carol } = world;
  const before = await groupView(alice.url, world.group);
  const control = currentKeys(carol).control;
  const stray = signStatement({
    kind: 'group-op',
    person: text(carol),
    signer: carol.identity,
    seq: 30_000,
    at: Date.now(),
    body: groupOpBody({
      group: world.group,
      prev: [randomBytes(32).toString('hex')],
      op: 'rekey',
      epoch: epochPublic(epochKeysFromSecret(world.group, randomBytes(32))),
    }),
  });
  await publishStatements(control, [stray]);
  await eventually('the stray operation is read', async () => {
    await refresh(alice.url);
    const view = await groupView(alice.url, world.group);
    return view.complete === false && view.missing === 1;
  });
  const rekeyed = await request(alice.url, 'POST', `/api/groups/${world.group}/rekey`, {});
  assert.equal(rekeyed.status, 200, JSON.stringify(rekeyed.body));
  const after = rekeyed.body as unknown as Awaited<ReturnType<typeof groupView>>;
  assert.equal(after.epochs, before.epochs + 1);
  assert.deepEqual(after.members, before.members);
});

test("a member's device that got the keys by a link grant, then revoked: an admin rekeys", async () => {
  const { alice, bob } = world;
  const bobPhone = await startTestGateway([alice.gateway.config.nodes[0]!]);
  // The grant carries the keys Bob holds: let him hold the current ones first.
  const current = (await groupView(alice.url, world.group)).epoch;
  await eventually('Bob in the current epoch', async () => {
    await refresh(bob.url);
    const view = await groupView(bob.url, world.group);
    return view.epoch === current && view.writable;
  });
  const linked = await link(bob, bobPhone);
  assert.equal(linked.status, 200, JSON.stringify(linked.body));
  assert.equal(linked.body.groups, 1);
  const granted = await eventually("the grant's keys on Bob's phone", async () => {
    await refresh(bobPhone.url);
    const view = await groupView(bobPhone.url, world.group);
    return view.writable ? view : undefined;
  });
  const before = await groupView(alice.url, world.group);
  assert.equal(granted.epoch, before.epoch);
  assert.equal(before.clean, true, 'no package went to the phone: it has the keys by grant');
  // Bob is a writer: his revocation rekeys nothing himself; Alice (the owner) must.
  const revoked = await ok(bob.url, 'POST', `/api/devices/${text(bobPhone)}/revoke`, {});
  assert.deepEqual(revoked.rekeyed, []);
  const healed = await eventually('a rekey by Alice', async () => {
    await refresh(alice.url);
    const view = await groupView(alice.url, world.group);
    return view.epoch !== before.epoch && view.clean === true ? view : undefined;
  });
  assert.equal(healed.epochs, before.epochs + 1);
  assert.deepEqual(healed.members, before.members);
  await refresh(bobPhone.url);
  const held = bobPhone.gateway.identity.store.epochs(world.group).map((e) => e.epoch);
  assert.ok(!held.includes(healed.epoch!), "the revoked phone holds no key of Alice's rekey");
  await writeRecord(alice.url, world.group, { mark: 'control-after-grant' });
  await onlyControlCounts('control-after-grant', []);
});

test('link codes: used twice, expired, mistyped', async () => {
  const { alice } = world;
  const [first, second, third, fourth] = await Promise.all(
    Array.from({ length: 4 }, () => startTestGateway([alice.gateway.config.nodes[0]!])),
  );
  const code = (await ok(alice.url, 'POST', '/api/devices/link', {}, 201)).code as string;
  const linked = await link(alice, first!, code);
  assert.equal(linked.status, 200, JSON.stringify(linked.body));
  const again = await link(alice, second!, code);
  assert.equal(again.status, 409, JSON.stringify(again.body));
  assert.equal(errorCode(again.body), 'link_code_used');
  const devices = await devicesOf(alice);
  const firstRow = devices.find((d) => d.device === text(first!));
  assert.ok(firstRow && firstRow.revoked_at === null, 'the first device stays linked');
  assert.ok(!devices.some((d) => d.device === text(second!)));
  assert.equal((await ok(first!.url, 'GET', '/api/devices')).person, text(alice));
  assert.equal((await ok(second!.url, 'GET', '/api/devices')).person, text(second!));

  // Expired by its own date (checked by the new device before it asks)…
  const stale = createLinkCode(randomBytes(16), Math.floor(Date.now() / 1000) - 10);
  const expired = await link(alice, third!, stale);
  assert.equal(expired.status, 410, JSON.stringify(expired.body));
  assert.equal(errorCode(expired.body), 'link_code_expired');
  // …and by the linking device's record, when the code's date was altered.
  const issued = await ok(alice.url, 'POST', '/api/devices/link', {}, 201);
  alice.gateway.index.db
    .prepare('UPDATE links SET expires_at = ? WHERE used_by IS NULL')
    .run(Date.now() - 1_000);
  const late = await link(alice, third!, issued.code as string);
  assert.equal(late.status, 410, JSON.stringify(late.body));
  assert.equal(errorCode(late.body), 'link_code_expired');

  const good = (await ok(alice.url, 'POST', '/api/devices/link', {}, 201)).code as string;
  const i = 12;
  const typo = good.slice(0, i) + (good[i] === 'q' ? 'p' : 'q') + good.slice(i + 1);
  const mistyped = await link(alice, fourth!, typo);
  assert.equal(mistyped.status, 400, JSON.stringify(mistyped.body));
  assert.equal(errorCode(mistyped.body), 'bad_link_code');
  assert.ok(
    !(await devicesOf(alice)).some((d) => [text(third!), text(fourth!)].includes(d.device)),
  );
  const marks = (await recordData(alice.url, world.group)).map((d) => d.mark as string);
  for (const mark of world.kept) assert.ok(marks.includes(mark), mark);
});

test('a writer whose next poll is far away still writes into the epoch after a removal', async () => {
  const { alice } = world;
  const node = world.client.nodes[0]!;
  const slow = await startTestGateway([node], { poll_interval_seconds: 60 });
  const dave = generateIdentity();
  await ok(
    alice.url,
    'POST',
    `/api/groups/${world.group}/members`,
    { member: text(slow), role: 'writer' },
    201,
  );
  await ok(
    alice.url,
    'POST',
    `/api/groups/${world.group}/members`,
    { member: identityText(dave), role: 'reader' },
    201,
  );
  await acceptWelcome(slow.url, world.group);
  await refresh(slow.url);
  assert.equal(
    (await groupView(slow.url, world.group)).epoch,
    (await groupView(alice.url, world.group)).epoch,
  );
  // Dave leaves the group; the slow writer's poller will not look for a minute.
  await ok(alice.url, 'DELETE', `/api/groups/${world.group}/members/${identityText(dave)}`);
  const epoch = (await groupView(alice.url, world.group)).epoch;
  await writeRecord(slow.url, world.group, { mark: 'slow-after-removal' });
  // The write checked the group's control spaces first: it is sealed to the new epoch, which
  // nothing Dave holds opens.
  assert.equal((await groupView(slow.url, world.group)).epoch, epoch);
  const table = (await ok(slow.url, 'GET', `/api/spaces/${world.group}`)).table as string;
  const current = (await ok(alice.url, 'GET', `/api/spaces/${world.group}`)).table as string;
  assert.equal(table, current);
  const written = await world.client.get({ tables: [current], limit: 100 });
  assert.ok(
    written.entries.some((e) =>
      e.recipient.equals(alice.gateway.identity.groups.currentKeys(world.group)!.reader.publicKey),
    ),
  );
  await seenEverywhere([alice.url], world.group, 'slow-after-removal');
});
