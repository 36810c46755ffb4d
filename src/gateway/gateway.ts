/**
 * The gateway's operations, independent of HTTP: write records, create spaces, invite and join.
 * Each acts for one identity (the "actor"), within the spaces that identity may use. Reads are
 * answered from the local index, which the poller keeps fresh.
 */
import type { Logger } from 'pino';
import type { Client } from '../client/client.js';
import type { ApiKey } from './api-key.js';
import { P2PError } from '../errors.js';
import { fromHex } from '../encoding/bytes.js';
import { decodeKeyText } from '../encoding/key-text.js';
import { identityText, type Identity } from '../keys/keys.js';
import type { GatewayConfig } from './config.js';
import type { RecordIndex, StoredInvitation, StoredRecord } from './index-db.js';
import { createInvitation } from './invite.js';
import type { Keyring } from './keyring.js';
import type { Poller } from './poller.js';
import { ingestEntries } from './ingest.js';
import { publish, publishedEntry, type PublishItem } from './publish.js';
import {
  checkCollection,
  checkKey,
  decodeVersion,
  encodeVersion,
  recordId,
  signVersion,
  type RecordVersion,
} from './record.js';
import { NAME_MAX, secretsSchema, spaceFromSecrets, spaceSecrets, type Space } from './space.js';
import type { Sessions } from './sessions.js';
import type { IdentityLayer } from './identity/layer.js';
import type { KvHub } from './kv/hub.js';
import { randomBytes } from '../crypto/random.js';

export interface WriteResult {
  readonly record: StoredRecord;
  readonly created: boolean;
  /** How many nodes hold the new version. */
  readonly accepted: number;
}

/**
 * The invitee's public keys from their identity text, or bad_key saying what is wrong with it:
 * a typo is caught by the text's checksum, and the person should hear that it was a typo.
 */
export function inviteeKey(text: string): Buffer {
  try {
    return decodeKeyText(text, ['identity']).bytes;
  } catch (error) {
    const reason = (error as Error).message;
    const trimmed = text.trim();
    if (/checksum/i.test(reason)) {
      throw new P2PError(
        'bad_key',
        'this identity text has a typo: its checksum does not match, so some character is wrong or missing; copy it again from the person you invite',
      );
    }
    if (/^p2p[a-z]+1/.test(trimmed) && !trimmed.startsWith('p2pid1')) {
      throw new P2PError(
        'bad_key',
        `this is not an identity text: invite someone by their identity (p2pid1…), not a ${trimmed.slice(0, trimmed.indexOf('1'))} key`,
      );
    }
    throw new P2PError(
      'bad_key',
      'invite someone by their identity text: it starts with p2pid1 (ask the person for theirs)',
    );
  }
}

export class Gateway {
  /** The port the gateway listens on (known once it listens; names its session cookie). */
  port = 0;

  constructor(
    readonly config: GatewayConfig,
    readonly keyring: Keyring,
    readonly index: RecordIndex,
    readonly client: Client,
    readonly poller: Poller,
    readonly sessions: Sessions,
    readonly log: Logger,
    /** What programs present to act as the gateway's own identity (api-key.ts). */
    readonly apiKey: ApiKey,
    /** Devices, directories and groups (docs/identity.md). */
    readonly identity: IdentityLayer,
    /** The groups' key-value stores and logs (docs/kv.md §9). */
    readonly kv: KvHub,
  ) {}

  /** The person an identity of this gateway speaks for (itself, unless it is a linked device). */
  personOf(actor: Identity): string {
    return this.identity.personOf(identityText(actor));
  }

  /** A space the actor may use; `me` names the actor's personal space. */
  space(actor: Identity, id: string): Space {
    const space =
      id === 'me'
        ? this.keyring.personalSpaceOf(actor)
        : this.keyring.space(id, identityText(actor));
    if (!space)
      throw new P2PError('no_such_space', `no space ${id.slice(0, 80)} for this identity`);
    return space;
  }

  spaces(actor: Identity): Space[] {
    return this.keyring.spacesOf(identityText(actor));
  }

