/**
 * Key-value tests across processes: a node that can be stopped and started again on the same
 * port and data directory, reads of a device's whole replica through its routes, the batches a
 * stopped device's replica file holds, and statements crafted with a device's own keys and
 * sealed into a group's data space as a hostile member would.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Client } from '../../src/client/client.js';
import { publish } from '../../src/gateway/publish.js';
import { epochKeysFromSecret, type EpochKeys } from '../../src/identity/epoch.js';
import { encodeStatement, signStatement, type Statement } from '../../src/identity/statement.js';
import type { TableKey } from '../../src/keys/keys.js';
import { KV_BATCH_KIND } from '../../src/kv/batch.js';
import { request } from './gateways.js';
import { ok } from './identity.js';
import { spawnCli, type CliProcess } from './spawn.js';

/** `p2pcloud node` on a fixed port, so that gateways find it again after a restart. */
export async function spawnNodeAt(port: number, dataDir: string): Promise<CliProcess> {
  return spawnCli(
    [
      'node',
      '--port',
      String(port),
      '--data',
      dataDir,
      '--min-pow',
      '0',
      '--sync-interval',
      '3600',
    ],
    /listening on (http:\/\/[^\s]+)/,
    'node',
  );
}

/** Every live key and value of a space on one device, through the range route (paged). */
export async function kvAll(base: string, group: string): Promise<[string, string][]> {
  const out: [string, string][] = [];
  let after: string | undefined;
  for (let page = 0; page < 100; page++) {
    const gt = after === undefined ? '' : `&gt=${encodeURIComponent(after)}&encoding=base64`;
    const answer = await ok(
      base,
      'GET',
      `/api/spaces/${group}/kv/range?limit=1000${gt || '&encoding=base64'}`,
    );
    for (const e of answer.entries as { key: string; value: string }[]) {
      out.push([
        Buffer.from(e.key, 'base64').toString('utf8'),
        Buffer.from(e.value, 'base64').toString('utf8'),
      ]);
    }
    if (answer.next === null) return out;
    after = answer.next as string;
  }
  throw new Error('more than 100 pages in a test space');
}

export interface KvStatus {
  keys: number;
  versions: number;
  batches: number;
  versionVector: Record<string, number>;
  ignored: Record<'accept' | 'signer' | 'writer' | 'fork' | 'malformed' | 'space', number>;
  forks: { signer: string; batch: number }[];
  outbox: number;
}

export async function kvStatus(base: string, group: string): Promise<KvStatus> {
  return (await ok(base, 'GET', `/api/spaces/${group}/kv/status`)) as unknown as KvStatus;
}

/** The replica file of `identity` (its text) for `group` under a gateway data directory. */
export function replicaFile(dataDir: string, identity: string, group: string): string {
  const folder = createHash('sha256').update(identity).digest('hex').slice(0, 16);
  return join(dataDir, 'kv', folder, `${group}.sqlite`);
}

/** One operation of a held batch, as the merge rule orders it (docs/kv.md §4.2). */
export interface HeldVersion {
  key: string;
  value: string | null;
  hlc: string;
  signer: string;
  batch: number;
  index: number;
}

/** Every operation of every batch a replica file holds (read-only; the gateway may run). */
export function heldVersions(file: string): HeldVersion[] {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const rows = db
      .prepare('SELECT statement FROM replica_statements WHERE kind = ?')
      .all(KV_BATCH_KIND) as { statement: string }[];
    const out: HeldVersion[] = [];
    for (const { statement } of rows) {
      const s = JSON.parse(statement) as { signer: string; body: string };
      const body = JSON.parse(s.body) as {
        batch: number;
        ops: { type: string; key: string; value?: string; hlc: string }[];
      };
      body.ops.forEach((op, index) =>
        out.push({
          key: Buffer.from(op.key, 'base64').toString('utf8'),
          value: op.type === 'put' ? Buffer.from(op.value!, 'base64').toString('utf8') : null,
          hlc: op.hlc,
          signer: s.signer,
          batch: body.batch,
          index,
        }),
      );
    }
    return out;
  } finally {
    db.close();
  }
}

/** docs/kv.md §4.2: hlc text, then signer text, then batch number, then op index. */
export function compareVersions(a: HeldVersion, b: HeldVersion): number {
  if (a.hlc !== b.hlc) return a.hlc < b.hlc ? -1 : 1;
  if (a.signer !== b.signer) return a.signer < b.signer ? -1 : 1;
  if (a.batch !== b.batch) return a.batch - b.batch;
  return a.index - b.index;
}

/** The keys of a group's epoch as a writer device holds them in its index (read-only). */
export function epochKeysOf(dataDir: string, group: string, epoch: string): EpochKeys {
  const db = new Database(join(dataDir, 'index.sqlite'), { readonly: true });
  try {
    const row = db
      .prepare('SELECT epoch_secret FROM group_epochs WHERE grp = ? AND epoch = ?')
      .get(group, epoch) as { epoch_secret: string | null } | undefined;
    if (!row?.epoch_secret) throw new Error(`no epoch secret of ${group} ${epoch} held`);
    return epochKeysFromSecret(group, Buffer.from(row.epoch_secret, 'hex'));
  } finally {
    db.close();
  }
}

/** Seals statements into a group's data space (table and reader of `keys`) on `node`. */
export async function postStatements(
  node: string,
  keys: EpochKeys,
  statements: readonly Statement[],
): Promise<void> {
  const client = new Client({ nodes: [node], minPowBits: 0 });
  await publish(
    client,
    statements.map((s) => ({
      table: keys.table as TableKey,
      to: keys.reader.publicKey,
      plaintext: Buffer.from(encodeStatement(s)),
      createdAt: s.at,
    })),
  );
}

/** A `kv-batch` statement with any body object, signed as `signStatement` signs. */
export function signedBatch(
  input: Omit<Parameters<typeof signStatement>[0], 'kind' | 'body'> & {
    body: Record<string, unknown>;
  },
): Statement {
  return signStatement({ ...input, kind: KV_BATCH_KIND });
}

/** The body object of a batch of puts (and dels, value null) stamped `hlc`. */
export function batchBody(
  space: string,
  batch: number,
  ops: readonly { key: string; value: string | null; hlc: string }[],
): Record<string, unknown> {
  return {
    space,
    batch,
    seen: {},
    ops: ops.map((op) =>
      op.value === null
        ? { type: 'del', key: Buffer.from(op.key).toString('base64'), hlc: op.hlc }
        : {
            type: 'put',
            key: Buffer.from(op.key).toString('base64'),
            value: Buffer.from(op.value).toString('base64'),
            hlc: op.hlc,
          },
    ),
  };
}

/** A key's value on a device's replica, or undefined when it has none. */
export async function valueOf(
  device: { readonly url: string },
  group: string,
  key: string,
): Promise<string | undefined> {
  const answer = await request(
    device.url,
    'GET',
    `/api/spaces/${group}/kv/value?key=${encodeURIComponent(key)}`,
  );
  if (answer.status === 404) return undefined;
  if (answer.status !== 200)
    throw new Error(`GET kv/value: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body.value as string;
}
