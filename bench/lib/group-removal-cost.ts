/**
 * What removing one member from a large group costs, on the real code path: a group of
 * `members` persons (each with its root as sole device) is built from real signed operations
 * (create + adds), held by a committer's `Groups` on a real SQLite index and by one member's.
 * The committer plans the removal (check, epoch secret, key schedule, signed op, one HPKE
 * package per remaining device, group-keys objects); the member reads the op and its package
 * and recomputes the state. CPU is process.cpuUsage() on this thread alone (no workers).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from '../../src/crypto/random.js';
import type { BoxKeyPair } from '../../src/crypto/x25519.js';
import { toHex } from '../../src/encoding/bytes.js';
import { Directories } from '../../src/gateway/identity/directories.js';
import { Groups } from '../../src/gateway/identity/groups.js';
import {
  planCommit,
  type CommitPlan,
  type PlanContext,
} from '../../src/gateway/identity/commit-plan.js';
import { IdentityStore } from '../../src/gateway/identity/store.js';
import { RecordIndex } from '../../src/gateway/index-db.js';
import { seal, type PublishItem } from '../../src/gateway/publish.js';
import {
  encodeGroupKeys,
  epochKeysFromSecret,
  epochPublic,
  sealPackage,
} from '../../src/identity/epoch.js';
import { groupIdOf, groupOpBody } from '../../src/identity/group-op.js';
import { decodeStatement, signStatement, type Statement } from '../../src/identity/statement.js';
import { generateIdentity, identityText, type Identity } from '../../src/keys/keys.js';

export interface RemovalCost {
  readonly members: number;
  /** Packages sealed by the removal (one per remaining device). */
  readonly packages: number;
  /** Group-keys objects (entries) they fill. */
  readonly keyEntries: number;
  /** Committer: plan + group-keys encoding, CPU ms per removal (median of `runs`). */
  readonly planCpuMs: number;
  /** The part of it spent sealing packages (HPKE), CPU ms. */
  readonly sealCpuMs: number;
  /** Member: decode the op, open its package, recompute the state, CPU ms. */
  readonly memberCpuMs: number;
  /** Entries the commit publishes (op + group-keys objects), each with its own proof of work. */
  readonly entries: number;
  /** Wall ms to stamp them at `powBits` with one proof-of-work thread. */
  readonly powMs: number;
  readonly powBits: number;
}

