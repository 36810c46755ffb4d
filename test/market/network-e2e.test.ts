/**
 * The provider market end to end, on a network of real processes on 127.0.0.1 driven through
 * the command line as a user drives it: an issuer; seven providers that accept its tickets and
 * ask proof of work otherwise; a node holding the market table. Providers publish offers, the
 * client picks five, buys tickets (through a recording proxy, so the test sees every value of
 * the purchases), writes to two providers with tickets instead of proof of work, spreads a file
 * 3-of-5 over the five paid with tickets, loses two, restores it, repairs onto two new providers
 * chosen from a new pick (paid with tickets too) and restores it again without the lost ones. A spent ticket shown again is refused at the provider that took
 * it and at another one. Last, the issuer's store and log and every provider's files and log
 * are searched for anything that would link a purchase to a write.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { decodeTicket, spentIdOf } from '../../src/market/tickets/ticket.js';
import { voucherHash } from '../../src/issuer/store.js';
import { filesUnder, holds } from '../helpers/leaks.js';
import { spawnNode, type NodeProcess } from '../helpers/nodes.js';
import { startRecordingProxy } from '../helpers/recording-proxy.js';
import { runCli, spawnCli, type CliResult } from '../helpers/spawn.js';
import { tempDir } from '../helpers/tmp.js';

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function ok(args: readonly string[]): Promise<CliResult> {
  const run = await runCli(args, { timeoutMs: 90_000 });
  assert.equal(run.code, 0, `p2pcloud ${args.join(' ')}: exit ${run.code}\n${run.stderr}`);
  return run;
}

/** A refused command: exit ≠ 0, nothing on stdout, one `p2pcloud:` line matching `why`. */
async function refused(args: readonly string[], why: RegExp): Promise<string> {
  const run = await runCli(args, { timeoutMs: 90_000 });
  assert.notEqual(run.code, 0, `p2pcloud ${args.join(' ')} succeeded`);
  assert.equal(run.stdout, '');
  assert.match(run.stderr, /^p2pcloud: [^\n]*\n$/);
  assert.match(run.stderr, why);
  return run.stderr;
}

const walletTickets = (file: string): string[] =>
  (JSON.parse(readFileSync(file, 'utf8')) as { tickets: { ticket: string }[] }).tickets.map(
    (t) => t.ticket,
  );

const nodeArgs = (urls: readonly string[]): string[] => urls.flatMap((u) => ['--node', u]);

