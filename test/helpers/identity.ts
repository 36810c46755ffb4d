/**
 * Identity-layer tests: persons and devices as real `p2pcloud gateway` processes, the records
 * API of their groups, and an inventory of every key a device holds (its key file, the secrets
 * in its index, the directory keys it can derive) to check what it can still open.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Client, type VerifiedEntry } from '../../src/client/client.js';
import { boxKeyPairFromSecret, type BoxKeyPair } from '../../src/crypto/x25519.js';
import { toHex } from '../../src/encoding/bytes.js';
import { openEntry } from '../../src/entry/open.js';
import { directoryKeys } from '../../src/identity/directory.js';
import { controlKeys, epochKeysFromSecret } from '../../src/identity/epoch.js';
import { linkKeys } from '../../src/identity/link-code.js';
import { decodeStatement } from '../../src/identity/statement.js';
import { loadIdentity } from '../../src/keys/key-file.js';
import { identityText, type Identity } from '../../src/keys/keys.js';
import { eventually, newKeyFile, request, spawnGateway, type GatewayProcess } from './gateways.js';
import { tempDir } from './tmp.js';

/** Seconds between a test gateway's polls of the nodes. */
export const POLL_SECONDS = '0.3';

export interface Device {
  readonly keyFile: string;
  readonly dataDir: string;
  readonly identity: Identity;
  readonly text: string;
  gateway: GatewayProcess;
  readonly url: string;
  /** Stops the gateway process (SIGTERM, clean exit). */
  stop(): Promise<void>;
  /** Starts it again on the same key and data directory (a new port). */
  restart(): Promise<void>;
}

/** A `p2pcloud gateway` process with its own root identity (or a given key file). */
/** A device's gateway process reading and writing `node` (or each of several nodes). */
export async function startDevice(
  node: string | readonly string[],
  keyFile?: string,
  /** A data directory to use again (a device that comes back with other nodes). */
  existingDataDir?: string,
): Promise<Device> {
  const key = keyFile ?? (await newKeyFile()).path;
  const identity = await loadIdentity(key);
  const dataDir = existingDataDir ?? join(tempDir(), 'gateway');
  const spawn = () =>
    spawnGateway([
      'gateway',
      '--port',
      '0',
      ...(typeof node === 'string' ? [node] : node).flatMap((url) => ['--node', url]),
      '--data',
      dataDir,
      '--key',
      key,
      '--poll-interval',
      POLL_SECONDS,
      '--log-level',
      'warn',
    ]);
  const device: Device = {
    keyFile: key,
    dataDir,
    identity,
    text: identityText(identity),
    gateway: await spawn(),
    get url() {
      return this.gateway.url;
    },
    async stop() {
      await this.gateway.stop();
    },
    async restart() {
      this.gateway = await spawn();
    },
  };
  return device;
}

/** A request that must succeed with `status`; the failure names the route and the answer. */
export async function ok(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  status = 200,
): Promise<Record<string, unknown>> {
  const answer = await request(base, method, path, body);
  if (answer.status !== status) {
    throw new Error(`${method} ${path}: ${answer.status} ${JSON.stringify(answer.body)}`);
  }
  return answer.body;
}

export async function refresh(...bases: string[]): Promise<void> {
  await Promise.all(bases.map((b) => ok(b, 'POST', '/api/refresh', {})));
}

/** Writes a record of the caller's into a space; returns its id. */
export async function writeRecord(
  base: string,
  space: string,
  data: Record<string, unknown>,
  collection = 'notes',
): Promise<string> {
  const body = await ok(
    base,
    'POST',
    `/api/spaces/${space}/collections/${collection}/records`,
    { data },
    201,
  );
  return body.id as string;
}

/** The data of every live record of a collection, as the gateway lists them. */
export async function recordData(
  base: string,
  space: string,
  collection = 'notes',
): Promise<Record<string, unknown>[]> {
  const body = await ok(
    base,
    'GET',
    `/api/spaces/${space}/collections/${collection}/records?limit=200`,
  );
  return (body.records as { data: Record<string, unknown> }[]).map((r) => r.data);
}

/** Waits until every gateway lists a record whose data has `mark` (forcing poll rounds). */
export async function seenEverywhere(
  bases: readonly string[],
  space: string,
  mark: string,
  timeoutMs = 20_000,
): Promise<void> {
  await Promise.all(
    bases.map((base) =>
      eventually(
        `${mark} on ${base}`,
        async () => {
          await refresh(base);
          return (await recordData(base, space)).some((d) => d.mark === mark);
        },
        timeoutMs,
      ),
    ),
  );
}

export interface GroupView {
  members: { member: string; role: string }[];
  epoch: string | null;
  epochs: number;
  complete: boolean;
  missing: number;
  clean: boolean | null;
  rejected: { op: string; reason: string }[];
  role: string;
  writable: boolean;
}

export async function groupView(base: string, group: string): Promise<GroupView> {
  return (await ok(base, 'GET', `/api/groups/${group}`)) as unknown as GroupView;
}

