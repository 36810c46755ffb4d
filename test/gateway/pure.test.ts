/**
 * The gateway's pure parts: record and invitation signatures (and what tampering does to them),
 * record ids, space ids and derivations, login signatures, the request guard, and the list
 * query language with a table of hostile inputs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { P2PError } from '../../src/errors.js';
import { sign } from '../../src/crypto/ed25519.js';
import { generateIdentity, identityText } from '../../src/keys/keys.js';
import {
  checkCollection,
  checkKey,
  dataText,
  decodeVersion,
  encodeVersion,
  recordId,
  signVersion,
  type RecordVersion,
} from '../../src/gateway/record.js';
import { createInvitation, decodeInvitation } from '../../src/gateway/invite.js';
import {
  parseSpace,
  personalSpace,
  publicSpace,
  serializeSpace,
  spaceFromSecrets,
  spaceSecrets,
} from '../../src/gateway/space.js';
import { loginMessage, loginSignatureValid, Sessions } from '../../src/gateway/sessions.js';
import { checkBearer } from '../../src/gateway/api-key.js';
import { routeNeedsCaller } from '../../src/gateway/actor.js';
import {
  checkRequest,
  hostName,
  isLoopbackAddress,
  type RequestFacts,
} from '../../src/gateway/guard.js';
import { listSql, parseListQuery } from '../../src/gateway/list-query.js';

const alice = generateIdentity();
const bob = generateIdentity();

function version(overrides: Partial<Parameters<typeof signVersion>[0]> = {}): RecordVersion {
  return signVersion({
    collection: 'posts',
    key: 'k1',
    author: alice,
    at: 1_735_689_600_000,
    deleted: false,
    data: JSON.stringify({ title: 'hello', n: 1 }),
    ...overrides,
  });
}

test('a signed record version round-trips through its plaintext', () => {
  const v = version();
  assert.deepEqual(decodeVersion(encodeVersion(v)), v);
  assert.equal(v.author, identityText(alice));
});

test('changing any signed field of a record makes it invalid', () => {
  const v = version();
  const tampered: RecordVersion[] = [
    { ...v, data: JSON.stringify({ title: 'HELLO', n: 1 }) },
    { ...v, at: v.at + 1 },
    { ...v, key: 'k2' },
    { ...v, collection: 'comments' },
    { ...v, deleted: true },
    { ...v, author: identityText(bob) },
  ];
  for (const t of tampered) assert.equal(decodeVersion(encodeVersion(t)), undefined);
});

test('records with the wrong shape are refused', () => {
  const v = version();
  const plain = JSON.parse(encodeVersion(v).toString('utf8')) as Record<string, unknown>;
  const variants: unknown[] = [
    { ...plain, extra: 1 },
    { ...plain, v: 2 },
    { ...plain, type: 'p2pcloud/invite' },
    { ...plain, data: '[1,2]' },
    { ...plain, data: 'not json' },
    { ...plain, at: -1 },
    { ...plain, at: 1.5 },
    { ...plain, sig: 'zz' },
    { ...plain, collection: 'Posts' },
    { ...plain, key: '' },
    [],
    'text',
    null,
  ];
  for (const variant of variants) {
    assert.equal(decodeVersion(Buffer.from(JSON.stringify(variant))), undefined);
  }
  assert.equal(decodeVersion(Buffer.from('not json')), undefined);
});

test('record ids depend on author, collection and key, and nobody shares another author’s id', () => {
  const a = identityText(alice);
  const b = identityText(bob);
  assert.match(recordId(a, 'posts', 'k'), /^[0-9a-f]{32}$/);
  assert.notEqual(recordId(a, 'posts', 'k'), recordId(b, 'posts', 'k'));
  assert.notEqual(recordId(a, 'posts', 'k'), recordId(a, 'notes', 'k'));
  // Length prefixes keep collection and key apart.
  assert.notEqual(recordId(a, 'ab', 'c'), recordId(a, 'a', 'bc'));
});

test('collection names, keys and data are validated', () => {
  for (const bad of ['', 'Posts', '1posts', 'a'.repeat(65), 'po sts', 5, null]) {
    assert.throws(
      () => checkCollection(bad),
      (e: P2PError) => e.code === 'bad_record',
    );
  }
  for (const bad of ['', 'a b', 'a/b', 'x'.repeat(129), 7]) {
    assert.throws(
      () => checkKey(bad),
      (e: P2PError) => e.code === 'bad_record',
    );
  }
  for (const bad of [[], 'text', 5, null, { big: 'x'.repeat(40_000) }]) {
    assert.throws(
      () => dataText(bad),
      (e: P2PError) => e.code === 'bad_record',
    );
  }
  assert.equal(dataText({ a: 1 }), '{"a":1}');
});

test('an invitation opens only as signed, for the named invitee', () => {
  const space = spaceFromSecrets(
    {
      name: 'club',
      table_seed: '11'.repeat(32),
      reader_secret: '22'.repeat(32),
      meta: { a: 1 },
    },
    {
      kind: 'private',
      members: undefined,
      invited: new Set(),
      invitedBy: undefined,
      createdAt: 0,
    },
  );
  const plaintext = createInvitation(alice, identityText(bob), 1000, spaceSecrets(space));
  const invitation = decodeInvitation(plaintext);
  assert.ok(invitation);
  assert.equal(invitation.from, identityText(alice));
  assert.equal(invitation.to, identityText(bob));
  assert.deepEqual(invitation.space, spaceSecrets(space));
  const object = JSON.parse(plaintext.toString('utf8')) as Record<string, unknown>;
  for (const change of [
    { to: identityText(alice) },
    { at: 1001 },
    { space: String(object.space).replace('club', 'CLUB') },
    { from: identityText(bob) },
  ]) {
    assert.equal(
      decodeInvitation(Buffer.from(JSON.stringify({ ...object, ...change }))),
      undefined,
    );
  }
});

test('spaces: ids from public keys, personal tables derived from the identity, files round-trip', () => {
  const a1 = personalSpace(alice);
  const a2 = personalSpace(alice);
  assert.equal(a1.id, a2.id);
  assert.notEqual(a1.id, personalSpace(bob).id);
  assert.ok(a1.reader.publicKey.equals(alice.box.publicKey));
  assert.ok(!a1.table.signing.publicKey.equals(alice.signing.publicKey));
  const p1 = publicSpace('seed', 'x', 'X');
  assert.equal(p1.id, publicSpace('seed', 'x', 'Y').id);
  assert.notEqual(p1.id, publicSpace('seed', 'y', 'X').id);
  assert.notEqual(p1.id, publicSpace('other seed', 'x', 'X').id);
  const created = spaceFromSecrets(spaceSecrets(p1), {
    kind: 'private',
    members: new Set([identityText(alice)]),
    invited: new Set([identityText(bob)]),
    invitedBy: undefined,
    createdAt: 5,
  });
  const back = parseSpace(serializeSpace(created));
  assert.equal(back.id, created.id);
  assert.deepEqual([...back.members!], [identityText(alice)]);
  assert.deepEqual([...back.invited], [identityText(bob)]);
  const damaged = serializeSpace(created).replace(created.id, '0'.repeat(32));
  assert.throws(
    () => parseSpace(damaged),
    (e: P2PError) => e.code === 'bad_key_file',
  );
});

test('login signatures are bound to the origin and the challenge', () => {
  const text = identityText(alice);
  const challenge = 'A'.repeat(43);
  const good = sign(loginMessage('http://127.0.0.1:5000', challenge), alice.signing).toString(
    'hex',
  );
  assert.ok(loginSignatureValid(text, 'http://127.0.0.1:5000', challenge, good));
  assert.ok(!loginSignatureValid(text, 'http://localhost:5000', challenge, good));
  assert.ok(!loginSignatureValid(text, 'http://127.0.0.1:5000', 'B'.repeat(43), good));
  assert.ok(!loginSignatureValid(identityText(bob), 'http://127.0.0.1:5000', challenge, good));
  assert.ok(!loginSignatureValid(text, 'http://127.0.0.1:5000', challenge, 'zz'));
  assert.ok(!loginSignatureValid('p2pid1nonsense', 'http://127.0.0.1:5000', challenge, good));
});

test('challenges are single-use and expire; sessions expire', () => {
  const sessions = new Sessions(1000);
  const { challenge } = sessions.challenge(0);
  assert.equal(sessions.check(challenge, 1), 'ok');
  assert.equal(sessions.consume(challenge, 1), 'ok');
  assert.equal(sessions.consume(challenge, 2), 'used');
  const late = sessions.challenge(0).challenge;
  assert.equal(sessions.consume(late, 10 * 60_000), 'expired');
  assert.equal(sessions.consume('not a challenge'), 'invalid');
  const token = sessions.open('who', 0);
  assert.equal(sessions.identityOf(token, 999), 'who');
  assert.equal(sessions.identityOf(token, 1000), undefined);
  assert.equal(sessions.identityOf('nope'), undefined);
});

test('challenges are the gateway’s own: forged, altered or foreign ones are refused', () => {
  const sessions = new Sessions(1000);
  const { challenge, expiresAt } = sessions.challenge(0);
  const bytes = Buffer.from(challenge, 'base64url');
  assert.equal(bytes.length, 32);
  assert.equal(Number(bytes.readBigUInt64BE(0)), expiresAt);
  // A later expiry written in: the MAC no longer matches.
  const extended = Buffer.from(bytes);
  extended.writeBigUInt64BE(BigInt(expiresAt + 3_600_000), 0);
  assert.equal(sessions.check(extended.toString('base64url'), 1), 'invalid');
  for (let i = 0; i < 32; i += 1) {
    const altered = Buffer.from(bytes);
    altered[i] ^= 1;
    assert.equal(sessions.check(altered.toString('base64url'), 1), 'invalid', `byte ${i}`);
  }
  assert.equal(new Sessions(1000).check(challenge, 1), 'invalid');
});

test('a flood of challenges and logins pushes out no one else’s challenge or session', () => {
  const sessions = new Sessions(3_600_000);
  const mine = sessions.challenge(0).challenge;
  for (let i = 0; i < 30_000; i += 1) sessions.challenge(1);
  assert.equal(sessions.consume(mine, 2), 'ok');

  // Used challenges are remembered to their expiry: when that memory is full, logins wait
  // rather than a used challenge being forgotten (and so made replayable).
  const used: string[] = [];
  for (let i = 1; i < 10_000; i += 1) {
    const { challenge } = sessions.challenge(10);
    assert.equal(sessions.consume(challenge, 10), 'ok');
    used.push(challenge);
  }
  assert.equal(sessions.consume(sessions.challenge(20).challenge, 20), 'busy');
  assert.equal(sessions.consume(used[0]!, 20), 'used');
  assert.equal(sessions.consume(sessions.challenge(200_000).challenge, 200_000), 'ok');

  const victim = sessions.open('victim', 0);
  for (let i = 0; i < 1_000; i += 1) sessions.open('attacker', 1);
  for (let i = 0; i < 12_000; i += 1) sessions.open(`attacker-${i % 400}`, 2);
  assert.equal(sessions.identityOf(victim, 3), 'victim');
});

test('the guard serves this machine only, under loopback names, from its own origin', () => {
  const base: RequestFacts = {
    remoteAddress: '127.0.0.1',
    method: 'GET',
    path: '/api/spaces',
    host: '127.0.0.1:5000',
    origin: undefined,
    secFetchSite: undefined,
    secFetchMode: undefined,
  };
  const local = { allowRemote: false, allowHosts: [] };
  const cases: [Partial<RequestFacts>, boolean][] = [
    [{}, true],
    [{ host: 'localhost:5000' }, true],
    [{ host: 'app.localhost:5000' }, true],
    [{ host: '[::1]:5000', remoteAddress: '::1' }, true],
    [{ remoteAddress: '::ffff:127.0.0.1' }, true],
    [{ remoteAddress: '192.168.1.20' }, false],
    [{ remoteAddress: '::ffff:10.0.0.2' }, false],
    [{ remoteAddress: undefined }, false],
    [{ host: 'evil.example:5000' }, false],
    [{ host: 'localhost.evil.example' }, false],
    [{ host: '127.0.0.1.nip.io:5000' }, false],
    [{ host: undefined }, false],
    [{ host: 'bad host' }, false],
    [{ origin: 'http://127.0.0.1:5000' }, true],
    [{ origin: 'http://127.0.0.1:5001' }, false],
    [{ origin: 'null' }, false],
    [{ origin: 'http://evil.example' }, false],
    [{ secFetchSite: 'same-origin' }, true],
    [{ secFetchSite: 'none' }, true],
    [{ secFetchSite: 'same-site' }, false],
    [{ secFetchSite: 'cross-site' }, false],
    [{ secFetchSite: 'cross-site', secFetchMode: 'navigate', path: '/' }, true],
    [{ secFetchSite: 'cross-site', secFetchMode: 'navigate', path: '/api/spaces' }, false],
    [{ secFetchSite: 'cross-site', secFetchMode: 'navigate', path: '/', method: 'POST' }, false],
  ];
  for (const [change, ok] of cases) {
    assert.equal(checkRequest({ ...base, ...change }, local).ok, ok, JSON.stringify(change));
  }
  const remote = { allowRemote: true, allowHosts: ['gw.lan'] };
  assert.ok(checkRequest({ ...base, remoteAddress: '192.168.1.20' }, remote).ok);
  assert.ok(checkRequest({ ...base, host: '192.168.1.5:5000' }, remote).ok);
  assert.ok(checkRequest({ ...base, host: 'gw.lan:5000' }, remote).ok);
  assert.ok(!checkRequest({ ...base, host: 'evil.example' }, remote).ok);
  assert.equal(hostName('Example.COM:80'), 'example.com');
  assert.ok(isLoopbackAddress('127.9.9.9'));
  assert.ok(!isLoopbackAddress('128.0.0.1'));
});

test('list queries parse into bound SQL', () => {
  const query = parseListQuery({
    'where.title': 'hello',
    'where.n[gte]': '3',
    'where.tags.first[exists]': 'true',
    'where.name[contains]': '50%_off',
    'where.flag': 'true',
    'where.none': 'null',
    sort: '-data.n,created_at',
    limit: '10',
    offset: '20',
  });
  assert.equal(query.limit, 10);
  assert.equal(query.offset, 20);
  const sql = listSql(query);
  assert.deepEqual(sql.whereParams, [
    '$.title',
    'hello',
    '$.n',
    3,
    '$.tags.first',
    '$.name',
    '%50\\%\\_off%',
    '$.flag',
    1,
    '$.none',
  ]);
  assert.equal(sql.orderBy, 'json_extract(data, ?) DESC, created_at ASC, id ASC');
  assert.deepEqual(sql.orderParams, ['$.n']);
  for (const fragment of sql.where) assert.doesNotMatch(fragment, /hello|title/);
});

test('hostile list queries are refused with bad_query', () => {
  const hostile: Record<string, unknown>[] = [
    { limit: '0' },
    { limit: '501' },
    { limit: '-1' },
    { limit: '1e3' },
    { limit: 'NaN' },
    { offset: '-5' },
    { offset: '99999999' },
    { sort: 'title' },
    { sort: 'data.' },
    { sort: 'data.a;DROP TABLE records' },
    { sort: '-created_at,-updated_at,id,key,author' },
    { 'where.a b': '1' },
    { "where.a')": '1' },
    { 'where.a[drop]': '1' },
    { 'where.a[gt]': 'true' },
    { 'where.a[exists]': 'yes' },
    { 'where.a[contains]': '5' },
    { 'where.a': '[1,2]' },
    { 'where.a': '{"b":1}' },
    { 'where.': '1' },
    { 'where.a..b': '1' },
    { author: 'p2ptable1xyz' },
    { key: 'a b' },
    { bogus: '1' },
    { limit: ['1', '2'] },
  ];
  for (const raw of hostile) {
    assert.throws(
      () => parseListQuery(raw),
      (e: P2PError) => e instanceof P2PError && e.code === 'bad_query',
      JSON.stringify(raw),
    );
  }
});

test('any where value either parses or is refused with bad_query (property)', () => {
  fc.assert(
    fc.property(fc.string(), fc.string(), (field, value) => {
      try {
        const query = parseListQuery({ [`where.${field}`]: value });
        listSql(query);
      } catch (error) {
        assert.ok(error instanceof P2PError && error.code === 'bad_query');
      }
    }),
  );
});

test('the API key is checked exactly, and every data route needs a caller', () => {
  const key = 'k'.repeat(43);
  assert.equal(checkBearer(undefined, key), 'absent');
  assert.equal(checkBearer(`Bearer ${key}`, key), 'valid');
  assert.equal(checkBearer(`bearer \t${key} `, key), 'valid');
  for (const wrong of [
    '',
    key,
    `Bearer ${key.slice(1)}`,
    `Bearer ${key}k`,
    `Bearer ${key.toUpperCase()}`,
    `Basic ${key}`,
    `Bearer ${key} ${key}`,
    'Bearer',
  ]) {
    assert.equal(checkBearer(wrong, key), 'wrong', wrong);
  }
  for (const route of [
    '/api/health',
    '/api/refresh',
    '/api/me',
    '/api/spaces',
    '/api/spaces/:space/collections/:collection/records/:id',
    '/api/invitations/:id/accept',
    '/forum/api/me',
    '/forum/api/c/:space/posts',
    '/notes/api',
  ]) {
    assert.ok(routeNeedsCaller(route), route);
  }
  for (const route of [
    undefined,
    '/',
    '/*',
    '/app.js',
    '/api',
    '/api/auth/challenge',
    '/api/auth/login',
    '/api/auth/logout',
    '/api/auth/session',
    '/api/identities',
    '/apiary',
  ]) {
    assert.ok(!routeNeedsCaller(route), String(route));
  }
});
