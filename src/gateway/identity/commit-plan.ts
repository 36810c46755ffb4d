/**
 * Planning a commit (docs/identity.md §5.3–5.5): check it against the group's state, draw the
 * new epoch's secret, sign the operation, seal a key package to every active device of every
 * member, and write welcomes for devices that receive the group for the first time. Nothing is
 * stored or sent here: the identity layer publishes the plan, then Groups.record() keeps it.
 */
import { randomBytes } from '../../crypto/random.js';
import type { BoxKeyPair } from '../../crypto/x25519.js';
import { P2PError } from '../../errors.js';
import { toHex } from '../../encoding/bytes.js';
import {
  epochKeysFromSecret,
  epochPublic,
  sealPackage,
  type EpochKeys,
  type HistoryItem,
  type PackageContent,
} from '../../identity/epoch.js';
import { groupIdOf, groupOpBody, type OpKind, type Role } from '../../identity/group-op.js';
import { encodeStatement, signStatement, type Statement } from '../../identity/statement.js';
import type { Identity, TableKey } from '../../keys/keys.js';
import type { Directories } from './directories.js';
import { rejectError, WRITE_ROLES, type Groups, type MemberRole } from './groups.js';
import type { IdentityStore } from './store.js';

export interface CommitInput {
  readonly op: OpKind;
  readonly member?: string;
  readonly role?: MemberRole;
  readonly name?: string;
  readonly meta?: Record<string, unknown>;
}

/** What a commit publishes: entries for the control space, and welcomes sealed to devices. */
export interface CommitPlan {
  readonly group: string;
  readonly op: Statement;
  readonly control: { table: TableKey; reader: BoxKeyPair };
  readonly opText: string;
  readonly packages: { to: Buffer; ct: string }[];
  readonly welcomes: { to: Buffer; text: string }[];
  readonly epoch: EpochKeys & { table: TableKey };
  readonly epochSecret: Buffer;
}

/** Earlier epochs handed to a newcomer at most (docs/identity.md §5.4). */
export const MAX_HISTORY = 100;

export interface PlanContext {
  readonly groups: Groups;
  readonly store: IdentityStore;
  readonly directories: Directories;
}

/**
 * Plans a commit by `signer` (speaking for `person`): checks it, draws the epoch secret and
 * seals a package to every active device of every member. Nothing is stored until the
 * caller has published it (then record()).
 */
export function planCommit(
  context: PlanContext,
  signer: Identity,
  person: string,
  group: string | undefined,
  input: CommitInput,
  nextSeq: () => number,
  at: number,
): CommitPlan {
  const { groups, store, directories } = context;
  let groupId: string;
  let prev: string[] = [];
  let nonce: string | undefined;
  let members: Map<string, Role>;
  let control: { table: TableKey; reader: BoxKeyPair };
  let previousRecipients = new Set<string>();
  let history: HistoryItem[] = [];
  if (input.op === 'create') {
    nonce = toHex(randomBytes(16));
    groupId = groupIdOf(person, nonce);
    members = new Map([[person, 'owner']]);
  } else {
    groupId = group!;
    const state = groups.state(groupId);
    if (!state.genesis) throw new P2PError('no_such_group');
    // Only what an owner or admin signed is waited for (Groups.pendingFromManagers).
    const awaited = groups.pendingFromManagers(groupId);
    if (awaited.length > 0) {
      throw new P2PError(
        'group_incomplete',
        `the group's membership log is missing ${state.missing.length} operation(s); the nodes may still be receiving them`,
      );
    }
    const check = state.check(person, {
      op: input.op,
      ...(input.member !== undefined ? { member: input.member } : {}),
      ...(input.role !== undefined ? { role: input.role } : {}),
    });
    if (!check.ok) throw rejectError(check.reason);
    // An op names at most 16 parents; later ops merge the other heads.
    prev = [...state.heads].sort().slice(0, 16);
    members = new Map(state.members);
    if (input.op === 'add' || input.op === 'role') members.set(input.member!, input.role!);
    if (input.op === 'remove') members.delete(input.member!);
    const current = groups.currentKeys(groupId);
    if (!current) {
      throw new P2PError(
        'group_rekey_pending',
        "this device does not hold the group's current keys yet: try again shortly",
      );
    }
    control = current.control;
    previousRecipients = store.recipients(
      groupId,
      current.epoch,
      state.applied.at(-1)!.statement.signer,
    );
    if (input.op === 'add') {
      // The newest epochs first in line: a package holds about 140 before it outgrows a
      // group-keys object, so the history a newcomer gets is capped.
      const held = new Map(store.epochs(groupId).map((e) => [e.epoch, e]));
      history = state.applied
        .flatMap((op) => (held.has(op.hash) ? [held.get(op.hash)!] : []))
        .slice(-MAX_HISTORY)
        .map((e) => ({
          epoch: e.epoch,
          readerSecret: e.readerSecret,
          controlSecret: e.controlSecret,
        }));
    }
  }
  const epochSecret = randomBytes(32);
  const epoch = epochKeysFromSecret(groupId, epochSecret);
  if (input.op === 'create') control = epoch.control;
  const body = groupOpBody({
    group: groupId,
    prev,
    op: input.op,
    ...(input.member !== undefined ? { member: input.member } : {}),
    ...(input.role !== undefined ? { role: input.role } : {}),
    ...(input.op === 'create'
      ? { name: input.name ?? 'group', nonce: nonce!, meta: input.meta ?? {} }
      : {}),
    epoch: epochPublic(epoch),
  });
  const op = signStatement({ kind: 'group-op', person, signer, seq: nextSeq(), at, body });
  const packages: { to: Buffer; ct: string }[] = [];
  const welcomes: { to: Buffer; text: string }[] = [];
  const name =
    input.op === 'create' ? (input.name ?? 'group') : (groups.state(groupId).name ?? 'group');
  const meta = input.op === 'create' ? (input.meta ?? {}) : (groups.state(groupId).meta ?? {});
  for (const [member, role] of members) {
    const newcomer = input.op === 'add' && member === input.member;
    const content: PackageContent = WRITE_ROLES.includes(role)
      ? { epochSecret, ...(newcomer ? { history } : {}) }
      : {
          readerSecret: epoch.reader.secretKey,
          controlSecret: epoch.controlSecret,
          ...(newcomer ? { history } : {}),
        };
    for (const box of directories.state(member).recipients()) {
      packages.push({ to: box, ct: sealPackage(groupId, op.hash, box, content) });
      const hex = toHex(box);
      if (previousRecipients.has(hex) || hex === toHex(signer.box.publicKey)) continue;
      const welcome = signStatement({
        kind: 'group-welcome',
        person,
        signer,
        seq: nextSeq(),
        at,
        body: {
          group: groupId,
          name,
          meta,
          op: op.hash,
          control_secret: toHex(
            input.op === 'create'
              ? epoch.controlSecret
              : groups.currentKeys(groupId)!.controlSecret,
          ),
        },
      });
      welcomes.push({ to: box, text: encodeStatement(welcome) });
    }
  }
  return {
    group: groupId,
    op,
    control: control!,
    opText: encodeStatement(op),
    packages,
    welcomes,
    epoch,
    epochSecret,
  };
}