/** Accepts the pending invitation (a group welcome) to `group`, once it has arrived. */
export async function acceptWelcome(base: string, group: string): Promise<void> {
  const id = await eventually(`welcome to ${group} on ${base}`, async () => {
    await refresh(base);
    const list = await ok(base, 'GET', '/api/invitations');
    const found = (list.invitations as { id: string; space: string; state?: string }[]).find(
      (i) => i.space === group,
    );
    return found?.id;
  });
  await eventually(`joining ${group} on ${base}`, async () => {
    const answer = await request(base, 'POST', `/api/invitations/${id}/accept`, {});
    return answer.status === 200;
  });
}

/** A box key a device holds, and where it comes from (for the failure message). */
export interface HeldKey {
  readonly from: string;
  readonly box: BoxKeyPair;
}

/**
 * Every box (reader) key a stopped gateway can use: its identity, every secret in its index
 * (epoch, reader and control secrets, control spaces, link codes) and the directory keys of
 * every person it has heard of (anyone can derive those).
 */
export async function heldKeys(device: Pick<Device, 'keyFile' | 'dataDir'>): Promise<HeldKey[]> {
  const identity = await loadIdentity(device.keyFile);
  const keys: HeldKey[] = [{ from: 'identity', box: identity.box }];
  const db = new Database(join(device.dataDir, 'index.sqlite'), { readonly: true });
  try {
    const epochs = db
      .prepare('SELECT grp, epoch, epoch_secret, reader_secret, control_secret FROM group_epochs')
      .all() as {
      grp: string;
      epoch: string;
      epoch_secret: string | null;
      reader_secret: string;
      control_secret: string;
    }[];
    for (const e of epochs) {
      if (e.epoch_secret) {
        const derived = epochKeysFromSecret(e.grp, Buffer.from(e.epoch_secret, 'hex'));
        keys.push({ from: `epoch ${e.epoch} data`, box: derived.reader });
        keys.push({ from: `epoch ${e.epoch} control`, box: derived.control.reader });
      }
      keys.push({
        from: `epoch ${e.epoch} reader secret`,
        box: boxKeyPairFromSecret(Buffer.from(e.reader_secret, 'hex')),
      });
      keys.push({
        from: `epoch ${e.epoch} control secret`,
        box: controlKeys(e.grp, Buffer.from(e.control_secret, 'hex')).reader,
      });
    }
    const controls = db.prepare('SELECT grp, secret FROM group_controls').all() as {
      grp: string;
      secret: string;
    }[];
    for (const c of controls) {
      keys.push({
        from: `control ${c.grp}`,
        box: controlKeys(c.grp, Buffer.from(c.secret, 'hex')).reader,
      });
    }
    const links = db.prepare('SELECT secret FROM links').all() as { secret: string }[];
    for (const l of links) {
      keys.push({ from: 'link', box: linkKeys(Buffer.from(l.secret, 'hex')).reader });
    }
    const persons = new Set<string>([identityText(identity)]);
    const texts = db.prepare('SELECT text FROM id_statements').all() as { text: string }[];
    for (const { text } of texts) {
      const statement = decodeStatement(text);
      if (!statement) continue;
      persons.add(statement.person);
      persons.add(statement.signer);
      const member = statement.bodyObject.member ?? statement.bodyObject.device;
      if (typeof member === 'string') persons.add(member);
    }
    for (const person of persons) {
      keys.push({ from: `directory ${person}`, box: directoryKeys(person).reader });
    }
  } finally {
    db.close();
  }
  const seen = new Set<string>();
  return keys.filter((k) => {
    const hex = toHex(k.box.publicKey);
    if (seen.has(hex)) return false;
    seen.add(hex);
    return true;
  });
}

/** Every entry a node holds created at or after `since` (paged, bounded). */
export async function entriesSince(node: string, since: number): Promise<VerifiedEntry[]> {
  const client = new Client({ nodes: [node], minPowBits: 0 });
  const out: VerifiedEntry[] = [];
  let from = since;
  const ids = new Set<string>();
  for (let page = 0; page < 50; page++) {
    const result = await client.get({ since: from, order: 'asc', limit: 500 });
    let fresh = 0;
    for (const entry of result.entries) {
      if (ids.has(entry.id)) continue;
      ids.add(entry.id);
      out.push(entry);
      fresh += 1;
    }
    if (result.entries.length < 500 || fresh === 0) break;
    from = result.entries.at(-1)!.createdAt;
  }
  return out;
}

/** What each held key opens among `entries`. */
export function openable(
  entries: readonly VerifiedEntry[],
  keys: readonly HeldKey[],
): { entry: VerifiedEntry; key: HeldKey; plaintext: Buffer }[] {
  const out: { entry: VerifiedEntry; key: HeldKey; plaintext: Buffer }[] = [];
  for (const entry of entries) {
    for (const key of keys) {
      const plaintext = openEntry(entry.entry, key.box);
      if (plaintext) out.push({ entry, key, plaintext });
    }
  }
  return out;
}
