/**
 * The identity layer of a gateway: which person each of its identities speaks for, the
 * directories and groups it follows, and what it does with the entries of their spaces. The
 * poller reads the spaces `channels()` names before the spaces of records, hands each entry to
 * `ingest()` (synchronously, inside the index transaction), and calls `settle()` after every
 * round for what needs the network: answering link requests and changing group keys.
 */
import type { Logger } from 'pino';
import type { Client, VerifiedEntry } from '../../client/client.js';
import { openEntry } from '../../entry/open.js';
import { decodeEntry } from '../../entry/format.js';
import type { BoxKeyPair } from '../../crypto/x25519.js';
import { P2PError } from '../../errors.js';
import { fromHex, toHex } from '../../encoding/bytes.js';
import { decodeGroupKeys, encodeGroupKeys } from '../../identity/epoch.js';
import {
  decodeStatement,
  encodeStatement,
  parseJsonObject,
  signStatement,
  type Statement,
} from '../../identity/statement.js';
import { identityText, type Identity } from '../../keys/keys.js';
import type { RecordIndex } from '../index-db.js';
import type { Keyring } from '../keyring.js';
import { publish, publishedEntry, type PublishItem } from '../publish.js';
import { Directories } from './directories.js';
import { Groups } from './groups.js';
import { planCommit, type CommitInput } from './commit-plan.js';
import type { DeviceProfile } from './profile.js';
import { IdentityStore } from './store.js';
import { Links } from './links.js';
import type { ReadChannel } from './channel.js';

export type { ReadChannel };

/**
 * What else lives in a group's data spaces besides records (the key-value stores and logs):
 * it gets ready before each poll round, takes the entries that are not records, and hears
 * which groups changed after the round.
 */
export interface DataSink {
  prepare(): Promise<void>;
  /** False when the plaintext is not for this sink. Runs inside the index transaction. */
  ingest(channel: ReadChannel, entry: VerifiedEntry, plaintext: Buffer): boolean;
  settled(changes: { groups: readonly string[] }): Promise<void>;
}

/** How long a gateway waits after one rekey of a group before it tries another. */
const HEAL_PAUSE_MS = 10_000;

export class IdentityLayer {
  readonly store: IdentityStore;
  readonly directories: Directories;
  readonly groups: Groups;
  readonly links: Links;
  private readonly healedAt = new Map<string, { epoch: string; at: number }>();
  private channelCache: Map<string, ReadChannel> | undefined;
  private committing: Promise<unknown> = Promise.resolve();
  private readonly sinks: DataSink[] = [];

  constructor(
    readonly keyring: Keyring,
    readonly index: RecordIndex,
    readonly client: Client,
    readonly dataDir: string,
    public profile: DeviceProfile | undefined,
    readonly log: Logger,
    readonly powThreads: number | undefined,
  ) {
    this.store = new IdentityStore(index);
    this.directories = new Directories(this.store);
    this.groups = new Groups(this.store, this.directories, () => this.boxes());
    this.links = new Links(this);
    for (const identity of keyring.identities())
      this.directories.follow(this.personOf(identityText(identity)));
    keyring.attachGroups({
      space: (id, member) => this.groups.space(id, this.personOf(member)),
      spacesOf: (member) => this.groups.spacesFor(this.personOf(member)),
    });
  }

  /** The person an identity of this gateway speaks for. */
  personOf(identity: string): string {
    if (this.profile && identity === this.keyring.defaultText) return this.profile.person;
    return identity;
  }

  private boxes(): Map<string, BoxKeyPair> {
    return new Map(this.keyring.identities().map((i) => [toHex(i.box.publicKey), i.box]));
  }

  /** Publishes entries with the gateway's proof-of-work settings. */
  async publish(items: readonly PublishItem[]) {
    return publish(this.client, items, this.powThreads);
  }

