/**
 * Tickets against faults on both sides of issuance: an issuer (or a network) that answers with
 * malformed blind signatures is caught by the buyer before it keeps anything; an issuer refuses
 * blinded messages RSASP1 refuses without charging the voucher; a ticket whose issuer key has
 * expired is refused by the node with ticket_expired.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buyTickets } from '../../src/client/tickets/buy.js';
import { ENTRIES_MEDIA_TYPE, encodeFrames } from '../../src/entry/framing.js';
import { makeEntry } from '../helpers/entries.js';
import { errorOf, request, storedIds } from '../helpers/http.js';
import { spawnNode } from '../helpers/nodes.js';
import { runCli, spawnCli } from '../helpers/spawn.js';
import { tempDir } from '../helpers/tmp.js';

async function startIssuer(config: Record<string, unknown> = {}, tickets = 100) {
  const dataDir = tempDir();
  const file = join(dataDir, 'issuer.json');
  writeFileSync(file, JSON.stringify(config));
  const made = await runCli(['issuer', 'voucher', '--data', dataDir, '--tickets', String(tickets)]);
  assert.equal(made.code, 0, made.stderr);
  const process = await spawnCli(
    ['issuer', '--port', '0', '--data', dataDir, '--config', file, '--log-level', 'warn'],
    /listening on (http:\/\/[^\s]+)/,
    'issuer',
  );
  return { url: process.ready[1]!, process, voucher: made.lines[0]! };
}

const issuer = await startIssuer();

/**
 * A man in the middle: passes everything to the issuer, and hands the buyer the issuer's
 * answer to POST /issuer/tickets after `alter` has changed it.
 */
async function tamperingProxy(alter: (answer: { blind_signatures: string[] }) => unknown) {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void request(issuer.url, req.url!, {
        method: req.method!,
        ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}),
        headers: Object.fromEntries(
          Object.entries(req.headers).filter(
            (e): e is [string, string] => typeof e[1] === 'string' && e[0] !== 'host',
          ),
        ),
      }).then((answer) => {
        const body =
          req.url === '/issuer/tickets' && answer.status === 200
            ? JSON.stringify(alter(answer.json as { blind_signatures: string[] }))
            : answer.body;
        res.writeHead(answer.status, { 'content-type': 'application/json' }).end(body);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return { url: `http://127.0.0.1:${address.port}`, close: () => server.close() };
}

test('malformed blind signatures are caught by the buyer (ticket_invalid, node_lied)', async () => {
  const cases: [string, (a: { blind_signatures: string[] }) => unknown, string][] = [
    [
      'one bit flipped',
      (a) => {
        const sig = Buffer.from(a.blind_signatures[0]!, 'base64url');
        sig[10]! ^= 1;
        return {
          ...a,
          blind_signatures: [sig.toString('base64url'), ...a.blind_signatures.slice(1)],
        };
      },
      'ticket_invalid',
    ],
    [
      'truncated',
      (a) => ({ ...a, blind_signatures: a.blind_signatures.map((s) => s.slice(0, 100)) }),
      'ticket_invalid',
    ],
    [
      'not base64',
      (a) => ({ ...a, blind_signatures: a.blind_signatures.map(() => '!!') }),
      'ticket_invalid',
    ],
    ['one missing', (a) => ({ ...a, blind_signatures: a.blind_signatures.slice(1) }), 'node_lied'],
    [
      'swapped between tickets',
      (a) => ({ ...a, blind_signatures: [...a.blind_signatures].reverse() }),
      'ticket_invalid',
    ],
  ];
  for (const [what, alter, code] of cases) {
    const proxy = await tamperingProxy(alter);
    try {
      await assert.rejects(
        buyTickets({ issuer: proxy.url, voucher: issuer.voucher, count: 2 }),
        (error: { code?: unknown }) => error.code === code,
        what,
      );
    } finally {
      proxy.close();
    }
  }
  // Untouched, the same path works.
  const honest = await tamperingProxy((a) => a);
  assert.equal(
    (await buyTickets({ issuer: honest.url, voucher: issuer.voucher, count: 2 })).length,
    2,
  );
  honest.close();
});

test('the issuer refuses blinded messages RSASP1 refuses, and charges nothing for them', async () => {
  const own = await startIssuer({}, 2);
  const keys = (await request(own.url, '/issuer/keys')).json as {
    current: string;
    keys: { id: string; modulus_bits: number; public_key: string }[];
  };
  const k = keys.keys[0]!.modulus_bits / 8;
  const post = (blinded: string[]) =>
    request(own.url, '/issuer/tickets', {
      method: 'POST',
      body: JSON.stringify({ key_id: keys.current, blinded }),
      headers: { 'content-type': 'application/json', authorization: `Bearer ${own.voucher}` },
    });
  for (const bad of [
    [Buffer.alloc(k - 1, 1).toString('base64url')],
    [Buffer.alloc(k, 0xff).toString('base64url')],
    ['@@@'],
    [],
  ]) {
    const answer = await post(bad);
    assert.equal(answer.status, 400, JSON.stringify(answer.json));
    assert.equal(errorOf(answer).code, 'bad_request');
  }
  const tooMany = await post(
    Array.from({ length: 101 }, () => Buffer.alloc(k, 1).toString('base64url')),
  );
  assert.equal(tooMany.status, 400);
  // The voucher still buys both its tickets.
  assert.equal((await buyTickets({ issuer: own.url, voucher: own.voucher, count: 2 })).length, 2);
  await own.process.stop();
});

test('a ticket whose issuer key has expired is refused with ticket_expired', async () => {
  const short = await startIssuer({ key_validity_seconds: 6 });
  const [ticket] = await buyTickets({ issuer: short.url, voucher: short.voucher, count: 1 });
  const keys = (await request(short.url, '/issuer/keys')).json as {
    keys: { id: string; not_after: number }[];
  };
  const record = keys.keys.find((k) => k.id === ticket!.key_id)!;
  const dir = tempDir();
  writeFileSync(
    join(dir, 'node.json'),
    JSON.stringify({
      min_pow_bits: 20,
      min_pow_floor_bits: 20,
      sync: { enabled: false },
      tickets: { issuers: [{ url: short.url, key: record }], check: 'local' },
    }),
  );
  const node = await spawnNode(['--config', join(dir, 'node.json')]);
  const wait = record.not_after * 1000 + 1100 - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  const entry = makeEntry();
  const answer = await request(node.url, '/put', {
    method: 'POST',
    body: encodeFrames([entry.bytes]),
    headers: { 'content-type': ENTRIES_MEDIA_TYPE, 'p2pcloud-tickets': ticket!.ticket },
  });
  assert.equal(answer.status, 422, answer.body.toString());
  assert.equal(errorOf(answer).code, 'ticket_expired');
  assert.equal((await storedIds(node.url, [entry.id.toString('hex')])).size, 0);
  await Promise.all([node.stop(), short.process.stop()]);
});
