/**
 * The tunnel routes of a gateway whose only node answers nothing (no relay anywhere): what they
 * refuse and how, a connected tunnel that fails each local connection with a readable event
 * and closes it, and list and close.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer } from 'node:net';
import { test } from 'node:test';
import { deadUrl } from '../helpers/http.js';
import { request, startTestGateway } from '../helpers/gateways.js';

function codeOf(answer: { body: Record<string, unknown> }): string {
  return (answer.body.error as { code: string }).code;
}

test('tunnel routes refuse bad requests with codes that name what was wrong', async () => {
  const gateway = await startTestGateway([await deadUrl()]);
  const cases: [string, Record<string, unknown>, number, string, RegExp][] = [
    ['expose', { name: 'a b', port: 80 }, 400, 'bad_tunnel', /tunnel name/],
    ['expose', { name: 'web', port: 0 }, 400, 'bad_request', /port/],
    [
      'expose',
      { name: 'web', port: 80, allow: ['nobody'] },
      400,
      'bad_tunnel',
      /allow: .* identity text/,
    ],
    [
      'expose',
      { name: 'web', port: 80, allow: ['0'.repeat(32)] },
      400,
      'bad_tunnel',
      /not in group/,
    ],
    ['expose', { name: 'web', port: 80, advertise: 'nowhere' }, 400, 'bad_tunnel', /advertise/],
    ['expose', { name: 'web', port: 80, extra: 1 }, 400, 'bad_request', /extra/],
    ['expose', { name: 'web', port: 80 }, 502, 'tunnel_unreachable', /no relay answered/],
    ['connect', { name: 'web', port: 0, person: 'p2pid1x' }, 400, 'bad_tunnel', /person/],
  ];
  for (const [route, body, status, code, message] of cases) {
    const answer = await request(gateway.url, 'POST', `/api/tunnels/${route}`, body);
    assert.equal(
      answer.status,
      status,
      `${route} ${JSON.stringify(body)}: ${JSON.stringify(answer.body)}`,
    );
    assert.equal(codeOf(answer), code);
    assert.match((answer.body.error as { message: string }).message, message);
  }
  // Nothing half-made was left behind by the refusals.
  assert.deepEqual((await request(gateway.url, 'GET', '/api/tunnels')).body, { tunnels: [] });
  const anonymous = await request(gateway.url, 'GET', '/api/tunnels', undefined, {
    authorization: '',
  });
  assert.equal(anonymous.status, 401);
  assert.equal((await request(gateway.url, 'DELETE', '/api/tunnels/0123')).status, 404);
});

test('a connected tunnel with no relay closes each local connection and says why', async () => {
  const gateway = await startTestGateway([await deadUrl()]);
  const made = await request(gateway.url, 'POST', '/api/tunnels/connect', { name: 'nas', port: 0 });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const { id, port } = made.body as { id: string; port: number };
  assert.ok(port > 0);

  // The port is taken now: a second tunnel on it is refused.
  const again = await request(gateway.url, 'POST', '/api/tunnels/connect', { name: 'nas', port });
  assert.equal(again.status, 409);
  assert.equal(codeOf(again), 'tunnel_exists');

  const events = await fetch(`${gateway.url}/api/tunnels/${id}/events`, {
    headers: { authorization: `Bearer ${gateway.gateway.apiKey.key}` },
  });
  assert.equal(events.status, 200);
  const reader = events.body!.getReader();
  const local = connect({ host: '127.0.0.1', port });
  await once(local, 'connect');
  await once(local, 'close');
  let text = '';
  for (let i = 0; i < 20 && !text.includes('event: error'); i++) {
    const { value, done } = await reader.read();
    if (done) break;
    text += Buffer.from(value).toString();
  }
  assert.match(text, /event: error\ndata: \{.*"code":"tunnel_unreachable".*no relay answered/);

  const listed = (await request(gateway.url, 'GET', '/api/tunnels')).body.tunnels as Record<
    string,
    unknown
  >[];
  assert.equal(listed.length, 1);
  assert.equal(listed[0]!.failed, 1);
  assert.equal(listed[0]!.connections_open, 0);

  const closed = await request(gateway.url, 'DELETE', `/api/tunnels/${id}`);
  assert.equal(closed.status, 200);
  assert.equal(closed.body.closed, true);
  // The event stream ends with the tunnel, and the port is free again.
  for (let i = 0; i < 20; i++) {
    const { done } = await reader.read();
    if (done) break;
  }
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  server.close();
  assert.deepEqual((await request(gateway.url, 'GET', '/api/tunnels')).body, { tunnels: [] });
});
