/**
 * Programs prove they are the gateway's owner with its API key. Real processes: a node, a
 * `p2pcloud app forum` (the gateway's routes and the forum's) and a `p2pcloud gateway`, over
 * real HTTP on 127.0.0.1. Without the key (and without a session), every route that reads or
 * writes anything answers 401 unauthorized naming the key file, whatever browser headers a
 * program forges; a wrong key is refused the same way; the right key works; the key file is
 * 0600 in a 0700 directory and survives a restart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  eventually,
  newKeyFile,
  request,
  spawnForum,
  spawnGateway,
  startTestGateway,
} from '../helpers/gateways.js';
import { spawnNode } from '../helpers/nodes.js';
import { cliPath } from '../helpers/paths.js';
import { tempDir } from '../helpers/tmp.js';

const node = await spawnNode(['--min-pow', '8', '--log-level', 'warn']);
const forumData = join(tempDir(), 'forum');
const forum = await spawnForum(node.url, forumData, ['--log-level', 'warn']);
const key = readFileSync(join(forumData, 'api-key'), 'utf8').trim();
const notes = '/api/spaces/me/collections/notes/records';
const someId = '0123456789abcdef0123456789abcdef';

/** Every route family that reads or writes something, with a body where it takes one. */
function routes(community: string, record: string): [string, string, unknown?][] {
  return [
    ['GET', '/api/health'],
    ['POST', '/api/refresh', {}],
    ['GET', '/api/me'],
    ['GET', '/api/spaces'],
    ['POST', '/api/spaces', { name: 'club' }],
    ['GET', '/api/spaces/me'],
    ['POST', '/api/spaces/me/invites', { to: 'p2pid1x' }],
    ['GET', '/api/invitations'],
    ['POST', `/api/invitations/${someId}/accept`, {}],
    ['POST', `/api/invitations/${someId}/decline`, {}],
    ['GET', notes],
    ['POST', notes, { data: { title: 'intruder' } }],
    ['GET', `${notes}/${record}`],
    ['PUT', `${notes}/${record}`, { data: { title: 'rewritten' } }],
    ['DELETE', `${notes}/${record}`],
    ['GET', '/forum/api/me'],
    ['PUT', '/forum/api/me', { name: 'intruder' }],
    ['GET', '/forum/api/communities'],
    ['POST', '/forum/api/communities', { slug: 'intruders', name: 'Intruders' }],
    ['GET', `/forum/api/c/${community}`],
    ['GET', `/forum/api/c/${community}/posts`],
    ['POST', `/forum/api/c/${community}/posts`, { title: 'intruder', body: 'x' }],
    ['GET', `/forum/api/c/${community}/posts/${someId}`],
    ['DELETE', `/forum/api/c/${community}/posts/${someId}`],
    ['POST', `/forum/api/c/${community}/posts/${someId}/comments`, { body: 'x', parent: null }],
    ['DELETE', `/forum/api/c/${community}/comments/${someId}`],
    ['POST', `/forum/api/c/${community}/votes`, { item: someId, value: 1 }],
    ['POST', `/forum/api/c/${community}/fork`, {}],
    ['POST', `/forum/api/c/${community}/invites`, { to: 'p2pid1x' }],
    ['GET', '/forum/api/invitations'],
    ['POST', `/forum/api/invitations/${someId}/accept`, {}],
    ['POST', `/forum/api/invitations/${someId}/decline`, {}],
  ];
}

test('without the API key no route reads or writes anything', async () => {
  const own = await request(forum.url, 'POST', notes, { key: 'private', data: { secret: 42 } });
  assert.equal(own.status, 201, JSON.stringify(own.body));
  const communities = await request(forum.url, 'GET', '/forum/api/communities');
  const general = (communities.body.communities as { slug: string; space: string }[]).find(
    (c) => c.slug === 'general',
  )!.space;
  const origin = forum.url;
  const other = randomBytes(32).toString('base64url');
  const intruders: [string, Record<string, string>][] = [
    ['no key', { authorization: '' }],
    // Any program can send the headers a browser sends: they prove nothing.
    ['forged browser headers', { origin, 'sec-fetch-site': 'same-origin' }],
    ['a made-up key', { authorization: `Bearer ${other}` }],
    ['the key in the wrong scheme', { authorization: `Basic ${key}` }],
    ['a prefix of the key', { authorization: `Bearer ${key.slice(0, 42)}` }],
  ];
  for (const [what, headers] of intruders) {
    for (const [method, path, body] of routes(general, own.body.id as string)) {
      const answer = await request(forum.url, method, path, body, headers);
      const error = answer.body.error as { code?: string; message?: string } | undefined;
      assert.equal(answer.status, 401, `${what}: ${method} ${path} ${JSON.stringify(answer.body)}`);
      assert.equal(error?.code, 'unauthorized');
      assert.ok(error.message!.includes(join(forumData, 'api-key')), error.message);
    }
  }
  // Nothing was written: the record is as it was, and no intruder post or space exists.
  const read = await request(forum.url, 'GET', `${notes}/${own.body.id as string}`);
  assert.deepEqual(read.body.data, { secret: 42 });
  assert.equal((await request(forum.url, 'GET', notes)).body.total, 1);
  const spaces = (await request(forum.url, 'GET', '/api/spaces')).body.spaces as { kind: string }[];
  assert.ok(spaces.length > 0);
  assert.deepEqual(
    spaces.filter((s) => s.kind === 'private'),
    [],
  );
  const posts = await request(forum.url, 'GET', `/forum/api/c/${general}/posts`);
  assert.equal(posts.body.total, 0);

  // Signing in stays open: that is how browsers (and other identities) get a session.
  const challenge = await request(forum.url, 'POST', '/api/auth/challenge', {}, intruders[0]![1]);
  assert.equal(challenge.status, 200);
  const page = await fetch(`${forum.url}/`);
  assert.equal(page.status, 200);
});