  /** Every space this layer reads, in the order they must be read: directories and links, then control spaces, then data. */
  channels(): ReadChannel[] {
    const out: ReadChannel[] = [];
    for (const person of this.directories.persons()) {
      const keys = this.directories.keysOf(person);
      out.push({
        kind: 'directory',
        ref: person,
        table: keys.table.signing.publicKey,
        reader: keys.reader,
      });
    }
    out.push(...this.links.channels());
    for (const c of this.groups.channels()) {
      out.push({
        kind: c.kind,
        ref: c.group,
        table: c.table.signing.publicKey,
        reader: c.reader,
        ...(c.epoch ? { epoch: c.epoch } : {}),
      });
    }
    this.channelCache = new Map(out.map((c) => [channelKey(c.table, c.reader.publicKey), c]));
    return out;
  }

  channelOf(table: Buffer, recipient: Buffer): ReadChannel | undefined {
    if (!this.channelCache) this.channels();
    return this.channelCache!.get(channelKey(table, recipient));
  }

  /**
   * Handles a verified entry of one of this layer's spaces, or one sealed to an identity of
   * the gateway. Returns what it was: 'handled', 'record' (the caller applies the version it
   * decodes, after `recordVerdict`), or 'other'.
   */
  ingestChannel(channel: ReadChannel, entry: VerifiedEntry): 'handled' | 'record' {
    if (channel.kind === 'data') return 'record';
    const plaintext = openEntry(entry.entry, channel.reader);
    if (!plaintext) return 'handled';
    const text = plaintext.toString('utf8');
    if (channel.kind === 'directory') {
      const statement = decodeStatement(text);
      if (statement && statement.at === entry.createdAt)
        this.directories.add(channel.ref, statement);
      return 'handled';
    }
    if (channel.kind === 'link') {
      const statement = decodeStatement(text);
      if (statement?.kind === 'link-request') this.links.request(channel.ref, statement);
      return 'handled';
    }
    const statement = decodeStatement(text);
    if (statement?.kind === 'group-keys') {
      const keys = decodeGroupKeys(Buffer.from(statement.body));
      if (keys && keys.group === channel.ref) {
        this.groups.addPackages(keys.group, keys.epoch, statement.signer, keys.packages);
      }
      return 'handled';
    }
    if (statement?.kind === 'group-op' && statement.at === entry.createdAt) {
      this.groups.addOp(channel.ref, statement);
      this.noteSeq(statement);
    }
    return 'handled';
  }

  addSink(sink: DataSink): void {
    this.sinks.push(sink);
  }

  async prepareSinks(): Promise<void> {
    for (const sink of this.sinks) await sink.prepare();
  }

  /** A data-space entry that is not a record: whether a sink took it. */
  ingestData(channel: ReadChannel, entry: VerifiedEntry, plaintext: Buffer): boolean {
    return this.sinks.some((sink) => sink.ingest(channel, entry, plaintext));
  }

  /** Remembers the highest counter seen from a signer (what a revocation names). */
  noteSeq(statement: Pick<Statement, 'signer' | 'person' | 'seq'>): void {
    if (statement.signer !== statement.person) this.store.noteSeq(statement.signer, statement.seq);
  }

  /**
   * Whether a record version counts: its device speaks for its author (§3.3) and, in a group,
   * the author could write in that epoch (§5.7). 'defer' while the author's directory is unread.
   */
  recordVerdict(
    channel: ReadChannel | undefined,
    version: { author: string; signer?: string; seq?: number; at: number },
  ): 'accept' | 'reject' | 'defer' {
    if (version.signer !== undefined) {
      const accepts = this.directories.accepts(
        version.author,
        version.signer,
        version.at,
        version.seq ?? 0,
      );
      if (accepts === undefined) return 'defer';
      if (!accepts) return 'reject';
      this.store.noteSeq(version.signer, version.seq ?? 0);
    }
    if (channel?.kind === 'data') {
      return this.groups.mayWrite(channel.ref, channel.epoch!, version.author, version.at)
        ? 'accept'
        : 'reject';
    }
    return 'accept';
  }

