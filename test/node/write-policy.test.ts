/**
 * The write-policy hook on real node processes: the per-table quota policy shipped with the
 * node (counting what is stored at start and what it accepted since, on /put and on sync),
 * hooks that refuse, throw, hang or answer nonsense (the batch is refused with policy_failed
 * and the node carries on), and modules that cannot start the node (one clear line, exit 1).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toHex } from '../../src/encoding/bytes.js';
import { tableText } from '../../src/keys/keys.js';
import { pino } from 'pino';
import { parseNodeConfig } from '../../src/node/config.js';
import { Ingestor } from '../../src/node/ingest.js';
import { NodeMetrics } from '../../src/node/metrics.js';
import { policyFromConfig } from '../../src/node/policy.js';
import { VerifyPool } from '../../src/node/verify-pool.js';
import { loadWritePolicy } from '../../src/node/write-policy/load.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { errorOf, health, putFrames, putResults, request } from '../helpers/http.js';
import { spawnNode } from '../helpers/nodes.js';
import { repoRoot } from '../helpers/paths.js';
import { scrape } from '../helpers/prometheus.js';
import { runCli } from '../helpers/spawn.js';
import { BASE_ARGS, configFile, makeEntries, syncPeers, syncRound } from '../helpers/sync.js';
import { tempDir } from '../helpers/tmp.js';

const TABLE_QUOTA = join(repoRoot, 'dist', 'src', 'node', 'write-policy', 'table-quota.js');

function withPolicy(module: string, options: Record<string, unknown>): string {
  return configFile({ write_policy: { module, options } });
}

/** Writes an ES module into a fresh directory and returns its path. */
function moduleFile(source: string): string {
  const path = join(tempDir('p2pcloud-policy-'), 'policy.mjs');
  writeFileSync(path, source);
  return path;
}

test('table quota: counts what is stored at start and what it accepted since', async () => {
  const limited = makeEntries(5, { size: 100 });
  const other = makeEntries(3, { size: 100 });
  const config = configFile({
    write_policy: {
      module: TABLE_QUOTA,
      options: {
        max_entries: 100,
        max_bytes: 1_000_000,
        tables: { [tableText(limited.table)]: { max_entries: 3 } },
      },
    },
  });
  const dataDir = tempDir();
  const first = await spawnNode([...BASE_ARGS, '--config', config], dataDir);
  try {
    const response = await putFrames(first.url, limited.bytes.slice(0, 2));
    assert.deepEqual(
      putResults(response).map((r) => r.status),
      ['stored', 'stored'],
    );
  } finally {
    await first.stop();
  }
  // Restarted: the two stored entries count against the quota of 3.
  const node = await spawnNode([...BASE_ARGS, '--config', config], dataDir);
  try {
    const response = await putFrames(node.url, limited.bytes.slice(2, 4));
    assert.equal(response.status, 200);
    const results = putResults(response);
    assert.equal(results[0]!.status, 'stored');
    assert.equal(results[1]!.code, 'quota_exceeded');
    assert.match(String(results[1]!.message), /holds 3 entries .* its quota is 3 entries/);
    const alone = await putFrames(node.url, limited.bytes.slice(4));
    assert.equal(alone.status, 403);
    assert.equal(errorOf(alone).code, 'quota_exceeded');
    // Other tables have the default quota.
    assert.deepEqual(
      putResults(await putFrames(node.url, other.bytes)).map((r) => r.status),
      ['stored', 'stored', 'stored'],
    );
    const metrics = await scrape(node.url);
    assert.equal(metrics.value('p2pcloud_entries_rejected_total', { code: 'quota_exceeded' }), 2);
    assert.equal(metrics.value('p2pcloud_store_entries'), 6);
  } finally {
    await node.stop();
  }
});

test('table quota applies to entries from sync too, and refusing them does not punish the peer', async () => {
  const entries = makeEntries(4, { size: 100 });
  const a = await spawnNode([...BASE_ARGS, '--config', configFile({ sync: { push_peers: 0 } })]);
  assert.equal((await putFrames(a.url, entries.bytes)).status, 200);
  const b = await spawnNode([
    ...BASE_ARGS,
    '--config',
    withPolicy(TABLE_QUOTA, { max_entries: 1 }),
    '--peer',
    a.url,
    '--sync-interval',
    '3600',
  ]);
  try {
    await syncRound(b.url);
    await syncRound(b.url);
    const metrics = await scrape(b.url);
    assert.equal(metrics.value('p2pcloud_store_entries'), 1);
    assert.ok(metrics.value('p2pcloud_entries_rejected_total', { code: 'quota_exceeded' })! >= 3);
    const peer = (await syncPeers(b.url)).find((p) => p.url === a.url)!;
    assert.equal(peer.state, 'ok');
    assert.equal(peer.penalty, 0);
  } finally {
    await b.stop();
    await a.stop();
  }
});

