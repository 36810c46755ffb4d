/**
 * Tickets (docs/tickets.md, docs/performance.md "Tickets"): how many tickets an issuer signs
 * per second over HTTP (batches of 100 against a voucher, two buyers at once, the issuer in
 * this process), the raw blind signature rate on one core, and how many tickets a node checks
 * per second on its fast path (signature verified + spent set marked, SQLite on disk).
 */
import { randomBytes } from 'node:crypto';
import { constants, sign } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { parseIssuerConfig } from '../src/issuer/config.js';
import { startIssuer } from '../src/issuer/server.js';
import { callJson, endpoint } from '../src/client/http.js';
import { issuerKey } from '../src/client/tickets/buy.js';
import { encodeTicketMessage } from '../src/market/tickets/message.js';
import { blindMessage } from '../src/market/tickets/suite.js';
import { encodeTicket, decodeTicket, verifyTicket } from '../src/market/tickets/ticket.js';
import { SpentSet } from '../src/node/tickets/spent-set.js';
import type { Report } from './lib/report.js';

export async function ticketFigures(
  report: Report,
  options: { quick: boolean; scratch: (prefix: string) => string; log: (line: string) => void },
): Promise<void> {
  const section = 'tickets';
  const seconds = options.quick ? 3 : 10;
  const issuer = await startIssuer(
    parseIssuerConfig({
      port: 0,
      data_dir: options.scratch('issuer-'),
      max_batch: 100,
      rate_limit: { enabled: false },
      log_level: 'warn',
    }),
    { log: pino({ level: 'warn' }) },
  );
  try {
    const voucher = randomBytes(24).toString('base64url');
    issuer.store.addVoucher(voucher, 1_000_000_000, Math.floor(Date.now() / 1000));
    const key = await issuerKey(issuer.url);
    // The buyer's blinding is its own cost (JavaScript big numbers): done once, outside the clock.
    options.log('  tickets: blinding 100 messages');
    const blinded = await Promise.all(
      Array.from({ length: 100 }, async () => {
        const message = encodeTicketMessage({
          keyId: key.id,
          nonce: randomBytes(32),
          kind: key.record.kind,
          value: key.record.value,
        });
        return Buffer.from((await blindMessage(key.cryptoKey, message)).blindedMessage).toString(
          'base64url',
        );
      }),
    );
    const body = { key_id: key.record.id, blinded };
    const url = endpoint(issuer.url, '/issuer/tickets');
    let issued = 0;
    const started = performance.now();
    const deadline = started + seconds * 1000;
    await Promise.all(
      [0, 1].map(async () => {
        while (performance.now() < deadline) {
          const answer = await callJson<{ blind_signatures: string[] }>('POST', url, body, {
            headers: { authorization: `Bearer ${voucher}` },
          });
          issued += answer.blind_signatures.length;
        }
      }),
    );
    const issuance = issued / ((performance.now() - started) / 1000);
    report.add({
      section,
      figure: `issuance over HTTP (${key.record.modulus_bits}-bit key, batches of 100)`,
      value: issuance,
      unit: 'tickets/s',
      goal: '≥ 1,000',
      met: issuance >= 1000,
    });

    const loaded = await issuer.keyring.current(Math.floor(Date.now() / 1000));
    const raw = Buffer.from(blinded[0]!, 'base64url');
    let signed = 0;
    const rawStart = performance.now();
    while (performance.now() - rawStart < seconds * 500) {
      issuer.keyring.sign(loaded, raw);
      signed++;
    }
    report.add({
      section,
      figure: 'blind signatures on one core (RSASP1 + check)',
      value: signed / ((performance.now() - rawStart) / 1000),
      unit: 'signatures/s',
    });

    // Valid tickets made directly with the private key (the same bytes a blind issuance gives).
    const count = options.quick ? 2000 : 10_000;
    options.log(`  tickets: signing ${count} tickets for the redemption check`);
    const tickets = Array.from({ length: count }, () => {
      const prepared = Buffer.concat([
        randomBytes(32),
        encodeTicketMessage({
          keyId: key.id,
          nonce: randomBytes(32),
          kind: key.record.kind,
          value: key.record.value,
        }),
      ]);
      const signature = sign('sha384', prepared, {
        key: loaded.signing.privateKey,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: 48,
      });
      return encodeTicket(prepared, signature);
    });
    const spent = new SpentSet(options.scratch('spent-'));
    try {
      const now = Math.floor(Date.now() / 1000);
      const keyOf = (id: string) => (id === key.record.id ? key : undefined);
      const checkStart = performance.now();
      // As a node does: the tickets of a put (16 here) verified at once, then marked in one
      // transaction; four puts in flight, as from several clients.
      let next = 0;
      await Promise.all(
        [0, 1, 2, 3].map(async () => {
          while (next < tickets.length) {
            const batch = tickets.slice(next, (next += 16));
            const verified = await Promise.all(
              batch.map((t) => verifyTicket(decodeTicket(t), keyOf, now)),
            );
            if (
              spent.mark(
                verified.map((v) => v.spentId),
                Date.now(),
              ).length > 0
            ) {
              throw new Error('a fresh ticket was found spent');
            }
          }
        }),
      );
      const checks = tickets.length / ((performance.now() - checkStart) / 1000);
      report.add({
        section,
        figure: 'redemption check (verify + local spent set, 4 puts of 16 in flight)',
        value: checks,
        unit: 'tickets/s',
        goal: '≥ 10,000',
        met: checks >= 10_000,
      });
      // The two halves apart, to show where the time goes.
      const parsed = tickets.map((t) => decodeTicket(t));
      const verifyStart = performance.now();
      for (let at = 0; at < parsed.length; at += 64) {
        await Promise.all(parsed.slice(at, at + 64).map((t) => verifyTicket(t, keyOf, now)));
      }
      report.add({
        section,
        figure: 'signature verify alone (64 in flight)',
        value: parsed.length / ((performance.now() - verifyStart) / 1000),
        unit: 'tickets/s',
      });
      const ids = Array.from({ length: count }, () => randomBytes(32));
      const markStart = performance.now();
      for (let at = 0; at < ids.length; at += 16) spent.mark(ids.slice(at, at + 16), Date.now());
      report.add({
        section,
        figure: 'spent set alone (SQLite, 16 per transaction)',
        value: ids.length / ((performance.now() - markStart) / 1000),
        unit: 'tickets/s',
      });
    } finally {
      spent.close();
    }
  } finally {
    await issuer.close();
  }
}
