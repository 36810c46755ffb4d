/**
 * The key-value stores and logs of a gateway's groups (docs/kv.md §9): one replica file per
 * identity and group, fed by the poller with the batches and log statements it reads from the
 * groups' data spaces, and an outbox that sends what this device wrote whenever a node answers.
 * Writes never wait for the network: a device offline keeps writing, and its statements reach
 * the nodes when they can.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import type { VerifiedEntry } from '../../client/client.js';
import { sha256 } from '../../crypto/sha256.js';
import { fromHex, toHex } from '../../encoding/bytes.js';
import { P2PError } from '../../errors.js';
import { decodeStatement } from '../../identity/statement.js';
import { identityText, type Identity } from '../../keys/keys.js';
import { KV_BATCH_KIND } from '../../kv/batch.js';
import type { RecordIndex } from '../index-db.js';
import { ingestEntries } from '../ingest.js';
import { seal, sendSealed, type Sealed } from '../publish.js';
import { decodeEntry } from '../../entry/format.js';
import { requiredPowBitsOfAll, type PowSubject } from '../../entry/pow-rule.js';
import { entryPowBits } from '../../entry/verify.js';
import type { Keyring } from '../keyring.js';
import type { DataSink, IdentityLayer, ReadChannel } from '../identity/layer.js';
import { WRITE_ROLES } from '../identity/groups.js';
import { LogBook } from './log-book.js';
import { KvReplica, type ReplicaHost, type Verdict } from './replica.js';
import type { KeptStamp } from './replica-tables.js';

const KINDS = new Set([KV_BATCH_KIND, 'log-entry', 'log-head']);
/** Statements one put to the nodes carries (each is one entry with its own proof of work). */
const PUSH_CHUNK = 32;
/** Outbox statements stamped ahead while no node answers (kept in the replica file). */
const MAX_STAMPED = 512;
/** How long the outbox waits before trying again after no node took its statements. */
const RETRY_MS = 2000;

export interface OpenSpace {
  /** An abstract-level database with UTF-8 keys and values by default (like classic-level). */
  readonly replica: KvReplica;
  readonly logs: LogBook;
  readonly actor: Identity;
  readonly group: string;
}

/** An open space and the persons whose directory it met unread while judging. */
interface HeldSpace extends OpenSpace {
  readonly unsure: Set<string>;
}

