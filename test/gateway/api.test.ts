/**
 * The gateway's JSON API over real HTTP on 127.0.0.1, with a real node and real SQLite:
 * records CRUD, filters, sorting and paging, login by key, invitations between gateways and
 * between identities of one gateway, refusals (remote clients, foreign Host names, other
 * origins), bounds (identities held, login challenges), bad input answered with 4xx and stable
 * codes, and what reaches the node (ciphertext only) and the disk (mode 0600).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '../../src/client/client.js';
import { sign } from '../../src/crypto/ed25519.js';
import { ERROR_CODES } from '../../src/errors.js';
import { generateIdentity, identityText, serializeIdentity } from '../../src/keys/keys.js';
import { loginMessage } from '../../src/gateway/sessions.js';
import { MAX_IDENTITIES } from '../../src/gateway/keyring.js';
import { startTestNode } from '../helpers/nodes.js';
import {
  apiKeyOf,
  eventually,
  newKeyFile,
  rawRequest,
  request,
  startTestGateway,
} from '../helpers/gateways.js';

const node = await startTestNode({ min_pow_bits: 8 });
const gw = await startTestGateway([node.url]);
const me = identityText(gw.identity);
const notes = '/api/spaces/me/collections/notes/records';

function expectError(
  answer: { status: number; body: Record<string, unknown> },
  code: keyof typeof ERROR_CODES,
): void {
  const error = answer.body.error as { code?: string; message?: string } | undefined;
  assert.equal(error?.code, code, JSON.stringify(answer.body));
  assert.equal(answer.status, ERROR_CODES[code].status);
  assert.equal(typeof error?.message, 'string');
}

/** Signs in as `identity` (registering it first if asked) and returns the session cookie. */
async function signIn(base: string, identity = generateIdentity(), register = true) {
  if (register) {
    const registered = await request(base, 'POST', '/api/identities', {
      key_file: JSON.parse(serializeIdentity(identity)),
    });
    assert.ok(registered.status === 201 || registered.status === 200);
  }
  const { body } = await request(base, 'POST', '/api/auth/challenge', {});
  const challenge = body.challenge as string;
  const origin = `http://${new URL(base).host}`;
  const signature = sign(loginMessage(origin, challenge), identity.signing).toString('hex');
  const login = await request(base, 'POST', '/api/auth/login', {
    identity: identityText(identity),
    challenge,
    signature,
  });
  assert.equal(login.status, 200, JSON.stringify(login.body));
  const cookie = login.headers.get('set-cookie')!;
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Strict/);
  return { identity, cookie: cookie.split(';')[0]!, challenge, signature };
}

/** Headers a same-origin browser request carries. */
function browser(cookie?: string): Record<string, string> {
  return { 'sec-fetch-site': 'same-origin', ...(cookie ? { cookie } : {}) };
}