test(
  'providers publish offers; a client picks, pays with tickets, spreads a file, loses two providers and restores it; nothing links purchases to writes',
  { timeout: 240_000 },
  async () => {
    const dir = tempDir();

    // The issuer, and a voucher its operator sold for 26 tickets: 2 for a write to two
    // providers, 15 for the spread (3 puts at each of 5) and 9 for its repair (2 puts at each of
    // 2 new providers, the manifest at all 5), as docs/spread.md §5.4 counts them.
    const issuerDir = join(dir, 'issuer');
    const voucher = (await ok(['issuer', 'voucher', '--data', issuerDir, '--tickets', '26']))
      .lines[0]!;
    const issuer = await spawnCli(
      ['issuer', '--port', '0', '--data', issuerDir, '--log-level', 'trace'],
      /listening on (http:\/\/[^\s]+) .*current key ([0-9a-f]{64})/,
      'issuer',
    );
    const issuerUrl = issuer.ready[1]!;
    // What a provider's operator runs to trust the issuer's current key.
    const keyId = (await ok(['issuer', 'keys', '--url', issuerUrl, '--current'])).lines[0]!;
    assert.match(keyId, /^[0-9a-f]{64}$/);
    assert.equal(keyId, issuer.ready[2], 'the issuer named it when it started');

    // Seven providers: tickets of that key in place of proof of work, 14 bits at least otherwise.
    const providerConfig = join(dir, 'provider.json');
    writeFileSync(
      providerConfig,
      JSON.stringify({
        min_pow_bits: 16,
        min_pow_floor_bits: 14,
        sync: { enabled: false },
        log_level: 'trace',
        tickets: { issuers: [{ url: issuerUrl, key_id: keyId }], check: 'issuer' },
      }),
    );
    const [market, ...providers] = (await Promise.all([
      spawnNode(['--min-pow', '8']),
      ...Array.from({ length: 7 }, () => spawnNode(['--config', providerConfig])),
    ])) as [NodeProcess, ...NodeProcess[]];
    const urls = providers.map((p) => p.url);

    // 1. Each provider publishes an offer naming its node and the issuer key; the five first are
    // the cheapest. A cheaper offer that takes no tickets (on the market node) must not be picked,
    // nor one that claims the issuer's key while its node (the market node) says in /health
    // that it takes no tickets.
    const offers = [
      ...urls.map((url, i) => ({
        url,
        price: [0.01, 0.02, 0.03, 0.04, 0.05, 0.08, 0.09][i]!,
        tickets: [keyId],
      })),
      { url: market.url, price: 0.001, tickets: [] as string[] },
      { url: market.url, price: 0.005, tickets: [keyId] },
    ];
    await Promise.all(
      offers.map(async (o, i) => {
        const keyFile = join(dir, `provider${i}.key`);
        await ok(['keygen', '--out', keyFile]);
        const offerFile = join(dir, `offer${i}.json`);
        writeFileSync(
          offerFile,
          JSON.stringify({
            nodes: [o.url],
            capacity: 10 ** 12,
            prices: { unit: 'USD', gb_month: o.price, gb_out: 0.01, mfuel: 0.1 },
            regions: ['eu-west'],
            tables: '*',
            tickets: o.tickets,
          }),
        );
        const published = await ok([
          'market',
          'publish',
          '--offer',
          offerFile,
          '--key',
          keyFile,
          '--node',
          market.url,
        ]);
        assert.match(
          published.lines[0]!,
          /^published offer seq \d+ of [0-9a-f]{64} to 1 node\(s\)/,
        );
      }),
    );

    // 2. The client lists the offers that take the issuer's tickets, and picks five.
    const listed = await ok([
      'market',
      'offers',
      '--node',
      market.url,
      '--ticket',
      keyId,
      '--json',
    ]);
    assert.match(
      listed.stderr,
      /9 offer\(s\) valid, 8 match; dropped 0 invalid.*; 1 whose nodes do not take those tickets\n$/,
    );
    const listedOffers = listed.lines.map(
      (l) =>
        JSON.parse(l) as {
          nodes: string[];
          tickets: string[];
          latency_ms: number | null;
          tickets_denied: boolean;
        },
    );
    // The false claim is listed last, marked.
    assert.deepEqual(
      listedOffers.map((o) => [o.nodes[0], o.tickets_denied]),
      [...urls.map((u) => [u, false]), [market.url, true]],
    );
    for (const o of listedOffers) {
      assert.deepEqual(o.tickets, [keyId]);
      assert.notEqual(o.latency_ms, null, 'every provider answered');
    }
    const picked = (
      await ok(['market', 'pick', '--n', '5', '--ticket', keyId, '--node', market.url])
    ).lines;
    assert.deepEqual(picked, urls.slice(0, 5));

    // 3. The client buys tickets with the voucher, in two purchases.
    const proxy = await startRecordingProxy(issuerUrl);
    const wallet = join(dir, 'wallet.json');
    for (const [count, held] of [
      [3, 3],
      [23, 26],
    ] as const) {
      const bought = await ok([
        'tickets',
        'buy',
        '--issuer',
        proxy.url,
        '--voucher',
        voucher,
        '--count',
        String(count),
        '--wallet',
        wallet,
      ]);
      assert.match(
        bought.lines[0]!,
        new RegExp(`^bought ${count} ticket\\(s\\) .* the wallet holds ${held}$`),
      );
    }
    const purchases = proxy.exchanges.filter(
      (e) => e.method === 'POST' && e.path === '/issuer/tickets',
    );
    assert.equal(purchases.length, 2);
    const blinded = purchases.flatMap((e) =>
      (JSON.parse(e.request.toString()) as { blinded: string[] }).blinded.map((b) =>
        Buffer.from(b, 'base64url'),
      ),
    );
    const blindSigs = purchases.flatMap((e) =>
      (JSON.parse(e.response.toString()) as { blind_signatures: string[] }).blind_signatures.map(
        (b) => Buffer.from(b, 'base64url'),
      ),
    );
    assert.equal(blinded.length, 26);
    assert.equal(blindSigs.length, 26);
    const tickets = walletTickets(wallet).map((t) => decodeTicket(t));
    assert.equal(tickets.length, 26);
    const spentIds = tickets.map((t) => spentIdOf(t));

    // 4. Without proof of work and without tickets, a write is refused by both providers...
    const idFile = join(dir, 'me.key');
    const tableFile = join(dir, 'files.table');
    const notesFile = join(dir, 'notes.table');
    await ok(['keygen', '--out', idFile]);
    await ok(['table', 'create', '--out', tableFile]);
    await ok(['table', 'create', '--out', notesFile]);
    const me = (await ok(['pubkey', idFile])).lines[0]!;
    const [a, b] = [picked[0]!, picked[1]!];
    const write = ['put', ...nodeArgs([a, b]), '--table', notesFile, '--to', me];
    const unpaid = await refused(
      [...write, '--pow', '0', 'paid for'],
      /no node accepted the entry/,
    );
    for (const url of [a, b]) {
      assert.match(unpaid, new RegExp(`${url}: rejected \\(pow_too_low`));
    }
    // ... and with tickets it is stored at both, with no proof of work, one ticket each.
    const backup = join(dir, 'wallet-backup.json');
    copyFileSync(wallet, backup);
    const paid = await ok([...write, '--tickets', wallet, 'paid for']);
    assert.match(paid.stderr, /^paid with 1 ticket at each of 2 nodes$/m);
    assert.doesNotMatch(paid.stderr, /proof of work/, 'none was solved');
    assert.match(paid.stderr, new RegExp(`^${a}: stored$`, 'm'));
    assert.match(paid.stderr, new RegExp(`^${b}: stored$`, 'm'));
    assert.equal(walletTickets(wallet).length, 24);
    for (const url of [a, b]) {
      const got = await ok(['get', '--node', url, '--key', idFile, '--table', notesFile]);
      assert.deepEqual(
        got.lines.map((l) => l.split(' ').slice(-2).join(' ')),
        ['paid for'],
      );
    }
    // The first ticket went to the first node, the second to the second.
    const [spentAtA, spentAtB] = [spentIds[0]!, spentIds[1]!];

    // 5. A file spread 3-of-5 over the picked providers, paid with tickets: one stripe, so at
    // each provider a put of its shard, one of its page and one of the manifest. Two of the
    // providers are killed; the file comes back.
    const file = join(dir, 'photo.bin');
    const bytes = randomBytes(400_000);
    writeFileSync(file, bytes);
    const ids = ['--identity', idFile];
    const spread = await ok([
      'files',
      'put',
      file,
      '--spread',
      '3/5',
      ...nodeArgs(picked),
      ...ids,
      '--table',
      tableFile,
      '--tickets',
      wallet,
    ]);
    const ref = spread.lines[0]!;
    assert.match(ref, /^[0-9a-f]{64}$/);
    assert.match(spread.stderr, /^paid with 15 tickets, no proof of work$/m);
    assert.equal(walletTickets(wallet).length, 9);
    const [lost1, lost2] = [providers[2]!, providers[3]!];
    await lost1.kill9();
    await lost2.kill9();
    const restored = join(dir, 'restored.bin');
    const got = await ok([
      'files',
      'get',
      '--spread',
      ref,
      '--out',
      restored,
      '--node',
      a,
      ...ids,
      '--json',
    ]);
    const answer = JSON.parse(got.stdout) as { sha256: string; lost: { url: string }[] };
    assert.deepEqual(answer.lost.map((l) => l.url).sort(), [lost1.url, lost2.url].sort());
    assert.equal(answer.sha256, sha(bytes));
    assert.ok(readFileSync(restored).equals(bytes), 'restored byte for byte');

    // The market now offers the reachable ones first: the three left and two new providers.
    // The pick is handed to repair as it is printed; the two not in the file take the lost
    // providers' shards.
    const pick2 = await ok(['market', 'pick', '--n', '5', '--ticket', keyId, '--node', market.url]);
    const picked2 = pick2.lines;
    assert.deepEqual(picked2, [urls[0], urls[1], urls[4], urls[5], urls[6]]);
    const fresh = picked2.filter((u) => !picked.includes(u));
    const repaired = await ok([
      'files',
      'repair',
      '--spread',
      ref,
      '--node',
      a,
      '--new-node',
      pick2.stdout,
      ...ids,
      '--table',
      tableFile,
      '--tickets',
      wallet,
      '--json',
    ]);
    const repair = JSON.parse(repaired.stdout) as {
      manifest: string;
      replaced: { from: string; to: string }[];
      tickets_spent: number;
    };
    assert.equal(repair.tickets_spent, 9);
    assert.equal(walletTickets(wallet).length, 0, 'every ticket bought is spent');
    assert.notEqual(repair.manifest, ref);
    assert.deepEqual(repair.replaced.map((r) => r.from).sort(), [lost1.url, lost2.url].sort());
    assert.deepEqual(repair.replaced.map((r) => r.to).sort(), [...fresh].sort());

    // 6. The backup of the wallet still holds the spent tickets. The first one, shown again where
    // it was spent, is caught by that provider's own spent set...
    const again = (url: string) => {
      const copy = join(dir, `again-${randomBytes(4).toString('hex')}.json`);
      copyFileSync(backup, copy);
      return refused(
        ['put', '--node', url, '--table', notesFile, '--to', me, '--tickets', copy, 'twice'],
        new RegExp(`${url}: rejected \\(ticket_spent`),
      );
    };
    assert.ok(holds(filesUnder(providers[0]!.dataDir), spentAtA));
    await again(a);
    // ... and at the second provider, which never saw it, by the issuer's spent set.
    assert.ok(
      !holds(filesUnder(providers[1]!.dataDir), spentAtA),
      'the second provider never saw it',
    );
    assert.ok(holds(filesUnder(providers[1]!.dataDir), spentAtB));
    await again(b);
    for (const url of [a, b]) {
      const held = await ok(['get', '--node', url, '--key', idFile, '--table', notesFile]);
      assert.deepEqual(
        held.lines.map((l) => l.split(' ').slice(-2).join(' ')),
        ['paid for'],
      );
    }

    // With the old providers but one gone, the repaired file comes from it and the two new ones.
    await providers[1]!.kill9();
    await providers[4]!.kill9();
    const again2 = join(dir, 'restored2.bin');
    await ok(['files', 'get', '--spread', repair.manifest, '--out', again2, '--node', a, ...ids]);
    assert.ok(readFileSync(again2).equals(bytes), 'restored from the new providers byte for byte');

    // 7. Everything stops; then what each kept is searched.
    await Promise.all([market, ...providers].map((n) => n.stop()));
    await issuer.stop();
    await proxy.close();

    const db = new Database(join(issuerDir, 'issuer.sqlite'), { readonly: true });
    const purchaseRows = db.prepare('SELECT * FROM purchases').all() as Record<string, unknown>[];
    const spentRows = db.prepare('SELECT * FROM spent').all() as Record<string, unknown>[];
    db.close();
    // The issuer keeps purchases and redemptions apart, each with nothing of the other.
    assert.equal(purchaseRows.length, 2);
    assert.deepEqual(Object.keys(purchaseRows[0]!).sort(), ['at', 'count', 'key_id', 'voucher']);
    assert.deepEqual(Object.keys(spentRows[0]!).sort(), ['hour', 'key_id', 'spent_id']);
    assert.deepEqual(
      spentRows.map((r) => (r.spent_id as Buffer).toString('hex')).sort(),
      spentIds.map((id) => id.toString('hex')).sort(),
      'exactly the tickets spent, once each',
    );
    for (const row of spentRows) assert.equal((row.hour as number) % 3600, 0, 'the hour only');

    const voucherBytes = Buffer.from(voucher, 'base64url');
    const purchaseValues = [...blinded, ...blindSigs];
    const ticketValues = tickets.flatMap((t) => [t.message.nonce, t.signature, t.prefix]);
    const issuerFiles = filesUnder(issuerDir);
    const issuerLog = Buffer.from(issuer.stderr());
    assert.ok(issuerLog.length > 0, 'the issuer logged');
    assert.ok(holds(issuerFiles, voucherHash(voucher)), 'the search finds what is there');
    for (const [what, haystack] of [
      ['store', issuerFiles],
      ['log', issuerLog],
    ] as const) {
      for (const v of purchaseValues)
        assert.ok(!holds(haystack, v), `a purchase value in the issuer's ${what}`);
      for (const v of ticketValues)
        assert.ok(
          !holds(haystack, v),
          `a ticket's nonce, prefix or signature in the issuer's ${what}`,
        );
      assert.ok(
        !holds(haystack, voucherBytes) && !haystack.toString('latin1').includes(voucher),
        `the voucher in the issuer's ${what}`,
      );
    }
    for (const id of spentIds) assert.ok(!holds(issuerLog, id), 'a spent id in the issuer log');
    assert.ok(!holds(issuerLog, voucherHash(voucher)), "the voucher's hash in the issuer log");

    for (const [i, p] of providers.entries()) {
      const kept = Buffer.concat([filesUnder(p.dataDir), Buffer.from(p.stderr())]);
      assert.ok(kept.length > 0);
      for (const v of purchaseValues)
        assert.ok(!holds(kept, v), `a purchase value at provider ${i}`);
      for (const v of ticketValues)
        assert.ok(!holds(kept, v), `a ticket's nonce, prefix or signature at provider ${i}`);
      assert.ok(
        !holds(kept, voucherBytes) && !kept.toString('latin1').includes(voucher),
        `the voucher at provider ${i}`,
      );
      assert.ok(!holds(kept, voucherHash(voucher)), `the voucher's hash at provider ${i}`);
    }
    // A provider's spent set is spent ids and hours, nothing that names the entries paid for.
    // Each ticket is marked where it was spent; the second provider also keeps the mark of the
    // ticket the issuer said was spent. The first two providers took the write (1 ticket), the
    // spread (3) and the repaired manifest (1).
    const marks = new Map<string, number>();
    for (const [i, p] of providers.entries()) {
      const spentDb = new Database(join(p.dataDir, 'spent-tickets.sqlite'), { readonly: true });
      const rows = spentDb.prepare('SELECT * FROM spent').all() as Record<string, unknown>[];
      spentDb.close();
      if (i === 0 || i === 1) assert.deepEqual(Object.keys(rows[0]!).sort(), ['hour', 'spent_id']);
      const ids = rows.map((r) => (r.spent_id as Buffer).toString('hex'));
      if (i === 0) {
        assert.equal(ids.length, 5);
        assert.ok(ids.includes(spentAtA.toString('hex')));
      }
      if (i === 1) {
        assert.equal(ids.length, 6);
        assert.ok(ids.includes(spentAtB.toString('hex')) && ids.includes(spentAtA.toString('hex')));
      }
      for (const id of ids)
        if (!(i === 1 && id === spentAtA.toString('hex'))) marks.set(id, (marks.get(id) ?? 0) + 1);
    }
    assert.deepEqual(
      [...marks.keys()].sort(),
      spentIds.map((id) => id.toString('hex')).sort(),
      'every ticket bought is marked at the one provider it was spent at',
    );
    assert.ok([...marks.values()].every((n) => n === 1));
  },
);
