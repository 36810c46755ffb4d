/**
 * The groups this gateway reads (docs/identity.md §5): their membership logs, the keys it holds
 * per epoch, the spaces apps see, and the commits it makes. State is computed by the pure rule
 * of identity/group-state.ts from the operations in the store, again whenever one arrives.
 */
import { boxKeyPairFromSecret, type BoxKeyPair } from '../../crypto/x25519.js';
import { P2PError } from '../../errors.js';
import { toHex } from '../../encoding/bytes.js';
import {
  controlKeys,
  epochKeysForReader,
  epochKeysFromSecret,
  matchesEpoch,
  openPackage,
  type EpochKeys,
  type PackageContent,
} from '../../identity/epoch.js';
import { parseGroupOp, type GroupOp, type Role } from '../../identity/group-op.js';
import { groupState, type GroupState, type RejectReason } from '../../identity/group-state.js';
import type { Statement } from '../../identity/statement.js';
import type { TableKey } from '../../keys/keys.js';
import type { Space } from '../space.js';
import type { Directories } from './directories.js';
import type { IdentityStore } from './store.js';

export type MemberRole = Exclude<Role, 'owner'>;

/** What record() keeps of a published commit (commit-plan.ts plans it). */
export interface CommittedEpoch {
  readonly group: string;
  readonly op: Statement;
  readonly epochSecret: Buffer;
  readonly epoch: EpochKeys;
  readonly packages: readonly { readonly to: Buffer }[];
}

/** A readable or writable space of one epoch, or a control space. */
export interface Channel {
  readonly kind: 'control' | 'data';
  readonly group: string;
  /** For data channels: the epoch (op hash). */
  readonly epoch: string | undefined;
  readonly table: { signing: { publicKey: Buffer } };
  readonly reader: BoxKeyPair;
}

export const WRITE_ROLES: readonly Role[] = ['owner', 'admin', 'writer'];

/** Bytes of grants a link answer carries at most (its statement body holds 48 KiB). */
const GRANTS_BUDGET = 40 * 1024;
/** Epochs of one group a grant carries at most, newest first in line. */
const GRANT_EPOCHS = 32;
const MANAGE_ROLES: readonly Role[] = ['owner', 'admin'];

const REJECT_ERRORS: Record<RejectReason, [ConstructorParameters<typeof P2PError>[0], string]> = {
  wrong_group: ['bad_request', 'the operation names another group'],
  bad_signer: ['forbidden', 'this device may not speak for its person'],
  duplicate_create: ['bad_request', 'the group exists already'],
  bad_create: ['bad_request', 'the group cannot be created so'],
  not_allowed: ['forbidden_role', 'your role in this group does not allow this'],
  owner_protected: ['forbidden_role', "the group's owner cannot be removed or demoted"],
  already_member: ['member_exists', 'this person is a member of the group already'],
  not_member: ['not_member', 'this person is not a member of the group'],
  same_role: ['bad_request', 'the member has this role already'],
  unreachable: ['group_incomplete', "the operation does not follow from the group's log"],
};

export function rejectError(reason: RejectReason): P2PError {
  const [code, message] = REJECT_ERRORS[reason] ?? ['bad_request', reason];
  return new P2PError(code, message);
}

interface Cached {
  state: GroupState;
  ops: Map<string, GroupOp>;
  fingerprint: string;
}

export class Groups {
  private readonly cache = new Map<string, Cached>();
  private readonly dirty = new Set<string>();
  /** Groups whose records must be read again: the rules that judged them changed. */
  private readonly stale = new Set<string>();
  private readonly derived = new Map<string, EpochKeys>();
  private readonly derivedControls = new Map<string, { table: TableKey; reader: BoxKeyPair }>();

  constructor(
    private readonly store: IdentityStore,
    private readonly directories: Directories,
    /** Box key pairs of this gateway's identities, by hex public key. */
    private readonly boxes: () => Map<string, BoxKeyPair>,
  ) {}

  ids(): string[] {
    return this.store.groups().map((g) => g.id);
  }

  holds(group: string): boolean {
    return this.store.groups().some((g) => g.id === group);
  }

  join(group: string, controlSecret: Buffer, invitedBy: string | null): void {
    this.store.addGroup(group, invitedBy);
    if (this.store.addControl(group, controlSecret)) this.dirty.add(group);
  }

  /** Stores a group operation read from a control space; true if it was new. */
  addOp(group: string, statement: Statement & { bodyObject: Record<string, unknown> }): boolean {
    const op = parseGroupOp(statement);
    if (!op || op.group !== group) return false;
    if (!this.store.addStatement(statement, group)) return false;
    this.dirty.add(group);
    return true;
  }