test('with the API key every route acts as the gateway’s identity', async () => {
  const health = await request(forum.url, 'GET', '/api/health');
  assert.equal(health.status, 200);
  assert.equal(health.body.identity, forum.identity);
  const created = await request(forum.url, 'POST', notes, { data: { title: 'mine' } });
  assert.equal(created.status, 201);
  assert.equal(created.body.author, forum.identity);
  const communities = await request(forum.url, 'GET', '/forum/api/communities');
  const general = (communities.body.communities as { slug: string; space: string }[]).find(
    (c) => c.slug === 'general',
  )!.space;
  for (const [method, path, body] of routes(general, created.body.id as string)) {
    const answer = await request(forum.url, method, path, body);
    assert.ok(
      answer.status < 500 && answer.status !== 401 && answer.status !== 403,
      `${method} ${path}: ${answer.status} ${JSON.stringify(answer.body)}`,
    );
  }
  // Spelled with another case and spacing, the scheme still names the same key.
  const lower = await request(forum.url, 'GET', '/api/me', undefined, {
    authorization: `bearer  ${key}`,
  });
  assert.equal(lower.body.identity, forum.identity);
});

test('the key file is 0600 in a 0700 directory, printed at start and kept across restarts', async () => {
  assert.equal(forum.apiKeyFile, join(forumData, 'api-key'));
  assert.equal(statSync(forum.apiKeyFile).mode & 0o777, 0o600);
  assert.equal(statSync(forumData).mode & 0o777, 0o700);
  assert.match(key, /^[A-Za-z0-9_-]{43}$/);

  const data = join(tempDir(), 'gateway');
  const { path } = await newKeyFile();
  const args = ['gateway', '--key', path, '--node', node.url, '--port', '0', '--data', data];
  const first = await spawnGateway([...args, '--log-level', 'warn']);
  const firstKey = readFileSync(join(data, 'api-key'), 'utf8').trim();
  assert.notEqual(firstKey, key, 'each gateway draws its own key');
  // The other gateway's key is a wrong key here.
  const foreign = await request(first.url, 'GET', '/api/me', undefined, {
    authorization: `Bearer ${key}`,
  });
  assert.equal(foreign.status, 401);
  assert.equal((await request(first.url, 'GET', '/api/me')).body.identity, first.identity);
  assert.equal(await first.stop(), 0);

  const second = await spawnGateway([...args, '--log-level', 'warn']);
  assert.equal(readFileSync(join(data, 'api-key'), 'utf8').trim(), firstKey);
  const again = await request(second.url, 'GET', '/api/me', undefined, {
    authorization: `Bearer ${firstKey}`,
  });
  assert.equal(again.body.identity, second.identity);
  await eventually('the second gateway to poll', async () => {
    const health = await request(second.url, 'GET', '/api/health');
    return (health.body.poll as { rounds: number }).rounds > 0;
  });
  assert.equal(await second.stop(), 0);
});

test('a gateway refuses to start with a damaged key file, saying which file', async () => {
  const data = join(tempDir(), 'gateway');
  const { path } = await newKeyFile();
  mkdirSync(data, { mode: 0o700 });
  writeFileSync(join(data, 'api-key'), 'short\n', { mode: 0o600 });
  const result = spawnSync(
    process.execPath,
    [cliPath, 'gateway', '--key', path, '--node', node.url, '--port', '0', '--data', data],
    { encoding: 'utf8', timeout: 30_000 },
  );
  assert.notEqual(result.status, 0);
  assert.match(result.stderr, /^p2pcloud: .*api-key does not hold an API key/);
  assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
});

test('a key file restored with a loose mode is made owner-only again, and kept', async () => {
  const data = join(tempDir(), 'gateway');
  mkdirSync(data, { mode: 0o700 });
  const restored = randomBytes(32).toString('base64url');
  writeFileSync(join(data, 'api-key'), `${restored}\n`, { mode: 0o644 });
  chmodSync(join(data, 'api-key'), 0o644);
  const gateway = await startTestGateway([node.url], { data_dir: data });
  assert.equal(statSync(join(data, 'api-key')).mode & 0o777, 0o600);
  assert.equal(gateway.gateway.apiKey.key, restored);
  const me = await request(gateway.url, 'GET', '/api/me', undefined, {
    authorization: `Bearer ${restored}`,
  });
  assert.equal(me.status, 200);
  await gateway.close();
});