  /** An entry sealed to an identity of this gateway that is not an invitation of old. */
  ingestAddressed(
    identity: Identity,
    entry: VerifiedEntry,
    plaintext: Buffer,
  ): 'handled' | 'defer' | 'other' {
    const statement = decodeStatement(plaintext.toString('utf8'));
    if (!statement) return 'other';
    // A link answer is read by the waiting accept itself (links.ts).
    if (statement.kind === 'link-answer') return 'handled';
    if (statement.kind !== 'group-welcome' || statement.at !== entry.createdAt) return 'other';
    const accepts = this.directories.accepts(
      statement.person,
      statement.signer,
      statement.at,
      statement.seq,
    );
    if (accepts === undefined) {
      this.defer(statement.person, entry);
      return 'defer';
    }
    if (!accepts) return 'handled';
    const body = statement.bodyObject;
    const group =
      typeof body.group === 'string' && /^[0-9a-f]{32}$/.test(body.group) ? body.group : undefined;
    const control =
      typeof body.control_secret === 'string' ? fromHex(body.control_secret, 32) : undefined;
    const name = typeof body.name === 'string' ? body.name.slice(0, 100) : 'group';
    if (!group || !control) return 'handled';
    const text = identityText(identity);
    const samePerson = this.personOf(text) === statement.person;
    // One's own devices join without asking; anyone else accepts or declines.
    if (samePerson) this.groups.join(group, control, null);
    this.index.addInvitation({
      id: entry.id,
      invitee: text,
      inviter: statement.person,
      at: statement.at,
      spaceId: group,
      name,
      secrets: JSON.stringify({ welcome: plaintext.toString('utf8'), meta: body.meta ?? {} }),
      state: samePerson ? 'accepted' : 'pending',
    });
    return 'handled';
  }

  /** Joins the group of an accepted welcome (stored by ingestAddressed). */
  joinWelcome(secrets: string): string | undefined {
    const outer = parseJsonObject(secrets);
    const statement =
      typeof outer?.welcome === 'string' ? decodeStatement(outer.welcome) : undefined;
    if (!statement || statement.kind !== 'group-welcome') return undefined;
    const group = statement.bodyObject.group as string;
    const control = fromHex(String(statement.bodyObject.control_secret), 32);
    if (!control) return undefined;
    this.groups.join(group, control, statement.person);
    return group;
  }

  /** Keeps an entry until the directory it depends on has been read. */
  defer(person: string, entry: VerifiedEntry): void {
    this.directories.follow(person);
    this.store.defer(entry.id, person, entry.bytes);
  }

  /** Entries whose directory is now known: the poller ingests them again. */
  takeDeferred(persons: readonly string[]): VerifiedEntry[] {
    return persons.flatMap((person) =>
      this.store.takeDeferred(person).flatMap((row) => {
        try {
          return [publishedEntry({ id: row.id, bytes: row.bytes })];
        } catch {
          return [];
        }
      }),
    );
  }

  /** Signs, seals and publishes a commit, then keeps it. */
  async commit(actor: Identity, group: string | undefined, input: CommitInput): Promise<string> {
    return this.serially(() => this.commitNow(actor, group, input));
  }