function cpuMs<T>(work: () => T): { value: T; ms: number } {
  const before = process.cpuUsage();
  const value = work();
  const used = process.cpuUsage(before);
  return { value, ms: (used.user + used.system) / 1000 };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

interface BuiltGroup {
  readonly id: string;
  readonly owner: Identity;
  readonly persons: Identity[];
  readonly ops: Statement[];
  /** The current epoch's secret (held by every writer). */
  readonly epochSecret: Buffer;
}

/** create + (members − 1) adds, each a writer whose root is its only device. */
function buildGroup(members: number): BuiltGroup {
  const owner = generateIdentity();
  const ownerText = identityText(owner);
  const nonce = toHex(randomBytes(16));
  const id = groupIdOf(ownerText, nonce);
  const persons = Array.from({ length: members - 1 }, () => generateIdentity());
  const ops: Statement[] = [];
  const at = Date.now();
  let epochSecret = randomBytes(32);
  ops.push(
    signStatement({
      kind: 'group-op',
      person: ownerText,
      signer: owner,
      seq: 0,
      at,
      body: groupOpBody({
        group: id,
        prev: [],
        op: 'create',
        name: 'bench',
        nonce,
        meta: {},
        epoch: epochPublic(epochKeysFromSecret(id, epochSecret)),
      }),
    }),
  );
  persons.forEach((person, i) => {
    epochSecret = randomBytes(32);
    ops.push(
      signStatement({
        kind: 'group-op',
        person: ownerText,
        signer: owner,
        seq: i + 1,
        at: at + i + 1,
        body: groupOpBody({
          group: id,
          prev: [ops.at(-1)!.hash],
          op: 'add',
          member: identityText(person),
          role: 'writer',
          epoch: epochPublic(epochKeysFromSecret(id, epochSecret)),
        }),
      }),
    );
  });
  return { id, owner, persons, ops, epochSecret };
}

/** A gateway's view of the group: its log and current keys in a fresh index file. */
function holder(
  dir: string,
  group: BuiltGroup,
  box: BoxKeyPair,
): { groups: Groups; index: RecordIndex; context: PlanContext } {
  const index = RecordIndex.open(join(dir, `${toHex(box.publicKey).slice(0, 8)}.sqlite`));
  const store = new IdentityStore(index);
  const keys = epochKeysFromSecret(group.id, group.epochSecret);
  const current = group.ops.at(-1)!.hash;
  store.transaction(() => {
    for (const op of group.ops) store.addStatement(op, group.id);
    store.addGroup(group.id, null);
    store.addControl(group.id, keys.controlSecret);
    store.addEpoch({
      group: group.id,
      epoch: current,
      epochSecret: group.epochSecret,
      readerSecret: keys.reader.secretKey,
      controlSecret: keys.controlSecret,
    });
    store.addRecipients(group.id, current, identityText(group.owner), [
      toHex(group.owner.box.publicKey),
      ...group.persons.map((p) => toHex(p.box.publicKey)),
    ]);
  });
  const directories = new Directories(store);
  const groups = new Groups(store, directories, () => new Map([[toHex(box.publicKey), box]]));
  return { groups, index, context: { groups, store, directories } };
}

export async function removalCost(options: {
  members: number;
  runs: number;
  powBits: number;
  log: (line: string) => void;
}): Promise<RemovalCost> {
  const dir = mkdtempSync(
    join(process.env.P2PCLOUD_BENCH_DIR ?? tmpdir(), 'p2pcloud-bench-group-'),
  );
  const opened: RecordIndex[] = [];
  try {
    options.log(
      `  building a group of ${options.members} members (create + ${options.members - 1} adds)…`,
    );
    const group = buildGroup(options.members);
    const ownerText = identityText(group.owner);
    const committer = holder(dir, group, group.owner.box);
    opened.push(committer.index);
    // A running gateway holds the state already; building it is not part of the commit.
    const state = committer.groups.state(group.id);
    if (state.members.size !== options.members || state.current !== group.ops.at(-1)!.hash) {
      throw new Error(
        `the built group has ${state.members.size} members, expected ${options.members}`,
      );
    }
    const removed = identityText(group.persons.at(-1)!);
    let seq = group.ops.length;
    const plans: { plan: CommitPlan; chunks: Buffer[] }[] = [];
    const planMs: number[] = [];
    for (let run = 0; run < options.runs; run++) {
      const { value, ms } = cpuMs(() => {
        const plan = planCommit(
          committer.context,
          group.owner,
          ownerText,
          group.id,
          { op: 'remove', member: removed },
          () => seq++,
          Date.now(),
        );
        return { plan, chunks: encodeGroupKeys(plan.group, plan.op.hash, plan.packages) };
      });
      plans.push(value);
      planMs.push(ms);
    }
    const { plan, chunks } = plans[0]!;
    if (plan.packages.length !== options.members - 1) {
      throw new Error(
        `the removal sealed ${plan.packages.length} packages, expected ${options.members - 1}`,
      );
    }
    // The sealing alone, for the breakdown: the same packages again.
    const sealMs = cpuMs(() => {
      for (const p of plan.packages)
        sealPackage(plan.group, plan.op.hash, p.to, { epochSecret: plan.epochSecret });
    }).ms;

    // A remaining member: reads the op and the group-keys object holding its package.
    const member = group.persons[0]!;
    const reader = holder(dir, group, member.box);
    opened.push(reader.index);
    reader.groups.state(group.id);
    const mine = plan.packages.find((p) => p.to.equals(member.box.publicKey))!;
    const memberMs = cpuMs(() => {
      const op = decodeStatement(plan.opText)!;
      reader.groups.addOp(group.id, op);
      reader.groups.addPackages(group.id, plan.op.hash, plan.op.signer, [mine]);
      return reader.groups.currentKeys(group.id);
    });
    if (
      memberMs.value?.epoch !== plan.op.hash ||
      reader.groups.state(group.id).members.has(removed)
    ) {
      throw new Error('the member did not reach the new epoch from its package');
    }

    // Proof of work: every entry of the commit is stamped on its own.
    const items: PublishItem[] = [Buffer.from(plan.opText), ...chunks].map((plaintext) => ({
      table: plan.control.table,
      to: plan.control.reader.publicKey,
      plaintext,
      createdAt: plan.op.at,
    }));
    const started = performance.now();
    for (const item of items) await seal(item, options.powBits, 1);
    const powMs = performance.now() - started;

    return {
      members: options.members,
      packages: plan.packages.length,
      keyEntries: chunks.length,
      planCpuMs: median(planMs),
      sealCpuMs: sealMs,
      memberCpuMs: memberMs.ms,
      entries: items.length,
      powMs,
      powBits: options.powBits,
    };
  } finally {
    for (const index of opened) index.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