test('records: create, read, update, list, delete', async () => {
  const created = await request(gw.url, 'POST', notes, { data: { title: 'first', n: 1 } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const record = created.body;
  assert.match(record.id as string, /^[0-9a-f]{32}$/);
  assert.equal(record.author, me);
  assert.equal(record.nodes, 1);
  assert.deepEqual(record.data, { title: 'first', n: 1 });

  const read = await request(gw.url, 'GET', `${notes}/${record.id as string}`);
  assert.deepEqual(read.body.data, { title: 'first', n: 1 });

  const updated = await request(gw.url, 'PUT', `${notes}/${record.id as string}`, {
    data: { title: 'first, edited', n: 2 },
  });
  assert.equal(updated.status, 200);
  assert.equal(updated.body.id, record.id);
  assert.ok((updated.body.updated_at as number) > (record.updated_at as number));
  assert.equal(updated.body.created_at, record.created_at);

  // A POST with the same key replaces the caller's record of that key.
  const keyed = await request(gw.url, 'POST', notes, { key: 'settings', data: { theme: 'dark' } });
  assert.equal(keyed.status, 201);
  const rekeyed = await request(gw.url, 'POST', notes, {
    key: 'settings',
    data: { theme: 'light' },
  });
  assert.equal(rekeyed.status, 200);
  assert.equal(rekeyed.body.id, keyed.body.id);

  const deleted = await request(gw.url, 'DELETE', `${notes}/${record.id as string}`);
  assert.deepEqual(deleted.body, { id: record.id, deleted: true, nodes: 1 });
  expectError(await request(gw.url, 'GET', `${notes}/${record.id as string}`), 'no_such_record');
  const list = await request(gw.url, 'GET', notes);
  assert.deepEqual(
    (list.body.records as { data: unknown }[]).map((r) => r.data),
    [{ theme: 'light' }],
  );
});

test('lists filter, sort and page by the records’ own fields', async () => {
  const items = '/api/spaces/me/collections/items/records';
  const colours = ['red', 'green', 'blue', 'red', 'green', 'red'];
  for (const [i, colour] of colours.entries()) {
    const answer = await request(gw.url, 'POST', items, {
      key: `item-${i}`,
      data: { colour, price: (i * 7) % 10, name: `item ${i}`, meta: { odd: i % 2 === 1 } },
    });
    assert.equal(answer.status, 201);
  }
  const names = async (query: string) => {
    const answer = await request(gw.url, 'GET', `${items}?${query}`);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return {
      names: (answer.body.records as { data: { name: string } }[]).map((r) => r.data.name),
      total: answer.body.total,
    };
  };
  assert.deepEqual(await names('where.colour=red&sort=created_at'), {
    names: ['item 0', 'item 3', 'item 5'],
    total: 3,
  });
  // prices: 0 7 4 1 8 5
  assert.deepEqual((await names('sort=-data.price&limit=2')).names, ['item 4', 'item 1']);
  assert.deepEqual(await names('sort=-data.price&limit=2&offset=2'), {
    names: ['item 5', 'item 2'],
    total: 6,
  });
  assert.deepEqual((await names('where.price[gte]=5&sort=data.price')).names, [
    'item 5',
    'item 1',
    'item 4',
  ]);
  assert.deepEqual((await names('where.meta.odd=true&sort=created_at')).names, [
    'item 1',
    'item 3',
    'item 5',
  ]);
  assert.deepEqual((await names('where.name[contains]=m 2')).names, ['item 2']);
  assert.deepEqual((await names('where.colour[ne]=red&where.price[lt]=5&sort=created_at')).names, [
    'item 2',
  ]);
  assert.equal((await names(`author=${me}`)).total, 6);
  assert.equal((await names('key=item-3')).names[0], 'item 3');
});

test('bad input is answered with 4xx JSON and a stable code', async () => {
  const raw = async (method: string, path: string, body: string, type: string) => {
    const response = await fetch(`${gw.url}${path}`, {
      method,
      headers: { 'content-type': type, authorization: `Bearer ${apiKeyOf(gw.url)}` },
      body,
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  expectError(await raw('POST', notes, '{not json', 'application/json'), 'bad_json');
  expectError(await raw('POST', notes, '', 'application/json'), 'bad_json');
  expectError(await raw('POST', notes, 'data=1', 'text/plain'), 'unsupported_media_type');
  expectError(await request(gw.url, 'POST', notes, { data: { a: 1 }, extra: 1 }), 'bad_request');
  expectError(await request(gw.url, 'POST', notes, { data: [1, 2] }), 'bad_record');
  expectError(await request(gw.url, 'POST', notes, { data: 'text' }), 'bad_record');
  expectError(await request(gw.url, 'POST', notes, { key: 'a b', data: {} }), 'bad_record');
  expectError(
    await request(gw.url, 'POST', notes, { data: { big: 'x'.repeat(40_000) } }),
    'bad_record',
  );
  expectError(
    await request(gw.url, 'POST', '/api/spaces/me/collections/Bad!/records', { data: {} }),
    'bad_record',
  );
  expectError(await request(gw.url, 'GET', `${notes}?bogus=1`), 'bad_query');
  expectError(await request(gw.url, 'GET', `${notes}?limit=0`), 'bad_query');
  expectError(await request(gw.url, 'GET', `${notes}?sort=data.x%3Bdrop`), 'bad_query');
  expectError(await request(gw.url, 'GET', `${notes}?limit=1&limit=2`), 'bad_query');
  expectError(
    await request(gw.url, 'GET', '/api/spaces/0123456789abcdef0123456789abcdef'),
    'no_such_space',
  );
  expectError(await request(gw.url, 'GET', `${notes}/${'0'.repeat(32)}`), 'no_such_record');
  expectError(await request(gw.url, 'GET', '/api/nothing-here'), 'not_found');
  expectError(await request(gw.url, 'POST', '/api/invitations/abc/accept', {}), 'no_such_invite');
  expectError(
    await request(gw.url, 'POST', '/api/spaces/me/invites', {
      to: identityText(generateIdentity()),
    }),
    'bad_request',
  );
  expectError(await request(gw.url, 'POST', '/api/spaces', { name: '' }), 'bad_request');
  expectError(
    await request(gw.url, 'POST', '/api/identities', { key_file: { kind: 'nope' } }),
    'bad_key_file',
  );
  const space = await request(gw.url, 'POST', '/api/spaces', { name: 'club' });
  expectError(
    await request(gw.url, 'POST', `/api/spaces/${space.body.id as string}/invites`, {
      to: 'p2ptable1notanidentity',
    }),
    'bad_key',
  );
});

test('only this machine, under a loopback name, from its own origin', async () => {
  const path = '/api/spaces';
  expectError(await rawRequest(gw.url, path, { host: 'evil.example' }), 'forbidden');
  expectError(await rawRequest(gw.url, path, { host: 'rebound.example:5000' }), 'forbidden');
  expectError(await rawRequest(gw.url, path, { host: '127.0.0.1.nip.io' }), 'forbidden');
  const key = { authorization: `Bearer ${apiKeyOf(gw.url)}` };
  assert.equal((await rawRequest(gw.url, path, { host: 'localhost', ...key })).status, 200);
  // The key does not lift the browser checks: a page of another origin is refused with it too.
  expectError(
    await request(gw.url, 'GET', path, undefined, { origin: 'http://evil.example', ...key }),
    'forbidden',
  );
  expectError(
    await request(gw.url, 'GET', path, undefined, { origin: 'http://evil.example' }),
    'forbidden',
  );
  expectError(
    await request(gw.url, 'POST', '/api/spaces', { name: 'x' }, { origin: 'http://127.0.0.1:1' }),
    'forbidden',
  );
  expectError(
    await request(gw.url, 'GET', path, undefined, { 'sec-fetch-site': 'cross-site' }),
    'forbidden',
  );
  expectError(
    await request(gw.url, 'GET', path, undefined, { 'sec-fetch-site': 'same-site' }),
    'forbidden',
  );
  const localhost = gw.url.replace('127.0.0.1', 'localhost');
  assert.equal((await request(localhost, 'GET', path, undefined, key)).status, 200);
});

test('a client on another address is refused unless --allow-remote', async () => {
  const address = Object.values(networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
  const refused = await startTestGateway([node.url], { host: '0.0.0.0' });
  const allowed = await startTestGateway([node.url], { host: '0.0.0.0', allow_remote: true });
  if (address) {
    // A real connection from a non-loopback address of this machine.
    const from = { host: address, localAddress: address };
    const no = await rawRequest(refused.url, '/api/health', { host: address }, from);
    expectError(no, 'forbidden');
    assert.equal((await rawRequest(allowed.url, '/api', { host: address }, from)).status, 200);
    // Remote clients pass the guard with --allow-remote, but must sign in to act: the API key,
    // like key files, is taken over loopback only.
    expectError(await rawRequest(allowed.url, '/api/me', { host: address }, from), 'unauthorized');
    const key = { host: address, authorization: `Bearer ${allowed.gateway.apiKey.key}` };
    expectError(await rawRequest(allowed.url, '/api/health', key, from), 'unauthorized');
  } else {
    const no = await refused.app.inject({
      method: 'GET',
      url: '/api/health',
      remoteAddress: '192.0.2.7',
      headers: { host: '127.0.0.1' },
    });
    assert.equal(no.statusCode, 403);
  }
  // Key files never cross the network, whatever --allow-remote says.
  const register = await allowed.app.inject({
    method: 'POST',
    url: '/api/identities',
    remoteAddress: '192.0.2.7',
    headers: { host: '192.0.2.1', 'content-type': 'application/json' },
    payload: JSON.stringify({ key_file: JSON.parse(serializeIdentity(generateIdentity())) }),
  });
  assert.equal(register.statusCode, 403);
  await refused.close();
  await allowed.close();
});

test('a gateway holds a bounded number of identities', async () => {
  const small = await startTestGateway([node.url]);
  const register = (identity = generateIdentity()) =>
    request(small.url, 'POST', '/api/identities', {
      key_file: JSON.parse(serializeIdentity(identity)),
    });
  const first = generateIdentity();
  assert.equal((await register(first)).status, 201);
  // Its own identity and `first` are two of MAX_IDENTITIES.
  for (let i = 2; i < MAX_IDENTITIES; i += 1) assert.equal((await register()).status, 201);
  expectError(await register(), 'forbidden');
  // One it holds already is still answered, and still signs in.
  assert.equal((await register(first)).status, 200);
  await signIn(small.url, first, false);
  await small.close();
});

test('a flood of login challenges does not push out a user’s pending one', async () => {
  // A gateway of its own without the per-address rate limit, so that the flood reaches the
  // challenge mechanism whole (and leaves the shared gateway's window to the other tests).
  const flooded = await startTestGateway([node.url], { rate_limit: { enabled: false } });
  const user = generateIdentity();
  const registered = await request(flooded.url, 'POST', '/api/identities', {
    key_file: JSON.parse(serializeIdentity(user)),
  });
  assert.equal(registered.status, 201);
  const mine = (await request(flooded.url, 'POST', '/api/auth/challenge', {})).body
    .challenge as string;
  // 2,000 challenges as fast as this machine sends them, 50 at a time (Sessions holds the
  // mechanism's own test, with 30,000).
  const statuses = new Map<number, number>();
  for (let sent = 0; sent < 2_000; sent += 50) {
    const batch = await Promise.all(
      Array.from({ length: 50 }, () => request(flooded.url, 'POST', '/api/auth/challenge', {})),
    );
    for (const answer of batch) statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
  }
  assert.deepEqual([...statuses], [[200, 2_000]]);
  const origin = `http://${new URL(flooded.url).host}`;
  const signature = sign(loginMessage(origin, mine), user.signing).toString('hex');
  const login = await request(flooded.url, 'POST', '/api/auth/login', {
    identity: identityText(user),
    challenge: mine,
    signature,
  });
  assert.equal(login.status, 200, JSON.stringify(login.body));
  assert.equal(login.body.identity, identityText(user));
});

test('login by key: challenge, signature, session; browsers need one', async () => {
  // A browser request without a session is refused; a program acts as the gateway's identity.
  expectError(await request(gw.url, 'GET', '/api/me', undefined, browser()), 'unauthorized');
  assert.equal((await request(gw.url, 'GET', '/api/me')).body.identity, me);
  assert.deepEqual((await request(gw.url, 'GET', '/api/auth/session')).body, { signed_in: false });

  const session = await signIn(gw.url);
  const who = await request(gw.url, 'GET', '/api/me', undefined, browser(session.cookie));
  assert.equal(who.body.identity, identityText(session.identity));
  assert.equal(who.body.gateway_identity, false);
  const state = await request(
    gw.url,
    'GET',
    '/api/auth/session',
    undefined,
    browser(session.cookie),
  );
  assert.equal(state.body.signed_in, true);

  // A challenge works once.
  expectError(
    await request(gw.url, 'POST', '/api/auth/login', {
      identity: identityText(session.identity),
      challenge: session.challenge,
      signature: session.signature,
    }),
    'unauthorized',
  );
  // A signature for another origin does not verify.
  const { body } = await request(gw.url, 'POST', '/api/auth/challenge', {});
  const wrongOrigin = sign(
    loginMessage('http://localhost:1', body.challenge as string),
    session.identity.signing,
  ).toString('hex');
  expectError(
    await request(gw.url, 'POST', '/api/auth/login', {
      identity: identityText(session.identity),
      challenge: body.challenge,
      signature: wrongOrigin,
    }),
    'unauthorized',
  );
  // An identity the gateway does not hold cannot sign in (its key never reached the gateway).
  const stranger = generateIdentity();
  const second = await request(gw.url, 'POST', '/api/auth/challenge', {});
  const origin = `http://${new URL(gw.url).host}`;
  expectError(
    await request(gw.url, 'POST', '/api/auth/login', {
      identity: identityText(stranger),
      challenge: second.body.challenge,
      signature: sign(
        loginMessage(origin, second.body.challenge as string),
        stranger.signing,
      ).toString('hex'),
    }),
    'unknown_identity',
  );

  // Records written in the session are the session identity's.
  const mine = await request(
    gw.url,
    'POST',
    notes,
    { data: { by: 'session' } },
    browser(session.cookie),
  );
  assert.equal(mine.body.author, identityText(session.identity));
  const logout = await request(gw.url, 'POST', '/api/auth/logout', {}, browser(session.cookie));
  assert.match(logout.headers.get('set-cookie') ?? '', /Max-Age=0/);
  expectError(
    await request(gw.url, 'GET', '/api/me', undefined, browser(session.cookie)),
    'unauthorized',
  );
});

test('private spaces: invitations between gateways, authorship, and outsiders locked out', async () => {
  const other = await startTestGateway([node.url]);
  const space = await request(gw.url, 'POST', '/api/spaces', { name: 'Book club', meta: { k: 1 } });
  assert.equal(space.status, 201);
  const spaceId = space.body.id as string;
  const records = `/api/spaces/${spaceId}/collections/books/records`;
  const secret = 'The plaintext title nobody else may read';
  const book = await request(gw.url, 'POST', records, { data: { title: secret } });
  assert.equal(book.status, 201);

  // The other gateway knows nothing of the space until invited.
  expectError(await request(other.url, 'GET', `/api/spaces/${spaceId}`), 'no_such_space');
  const invite = await request(gw.url, 'POST', `/api/spaces/${spaceId}/invites`, {
    to: identityText(other.identity),
  });
  assert.equal(invite.status, 201, JSON.stringify(invite.body));
  const invitation = await eventually('the invitation to arrive', async () => {
    await request(other.url, 'POST', '/api/refresh', {});
    const list = await request(other.url, 'GET', '/api/invitations');
    return (list.body.invitations as { id: string; name: string; from: string }[])[0];
  });
  assert.equal(invitation.name, 'Book club');
  assert.equal(invitation.from, me);
  const joined = await request(other.url, 'POST', `/api/invitations/${invitation.id}/accept`, {});
  assert.equal(joined.body.id, spaceId);
  assert.deepEqual(joined.body.meta, { k: 1 });
  const seen = await eventually('the book to reach the invitee', async () => {
    await request(other.url, 'POST', '/api/refresh', {});
    const list = await request(other.url, 'GET', records);
    return (list.body.records as { data: { title: string } }[])[0];
  });
  assert.equal(seen.data.title, secret);

  // Members may add records, but not change someone else's.
  expectError(
    await request(other.url, 'PUT', `${records}/${book.body.id as string}`, {
      data: { title: 'x' },
    }),
    'not_author',
  );
  expectError(
    await request(other.url, 'DELETE', `${records}/${book.body.id as string}`),
    'not_author',
  );
  const reply = await request(other.url, 'POST', records, { data: { title: 'from the invitee' } });
  assert.equal(reply.status, 201);
  await eventually('the invitee’s record to come back', async () => {
    await request(gw.url, 'POST', '/api/refresh', {});
    const list = await request(gw.url, 'GET', `${records}?where.title=from the invitee`);
    return list.body.total === 1;
  });

  // An outsider reading the node directly can verify the entries but open none of them.
  const outsider = generateIdentity();
  const client = new Client({ nodes: [node.url] });
  // Adding the member started a new epoch: the book is in the first table, the reply in the new.
  const now = await request(gw.url, 'GET', `/api/spaces/${spaceId}`);
  const tables = [space.body.table as string, now.body.table as string];
  assert.notEqual(tables[0], tables[1]);
  const all = await client.get({ tables });
  assert.ok(all.entries.length >= 2);
  const opened = await client.read(outsider, {
    tables,
    recipients: [outsider.box.publicKey],
  });
  assert.equal(opened.entries.length, 0);
  for (const entry of all.entries) {
    assert.ok(!entry.bytes.toString('latin1').includes('plaintext title'));
  }
  // The node stores ciphertext only.
  const raw = await fetch(`${node.url}/get?table=${tables[1]}&format=json`);
  assert.ok(!(await raw.text()).includes('plaintext title'));
});

test('an invitation between two identities of one gateway arrives at once', async () => {
  const lena = await signIn(gw.url);
  const bob = await signIn(gw.url);
  const space = await request(
    gw.url,
    'POST',
    '/api/spaces',
    { name: 'Lena and Bob' },
    browser(lena.cookie),
  );
  assert.equal(space.status, 201);
  const invited = await request(
    gw.url,
    'POST',
    `/api/spaces/${space.body.id as string}/invites`,
    { to: identityText(bob.identity) },
    browser(lena.cookie),
  );
  assert.equal(invited.status, 201, JSON.stringify(invited.body));
  // No poll in between: the gateway delivered its own entry to its other identity.
  const list = await request(gw.url, 'GET', '/api/invitations', undefined, browser(bob.cookie));
  const invitations = list.body.invitations as { id: string; from: string; space: string }[];
  assert.equal(invitations.length, 1);
  assert.equal(invitations[0]!.from, identityText(lena.identity));
  assert.equal(invitations[0]!.space, space.body.id);
  // Nobody else on the gateway sees it; Bob joins and the space is his too.
  const mine = await request(gw.url, 'GET', '/api/invitations');
  assert.ok(!(mine.body.invitations as { id: string }[]).some((i) => i.id === invitations[0]!.id));
  const joined = await request(
    gw.url,
    'POST',
    `/api/invitations/${invitations[0]!.id}/accept`,
    {},
    browser(bob.cookie),
  );
  assert.equal(joined.status, 200, JSON.stringify(joined.body));
  const note = await request(
    gw.url,
    'POST',
    `/api/spaces/${space.body.id as string}/collections/notes/records`,
    { data: { from: 'bob' } },
    browser(bob.cookie),
  );
  assert.equal(note.status, 201);
  const seen = await request(
    gw.url,
    'GET',
    `/api/spaces/${space.body.id as string}/collections/notes/records`,
    undefined,
    browser(lena.cookie),
  );
  assert.deepEqual(
    (seen.body.records as { data: unknown }[]).map((r) => r.data),
    [{ from: 'bob' }],
  );
});

test('a fresh gateway with the same key rebuilds its index from the nodes', async () => {
  const key = await newKeyFile();
  const diary = '/api/spaces/me/collections/diary/records';
  const first = await startTestGateway([node.url], { key_file: key.path });
  for (const day of [1, 2, 3]) {
    assert.equal((await request(first.url, 'POST', diary, { data: { day } })).status, 201);
  }
  const gone = (await request(first.url, 'GET', diary)).body.records as { id: string }[];
  await request(first.url, 'DELETE', `${diary}/${gone.find(() => true)!.id}`);
  await first.close();
  const second = await startTestGateway([node.url], { key_file: key.path });
  const days = await eventually('the diary to be read back', async () => {
    const list = await request(second.url, 'GET', `${diary}?sort=data.day`);
    return list.body.total === 2 ? (list.body.records as { data: { day: number } }[]) : undefined;
  });
  assert.deepEqual(
    days.map((r) => r.data.day),
    [1, 2, 3].filter((d) => d !== (gone[0] as unknown as { data: { day: number } }).data?.day),
  );
});

test('secrets and plaintext stay owner-only on disk', async () => {
  const mode = (path: string) => statSync(path).mode & 0o777;
  assert.equal(mode(gw.dataDir), 0o700);
  assert.equal(mode(join(gw.dataDir, 'keys')), 0o700);
  for (const dir of ['identities', 'spaces']) {
    assert.equal(mode(join(gw.dataDir, 'keys', dir)), 0o700);
    for (const file of readdirSync(join(gw.dataDir, 'keys', dir))) {
      assert.equal(mode(join(gw.dataDir, 'keys', dir, file)), 0o600, file);
    }
  }
  assert.ok(readdirSync(join(gw.dataDir, 'keys', 'identities')).length >= 1);
  // Group keys live in the index, which is owner-only too (below).
  await request(gw.url, 'POST', '/api/refresh', {});
  for (const file of readdirSync(gw.dataDir).filter((f) => f.startsWith('index.sqlite'))) {
    assert.equal(mode(join(gw.dataDir, file)), 0o600, file);
  }
});
