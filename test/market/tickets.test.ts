/**
 * Prepaid tickets end to end, with real processes: an issuer (`p2pcloud issuer`), two nodes
 * that ask 20 bits of proof of work and check tickets with the issuer, and the SDK buying and
 * spending. A ticket stands in for the work once, at one node: spent again there or at the
 * other node it is refused, and a refused put stores nothing and costs no ticket.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '../../src/client/client.js';
import { buyTickets } from '../../src/client/tickets/buy.js';
import type { WalletTicket } from '../../src/client/tickets/wallet.js';
import { ENTRIES_MEDIA_TYPE, encodeFrames } from '../../src/entry/framing.js';
import { decodeEntry } from '../../src/entry/format.js';
import { entryPowBits } from '../../src/entry/verify.js';
import { generateIdentity, generateTableKey } from '../../src/keys/keys.js';
import { makeEntry } from '../helpers/entries.js';
import { errorOf, putResults, request, storedIds, type TestResponse } from '../helpers/http.js';
import { spawnNode, type NodeProcess } from '../helpers/nodes.js';
import { runCli, spawnCli, type CliProcess } from '../helpers/spawn.js';
import { tempDir } from '../helpers/tmp.js';

const POW_BITS = 20;

interface Issuer {
  readonly url: string;
  readonly dataDir: string;
  readonly process: CliProcess;
  readonly voucher: string;
}

async function startIssuer(args: readonly string[] = [], tickets = 100): Promise<Issuer> {
  const dataDir = tempDir();
  const made = await runCli(['issuer', 'voucher', '--data', dataDir, '--tickets', String(tickets)]);
  assert.equal(made.code, 0, made.stderr);
  const process = await spawnCli(
    ['issuer', '--port', '0', '--data', dataDir, '--log-level', 'debug', ...args],
    /listening on (http:\/\/[^\s]+)/,
    'issuer',
  );
  return { url: process.ready[1]!, dataDir, process, voucher: made.lines[0]! };
}

async function currentKeyId(issuer: string): Promise<string> {
  const answer = await request(issuer, '/issuer/keys');
  return (answer.json as { current: string }).current;
}

/** A node that asks POW_BITS of every entry and takes tickets of the given issuer keys. */
async function startNode(
  issuers: readonly Record<string, unknown>[],
  check: 'issuer' | 'local' = 'issuer',
): Promise<NodeProcess> {
  const dir = tempDir();
  const config = join(dir, 'node.json');
  writeFileSync(
    config,
    JSON.stringify({
      min_pow_bits: POW_BITS,
      min_pow_floor_bits: POW_BITS,
      sync: { enabled: false },
      tickets: { issuers, check },
    }),
  );
  return spawnNode(['--config', config]);
}

function putWithTickets(
  node: string,
  entries: readonly Uint8Array[],
  tickets: readonly string[],
): Promise<TestResponse> {
  return request(node, '/put', {
    method: 'POST',
    body: encodeFrames(entries),
    headers: { 'content-type': ENTRIES_MEDIA_TYPE, 'p2pcloud-tickets': tickets.join(',') },
  });
}

const issuer = await startIssuer();
const keyId = await currentKeyId(issuer.url);
const [nodeA, nodeB] = await Promise.all([
  startNode([{ url: issuer.url, key_id: keyId }]),
  startNode([{ url: issuer.url, key_id: keyId }]),
]);
const wallet: WalletTicket[] = await buyTickets({
  issuer: issuer.url,
  voucher: issuer.voucher,
  count: 12,
});

function take(): string {
  const ticket = wallet.shift();
  assert.ok(ticket, 'the test bought too few tickets');
  return ticket.ticket;
}

test('bought tickets name the issuer key and its value, and are all different', () => {
  assert.equal(wallet.length, 12);
  for (const t of wallet) {
    assert.equal(t.key_id, keyId);
    assert.equal(t.value, 1024 * 1024);
  }
  assert.equal(new Set(wallet.map((t) => t.ticket)).size, 12);
});

test('/health says how the node checks tickets and which issuer keys it trusts', async () => {
  const health = (await request(nodeA.url, '/health')).json as { tickets?: unknown };
  assert.deepEqual(health.tickets, {
    check: 'issuer',
    issuers: [{ url: issuer.url.replace(/\/+$/, ''), key_ids: [keyId] }],
    bytes_per_ticket: null,
    max_tickets_per_put: 16,
  });
});

test('a put with a ticket and no proof of work is stored; without one it is pow_too_low', async () => {
  const entry = makeEntry({ powBits: 0 });
  assert.ok(entryPowBits(decodeEntry(entry.bytes)) < POW_BITS);
  const bare = await request(nodeA.url, '/put', {
    method: 'POST',
    body: encodeFrames([entry.bytes]),
    headers: { 'content-type': ENTRIES_MEDIA_TYPE },
  });
  assert.equal(bare.status, 422);
  assert.equal(errorOf(bare).code, 'pow_too_low');
  const paid = await putWithTickets(nodeA.url, [entry.bytes], [take()]);
  assert.equal(paid.status, 200, paid.body.toString());
  assert.equal(putResults(paid)[0]!.status, 'stored');
  assert.deepEqual(
    [...(await storedIds(nodeA.url, [entry.id.toString('hex')]))],
    [entry.id.toString('hex')],
  );
});

test('the SDK spends a ticket per node in place of proof of work', async () => {
  const client = new Client({ nodes: [nodeA.url, nodeB.url], powThreads: 1 });
  const report = await client.put({
    table: generateTableKey(),
    to: generateIdentity().box.publicKey,
    data: 'paid with tickets',
    tickets: { [nodeA.url]: [take()], [nodeB.url]: [take()] },
  });
  assert.equal(report.accepted, 2, JSON.stringify(report.nodes));
  assert.ok(report.powBits < POW_BITS);
});

