/**
 * A revoked device's gateway keeps running with the keys it had. Every member rejects what it
 * signs after its revocation, so it must not commit group operations: neither the rekey its
 * gateway would make by itself on seeing that the current keys reached a revoked device (its
 * own), nor one its user asks for.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { signStatement } from '../../src/identity/statement.js';
import { identityText } from '../../src/keys/keys.js';
import { eventually, request, startTestGateway } from '../helpers/gateways.js';
import { startTestNode } from '../helpers/nodes.js';

test('a revoked device commits nothing to its person’s groups', async () => {
  const node = await startTestNode();
  const root = await startTestGateway([node.url]);
  const phone = await startTestGateway([node.url]);
  const link = await request(root.url, 'POST', '/api/devices/link', {});
  const accepted = await request(phone.url, 'POST', '/api/devices/accept', {
    code: link.body.code,
    name: 'phone',
  });
  assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
  // Made after the link, the group's keys are sealed to the phone too.
  const group = await request(root.url, 'POST', '/api/groups', { name: 'home' });
  assert.equal(group.status, 201, JSON.stringify(group.body));
  const id = group.body.id as string;
  await eventually('the group on the phone', async () => {
    const seen = await request(phone.url, 'GET', `/api/groups/${id}`);
    return seen.status === 200;
  });

  // The root publishes the revocation and stops before it rekeys: the phone alone sees the
  // current epoch's keys reach a revoked device.
  const layer = root.gateway.identity;
  const rootText = identityText(root.identity);
  const device = accepted.body.device as string;
  await layer.publishDirectory(
    signStatement({
      kind: 'device-revoke',
      person: rootText,
      signer: root.identity,
      seq: layer.store.nextSeq(rootText),
      at: Date.now(),
      body: { device, last_seq: layer.store.seenSeq(device) },
    }),
  );
  await root.close();

  await eventually('the revocation on the phone', async () => {
    await request(phone.url, 'POST', '/api/refresh', {});
    const devices = await request(phone.url, 'GET', '/api/devices');
    const listed = devices.body.devices as { device: string; revoked_at: number | null }[];
    return listed.some((d) => d.device === device && d.revoked_at !== null);
  });
  // A few poll rounds in which the phone could heal the group.
  for (let round = 0; round < 3; round += 1) {
    await request(phone.url, 'POST', '/api/refresh', {});
  }
  const view = await request(phone.url, 'GET', `/api/groups/${id}`);
  assert.equal(view.status, 200);
  assert.deepEqual(view.body.rejected, []);
  // The root may still have rekeyed before it stopped (its own gateway can see the revocation
  // pushed to it at once); the phone must have committed nothing.
  const applied = phone.gateway.identity.groups.state(id).applied;
  assert.ok(applied.length >= 1);
  assert.deepEqual(
    applied.filter((op) => op.statement.signer === device).map((op) => op.op),
    [],
    'the revoked phone added no operation to the log',
  );
  assert.ok(applied.some((op) => op.statement.signer !== device));

  const asked = await request(phone.url, 'POST', `/api/groups/${id}/rekey`, {});
  assert.equal(asked.status, 403);
  assert.equal((asked.body.error as { code: string }).code, 'forbidden');
  assert.match((asked.body.error as { message: string }).message, /revoked/);
});
