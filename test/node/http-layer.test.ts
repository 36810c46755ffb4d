/**
 * Errors raised below the routes, by Node's HTTP parser and server (malformed request lines, a
 * header section over the limit, a missing Host, CONNECT, a request that never finishes) and by
 * fastify (wrong method, unknown route, content type, JSON, body size), over raw sockets to a
 * real node: every one leaves as { error: { code, message } } with the status of its code.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { ENTRIES_MEDIA_TYPE } from '../../src/entry/framing.js';
import { MAX_HEAD_BYTES, httpLayerOptions } from '../../src/http/fastify-errors.js';
import { SyncPlugin } from '../../src/sync/plugin.js';
import { SYNC_MEDIA_TYPE } from '../../src/sync/wire.js';
import { startTestNode } from '../helpers/nodes.js';
import { assertErrorShape, raw } from '../helpers/raw-http.js';

const close = 'Connection: close\r\n';

describe('errors of the HTTP layer have the documented shape', () => {
  test('malformed requests → 400 bad_request from the parser, and the connection closes', async () => {
    const node = await startTestNode();
    const cases = [
      'GARBAGE\r\n\r\n',
      'FOO /get HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /health HTTP/9.9\r\nHost: x\r\n\r\n',
      'GET /health HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n',
      'POST /put HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n',
      'POST /put HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      'POST /put HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
    ];
    for (const text of cases) {
      const response = await raw(node.url, text);
      assertErrorShape(response, 'bad_request');
      assert.equal(response.headers.get('connection'), 'close');
    }
  });

  test('a request line and headers up to the limit are read; past it → 431 headers_too_large', async () => {
    const node = await startTestNode();
    const head = (fill: number): string =>
      `GET /health HTTP/1.1\r\nHost: x\r\n${close}X-Fill: ${'a'.repeat(fill)}\r\n\r\n`;
    // The limit counts the header section as Node's parser does; leave 1 KiB for its counting.
    const fits = await raw(node.url, head(MAX_HEAD_BYTES - 1024));
    assert.equal(fits.status, 200, fits.body);
    const over = await raw(node.url, head(MAX_HEAD_BYTES + 1));
    assertErrorShape(over, 'headers_too_large');
    const longUrl = await raw(
      node.url,
      `GET /get?id=${'a'.repeat(MAX_HEAD_BYTES)} HTTP/1.1\r\nHost: x\r\n\r\n`,
    );
    assertErrorShape(longUrl, 'headers_too_large');
  });

  test('HTTP/1.1 without Host → 400 bad_request; HTTP/1.0 needs none', async () => {
    const node = await startTestNode();
    assertErrorShape(await raw(node.url, `GET /health HTTP/1.1\r\n${close}\r\n`), 'bad_request');
    const old = await raw(node.url, 'GET /health HTTP/1.0\r\n\r\n');
    assert.equal(old.status, 200, old.body);
  });

  test('CONNECT, other methods and unknown paths → 404 not_found', async () => {
    const node = await startTestNode();
    assertErrorShape(
      await raw(node.url, 'CONNECT 127.0.0.1:80 HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n'),
      'not_found',
    );
    for (const [method, path] of [
      ['PUT', '/put'],
      ['GET', '/put'],
      ['DELETE', '/get'],
      ['OPTIONS', '/get'],
      ['PROPFIND', '/index'],
      ['TRACE', '/health'],
      ['POST', '/get'],
      ['GET', '/nothing'],
      ['GET', '/get/'],
    ]) {
      const response = await raw(
        node.url,
        `${method} ${path} HTTP/1.1\r\nHost: x\r\n${close}Content-Length: 0\r\n\r\n`,
      );
      assertErrorShape(response, 'not_found');
    }
  });

  test('an Expect other than 100-continue is served as if it were absent', async () => {
    const node = await startTestNode();
    const response = await raw(
      node.url,
      `GET /health HTTP/1.1\r\nHost: x\r\n${close}Expect: something-else\r\n\r\n`,
    );
    assert.equal(response.status, 200, response.body);
    assert.equal((JSON.parse(response.body) as { status: string }).status, 'ok');
  });

  test('content type, JSON and body size errors → 415, 400 bad_json, 413', async () => {
    const node = await startTestNode({ max_body_bytes: 4096 });
    const post = (type: string | undefined, body: string, length = Buffer.byteLength(body)) =>
      raw(
        node.url,
        `POST /put HTTP/1.1\r\nHost: x\r\n${close}` +
          (type ? `Content-Type: ${type}\r\n` : '') +
          `Content-Length: ${length}\r\n\r\n${body}`,
      );
    assertErrorShape(await post('text/plain', '{}'), 'unsupported_media_type');
    assertErrorShape(await post(undefined, '{}'), 'unsupported_media_type');
    assertErrorShape(await post('application/json', '{"entry":'), 'bad_json');
    assertErrorShape(await post('application/json', ''), 'bad_json');
    assertErrorShape(await post('application/json', 'x'.repeat(4097)), 'body_too_large');
    assertErrorShape(await post('application/json', '', 1 << 30), 'body_too_large');
  });

  test('a media type the node parses but the route does not take → 415', async () => {
    const node = await startTestNode({}, [new SyncPlugin()]);
    const post = (path: string, type: string, body: string) =>
      raw(
        node.url,
        `POST ${path} HTTP/1.1\r\nHost: x\r\n${close}Content-Type: ${type}\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
    assertErrorShape(await post('/put', SYNC_MEDIA_TYPE, '{}'), 'unsupported_media_type');
    assertErrorShape(await post('/hello', ENTRIES_MEDIA_TYPE, '{}'), 'unsupported_media_type');
    assertErrorShape(
      await post('/index', 'application/octet-stream', '{}'),
      'unsupported_media_type',
    );
    for (const path of ['/sync/reconcile', '/sync/symbols', '/sync/ids', '/sync/fetch']) {
      assertErrorShape(await post(path, ENTRIES_MEDIA_TYPE, 'abcd'), 'unsupported_media_type');
    }
    const hello = await post('/hello', 'Application/JSON; charset=utf-8', '{}');
    assert.equal(hello.status, 200, hello.body);
  });

  test('a request that does not arrive in time → 408 request_timeout', async () => {
    // The node allows two minutes; a server with the same HTTP layer options and a short
    // timeout shows what a client that stalls gets.
    const options = httpLayerOptions(500);
    const app = Fastify({
      ...options,
      http: { ...options.http, connectionsCheckingInterval: 100 },
    });
    app.get('/', async () => ({ ok: true }));
    app.post('/', async () => ({ ok: true }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const address = app.server.address();
      const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
      // Headers that never end, and a body that stops short of its Content-Length.
      for (const stalled of [
        'GET / HTTP/1.1\r\nHost: x\r\n',
        'POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n{"',
      ]) {
        const started = Date.now();
        const response = await raw(base, stalled);
        assertErrorShape(response, 'request_timeout');
        assert.ok(Date.now() - started >= 400, 'answered before the timeout');
      }
    } finally {
      await app.close();
    }
  });
});