test('a ticket spent twice at one node is refused (409 ticket_spent) and nothing is stored', async () => {
  const ticket = take();
  const first = makeEntry();
  assert.equal((await putWithTickets(nodeA.url, [first.bytes], [ticket])).status, 200);
  const second = makeEntry();
  const again = await putWithTickets(nodeA.url, [second.bytes], [ticket]);
  assert.equal(again.status, 409);
  assert.equal(errorOf(again).code, 'ticket_spent');
  assert.equal(putResults(again)[0]!.code, 'ticket_spent');
  assert.equal((await storedIds(nodeA.url, [second.id.toString('hex')])).size, 0);
});

test('a ticket spent at one node is refused at the other (both check with the issuer)', async () => {
  const ticket = take();
  const first = makeEntry();
  assert.equal((await putWithTickets(nodeA.url, [first.bytes], [ticket])).status, 200);
  const second = makeEntry();
  const elsewhere = await putWithTickets(nodeB.url, [second.bytes], [ticket]);
  assert.equal(elsewhere.status, 409, elsewhere.body.toString());
  assert.equal(errorOf(elsewhere).code, 'ticket_spent');
  assert.equal((await storedIds(nodeB.url, [second.id.toString('hex')])).size, 0);
});

test('malformed tickets are ticket_invalid; a refused put costs no ticket', async () => {
  const entry = makeEntry();
  const good = take();
  const raw = Buffer.from(good, 'base64url');
  const badSignature = Buffer.from(raw);
  badSignature[badSignature.length - 1]! ^= 1;
  const otherValue = Buffer.from(raw);
  // The value's last byte sits at the end of the 91-byte message, after the 33-byte header.
  otherValue[1 + 32 + 91 - 1]! ^= 1;
  for (const bad of [
    'not a ticket!',
    raw.subarray(0, 100).toString('base64url'),
    Buffer.concat([Buffer.of(2), raw.subarray(1)]).toString('base64url'),
    badSignature.toString('base64url'),
    otherValue.toString('base64url'),
  ]) {
    const answer = await putWithTickets(nodeA.url, [entry.bytes], [bad]);
    assert.equal(answer.status, 422, bad.slice(0, 20));
    assert.equal(errorOf(answer).code, 'ticket_invalid');
  }
  assert.equal((await storedIds(nodeA.url, [entry.id.toString('hex')])).size, 0);
  // An entry refused for itself (bad signature) does not spend the ticket either.
  const forged = Buffer.from(makeEntry().bytes);
  forged[forged.length - 1]! ^= 1;
  const refused = await putWithTickets(nodeA.url, [forged], [good]);
  assert.equal(putResults(refused)[0]!.status, 'rejected');
  assert.equal((await putWithTickets(nodeA.url, [entry.bytes], [good])).status, 200);
});

test('a ticket of an issuer key the node does not trust is ticket_unknown_issuer', async () => {
  const stranger = await startIssuer();
  const [ticket] = await buyTickets({ issuer: stranger.url, voucher: stranger.voucher, count: 1 });
  const entry = makeEntry();
  const answer = await putWithTickets(nodeA.url, [entry.bytes], [ticket!.ticket]);
  assert.equal(answer.status, 403);
  assert.equal(errorOf(answer).code, 'ticket_unknown_issuer');
  assert.equal((await storedIds(nodeA.url, [entry.id.toString('hex')])).size, 0);
  await stranger.process.stop();
});

test('tickets that cover fewer bytes than the put are tickets_insufficient', async () => {
  const small = await startIssuer(['--ticket-bytes', '100']);
  const node = await startNode([{ url: small.url, key_id: await currentKeyId(small.url) }]);
  const [ticket] = await buyTickets({ issuer: small.url, voucher: small.voucher, count: 1 });
  const entry = makeEntry({ text: 'x'.repeat(300) });
  const answer = await putWithTickets(node.url, [entry.bytes], [ticket!.ticket]);
  assert.equal(answer.status, 402);
  assert.equal(errorOf(answer).code, 'tickets_insufficient');
  await Promise.all([node.stop(), small.process.stop()]);
});

test('a voucher buys what it was made for, and no more', async () => {
  const small = await startIssuer([], 3);
  await buyTickets({ issuer: small.url, voucher: small.voucher, count: 2 });
  await assert.rejects(
    buyTickets({ issuer: small.url, voucher: small.voucher, count: 2 }),
    (error: { details?: { nodeCode?: unknown } }) =>
      error.details?.nodeCode === 'voucher_exhausted',
  );
  await assert.rejects(
    buyTickets({ issuer: small.url, voucher: 'x'.repeat(32), count: 1 }),
    (error: { details?: { nodeCode?: unknown } }) => error.details?.nodeCode === 'voucher_invalid',
  );
  assert.equal(
    (await buyTickets({ issuer: small.url, voucher: small.voucher, count: 1 })).length,
    1,
  );
  await small.process.stop();
});

test('an issuer that cannot be reached refuses the put with 503 and spends nothing', async () => {
  const gone = await startIssuer();
  const record = ((await request(gone.url, '/issuer/keys')).json as { keys: unknown[] }).keys[0];
  const node = await startNode([{ url: gone.url, key: record }]);
  const [ticket] = await buyTickets({ issuer: gone.url, voucher: gone.voucher, count: 1 });
  await gone.process.stop();
  const entry = makeEntry();
  const answer = await putWithTickets(node.url, [entry.bytes], [ticket!.ticket]);
  assert.equal(answer.status, 503);
  assert.equal(errorOf(answer).code, 'ticket_issuer_unreachable');
  assert.equal((await storedIds(node.url, [entry.id.toString('hex')])).size, 0);
  await node.stop();
});