  /**
   * Stores what a group-keys statement says: who received the epoch, and packages for us. Kept
   * by signer: only the op's own signer is believed about its epoch (clean(), openPackages()),
   * so a member cannot add recipients to force rekeys, nor shadow a package with junk.
   */
  addPackages(
    group: string,
    epoch: string,
    signer: string,
    packages: readonly { to: Buffer; ct: string }[],
  ): void {
    const boxes = this.boxes();
    this.store.addRecipients(
      group,
      epoch,
      signer,
      packages.map((p) => toHex(p.to)),
    );
    for (const p of packages) {
      const hex = toHex(p.to);
      if (boxes.has(hex)) this.store.addPackage(group, epoch, signer, hex, p.ct);
    }
    this.dirty.add(group);
  }

  /** Marks groups whose members' directories changed. */
  directoriesChanged(persons: readonly string[]): void {
    if (persons.length === 0) return;
    for (const [group, cached] of this.cache) {
      if (persons.some((p) => cached.state.members.has(p) || this.everMember(cached, p))) {
        this.dirty.add(group);
      }
    }
  }

  private everMember(cached: Cached, person: string): boolean {
    return cached.state.applied.some((op) => op.person === person || op.member === person);
  }

  state(group: string): GroupState {
    const cached = this.cache.get(group);
    if (cached && !this.dirty.has(group)) return cached.state;
    return this.recompute(group).state;
  }

  private recompute(group: string): Cached {
    this.dirty.delete(group);
    const ops = new Map<string, GroupOp>();
    for (const statement of this.store.statements(['group-op'], group)) {
      const op = parseGroupOp(statement);
      if (op) ops.set(op.hash, op);
    }
    const state = groupState(group, [...ops.values()], (person, signer, at, seq) => {
      return this.directories.accepts(person, signer, at, seq) === true;
    });
    for (const person of state.members.keys()) this.directories.follow(person);
    this.openPackages(group, ops);
    const fingerprint = [
      ...state.applied.map((op) => op.hash),
      ...[...state.members.keys()].sort().map((p) => {
        const d = this.directories.state(p);
        return `${p}:${[...d.devices.values()].map((i) => `${i.device}${i.cutoff?.at ?? ''}`).join(',')}`;
      }),
    ].join('|');
    const previous = this.cache.get(group);
    if (previous && previous.fingerprint !== fingerprint) this.stale.add(group);
    const cached = { state, ops, fingerprint };
    this.cache.set(group, cached);
    return cached;
  }

  /** Opens packages addressed to us whose operation is known, and keeps the keys. */
  private openPackages(group: string, ops: Map<string, GroupOp>): void {
    const boxes = this.boxes();
    for (const p of this.store.packages(group)) {
      const op = ops.get(p.epoch);
      const box = boxes.get(p.recipient);
      if (!op || !box) continue;
      this.store.dropPackage(group, p.epoch, p.signer, p.recipient);
      if (p.signer !== op.statement.signer) continue;
      const content = openPackage(group, op.hash, box, p.ct);
      if (!content) continue;
      this.keepContent(group, op, content);
    }
  }

  private keepContent(group: string, op: GroupOp, content: PackageContent): void {
    const keys =
      'epochSecret' in content
        ? epochKeysFromSecret(group, content.epochSecret)
        : epochKeysForReader(group, content.readerSecret, content.controlSecret);
    if (!matchesEpoch(keys, op.epoch)) return;
    this.store.addEpoch({
      group,
      epoch: op.hash,
      epochSecret: 'epochSecret' in content ? content.epochSecret : undefined,
      readerSecret: keys.reader.secretKey,
      controlSecret: keys.controlSecret,
    });
    for (const item of content.history ?? []) {
      // History is checked when its op arrives: kept as reader keys of that epoch.
      this.store.addEpoch({
        group,
        epoch: item.epoch,
        epochSecret: undefined,
        readerSecret: item.readerSecret,
        controlSecret: item.controlSecret,
      });
    }
  }

  /** Takes the groups whose records must be read again. */
  takeStale(): string[] {
    for (const group of this.dirty) this.recompute(group);
    const out = [...this.stale];
    this.stale.clear();
    return out;
  }

