/**
 * The membership rule (docs/identity.md §5.6): from every group operation a member holds, the
 * group's state — genesis, owner, members and roles, the applied operations in their one order
 * (each an epoch), what was rejected and why, what waits for a missing parent, and the heads the
 * next operation names as `prev`. Every member that holds the same operations computes the same
 * state, whatever order it read them in. Pure: no I/O.
 *
 * Cost: two passes over the DAG, each O(n·d) edge visits for n operations of at most d parents,
 * and one binary heap of ready operations, O(n log n).
 */
import { MinHeap } from '../collections/min-heap.js';
import { groupIdOf, type GroupOp, type OpKind, type Role } from './group-op.js';

export type RejectReason =
  | 'wrong_group'
  | 'bad_signer'
  | 'duplicate_create'
  | 'bad_create'
  | 'not_allowed'
  | 'owner_protected'
  | 'already_member'
  | 'not_member'
  | 'same_role'
  /** Complete, but not descended from the genesis through operations of this group only. */
  | 'unreachable';

export type Check = { ok: true } | { ok: false; reason: RejectReason };

export interface GroupState {
  readonly group: string;
  readonly genesis: GroupOp | undefined;
  readonly owner: string | undefined;
  readonly name: string | undefined;
  readonly meta: Record<string, unknown> | undefined;
  /** Current members and roles (owner included, role 'owner'). */
  readonly members: ReadonlyMap<string, Role>;
  /** Applied operations in order; each starts an epoch (its hash is the epoch id). */
  readonly applied: readonly GroupOp[];
  /** The last applied op's hash, or undefined without a genesis. */
  readonly current: string | undefined;
  readonly rejected: readonly { hash: string; reason: RejectReason }[];
  /** Ops that wait for a missing parent (directly or through an ancestor), and the missing hashes. */
  readonly pending: readonly string[];
  readonly missing: readonly string[];
  /** Hashes of ops in the complete part of the DAG (applied or rejected) that no other op there names in prev: the `prev` of the next op. Sorted. */
  readonly heads: readonly string[];
  /** The role `person` had right after applying epoch `epoch`'s op (undefined: not a member then, or no such epoch). */
  roleAfter(person: string, epoch: string): Role | undefined;
  /** If `person` is now not a writer (removed or made reader) after having been one: the `at` of the op that did it. */
  writeCutoff(person: string): number | undefined;
  /** Whether `person` may do `op` now (same check as step 4), with the reason if not. */
  check(person: string, op: { op: OpKind; member?: string; role?: Exclude<Role, 'owner'> }): Check;
}

const ROLE_LEVEL: Record<Role, number> = { reader: 0, writer: 1, admin: 2, owner: 3 };

function writes(role: Role | undefined): boolean {
  return role !== undefined && role !== 'reader';
}

function manages(role: Role | undefined): boolean {
  return role === 'owner' || role === 'admin';
}

/** Step 4 of §5.6 against the members so far. */
export function checkOp(
  members: ReadonlyMap<string, Role>,
  owner: string | undefined,
  person: string,
  op: { op: OpKind; member?: string | null; role?: Exclude<Role, 'owner'> | null },
): Check {
  // A group has one genesis: any later create is a second one.
  if (op.op === 'create') return { ok: false, reason: 'duplicate_create' };
  const actor = members.get(person);
  if (actor === undefined) return { ok: false, reason: 'not_allowed' };
  // Whoever commits draws the epoch secret, and with it the table key: not a reader's to hold.
  if (op.op === 'rekey')
    return actor === 'reader' ? { ok: false, reason: 'not_allowed' } : { ok: true };
  const member = op.member ?? undefined;
  if (member === undefined) return { ok: false, reason: 'not_allowed' };
  const target = members.get(member);
  if (op.op === 'remove' && member === person) {
    return person === owner ? { ok: false, reason: 'owner_protected' } : { ok: true };
  }
  if (!manages(actor)) return { ok: false, reason: 'not_allowed' };
  if (op.op === 'add') {
    if (!op.role) return { ok: false, reason: 'not_allowed' };
    return target === undefined ? { ok: true } : { ok: false, reason: 'already_member' };
  }
  if (member === owner) return { ok: false, reason: 'owner_protected' };
  if (target === undefined) return { ok: false, reason: 'not_member' };
  if (op.op === 'remove') return { ok: true };
  if (!op.role) return { ok: false, reason: 'not_allowed' };
  return op.role === target ? { ok: false, reason: 'same_role' } : { ok: true };
}

