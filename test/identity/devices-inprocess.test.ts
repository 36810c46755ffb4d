/**
 * Devices of one person, in one process (fast): link two devices to a root, share a group,
 * revoke one, and check what each can still read and write.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startTestNode } from '../helpers/nodes.js';
import { request, startTestGateway } from '../helpers/gateways.js';

async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  ms = 20_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

test('link, share, revoke', async () => {
  const node = await startTestNode();
  const root = await startTestGateway(
    [node.url],
    {},
    { logger: (await import('pino')).pino({ level: 'error' }) },
  );
  const phone = await startTestGateway([node.url]);
  const group = await request(root.url, 'POST', '/api/groups', { name: 'home' });
  assert.equal(group.status, 201, JSON.stringify(group.body));
  const gid = group.body.id as string;
  const link = await request(root.url, 'POST', '/api/devices/link', {});
  assert.equal(link.status, 201, JSON.stringify(link.body));
  const accepted = await request(phone.url, 'POST', '/api/devices/accept', {
    code: link.body.code,
    name: 'phone',
  });
  assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
  console.log(accepted.body);
  const again = await request(phone.url, 'POST', '/api/devices/accept', {
    code: link.body.code,
    name: 'phone',
  });
  console.log(again.status, again.body);
  const devices = await request(root.url, 'GET', '/api/devices');
  console.log(JSON.stringify(devices.body));
  const seen = await eventually('group on phone', async () => {
    await request(phone.url, 'POST', '/api/refresh', {});
    const list = await request(phone.url, 'GET', '/api/groups');
    return (list.body.groups as { id: string }[]).find((g) => g.id === gid);
  });
  console.log(seen);
  const rec = await request(phone.url, 'POST', `/api/spaces/${gid}/collections/notes/records`, {
    data: { from: 'phone' },
  });
  console.log(rec.status, rec.body);
  await eventually('note on root', async () => {
    await request(root.url, 'POST', '/api/refresh', {});
    const list = await request(root.url, 'GET', `/api/spaces/${gid}/collections/notes/records`);
    console.log(list.body);
    return list.body.total === 1;
  });
  await root.gateway.identity
    .revoke(root.identity, accepted.body.device as string)
    .catch((e: unknown) => console.log('REVOKE', e));
  await root.gateway.identity
    .revoke(root.identity, accepted.body.device as string)
    .catch((e: unknown) => console.log('REVOKE2', e));
  const revoke = await request(
    root.url,
    'POST',
    `/api/devices/${accepted.body.device as string}/revoke`,
    {},
  );
  console.log(revoke.status, revoke.body);
  const injected = await root.app.inject({
    method: 'POST',
    url: `/api/devices/${accepted.body.device as string}/revoke`,
    headers: {
      host: '127.0.0.1',
      authorization: `Bearer ${root.gateway.apiKey.key}`,
      'content-type': 'application/json',
    },
    payload: '{}',
  });
  console.log('INJECT', injected.statusCode, injected.body);
  const after = await request(root.url, 'POST', `/api/spaces/${gid}/collections/notes/records`, {
    data: { from: 'root after' },
  });
  console.log(after.status);
  await request(phone.url, 'POST', '/api/refresh', {});
  await request(phone.url, 'POST', '/api/refresh', {});
  const phoneList = await request(phone.url, 'GET', `/api/spaces/${gid}/collections/notes/records`);
  console.log(
    'phone sees',
    phoneList.status,
    JSON.stringify((phoneList.body.records as { data: unknown }[]).map((r) => r.data)),
  );
  const late = await request(phone.url, 'POST', `/api/spaces/${gid}/collections/notes/records`, {
    data: { from: 'phone late' },
  });
  console.log('phone late write', late.status, JSON.stringify(late.body));
  await request(root.url, 'POST', '/api/refresh', {});
  await request(root.url, 'POST', '/api/refresh', {});
  const rootList = await request(root.url, 'GET', `/api/spaces/${gid}/collections/notes/records`);
  console.log(
    'root sees',
    JSON.stringify((rootList.body.records as { data: unknown }[]).map((r) => r.data)),
  );
  const g = await request(root.url, 'GET', `/api/groups/${gid}`);
  console.log(JSON.stringify(g.body));
});