  /** Every space the poller reads for groups: control spaces, then data spaces. */
  channels(): Channel[] {
    const out: Channel[] = [];
    const data: Channel[] = [];
    for (const { id } of this.store.groups()) {
      const seen = new Set<string>();
      for (const secret of this.store.controls(id)) {
        const keys = this.controlKeysOf(id, secret);
        const key = toHex(keys.table.signing.publicKey);
        if (seen.has(key)) continue;
        seen.add(key);
        out.push({
          kind: 'control',
          group: id,
          epoch: undefined,
          table: keys.table,
          reader: keys.reader,
        });
      }
      for (const epoch of this.store.epochs(id)) {
        // Keys from a grant or a history list are trusted only once the signed op they
        // belong to is read and names the same public keys.
        const op = this.op(id, epoch.epoch);
        const keys = this.epochKeys(epoch);
        if (!op || !matchesEpoch(keys, op.epoch)) continue;
        data.push({
          kind: 'data',
          group: id,
          epoch: epoch.epoch,
          table: { signing: { publicKey: Buffer.from(op.epoch.table, 'hex') } },
          reader: keys.reader,
        });
      }
    }
    return [...out, ...data];
  }

  private epochKeys(epoch: {
    group: string;
    epochSecret: Buffer | undefined;
    readerSecret: Buffer;
    controlSecret: Buffer;
  }): EpochKeys {
    // Derived once per secret: the poller asks for every epoch's keys several times a round.
    const id = `${epoch.group}:${(epoch.epochSecret ?? epoch.readerSecret).toString('hex')}`;
    let keys = this.derived.get(id);
    if (!keys) {
      keys = epoch.epochSecret
        ? epochKeysFromSecret(epoch.group, epoch.epochSecret)
        : epochKeysForReader(epoch.group, epoch.readerSecret, epoch.controlSecret);
      this.derived.set(id, keys);
    }
    return keys;
  }

  private controlKeysOf(group: string, secret: Buffer): { table: TableKey; reader: BoxKeyPair } {
    const id = `${group}:${secret.toString('hex')}`;
    let keys = this.derivedControls.get(id);
    if (!keys) {
      keys = controlKeys(group, secret);
      this.derivedControls.set(id, keys);
    }
    return keys;
  }

  /** The op that started an epoch, if known. */
  op(group: string, epoch: string): GroupOp | undefined {
    this.state(group);
    return this.cache.get(group)?.ops.get(epoch);
  }

  /** Whether a record by `author` at `at` counts in epoch `epoch` (§5.7, the role part). */
  mayWrite(group: string, epoch: string, author: string, at: number): boolean {
    const state = this.state(group);
    const role = state.roleAfter(author, epoch);
    if (!role || !WRITE_ROLES.includes(role)) return false;
    const cutoff = state.writeCutoff(author);
    return cutoff === undefined || at <= cutoff;
  }

  /** Held keys of the current epoch, if any. */
  currentKeys(group: string): (EpochKeys & { epoch: string }) | undefined {
    const state = this.state(group);
    if (!state.current) return undefined;
    const held = this.store.epochs(group).find((e) => e.epoch === state.current);
    const op = held ? this.op(group, held.epoch) : undefined;
    if (!held || !op) return undefined;
    const keys = this.epochKeys(held);
    return matchesEpoch(keys, op.epoch) ? { ...keys, epoch: held.epoch } : undefined;
  }

  /** The reader key pair of one epoch of the group, if this device holds it. */
  readerKeys(group: string, epoch: string): BoxKeyPair | undefined {
    const held = this.store.epochs(group).find((e) => e.epoch === epoch);
    return held ? this.epochKeys(held).reader : undefined;
  }

  /**
   * Whether the current epoch's keys went only to members' active devices (§5.6 step 5);
   * undefined while who received them is not known yet.
   */
  clean(group: string): boolean | undefined {
    const state = this.state(group);
    if (!state.current) return undefined;
    const op = state.applied.at(-1)!;
    const recipients = this.store.recipients(group, state.current, op.statement.signer);
    if (recipients.size === 0) return undefined;
    const allowed = new Set<string>();
    for (const person of state.members.keys()) {
      // Judging on a directory not read yet would call its devices strangers.
      if (!this.directories.isKnown(person)) return undefined;
      for (const box of this.directories.state(person).recipients()) allowed.add(toHex(box));
    }
    for (const r of recipients) if (!allowed.has(r)) return false;
    // Packages are not the only way keys travel: a device linked while this epoch was current
    // received them in its link answer's grants, unseen by others. Any member's device revoked
    // after this epoch began may hold its keys.
    const began = this.cache.get(group)?.ops.get(state.current)?.statement.at;
    if (began === undefined) return undefined;
    for (const person of state.members.keys()) {
      for (const device of this.directories.state(person).devices.values()) {
        if (device.cutoff && device.cutoff.at >= began) return false;
      }
    }
    return true;
  }

