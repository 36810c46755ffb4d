/**
 * Providers publish offers into the market table of real node processes; a client lists,
 * filters and ranks them, and drops forged, expired, superseded and malformed ones with the
 * reason counted. Then the command line: `market offers`, and `market pick` feeding
 * `files put --spread`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '../../src/client/client.js';
import { listOffers, publishOffer, rankMarket } from '../../src/client/market/offers.js';
import { applyVerdicts, emptyReputation } from '../../src/client/compute/reputation.js';
import { toHex } from '../../src/encoding/bytes.js';
import { generateIdentity, serializeIdentity, type Identity } from '../../src/keys/keys.js';
import { MARKET_RECIPIENT, MARKET_TABLE } from '../../src/market/offers/market-keys.js';
import { encodeOffer, signOffer, type OfferBody } from '../../src/market/offers/offer.js';
import { spawnNode } from '../helpers/nodes.js';
import { runCli } from '../helpers/spawn.js';
import { tempDir } from '../helpers/tmp.js';

const DAY = 24 * 3600 * 1000;

function body(provider: Identity, nodes: string[], extra: Partial<OfferBody> = {}): OfferBody {
  const now = Date.now();
  return {
    v: 1,
    provider: toHex(provider.signing.publicKey),
    nodes,
    capacity: 10 ** 12,
    prices: { unit: 'USD', gb_month: 0.01, gb_out: 0.02, mfuel: 0.5 },
    regions: ['eu-west'],
    tables: '*',
    tickets: [],
    valid_from: now - 1000,
    valid_until: now + DAY,
    seq: 1,
    ...extra,
  };
}

test('offers are published, listed, filtered and ranked; bad ones are dropped and counted', async () => {
  const nodes = await Promise.all([0, 1, 2].map(() => spawnNode(['--min-pow', '8'])));
  const urls = nodes.map((n) => n.url);
  const [cheap, dear, lying, absent] = [0, 1, 2, 3].map(() => generateIdentity()) as Identity[];
  const dead = 'http://127.0.0.1:9'; // discard port: nothing listens, so no round trip

  // The cheap provider publishes twice: seq 2 replaces seq 1 (which was even cheaper).
  await publishOffer(
    urls,
    signOffer(
      body(cheap!, [urls[0]!], { prices: { unit: 'USD', gb_month: 0.001, gb_out: 0, mfuel: 0 } }),
      cheap!.signing,
    ),
  );
  await publishOffer(urls, signOffer(body(cheap!, [urls[0]!], { seq: 2 }), cheap!.signing));
  await publishOffer(
    urls.slice(1),
    signOffer(
      body(dear!, [urls[1]!], {
        prices: { unit: 'USD', gb_month: 0.05, gb_out: 0.1, mfuel: 1 },
        regions: ['us-east'],
        tickets: ['ab'.repeat(32)],
      }),
      dear!.signing,
    ),
  );
  await publishOffer(
    [urls[2]!],
    signOffer(
      body(lying!, [urls[2]!, dead], {
        prices: { unit: 'USD', gb_month: 0.002, gb_out: 0, mfuel: 0 },
      }),
      lying!.signing,
    ),
  );
  // An offer whose provider is down ranks after every reachable one, whatever its price.
  await publishOffer(
    [urls[0]!],
    signOffer(
      body(absent!, [dead], { prices: { unit: 'USD', gb_month: 0, gb_out: 0, mfuel: 0 } }),
      absent!.signing,
    ),
  );

  const raw = new Client({ nodes: [urls[0]!] });
  const put = (text: string) =>
    raw.put({ table: MARKET_TABLE, to: MARKET_RECIPIENT.publicKey, data: text });
  // Forged: names the dear provider, signed by another key.
  const forged = signOffer(body(cheap!, [urls[0]!], { seq: 99 }), cheap!.signing);
  const forgedText = encodeOffer(forged).replace(
    toHex(cheap!.signing.publicKey),
    toHex(dear!.signing.publicKey),
  );
  assert.notEqual(forgedText, encodeOffer(forged));
  await put(forgedText);
  // Expired an hour ago, properly signed.
  const now = Date.now();
  await put(
    encodeOffer(
      signOffer(
        body(dear!, [urls[1]!], {
          seq: 50,
          valid_from: now - 2 * DAY,
          valid_until: now - 3600_000,
        }),
        dear!.signing,
      ),
    ),
  );
  await put('{"type":"p2pcloud/offer","v":1,"body":"{not json","sig":"00"}');

  const listing = await listOffers(urls);
  assert.deepEqual(listing.dropped, { invalid: 2, expired: 1, superseded: 1 });
  // A published offer's entry expires with the offer, so nodes drop it when it lapses.
  const stored = await new Client({ nodes: urls }).read(MARKET_RECIPIENT, {
    tables: [MARKET_TABLE.signing.publicKey],
  });
  const dearProvider = toHex(dear!.signing.publicKey);
  const published = stored.entries.flatMap((e) => {
    try {
      const b = JSON.parse((JSON.parse(e.text) as { body: string }).body) as OfferBody;
      return b.provider === dearProvider && b.seq === 1 ? [{ entry: e, body: b }] : [];
    } catch {
      return [];
    }
  });
  assert.equal(published.length, 1, 'the dear provider’s published offer is stored once');
  assert.equal(published[0]!.entry.expiresAt, published[0]!.body.valid_until);
  assert.equal(listing.offers.length, 4);
  const cheapOffer = listing.offers.find(
    (o) => o.body.provider === toHex(cheap!.signing.publicKey),
  );
  assert.equal(cheapOffer?.body.seq, 2);
  assert.equal(cheapOffer?.body.prices.gb_month, 0.01);
  const dearOffer = listing.offers.find((o) => o.body.provider === toHex(dear!.signing.publicKey));
  assert.equal(
    dearOffer?.body.seq,
    1,
    'the forged seq 99 and the expired seq 50 are not the dear offer',
  );

  const key = (i: Identity) => toHex(i.signing.publicKey);
  const ranked = await rankMarket(listing.offers, {}, emptyReputation());
  assert.deepEqual(
    ranked.map((r) => r.offer.body.provider),
    [key(lying!), key(cheap!), key(dear!), key(absent!)],
  );
  assert.ok(ranked[0]!.latencyMs! > 0 && ranked[0]!.latencyMs! < 3000);
  assert.equal(ranked[3]!.latencyMs, undefined);

  // The client caught the lying provider disagreeing: it ranks last, after the absent one.
  const record = applyVerdicts(
    emptyReputation(),
    [{ node: key(lying!), verdict: 'disagreed' }],
    now,
  );
  const judged = await rankMarket(listing.offers, {}, record);
  assert.deepEqual(
    judged.map((r) => r.offer.body.provider),
    [key(cheap!), key(dear!), key(absent!), key(lying!)],
  );

  // Filters.
  const names = async (f: Parameters<typeof rankMarket>[1]) =>
    (await rankMarket(listing.offers, f, emptyReputation())).map((r) => r.offer.body.provider);
  assert.deepEqual(await names({ region: 'us-east' }), [key(dear!)]);
  assert.deepEqual(await names({ maxPriceGbMonth: 0.005 }), [key(lying!), key(absent!)]);
  assert.deepEqual(await names({ tickets: ['ab'.repeat(32)] }), [key(dear!)]);
  assert.deepEqual(await names({ minCapacity: 10 ** 12 + 1 }), []);
});

test('market publish, offers and pick on the command line; pick feeds files put --spread', async () => {
  const dir = tempDir();
  const nodes = await Promise.all([0, 1, 2].map(() => spawnNode(['--min-pow', '8'])));
  const urls = nodes.map((n) => n.url);
  const marketArgs = urls.flatMap((u) => ['--node', u]);
  const prices = [0.03, 0.01, 0.02];
  for (let i = 0; i < 3; i++) {
    const keyFile = join(dir, `p${i}.key`);
    writeFileSync(keyFile, serializeIdentity(generateIdentity()), { mode: 0o600 });
    const offerFile = join(dir, `offer${i}.json`);
    writeFileSync(
      offerFile,
      JSON.stringify({
        nodes: [urls[i]],
        capacity: 10 ** 11,
        prices: { unit: 'USD', gb_month: prices[i], gb_out: 0.01, mfuel: 0.1 },
        regions: [i === 0 ? 'us-east' : 'eu-west'],
        tables: '*',
        tickets: [],
      }),
    );
    const published = await runCli([
      'market',
      'publish',
      '--offer',
      offerFile,
      '--key',
      keyFile,
      '--node',
      urls[i]!,
    ]);
    assert.equal(published.code, 0, published.stderr);
    assert.match(
      published.lines[0]!,
      /^published offer seq \d+ of [0-9a-f]{64} to 1 node\(s\): [0-9a-f]{64}$/,
    );
  }

  const bad = join(dir, 'bad.json');
  writeFileSync(
    bad,
    JSON.stringify({
      nodes: ['ftp://x'],
      capacity: 1,
      prices: {},
      regions: [],
      tables: '*',
      tickets: [],
    }),
  );
  const refused = await runCli([
    'market',
    'publish',
    '--offer',
    bad,
    '--key',
    join(dir, 'p0.key'),
    '--node',
    urls[0]!,
  ]);
  assert.equal(refused.code, 1);
  assert.match(
    refused.stderr,
    /^p2pcloud: --offer: the offer is invalid: "nodes" holds a malformed item\n$/,
  );

  const listed = await runCli(['market', 'offers', ...marketArgs, '--json']);
  assert.equal(listed.code, 0, listed.stderr);
  assert.deepEqual(
    listed.lines.map((l) => (JSON.parse(l) as { prices: { gb_month: number } }).prices.gb_month),
    [0.01, 0.02, 0.03],
  );
  assert.match(
    listed.stderr,
    /3 offer\(s\) valid, 3 match; dropped 0 invalid, 0 expired, 0 superseded/,
  );
  const table = await runCli(['market', 'offers', ...marketArgs]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(
    table.lines[0]!,
    /^PROVIDER +GB-MONTH +GB-OUT +MFUEL +UNIT +CAPACITY +LATENCY +REGIONS +NODES$/,
  );
  assert.equal(table.lines.length, 4);
  assert.match(
    table.lines[1]!,
    new RegExp(`^[0-9a-f]{16}  0\\.01 .* USD .*ms +eu-west +${urls[1]!}$`),
  );
  const eu = await runCli([
    'market',
    'offers',
    ...marketArgs,
    '--region',
    'eu-west',
    '--max-price-gb-month',
    '0.015',
    '--json',
  ]);
  assert.equal(eu.lines.length, 1, eu.stderr);

  const pick = await runCli(['market', 'pick', '--n', '2', ...marketArgs]);
  assert.equal(pick.code, 0, pick.stderr);
  assert.deepEqual(pick.lines, [urls[1], urls[2]]);
  const tooMany = await runCli(['market', 'pick', '--n', '4', ...marketArgs]);
  assert.equal(tooMany.code, 1);
  assert.match(
    tooMany.stderr,
    /^p2pcloud: --n: 4 provider\(s\) wanted, 3 reachable offer\(s\) match\n$/m,
  );

  const idFile = join(dir, 'owner.key');
  const tableFile = join(dir, 'owner.table');
  assert.equal((await runCli(['keygen', '--out', idFile])).code, 0);
  assert.equal((await runCli(['table', 'create', '--out', tableFile])).code, 0);
  const file = join(dir, 'data.bin');
  const bytes = randomBytes(100_000);
  writeFileSync(file, bytes);
  const spread = await runCli(
    [
      'files',
      'put',
      file,
      '--spread',
      '1/2',
      ...pick.lines.flatMap((u) => ['--node', u]),
      '--identity',
      idFile,
      '--table',
      tableFile,
    ],
    { timeoutMs: 120_000 },
  );
  assert.equal(spread.code, 0, spread.stderr);
  const out = join(dir, 'copy.bin');
  const got = await runCli(
    [
      'files',
      'get',
      '--spread',
      spread.lines[0]!,
      '--out',
      out,
      '--node',
      pick.lines[1]!,
      '--identity',
      idFile,
    ],
    { timeoutMs: 120_000 },
  );
  assert.equal(got.code, 0, got.stderr);
  assert.deepEqual(readFileSync(out), bytes);
});