/** A hook whose behaviour is chosen per table by its options. */
const BEHAVIOURS = `
export default function (options, context) {
  const byTable = options.tables;
  return {
    async check(entries) {
      const behaviour = byTable[entries[0].table] ?? 'accept';
      if (behaviour === 'throw') throw new Error('the policy broke');
      if (behaviour === 'hang') await new Promise((resolve) => setTimeout(resolve, 5000));
      if (behaviour === 'short') return [];
      if (behaviour === 'server_code')
        return entries.map(() => ({ accept: false, code: 'internal', message: 'no' }));
      if (behaviour === 'big')
        return entries.map((e) =>
          e.bytes > 1000
            ? { accept: false, code: 'policy_refused', message: 'entries here are at most 1000 bytes' }
            : { accept: true },
        );
      return entries.map(() => ({ accept: true }));
    },
  };
}
`;

test('hooks that refuse, throw, hang or answer nonsense: refusals or policy_failed, never a crash', async () => {
  const module = moduleFile(BEHAVIOURS);
  const tables = {
    big: makeEntries(1, { size: 100 }).table,
    throw: makeEntries(1).table,
    hang: makeEntries(1).table,
    short: makeEntries(1).table,
    server_code: makeEntries(1).table,
  };
  const options = {
    tables: Object.fromEntries(
      Object.entries(tables).map(([behaviour, table]) => [
        toHex(table.signing.publicKey),
        behaviour,
      ]),
    ),
  };
  const node = await spawnNode([
    ...BASE_ARGS,
    '--config',
    configFile({ write_policy: { module, options, timeout_ms: 300 } }),
  ]);
  try {
    const small = makeEntries(1, { table: tables.big, size: 100, label: 'small' }).bytes[0]!;
    const large = makeEntries(1, { table: tables.big, size: 2000, label: 'large' }).bytes[0]!;
    const mixed = await putFrames(node.url, [small, large]);
    assert.deepEqual(
      putResults(mixed).map((r) => [r.status, r.code, r.message]),
      [
        ['stored', undefined, undefined],
        ['rejected', 'policy_refused', 'entries here are at most 1000 bytes'],
      ],
    );
    for (const behaviour of ['throw', 'hang', 'short', 'server_code'] as const) {
      const entries = makeEntries(2, { table: tables[behaviour] }).bytes;
      const started = Date.now();
      const response = await putFrames(node.url, entries);
      const took = Date.now() - started;
      assert.equal(response.status, 503, `${behaviour}: ${response.body.toString()}`);
      assert.equal(errorOf(response).code, 'policy_failed', behaviour);
      assert.ok(
        putResults(response).every((r) => r.code === 'policy_failed'),
        behaviour,
      );
      if (behaviour === 'hang') assert.ok(took < 4000, `answered after ${took} ms`);
    }
    assert.match(
      String(
        errorOf(await putFrames(node.url, makeEntries(1, { table: tables.throw }).bytes)).message,
      ),
      /check threw: Error: the policy broke/,
    );
    // The node carries on, and stored nothing the policy did not accept.
    assert.equal((await health(node.url)).entries, 1);
    assert.match(node.stderr(), /write policy failed/);
    const metrics = await scrape(node.url);
    assert.equal(metrics.value('p2pcloud_entries_rejected_total', { code: 'policy_failed' }), 9);
  } finally {
    await node.stop();
  }
});

/** Starts `p2pcloud node` with a write policy that must keep it from starting. */
async function refusedStart(module: string, options: Record<string, unknown> = {}) {
  const result = await runCli(
    [
      'node',
      '--port',
      '0',
      '--data',
      tempDir(),
      '--config',
      configFile({ write_policy: { module, options } }),
    ],
    { timeoutMs: 30_000 },
  );
  assert.equal(result.code, 1, result.stderr);
  assert.equal(result.stdout, '');
  const lines = result.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, result.stderr);
  return lines[0]!;
}