  /** A live record of a space, or no_such_record. */
  record(space: Space, collection: string, id: string): StoredRecord {
    const record = this.index.get(space.id, checkCollection(collection), id);
    if (!record || record.deleted) throw new P2PError('no_such_record');
    return record;
  }

  private async publishVersions(space: Space, versions: readonly RecordVersion[]): Promise<number> {
    if (space.group && !space.group.writable) {
      throw space.group.role === 'reader'
        ? new P2PError('forbidden_role', 'a reader of this group cannot write in it')
        : new P2PError(
            'group_rekey_pending',
            "this device does not hold the group's current keys yet: try again shortly",
          );
    }
    const items: PublishItem[] = versions.map((version) => ({
      table: space.table,
      to: space.reader.publicKey,
      plaintext: encodeVersion(version),
      createdAt: version.at,
    }));
    const report = await publish(this.client, items, this.config.pow_threads);
    this.index.transaction(() => {
      versions.forEach((version, i) => {
        const entry = report.entries[i]!;
        this.index.applyVersion(
          space.id,
          recordId(version.author, version.collection, version.key),
          version,
          entry.id,
        );
        this.index.markSeen(fromHex(entry.id, 32)!, entry.table, entry.createdAt);
      });
    });
    return Math.min(
      ...report.nodes.map(
        (nodes) => nodes.filter((n) => n.status !== 'rejected' && n.status !== 'error').length,
      ),
    );
  }

  /**
   * Writes a new version of the actor's record `key` (creating it if needed); `data` undefined
   * writes a tombstone. The version is on the nodes and in the index when this resolves.
   */
  async write(
    actor: Identity,
    space: Space,
    collection: string,
    key: string,
    data: string | undefined,
  ): Promise<WriteResult> {
    checkCollection(collection);
    checkKey(key);
    if (space.kind === 'group' && (await this.poller.checkControls(space.id))) {
      // A change of membership this gateway has not read yet (a removal, a revocation's
      // rekey) must not find this write still sealed to the epoch it ends.
      await this.poller.refresh();
      space = this.space(actor, space.id);
    }
    if (space.group?.role === 'reader') {
      throw new P2PError('forbidden_role', 'a reader of this group cannot write in it');
    }
    const actorText = identityText(actor);
    const author = this.identity.personOf(actorText);
    const id = recordId(author, collection, key);
    const current = this.index.get(space.id, collection, id);
    // The newest time wins: never write a version that would lose against the current one.
    const at = Math.max(Date.now(), (current?.updatedAt ?? -1) + 1);
    const version = signVersion({
      collection,
      key,
      author: actor,
      at,
      deleted: data === undefined,
      data: data ?? '{}',
      ...(author !== actorText
        ? { device: { person: author, seq: this.identity.store.nextSeq(actorText) } }
        : {}),
    });
    const accepted = await this.publishVersions(space, [version]);
    return {
      record: this.index.get(space.id, collection, id)!,
      created: !current || current.deleted,
      accepted,
    };
  }

  /** Copies records verbatim (author signatures and times kept) into another space. */
  async copyRecords(target: Space, records: readonly StoredRecord[]): Promise<number> {
    const versions = records.flatMap((record) => {
      const version = decodeVersion(
        encodeVersion({
          collection: record.collection,
          key: record.key,
          author: record.author,
          at: record.updatedAt,
          deleted: record.deleted,
          data: record.data,
          sig: record.sig,
          ...(record.signer !== null ? { signer: record.signer, seq: record.seq ?? 0 } : {}),
        }),
      );
      return version ? [version] : [];
    });
    if (versions.length > 0) await this.publishVersions(target, versions);
    return versions.length;
  }

  /**
   * A new private space: a group (docs/identity.md §5) owned by the actor's person, with fresh
   * keys sealed to that person's devices.
   */
  async createSpace(
    actor: Identity,
    name: string,
    meta: Record<string, unknown> = {},
  ): Promise<Space> {
    const trimmed = typeof name === 'string' ? name.trim() : '';
    if (trimmed.length < 1 || trimmed.length > NAME_MAX) {
      throw new P2PError('bad_request', `a space needs a name of 1-${NAME_MAX} characters`);
    }
    const group = await this.identity.commit(actor, undefined, {
      op: 'create',
      name: trimmed,
      meta,
    });
    return this.space(actor, group);
  }