  /** The space apps use for a group, as seen by `person` (undefined if not a member). */
  space(group: string, person: string): Space | undefined {
    if (!this.holds(group)) return undefined;
    const state = this.state(group);
    if (!state.genesis || !state.members.has(person)) return undefined;
    const keys = this.currentKeys(group);
    const held = this.store.groups().find((g) => g.id === group);
    return {
      id: group,
      kind: 'group',
      name: state.name ?? 'group',
      // Readers, and devices that have not received the current keys yet, hold no table key:
      // the table shows its public key only, with no secret, and writes are refused on
      // `group.writable` before anything would sign with it (gateway.ts).
      table: keys?.table ?? {
        signing: {
          publicKey: Buffer.from(state.applied.at(-1)!.epoch.table, 'hex'),
          secretKey: Buffer.alloc(64),
          seed: Buffer.alloc(32),
        },
      },
      reader: keys?.reader ?? boxKeyPairFromSecret(Buffer.alloc(32, 1)),
      meta: state.meta ?? {},
      members: new Set(state.members.keys()),
      invited: new Set(),
      invitedBy: held?.invitedBy ?? undefined,
      createdAt: state.genesis.statement.at,
      group: { role: state.members.get(person)!, writable: keys?.table !== undefined },
    };
  }

  spacesFor(person: string): Space[] {
    return this.ids().flatMap((id) => {
      const space = this.space(id, person);
      return space ? [space] : [];
    });
  }

  /** Keeps what this gateway committed, once it is on the nodes. */
  record(plan: CommittedEpoch, invitedBy: string | null): void {
    this.store.transaction(() => {
      this.store.addGroup(plan.group, invitedBy);
      this.store.addStatement(plan.op, plan.group);
      this.store.addEpoch({
        group: plan.group,
        epoch: plan.op.hash,
        epochSecret: plan.epochSecret,
        readerSecret: plan.epoch.reader.secretKey,
        controlSecret: plan.epoch.controlSecret,
      });
      this.store.addControl(plan.group, plan.epoch.controlSecret);
      this.store.addRecipients(
        plan.group,
        plan.op.hash,
        plan.op.signer,
        plan.packages.map((p) => toHex(p.to)),
      );
    });
    this.dirty.add(plan.group);
  }

  /**
   * What a new device of a member is handed (grants of a link answer, §5.5): the newest keys
   * of each group, as many groups as fit. The groups that do not fit are named, so the linking
   * device can rekey them (which welcomes the new device).
   */
  grants(person: string): { grants: Record<string, unknown>[]; left: string[] } {
    const grants: Record<string, unknown>[] = [];
    const left: string[] = [];
    let size = 0;
    for (const id of this.ids()) {
      const state = this.state(id);
      if (!state.members.has(person)) continue;
      const held = new Map(this.store.epochs(id).map((e) => [e.epoch, e]));
      const epochs = state.applied
        .flatMap((op) => (held.has(op.hash) ? [held.get(op.hash)!] : []))
        .slice(-GRANT_EPOCHS);
      const grant = {
        group: id,
        name: state.name ?? 'group',
        meta: state.meta ?? {},
        epochs: epochs.map((e) => ({
          epoch: e.epoch,
          ...(e.epochSecret ? { epoch_secret: toHex(e.epochSecret) } : {}),
          reader_secret: toHex(e.readerSecret),
          control_secret: toHex(e.controlSecret),
        })),
      };
      const bytes = Buffer.byteLength(JSON.stringify(grant));
      if (size + bytes > GRANTS_BUDGET) {
        left.push(id);
        continue;
      }
      size += bytes;
      grants.push(grant);
    }
    return { grants, left };
  }

  /** Stores the keys a grant hands over (checked against their ops as they arrive). */
  acceptGrant(grant: {
    group: string;
    epochs: { epoch: string; epochSecret?: Buffer; readerSecret: Buffer; controlSecret: Buffer }[];
  }): void {
    this.store.addGroup(grant.group, null);
    for (const e of grant.epochs) {
      this.store.addEpoch({
        group: grant.group,
        epoch: e.epoch,
        epochSecret: e.epochSecret,
        readerSecret: e.readerSecret,
        controlSecret: e.controlSecret,
      });
    }
    this.dirty.add(grant.group);
  }

  /**
   * Pending ops signed by an owner or admin: a commit waits for those only. Anyone who ever
   * held a control key (a reader, a removed member) can publish an op naming a parent that
   * never comes, and must not be able to stop every change of membership so; the rule orders
   * what arrives later with what is committed meanwhile, as it orders concurrent commits.
   */
  pendingFromManagers(group: string): string[] {
    const state = this.state(group);
    const ops = this.cache.get(group)?.ops;
    return state.pending.filter((hash) => {
      const signer = ops?.get(hash)?.person;
      return signer !== undefined && this.canManage(group, signer);
    });
  }

  canManage(group: string, person: string): boolean {
    const role = this.state(group).members.get(person);
    return role !== undefined && MANAGE_ROLES.includes(role);
  }
}