export class KvHub implements DataSink {
  private readonly opened = new Map<string, HeldSpace>();
  private readonly opening = new Map<string, Promise<OpenSpace>>();
  private pushing: Promise<void> | undefined;
  private pushAgain = false;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly layer: IdentityLayer,
    private readonly keyring: Keyring,
    private readonly index: RecordIndex,
    private readonly dir: string,
    private readonly log: Logger,
  ) {}

  /** The store and logs of `group` as `actor` sees them; no_such_group unless a member. */
  async space(actor: Identity, group: string): Promise<OpenSpace> {
    const text = identityText(actor);
    const person = this.layer.personOf(text);
    if (!/^[0-9a-f]{32}$/.test(group) || !this.layer.groups.space(group, person)) {
      throw new P2PError('no_such_group', `no group ${group.slice(0, 80)} for this identity`);
    }
    const key = `${text}:${group}`;
    const held = this.opened.get(key);
    if (held) return held;
    let pending = this.opening.get(key);
    if (!pending) {
      pending = this.openSpace(actor, group).finally(() => this.opening.delete(key));
      this.opening.set(key, pending);
    }
    return pending;
  }

  private async openSpace(actor: Identity, group: string): Promise<OpenSpace> {
    if (this.closed) throw new P2PError('unavailable', 'the gateway is stopping');
    const text = identityText(actor);
    const file = this.file(actor, group);
    mkdirSync(dirname(file), { recursive: true });
    const unsure = new Set<string>();
    const host = this.host(actor, group, unsure);
    const replica = new KvReplica(file, group, host);
    await replica.open();
    const logs = new LogBook(group, replica.database, replica.statementTables, host);
    const open: HeldSpace = { replica, logs, actor, group, unsure };
    this.opened.set(`${text}:${group}`, open);
    // A replica an app closed is opened anew (with its log book) when next asked for.
    replica.once('closed', () => {
      if (this.opened.get(`${text}:${group}`) === open) this.opened.delete(`${text}:${group}`);
    });
    // Entries of the group read while no replica was open wait under this name (ingest()),
    // and leave it in the transaction that hands them over: a crash keeps them waiting.
    this.index.transaction(() => {
      const parked = this.layer.takeDeferred([parkName(group)]);
      if (parked.length > 0) ingestEntries(parked, this.keyring, this.index, this.layer, true);
    });
    if (replica.outboxSize() > 0) this.schedulePush(0);
    return open;
  }

  /**
   * `unsure` collects the persons whose directory had not been read when a held statement was
   * judged (on open, before the first poll round): such a statement is refused for now and
   * judged again once the directory is known (settled()).
   */
  private host(actor: Identity, group: string, unsure: Set<string>): ReplicaHost {
    const signer = identityText(actor);
    const layer = this.layer;
    return {
      writer: () => {
        const person = layer.personOf(signer);
        const space = layer.groups.space(group, person);
        if (!space) throw new P2PError('no_such_group', 'this identity is no longer in the group');
        if (space.group?.role === 'reader') {
          throw new P2PError('forbidden_role', 'a reader of this group cannot write in it');
        }
        if (!layer.directories.state(person).isActive(signer)) {
          throw new P2PError(
            'forbidden',
            'this device has been revoked by its person: its writes would be ignored',
          );
        }
        const keys = layer.groups.currentKeys(group);
        if (!keys) {
          throw new P2PError(
            'group_rekey_pending',
            "this device does not hold the group's current keys yet: try again shortly",
          );
        }
        return { identity: actor, signer, person, epoch: keys.epoch };
      },
      nextSeq: (s) => layer.store.nextSeq(s),
      judge: (w, epoch): Verdict => {
        const accepts = layer.directories.accepts(w.person, w.signer, w.at, w.seq);
        if (accepts === undefined) unsure.add(w.person);
        if (accepts !== true) return 'signer';
        return layer.groups.mayWrite(group, epoch, w.person, w.at) ? 'accept' : 'writer';
      },
      writers: () => {
        const state = layer.groups.state(group);
        const out: string[] = [];
        for (const [person, role] of state.members) {
          if (!WRITE_ROLES.includes(role)) continue;
          out.push(person);
          for (const device of layer.directories.state(person).devices.keys()) {
            if (layer.directories.state(person).isActive(device)) out.push(device);
          }
        }
        return out;
      },
      wrote: () => this.schedulePush(0),
    };
  }

  /**
   * Before a poll round, and after it: opens the replicas of the groups that have one, or
   * whose key-value entries were read while none was open, so the round's entries find them.
   * A group without either (a forum's space, say) gets no replica file.
   */
  async prepare(): Promise<void> {
    const parked = new Set(this.layer.store.deferredPersons());
    for (const actor of this.keyring.identities()) {
      const person = this.layer.personOf(identityText(actor));
      for (const group of this.layer.groups.ids()) {
        if (this.opened.has(`${identityText(actor)}:${group}`)) continue;
        if (!parked.has(parkName(group)) && !existsSync(this.file(actor, group))) continue;
        if (!this.layer.groups.space(group, person)) continue;
        await this.space(actor, group).catch((error: unknown) =>
          this.log.warn({ err: error, group }, 'cannot open the key-value replica'),
        );
      }
    }
  }

  private file(actor: Identity, group: string): string {
    const folder = toHex(sha256(Buffer.from(identityText(actor)))).slice(0, 16);
    return join(this.dir, folder, `${group}.sqlite`);
  }

  /**
   * A verified entry of a group's data space whose plaintext is not a record: takes the
   * key-value batches and log statements (called inside the index transaction, so that an
   * entry is marked seen only with its statement kept). False for anything else.
   */
  ingest(channel: ReadChannel, entry: VerifiedEntry, plaintext: Buffer): boolean {
    const statement = decodeStatement(plaintext.toString('utf8'));
    if (!statement || !KINDS.has(statement.kind)) return false;
    // The signer's time must be the entry's, as for records: no re-dating by a re-wrap.
    if (statement.at !== entry.createdAt || channel.epoch === undefined) return true;
    const accepts = this.layer.directories.accepts(
      statement.person,
      statement.signer,
      statement.at,
      statement.seq,
    );
    if (accepts === undefined) {
      this.layer.defer(statement.person, entry);
      return true;
    }
    if (accepts) this.layer.noteSeq(statement);
    const targets = [...this.opened.values()].filter((o) => o.group === channel.ref);
    if (targets.length === 0) {
      this.layer.store.defer(entry.id, parkName(channel.ref), entry.bytes);
      return true;
    }
    for (const target of targets) {
      if (statement.kind === KV_BATCH_KIND) target.replica.receive(statement, channel.epoch);
      else target.logs.receive(statement, channel.epoch);
    }
    return true;
  }

  /** After a poll round: what changed in groups is judged again, then the outbox is sent. */
  async settled(changes: { groups: readonly string[] }): Promise<void> {
    await this.prepare();
    const groups = new Set(changes.groups);
    for (const open of this.opened.values()) {
      // One directory read is enough to judge again: those still unread are noted again.
      const learnt = [...open.unsure].some((p) => this.layer.directories.isKnown(p));
      if (!groups.has(open.group) && !learnt) continue;
      open.unsure.clear();
      open.replica.rebuild();
      open.logs.rejudge();
    }
    // Not awaited: reading the others' batches must not wait for this device's to be sent.
    void this.push();
  }

  private schedulePush(delay: number): void {
    if (this.closed) return;
    if (delay === 0) {
      void this.push();
      return;
    }
    if (this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.push();
    }, delay);
    this.retry.unref();
  }

  /** Sends every open replica's outbox; one run at a time, run again if asked meanwhile. */
  push(): Promise<void> {
    if (this.pushing) {
      this.pushAgain = true;
      return this.pushing;
    }
    this.pushing = (async () => {
      do {
        this.pushAgain = false;
        for (const open of [...this.opened.values()]) {
          if (this.closed) return;
          const ok = await this.pushOne(open).catch((error: unknown) => {
            this.log.debug({ err: error, group: open.group }, 'outbox not sent yet');
            return false;
          });
          if (!ok) this.schedulePush(RETRY_MS);
        }
      } while (this.pushAgain && !this.closed);
    })().finally(() => {
      this.pushing = undefined;
    });
    return this.pushing;
  }

  /**
   * Sends one replica's outbox in chunks; false when something is left for later. The entries
   * are marked seen before they are sent: a process killed while a node stores them finds them
   * counted after a restart (the poller then has no reason to read the space whole), and sends
   * the very same entries again from their kept stamps.
   */
  private async pushOne(open: OpenSpace): Promise<boolean> {
    for (;;) {
      const rows = open.replica.outbox(PUSH_CHUNK);
      if (rows.length === 0) return true;
      const entries = await this.stampRows(open, rows);
      if (!entries) return false;
      this.index.transaction(() => {
        for (const sealed of entries) {
          this.index.markSeen(fromHex(sealed.id, 32)!, sealed.table, sealed.createdAt);
        }
      });
      try {
        await sendSealed(this.layer.client, entries);
      } catch (error) {
        // No node took them: use the wait to stamp what else is queued, so that the device
        // arrives with its work done when a node answers again.
        await this.stampRows(open, open.replica.outbox(MAX_STAMPED)).catch(() => undefined);
        throw error;
      }
      open.replica.sent(rows.map((r) => r.hash));
    }
  }

  /**
   * Sealed entries of outbox statements for the group's current keys and the nodes' proof of
   * work, side by side on the pool. A stamp is kept in the replica file until a node takes its
   * entry: a retry while the nodes are away, or after a restart, sends the same entry without
   * paying the work again. A kept stamp for other keys or less work than the nodes now ask is
   * sealed anew, and the entry it replaces is no longer counted as seen. Undefined while the
   * device holds no current keys.
   */
  private async stampRows(
    open: OpenSpace,
    rows: readonly { hash: string; statement: string }[],
  ): Promise<Sealed[] | undefined> {
    const keys = this.layer.groups.currentKeys(open.group);
    if (!keys?.table) return undefined;
    const table = keys.table;
    const rules = await this.layer.client.powRules();
    const bits = (subject: PowSubject): number => requiredPowBitsOfAll(rules, subject);
    const kept = open.replica.stamps(rows.map((r) => r.hash));
    const fresh: KeptStamp[] = [];
    const replaced: string[] = [];
    const sealed = await Promise.all(
      rows.map(async (row) => {
        const stamp = kept.get(row.hash);
        if (stamp) {
          const entry = decodeEntry(stamp.entry);
          if (
            entry.table.equals(table.signing.publicKey) &&
            entry.recipient.equals(keys.reader.publicKey) &&
            entryPowBits(entry) >= bits({ table: entry.table, size: stamp.entry.length })
          ) {
            return {
              id: stamp.id,
              bytes: stamp.entry,
              createdAt: entry.createdAt,
              table: entry.table,
            };
          }
          replaced.push(stamp.id);
        }
        const at = (JSON.parse(row.statement) as { at: number }).at;
        const made = await seal(
          {
            table,
            to: keys.reader.publicKey,
            plaintext: Buffer.from(row.statement),
            createdAt: at,
          },
          bits,
          this.layer.powThreads,
        );
        fresh.push({ hash: row.hash, id: made.id, entry: made.bytes });
        return made;
      }),
    );
    if (fresh.length > 0 && !this.closed) open.replica.keepStamps(fresh);
    if (replaced.length > 0) {
      this.index.transaction(() => {
        for (const id of replaced) this.index.unmarkSeen(fromHex(id, 32)!);
      });
    }
    return sealed;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    await this.pushing?.catch(() => undefined);
    for (const open of this.opened.values()) await open.replica.close();
    this.opened.clear();
  }
}

/** Name under which entries of a group wait for its replica to open. */
function parkName(group: string): string {
  return `kv:${group}`;
}
