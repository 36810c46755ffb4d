/**
 * Errors raised below the routes of a real gateway process (here the forum, a gateway with an
 * app mounted): Node's HTTP parser and server (malformed request lines, a header section over
 * the limit, a missing Host, CONNECT) and fastify (unknown routes and methods, content type,
 * JSON, nesting, body size) answer in the documented { error: { code, message } } shape.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { MAX_HEAD_BYTES, MAX_JSON_DEPTH } from '../../src/http/fastify-errors.js';
import { buildGatewayApp } from '../../src/gateway/app.js';
import { apiKeyOf, request, spawnForum, startTestGateway } from '../helpers/gateways.js';
import { deadUrl } from '../helpers/http.js';
import { assertErrorShape, raw } from '../helpers/raw-http.js';
import { tempDir } from '../helpers/tmp.js';

const forum = await spawnForum(await deadUrl(), join(tempDir(), 'forum'), ['--log-level', 'warn']);
after(() => forum.stop());
const host = `Host: ${new URL(forum.url).host}\r\n`;
const close = 'Connection: close\r\n';
const auth = `Authorization: Bearer ${apiKeyOf(forum.url)}\r\n`;

describe('errors of the gateway HTTP layer have the documented shape', () => {
  test('malformed requests → 400 bad_request from the parser, and the connection closes', async () => {
    for (const text of [
      'GARBAGE\r\n\r\n',
      `FOO /api HTTP/1.1\r\n${host}\r\n`,
      `GET /api HTTP/9.9\r\n${host}\r\n`,
      `GET /api HTTP/1.1\r\n${host}Bad Header: 1\r\n\r\n`,
      `POST /api/spaces HTTP/1.1\r\n${host}${auth}Content-Length: abc\r\n\r\n`,
      `POST /api/spaces HTTP/1.1\r\n${host}${auth}Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      `POST /api/spaces HTTP/1.1\r\n${host}${auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n`,
      'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
    ]) {
      const response = await raw(forum.url, text);
      assertErrorShape(response, 'bad_request');
      assert.equal(response.headers.get('connection'), 'close');
    }
  });

  test('a head up to the limit is read; past it → 431 headers_too_large', async () => {
    const head = (fill: number): string =>
      `GET /api HTTP/1.1\r\n${host}${close}X-Fill: ${'a'.repeat(fill)}\r\n\r\n`;
    const fits = await raw(forum.url, head(MAX_HEAD_BYTES - 1024));
    assert.equal(fits.status, 200, fits.body);
    assertErrorShape(await raw(forum.url, head(MAX_HEAD_BYTES + 1)), 'headers_too_large');
    assertErrorShape(
      await raw(forum.url, `GET /api?x=${'a'.repeat(MAX_HEAD_BYTES)} HTTP/1.1\r\n${host}\r\n`),
      'headers_too_large',
    );
  });

  test('HTTP/1.1 without Host → 400 bad_request; HTTP/1.0 without Host is not a local name', async () => {
    assertErrorShape(await raw(forum.url, `GET /api HTTP/1.1\r\n${close}\r\n`), 'bad_request');
    assertErrorShape(await raw(forum.url, 'GET /api HTTP/1.0\r\n\r\n'), 'forbidden');
    const old = await raw(forum.url, `GET /api HTTP/1.0\r\n${host}\r\n`);
    assert.equal(old.status, 200, old.body);
  });

  test('CONNECT, other methods and unknown paths of the gateway and the app → 404 not_found', async () => {
    assertErrorShape(
      await raw(forum.url, `CONNECT 127.0.0.1:80 HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n`),
      'not_found',
    );
    for (const [method, path] of [
      ['DELETE', '/api'],
      ['PUT', '/api/health'],
      ['OPTIONS', '/api/spaces'],
      ['PROPFIND', '/api/spaces'],
      ['TRACE', '/'],
      ['POST', '/index.html'],
      ['GET', '/nothing.html'],
      ['GET', '/api/nothing'],
      ['GET', '/forum/api/nothing'],
      ['PATCH', '/forum/api/communities'],
      ['GET', '/forum/api/c/x/nothing'],
    ]) {
      const response = await raw(
        forum.url,
        `${method} ${path} HTTP/1.1\r\n${host}${close}${auth}Content-Length: 0\r\n\r\n`,
      );
      assertErrorShape(response, 'not_found');
    }
  });

  test('content type, JSON, nesting and body size errors → 415, 400 bad_json, 413', async () => {
    const post = (path: string, type: string | undefined, body: string, length?: number) =>
      raw(
        forum.url,
        `POST ${path} HTTP/1.1\r\n${host}${close}${auth}` +
          (type ? `Content-Type: ${type}\r\n` : '') +
          `Content-Length: ${length ?? Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
    for (const path of ['/api/spaces', '/forum/api/communities']) {
      assertErrorShape(await post(path, 'text/plain', '{}'), 'unsupported_media_type');
      assertErrorShape(await post(path, undefined, '{}'), 'unsupported_media_type');
      assertErrorShape(await post(path, 'application/json', '{"name":'), 'bad_json');
      assertErrorShape(await post(path, 'application/json', ''), 'bad_json');
      const deep = `${'['.repeat(MAX_JSON_DEPTH + 1)}${']'.repeat(MAX_JSON_DEPTH + 1)}`;
      assertErrorShape(await post(path, 'application/json', deep), 'bad_json');
      assertErrorShape(
        await post(path, 'application/json', JSON.stringify({ name: 'x'.repeat(300_000) })),
        'body_too_large',
      );
      assertErrorShape(await post(path, 'application/json', '', 1 << 30), 'body_too_large');
    }
  });
});

test('API routes that read no query parameters refuse them with 400 bad_query', async () => {
  const me = await request(forum.url, 'GET', '/api/me');
  const space = me.body.personal_space as string;
  for (const path of [
    '/api?x=1',
    '/api/health?verbose=1',
    '/api/me?x',
    '/api/spaces?limit=10',
    '/api/invitations?x=1&y=2',
    '/forum/api/me?x=1',
    '/forum/api/communities?limit=1',
    '/forum/api/invitations?sort=top',
  ]) {
    const response = await request(forum.url, 'GET', path);
    assert.equal(response.status, 400, `${path}: ${JSON.stringify(response.body)}`);
    assert.equal((response.body.error as { code: string }).code, 'bad_query', path);
  }
  // Routes that read parameters take the ones they know and refuse the others themselves.
  const listed = await request(
    forum.url,
    'GET',
    `/api/spaces/${space}/collections/c/records?limit=5`,
  );
  assert.equal(listed.status, 200, JSON.stringify(listed.body));
  const typo = await request(forum.url, 'GET', `/api/spaces/${space}/collections/c/records?limt=5`);
  assert.equal((typo.body.error as { code: string }).code, 'bad_query');
  const communities = await request(forum.url, 'GET', '/forum/api/communities');
  const general = (communities.body.communities as { space: string; slug: string }[]).find(
    (c) => c.slug === 'general',
  )!;
  const posts = await request(
    forum.url,
    'GET',
    `/forum/api/c/${general.space}/posts?sort=top&limit=5`,
  );
  assert.equal(posts.status, 200, JSON.stringify(posts.body));
  // Without the API key a query changes nothing: still 401; pages and unknown paths as before.
  const anonymous = await request(forum.url, 'GET', '/api/spaces?x=1', undefined, {
    authorization: '',
  });
  assert.equal(anonymous.status, 401);
  assert.equal((await request(forum.url, 'GET', '/?from=link')).status, 200);
  const unknown = await request(forum.url, 'GET', '/api/nothing?x=1');
  assert.equal((unknown.body.error as { code: string }).code, 'not_found');
  // An empty query string is no parameter.
  assert.equal((await request(forum.url, 'GET', '/api/spaces?')).status, 200);
});

test('the gateway allows a request an hour to arrive (a file upload streams through one), and its head 60 s, as a node does', async () => {
  // The 408 answer itself is shown by the node's HTTP layer test with a short timeout: the
  // gateway's server takes the same options.
  const running = await startTestGateway([await deadUrl()]);
  const app = await buildGatewayApp(running.gateway);
  assert.equal(app.server.requestTimeout, 3_600_000);
  assert.equal(app.server.headersTimeout, 60_000);
  await app.close();
});