  /**
   * Runs commits one at a time: two at once from one gateway would name the same parents and
   * fork the log for nothing (a revocation's rekey and the automatic one, say).
   */
  private serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.committing.then(work, work);
    this.committing = run.catch(() => undefined);
    return run;
  }

  private async commitNow(
    actor: Identity,
    group: string | undefined,
    input: CommitInput,
  ): Promise<string> {
    const actorText = identityText(actor);
    const person = this.personOf(actorText);
    const members = group === undefined ? [person] : [...this.groups.state(group).members.keys()];
    if (input.member) members.push(input.member);
    await this.readDirectories(members);
    // Every member would reject what a revoked device signs (§3.3): refuse it here instead.
    if (!this.directories.state(person).isActive(actorText)) {
      throw new P2PError(
        'forbidden',
        'this device has been revoked by its person: it can no longer change groups',
      );
    }
    const plan = planCommit(
      { groups: this.groups, store: this.store, directories: this.directories },
      actor,
      person,
      group,
      input,
      () => this.store.nextSeq(actorText),
      Date.now(),
    );
    const at = plan.op.at;
    const items: PublishItem[] = [
      {
        table: plan.control.table,
        to: plan.control.reader.publicKey,
        plaintext: Buffer.from(plan.opText),
        createdAt: at,
      },
      ...encodeGroupKeys(plan.group, plan.op.hash, plan.packages).map((chunk) => {
        // Signed like the op: members believe only its signer about who received the epoch.
        const keys = signStatement({
          kind: 'group-keys',
          person,
          signer: actor,
          seq: this.store.nextSeq(actorText),
          at,
          body: JSON.parse(chunk.toString('utf8')) as Record<string, unknown>,
        });
        return {
          table: plan.control.table,
          to: plan.control.reader.publicKey,
          plaintext: Buffer.from(encodeStatement(keys)),
          createdAt: at,
        };
      }),
      ...plan.welcomes.map((w) => ({
        table: plan.control.table,
        to: w.to,
        plaintext: Buffer.from(w.text),
        createdAt: at,
      })),
    ];
    const report = await this.publish(items);
    this.groups.record(plan, null);
    this.channelCache = undefined;
    // A welcome to another identity of this gateway is read at once, not at the next poll.
    const boxes = this.boxes();
    const local = new Map(this.keyring.identities().map((i) => [toHex(i.box.publicKey), i]));
    this.index.transaction(() => {
      report.entries.forEach((sealed) => {
        const entry = decodeEntry(sealed.bytes);
        const identity = local.get(toHex(entry.recipient));
        const box = boxes.get(toHex(entry.recipient));
        const plaintext = box ? openEntry(entry, box) : undefined;
        if (!identity || !plaintext) return;
        this.ingestAddressed(identity, publishedEntry(sealed), plaintext);
        this.index.markSeen(Buffer.from(sealed.id, 'hex'), entry.table, entry.createdAt);
      });
    });
    return plan.group;
  }

  /** Reads directories not read yet straight from the nodes (a commit seals to their devices). */
  async readDirectories(persons: readonly string[]): Promise<void> {
    const unknown = [...new Set(persons)].filter((p) => !this.directories.isKnown(p));
    for (let i = 0; i < unknown.length; i += 64) {
      const chunk = unknown.slice(i, i + 64);
      const tables = chunk.map((p) => this.directories.keysOf(p).table.signing.publicKey);
      let since = 0;
      for (let page = 0; page < 100; page++) {
        const result = await this.client.get({ tables, since, order: 'asc', limit: 500 });
        if (!result.nodes.some((n) => n.ok)) {
          throw new P2PError('all_nodes_failed', 'no node answered the read of a directory');
        }
        this.index.transaction(() => {
          for (const entry of result.entries) {
            const person = chunk.find((p) =>
              this.directories.keysOf(p).table.signing.publicKey.equals(entry.table),
            );
            if (person) this.ingestChannel(this.directoryChannel(person), entry);
          }
        });
        if (result.entries.length < 500) break;
        since = result.entries.at(-1)!.createdAt;
      }
      for (const person of chunk) this.directories.markKnown(person);
    }
    this.groups.directoriesChanged(unknown);
  }

  directoryChannel(person: string): ReadChannel {
    const keys = this.directories.keysOf(person);
    return {
      kind: 'directory',
      ref: person,
      table: keys.table.signing.publicKey,
      reader: keys.reader,
    };
  }

  /**
   * Publishes a directory statement (a certificate or a revocation) and keeps it; `alongside`
   * goes in the same put, after it.
   */
  async publishDirectory(
    statement: Statement,
    alongside: readonly PublishItem[] = [],
  ): Promise<void> {
    const keys = this.directories.keysOf(statement.person);
    await this.publish([
      {
        table: keys.table,
        to: keys.reader.publicKey,
        plaintext: Buffer.from(encodeStatement(statement)),
        createdAt: statement.at,
      },
      ...alongside,
    ]);
    this.index.transaction(() => this.directories.add(statement.person, statement));
    // The change is also left for settle(), which judges again what the device signed.
    this.groups.directoriesChanged([statement.person]);
  }

  /** Revokes a device of the actor's person (the actor must be the root) and rekeys its groups. */
  async revoke(
    actor: Identity,
    device: string,
  ): Promise<{ revokedAt: number; lastSeq: number; rekeyed: string[] }> {
    const person = identityText(actor);
    if (this.personOf(person) !== person) {
      throw new P2PError(
        'root_key_needed',
        "revoking a device needs the person's root key: run this on the gateway that holds it",
      );
    }
    await this.readDirectories([person]);
    const info = this.directories.state(person).devices.get(device.trim());
    if (!info) throw new P2PError('no_such_device', 'this person has no such device');
    const lastSeq = this.store.seenSeq(info.device);
    const statement = signStatement({
      kind: 'device-revoke',
      person,
      signer: actor,
      seq: this.store.nextSeq(person),
      at: Date.now(),
      body: { device: info.device, last_seq: lastSeq },
    });
    await this.publishDirectory(statement);
    const rekeyed: string[] = [];
    for (const group of this.groups.ids()) {
      const state = this.groups.state(group);
      if (!state.members.has(person) || !this.groups.canManage(group, person)) continue;
      await this.commit(actor, group, { op: 'rekey' });
      rekeyed.push(group);
    }
    return { revokedAt: statement.at, lastSeq, rekeyed };
  }

  /** After a poll round: learn directories, answer links, rebuild and heal what changed. */
  async settle(): Promise<{ deferred: VerifiedEntry[]; stale: string[] }> {
    // Writes (a link request, a commit) need the nodes' proof-of-work policy: learnt here, once,
    // so that a write costs no round trip of its own.
    void this.client.requiredPowBits().catch(() => undefined);
    const learned = this.directories.roundEnded();
    const changed = this.directories.takeChanged();
    this.groups.directoriesChanged([...learned, ...changed]);
    // Versions a device signed into other spaces are judged again when its directory changed.
    for (const person of changed) {
      for (const id of this.index.spacesSignedFor(person)) {
        const space = this.keyring.anySpace(id);
        if (space && space.kind !== 'group')
          this.index.forgetSpace(id, [space.table.signing.publicKey]);
      }
    }
    const stale = this.groups.takeStale();
    for (const group of stale) {
      const tables = this.store
        .epochs(group)
        .map((e) => this.groups.op(group, e.epoch))
        .flatMap((op) => (op ? [Buffer.from(op.epoch.table, 'hex')] : []));
      this.index.forgetSpace(group, tables);
    }
    this.channelCache = undefined;
    await this.links
      .settle()
      .catch((error: unknown) => this.log.warn({ err: error }, 'link answer failed'));
    await this.heal().catch((error: unknown) =>
      this.log.warn({ err: error }, 'group rekey failed'),
    );
    for (const sink of this.sinks) {
      await sink
        .settled({ groups: stale })
        .catch((error: unknown) => this.log.warn({ err: error }, 'data space update failed'));
    }
    return { deferred: this.takeDeferred(learned), stale };
  }

  /** Commits a rekey where the current keys reach someone they should not, if we may. */
  private async heal(): Promise<void> {
    for (const group of this.groups.ids()) {
      if (this.groups.clean(group) !== false) continue;
      const state = this.groups.state(group);
      const last = this.healedAt.get(group);
      if (last && last.epoch === state.current && Date.now() - last.at < HEAL_PAUSE_MS) continue;
      const actor = this.keyring.identities().find((i) => {
        const text = identityText(i);
        const person = this.personOf(text);
        return (
          this.groups.canManage(group, person) && this.directories.state(person).isActive(text)
        );
      });
      if (!actor) continue;
      this.healedAt.set(group, { epoch: state.current!, at: Date.now() });
      const healed = await this.serially(async () => {
        // A commit that ran meanwhile (a revocation's own rekey) may have cleaned it already.
        if (this.groups.clean(group) !== false) return false;
        await this.commitNow(actor, group, { op: 'rekey' });
        return true;
      });
      if (!healed) continue;
      this.log.info(
        { group },
        'group keys changed: the last ones reached a device or member that no longer belongs',
      );
    }
  }
}

function channelKey(table: Uint8Array, recipient: Uint8Array): string {
  return `${toHex(table)}:${toHex(recipient)}`;
}