test('a write policy that cannot be loaded stops the node at start with one clear line', async () => {
  const missing = join(tempDir(), 'no-such-policy.mjs');
  assert.equal(
    await refusedStart(missing),
    `p2pcloud: write_policy.module ${missing}: no such module`,
  );
  const throwsAtLoad = moduleFile("throw new Error('cannot load this');\n");
  assert.equal(
    await refusedStart(throwsAtLoad),
    `p2pcloud: write_policy.module ${throwsAtLoad}: cannot be loaded: cannot load this`,
  );
  const syntax = moduleFile('export default function (\n');
  assert.match(
    await refusedStart(syntax),
    /^p2pcloud: write_policy\.module .*: cannot be loaded: /,
  );
  const notFactory = moduleFile('export default 42;\n');
  assert.match(await refusedStart(notFactory), /its default export must be a function/);
  const factoryThrows = moduleFile(
    "export default function () { throw new Error('bad options'); }\n",
  );
  assert.match(await refusedStart(factoryThrows), /its factory failed: bad options$/);
  const badTableKey = moduleFile(
    "export default async function (o, context) { await context.tableStats(['nothex']); }\n",
  );
  assert.match(
    await refusedStart(badTableKey),
    /its factory failed: tableStats: nothex is not 64 hex characters$/,
  );
  const noCheck = moduleFile('export default async function () { return {}; }\n');
  assert.match(await refusedStart(noCheck), /must return an object with a check\(entries\) method/);
  assert.match(
    await refusedStart(TABLE_QUOTA, { max_entrys: 3 }),
    /its factory failed: table-quota options: .*max_entrys/,
  );
  assert.match(
    await refusedStart(TABLE_QUOTA, { tables: { nope: { max_entries: 1 } } }),
    /its factory failed: table-quota options: tables: nope: /,
  );
});

test('table quota: copies of one entry in one batch count once', async () => {
  const entries = makeEntries(3, { size: 100 });
  const node = await spawnNode([
    ...BASE_ARGS,
    '--config',
    withPolicy(TABLE_QUOTA, { max_entries: 2 }),
  ]);
  try {
    const copies = await request(node.url, '/put', {
      method: 'POST',
      body: JSON.stringify({
        entries: Array<string>(150).fill(entries.bytes[0]!.toString('base64')),
      }),
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(copies.status, 200, copies.body.toString().slice(0, 300));
    const results = putResults(copies);
    assert.deepEqual(results[0], { status: 'stored', id: entries.ids[0] });
    assert.ok(results.slice(1).every((r) => r.status === 'duplicate' && r.id === entries.ids[0]));
    // The quota of 2 has room for one more entry of the table, not two.
    const next = await putFrames(node.url, entries.bytes.slice(1));
    assert.deepEqual(
      putResults(next).map((r) => r.code ?? r.status),
      ['stored', 'quota_exceeded'],
    );
  } finally {
    await node.stop();
  }
});

test('table quota: entries the store finds already stored are given back, from sync too', async () => {
  const entries = makeEntries(2, { size: 100 });
  const store = openSqliteStore({ path: join(tempDir(), 'entries.sqlite') });
  const gate = await loadWritePolicy(
    { module: TABLE_QUOTA, options: { max_entries: 2 }, timeout_ms: 1000 },
    store,
    pino({ level: 'silent' }),
  );
  const pool = new VerifyPool(1);
  try {
    const config = parseNodeConfig({ min_pow_bits: 0 });
    const ingestor = new Ingestor(store, pool, policyFromConfig(config), new NodeMetrics(), gate);
    const item = { bytes: entries.bytes[0]! };
    // Entries fetched by sync skip the stored-ids check: the same entry fetched from two
    // peers passes the policy twice, and the store takes it once.
    const first = await ingestor.check([item], 'sync');
    const second = await ingestor.check([item], 'sync');
    assert.equal(first.valid.length, 1);
    assert.equal(second.valid.length, 1);
    const [a, b] = await ingestor.store([first, second]);
    assert.equal(a![0]!.status, 'stored');
    assert.equal(b![0]!.status, 'duplicate');
    const [other] = await ingestor.ingest([{ bytes: entries.bytes[1]! }], 'sync');
    assert.equal(other!.status, 'stored', other!.message);
  } finally {
    await pool.close();
    await gate.close();
    await store.close();
  }
});