interface Ready {
  readonly rank: number;
  readonly at: number;
  readonly hash: string;
  readonly index: number;
}

/** Ready operations come out smallest (rank, at, hash) first. */
function readyFirst(x: Ready, y: Ready): boolean {
  if (x.rank !== y.rank) return x.rank < y.rank;
  if (x.at !== y.at) return x.at < y.at;
  return x.hash < y.hash;
}

/** Where a held operation stands before ordering. */
const enum Standing {
  /** Every ancestor held, all of this group, descended from the genesis only. */
  Rooted,
  /** An ancestor is not held. */
  Pending,
  /** Complete, but some ancestor is a create other than the genesis or of another group. */
  Unrooted,
}

/**
 * `accepts(person, signer, at, seq)` answers docs/identity.md §3.3 (the directory); ops it refuses are rejected 'bad_signer'.
 * Bounded: O(n log n + n·d) for n ops with at most 16 parents each; n may be tens of thousands.
 */
export function groupState(
  group: string,
  ops: readonly GroupOp[],
  accepts: (person: string, signer: string, at: number, seq: number) => boolean,
): GroupState {
  const rejected = new Map<string, RejectReason>();
  const foreign = new Set<string>();
  // One node per distinct hash: a replayed statement counts once.
  const byHash = new Map<string, GroupOp>();
  for (const op of ops) {
    if (byHash.has(op.hash) || foreign.has(op.hash)) continue;
    if (op.group !== group) {
      foreign.add(op.hash);
      rejected.set(op.hash, 'wrong_group');
      continue;
    }
    byHash.set(op.hash, op);
  }
  const nodes = [...byHash.values()];
  const indexOf = new Map<string, number>();
  nodes.forEach((op, i) => indexOf.set(op.hash, i));

  // Signer and genesis: judged on each operation alone.
  let genesis: GroupOp | undefined;
  for (const op of nodes) {
    const s = op.statement;
    if (!accepts(op.person, s.signer, s.at, s.seq)) {
      rejected.set(op.hash, 'bad_signer');
      continue;
    }
    if (op.op !== 'create') continue;
    if (op.nonce === null || groupIdOf(op.person, op.nonce) !== group) {
      rejected.set(op.hash, 'bad_create');
    } else if (genesis === undefined || op.hash < genesis.hash) {
      genesis = op;
    }
  }
  for (const op of nodes) {
    if (op.op === 'create' && op !== genesis && !rejected.has(op.hash)) {
      rejected.set(op.hash, 'duplicate_create');
    }
  }

  // Children lists and parent counts over held operations of this group.
  const children: number[][] = nodes.map(() => []);
  const waiting = new Int32Array(nodes.length);
  const missing = new Set<string>();
  nodes.forEach((op, i) => {
    for (const p of op.prev) {
      const j = indexOf.get(p);
      if (j !== undefined) {
        children[j]!.push(i);
        waiting[i]!++;
      } else if (!foreign.has(p)) {
        missing.add(p);
      }
    }
  });

  // Pass 1, plain topological order: is each operation complete and descended from the genesis?
  const standing: Standing[] = nodes.map(() => Standing.Unrooted);
  {
    const left = Int32Array.from(waiting);
    const queue: number[] = [];
    nodes.forEach((_, i) => {
      if (left[i] === 0) queue.push(i);
    });
    for (let q = 0; q < queue.length; q++) {
      const i = queue[q]!;
      const op = nodes[i]!;
      let pending = false;
      let rooted = op.op === 'create' ? op === genesis : true;
      for (const p of op.prev) {
        const j = indexOf.get(p);
        if (j === undefined) {
          if (foreign.has(p)) rooted = false;
          else pending = true;
        } else if (standing[j] === Standing.Pending) pending = true;
        else if (standing[j] === Standing.Unrooted) rooted = false;
      }
      standing[i] = pending ? Standing.Pending : rooted ? Standing.Rooted : Standing.Unrooted;
      for (const c of children[i]!) if (--left[c]! === 0) queue.push(c);
    }
    // Operations on a cycle cannot exist (a hash names its parents), and stay Unrooted if given.
  }

  // Pass 2, the order of §5.6 step 3 among rooted operations, applying step 4 as it goes.
  const members = new Map<string, Role>();
  /** Per person, the role after each change: [applied index, role or undefined]. */
  const history = new Map<string, { index: number; role: Role | undefined; at: number }[]>();
  const applied: GroupOp[] = [];
  let owner: string | undefined;
  const setRole = (person: string, role: Role | undefined, at: number): void => {
    if (role === undefined) members.delete(person);
    else members.set(person, role);
    let list = history.get(person);
    if (!list) history.set(person, (list = []));
    list.push({ index: applied.length - 1, role, at });
  };
  const rankOf = (op: GroupOp): number => {
    if (op.op === 'remove') return 0;
    if (op.op === 'role' && op.member !== null && op.role !== null) {
      const now = members.get(op.member);
      if (now !== undefined && ROLE_LEVEL[op.role] < ROLE_LEVEL[now]) return 0;
    }
    return 1;
  };
  const placed: number[] = [];
  if (genesis !== undefined) {
    const left = Int32Array.from(waiting);
    const ready = new MinHeap<Ready>(readyFirst);
    const g = indexOf.get(genesis.hash)!;
    if (standing[g] === Standing.Rooted) {
      ready.push({ rank: 1, at: genesis.statement.at, hash: genesis.hash, index: g });
    }
    while (ready.size > 0) {
      const i = ready.pop()!.index;
      const op = nodes[i]!;
      placed.push(i);
      if (op === genesis) {
        owner = op.person;
        applied.push(op);
        setRole(op.person, 'owner', op.statement.at);
      } else if (!rejected.has(op.hash)) {
        const verdict = checkOp(members, owner, op.person, op);
        if (!verdict.ok) {
          rejected.set(op.hash, verdict.reason);
        } else {
          applied.push(op);
          const at = op.statement.at;
          if (op.op === 'add' || op.op === 'role') setRole(op.member!, op.role!, at);
          else if (op.op === 'remove') setRole(op.member!, undefined, at);
        }
      }
      // The rank of a child is judged against the state right after its last parent is placed.
      for (const c of children[i]!) {
        if (--left[c]! === 0 && standing[c] === Standing.Rooted) {
          const child = nodes[c]!;
          ready.push({ rank: rankOf(child), at: child.statement.at, hash: child.hash, index: c });
        }
      }
    }
  }

  const pending: string[] = [];
  const placedSet = new Set(placed);
  nodes.forEach((op, i) => {
    if (rejected.has(op.hash) && !placedSet.has(i)) return;
    if (standing[i] === Standing.Pending) pending.push(op.hash);
    else if (!placedSet.has(i)) rejected.set(op.hash, 'unreachable');
  });
  pending.sort();

  const named = new Set<number>();
  for (const i of placed) {
    for (const p of nodes[i]!.prev) named.add(indexOf.get(p)!);
  }
  const heads = placed
    .filter((i) => !named.has(i))
    .map((i) => nodes[i]!.hash)
    .sort();

  const epochIndex = new Map<string, number>();
  applied.forEach((op, i) => epochIndex.set(op.hash, i));

  const rejectedList = [...rejected].map(([hash, reason]) => ({ hash, reason }));
  rejectedList.sort((a, b) => (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0));

  return {
    group,
    genesis,
    owner,
    name: genesis?.name ?? undefined,
    meta: genesis?.meta ?? undefined,
    members,
    applied,
    current: applied.length > 0 ? applied[applied.length - 1]!.hash : undefined,
    rejected: rejectedList,
    pending,
    missing: [...missing].sort(),
    heads,
    roleAfter(person, epoch) {
      const at = epochIndex.get(epoch);
      const list = history.get(person);
      if (at === undefined || !list) return undefined;
      // The last change at or before the epoch's place in the order.
      let lo = 0;
      let hi = list.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (list[mid]!.index <= at) lo = mid + 1;
        else hi = mid;
      }
      return lo === 0 ? undefined : list[lo - 1]!.role;
    },
    writeCutoff(person) {
      if (writes(members.get(person))) return undefined;
      const list = history.get(person);
      if (!list) return undefined;
      for (let k = list.length - 1; k > 0; k--) {
        if (writes(list[k - 1]!.role) && !writes(list[k]!.role)) return list[k]!.at;
      }
      return undefined;
    },
    check(person, op) {
      if (genesis === undefined) return { ok: false, reason: 'not_allowed' };
      return checkOp(members, owner, person, op);
    },
  };
}