  /**
   * Seals the space's keys to the invitee in an invitation entry (in the actor's personal
   * table). The invitee's gateway finds it by reading entries addressed to its identity.
   */
  async invite(
    actor: Identity,
    space: Space,
    invitee: string,
  ): Promise<{ entry: string; accepted: number }> {
    if (space.kind === 'group') {
      inviteeKey(invitee);
      const added = await this.identity.commit(actor, space.id, {
        op: 'add',
        member: invitee.trim(),
        role: 'writer',
      });
      space.invited.add(invitee.trim());
      return { entry: added, accepted: this.config.nodes.length };
    }
    if (space.kind !== 'private') {
      throw new P2PError('bad_request', 'only private spaces take invitations');
    }
    const to = inviteeKey(invitee);
    const toText = invitee.trim();
    const at = Date.now();
    const report = await publish(
      this.client,
      [
        {
          table: this.keyring.personalSpaceOf(actor).table,
          to: to.subarray(32, 64),
          plaintext: createInvitation(actor, toText, at, spaceSecrets(space)),
          createdAt: at,
        },
      ],
      this.config.pow_threads,
    );
    const entry = report.entries[0]!;
    // The invitee may be another identity of this gateway: the entry goes through the same
    // path as one read from a node. Only marking it seen would hide it from them for good.
    ingestEntries([publishedEntry(entry)], this.keyring, this.index, this.identity);
    space.invited.add(toText);
    await this.keyring.savePrivate(space);
    return {
      entry: entry.id,
      accepted: report.nodes[0]!.filter((n) => n.status === 'stored' || n.status === 'duplicate')
        .length,
    };
  }

  invitations(actor: Identity): StoredInvitation[] {
    return this.index.invitations(identityText(actor), 'pending');
  }

  private invitation(actor: Identity, id: string): StoredInvitation {
    const invitation = this.invitations(actor).find((i) => i.id === id);
    if (!invitation) throw new P2PError('no_such_invite');
    return invitation;
  }

  /** Joins the space of a pending invitation: the actor becomes a member; reading starts. */
  async accept(actor: Identity, id: string): Promise<Space> {
    const invitation = this.invitation(actor, id);
    const group = this.identity.joinWelcome(invitation.secrets);
    if (group !== undefined) {
      this.index.setInvitationState(id, 'accepted');
      // Two rounds: the first reads the group's log and keys, the second its records.
      await this.poller.refresh();
      await this.poller.refresh();
      const space = this.keyring.space(group, identityText(actor));
      if (!space) {
        throw new P2PError(
          'group_incomplete',
          "the group's membership log has not reached the nodes this gateway reads yet: try again shortly",
        );
      }
      return space;
    }
    const secrets = secretsSchema.parse(JSON.parse(invitation.secrets));
    const member = identityText(actor);
    const held = this.keyring.anySpace(
      spaceFromSecrets(secrets, {
        kind: 'private',
        members: undefined,
        invited: new Set(),
        invitedBy: undefined,
        createdAt: 0,
      }).id,
    );
    let space: Space;
    if (held && held.kind === 'private') {
      held.members!.add(member);
      space = held;
    } else if (held) {
      space = held;
    } else {
      space = spaceFromSecrets(secrets, {
        kind: 'private',
        members: new Set([member]),
        invited: new Set(),
        invitedBy: invitation.inviter,
        createdAt: Date.now(),
      });
    }
    if (space.kind === 'private') await this.keyring.savePrivate(space);
    this.index.setInvitationState(id, 'accepted');
    void this.poller.refresh().catch(() => undefined);
    return space;
  }

  decline(actor: Identity, id: string): void {
    this.invitation(actor, id);
    this.index.setInvitationState(id, 'declined');
  }

  /** A random key for a new record. */
  static newKey(): string {
    return randomBytes(16).toString('base64url');
  }
}
