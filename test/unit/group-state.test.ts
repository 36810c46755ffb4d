/**
 * The membership rule of docs/identity.md §5.6 on real signed statements: genesis, the checks of
 * each role, concurrent operations converging whatever order they are read in, incomplete logs,
 * and the strict operation shape of §5.3.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { generateIdentity, identityText, type Identity } from '../../src/keys/keys.js';
import { decodeStatement, encodeStatement, signStatement } from '../../src/identity/statement.js';
import {
  groupIdOf,
  groupOpBody,
  parseGroupOp,
  type EpochPublic,
  type GroupOp,
  type OpKind,
  type Role,
} from '../../src/identity/group-op.js';
import { groupState, type GroupState } from '../../src/identity/group-state.js';
import { shuffled } from '../helpers/shuffle.js';

const hex = (bytes: number): string => randomBytes(bytes).toString('hex');
const epoch = (): EpochPublic => ({
  table: hex(32),
  reader: hex(32),
  control_table: hex(32),
  control_reader: hex(32),
});

interface Person {
  readonly id: Identity;
  readonly text: string;
  seq: number;
}

function person(): Person {
  const id = generateIdentity();
  return { id, text: identityText(id), seq: 0 };
}

const T0 = 1_767_225_600_000;

/** Signs a body as a group-op statement and reads it back the way a member would. */
function sign(by: Person, body: Record<string, unknown>, at: number, signer?: Identity): GroupOp {
  const statement = signStatement({
    kind: 'group-op',
    person: by.text,
    signer: signer ?? by.id,
    seq: ++by.seq,
    at,
    body,
  });
  const decoded = decodeStatement(encodeStatement(statement));
  assert.ok(decoded);
  const op = parseGroupOp(decoded);
  assert.ok(op, `parseGroupOp refused ${statement.body}`);
  return op;
}

function create(owner: Person, at = T0, nonce = hex(16), name = 'team'): GroupOp {
  return sign(
    owner,
    groupOpBody({
      group: groupIdOf(owner.text, nonce),
      prev: [],
      op: 'create',
      name,
      nonce,
      meta: { topic: 'tests' },
      epoch: epoch(),
    }),
    at,
  );
}

function act(
  by: Person,
  group: string,
  prev: readonly string[],
  op: OpKind,
  at: number,
  member?: Person,
  role?: Exclude<Role, 'owner'>,
): GroupOp {
  const body = groupOpBody({
    group,
    prev: [...prev].sort(),
    op,
    ...(member ? { member: member.text } : {}),
    ...(role ? { role } : {}),
    epoch: epoch(),
  });
  return sign(by, body, at);
}

const anyone = (): boolean => true;

function reasons(state: GroupState): Map<string, string> {
  return new Map(state.rejected.map((r) => [r.hash, r.reason]));
}

function roles(state: GroupState | ReadonlyMap<string, Role>): [string, Role][] {
  const members = state instanceof Map ? state : (state as GroupState).members;
  return [...members].sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

/** Same state, field by field, whatever order the operations were given in. */
function sameState(a: GroupState, b: GroupState): void {
  assert.deepEqual(roles(a), roles(b));
  assert.deepEqual(
    a.applied.map((o) => o.hash),
    b.applied.map((o) => o.hash),
  );
  assert.deepEqual(a.rejected, b.rejected);
  assert.deepEqual(a.heads, b.heads);
  assert.deepEqual(a.pending, b.pending);
  assert.deepEqual(a.missing, b.missing);
  assert.equal(a.current, b.current);
}

describe('genesis', () => {
  test('the valid create with the smallest hash; others duplicate_create or bad_create', () => {
    const alice = person();
    const nonce = hex(16);
    const one = create(alice, T0, nonce, 'first');
    const two = create(alice, T0 + 1, nonce, 'second');
    const group = one.group;
    assert.equal(two.group, group);
    // Claims the id but derives another: the nonce does not match the group.
    const forged = sign(
      alice,
      groupOpBody({
        group,
        prev: [],
        op: 'create',
        name: 'forged',
        nonce: hex(16),
        meta: {},
        epoch: epoch(),
      }),
      T0 - 5,
    );
    // Another person cannot create alice's group by naming her nonce.
    const mallory = person();
    const stolen = sign(
      mallory,
      groupOpBody({
        group,
        prev: [],
        op: 'create',
        name: 'x',
        nonce,
        meta: {},
        epoch: epoch(),
      }),
      T0,
    );
    const [small, large] = one.hash < two.hash ? [one, two] : [two, one];
    const state = groupState(group, [large, forged, stolen, small], anyone);
    assert.equal(state.genesis?.hash, small.hash);
    assert.equal(state.owner, alice.text);
    assert.equal(state.name, small.name);
    assert.deepEqual(state.meta, { topic: 'tests' });
    assert.deepEqual(roles(state), [[alice.text, 'owner']]);
    const why = reasons(state);
    assert.equal(why.get(large.hash), 'duplicate_create');
    assert.equal(why.get(forged.hash), 'bad_create');
    assert.equal(why.get(stolen.hash), 'bad_create');
    assert.deepEqual(state.heads, [small.hash]);
    assert.equal(state.current, small.hash);
    assert.deepEqual(state.check(alice.text, { op: 'create' }), {
      ok: false,
      reason: 'duplicate_create',
    });
  });

  test('without a genesis nothing applies and nobody may act', () => {
    const alice = person();
    const bob = person();
    const c = create(alice);
    const add = act(alice, c.group, [c.hash], 'add', T0 + 1, bob, 'writer');
    const state = groupState(c.group, [add], anyone);
    assert.equal(state.genesis, undefined);
    assert.equal(state.current, undefined);
    assert.deepEqual(state.applied, []);
    assert.deepEqual(state.pending, [add.hash]);
    assert.deepEqual(state.missing, [c.hash]);
    assert.deepEqual(state.heads, []);
    assert.deepEqual(state.check(alice.text, { op: 'rekey' }), {
      ok: false,
      reason: 'not_allowed',
    });
  });

  test("a child of a rejected create is not applied: 'unreachable'", () => {
    const alice = person();
    const bob = person();
    const nonce = hex(16);
    const one = create(alice, T0, nonce);
    const two = create(alice, T0, nonce, 'other');
    const [genesis, loser] = one.hash < two.hash ? [one, two] : [two, one];
    const onLoser = act(alice, genesis.group, [loser.hash], 'add', T0 + 1, bob, 'admin');
    const merged = act(alice, genesis.group, [genesis.hash, onLoser.hash], 'rekey', T0 + 2);
    const state = groupState(genesis.group, [merged, onLoser, loser, genesis], anyone);
    const why = reasons(state);
    assert.equal(why.get(loser.hash), 'duplicate_create');
    assert.equal(why.get(onLoser.hash), 'unreachable');
    assert.equal(why.get(merged.hash), 'unreachable');
    assert.deepEqual(roles(state), [[alice.text, 'owner']]);
    assert.deepEqual(state.heads, [genesis.hash]);
  });
});

describe('who may do what (§5.1, §5.6 step 4)', () => {
  test('owner and admin add, remove and change roles; writer and reader may not', () => {
    const [owner, admin, writer, reader, x, y] = [1, 2, 3, 4, 5, 6].map(() => person()) as [
      Person,
      Person,
      Person,
      Person,
      Person,
      Person,
    ];
    const c = create(owner);
    const g = c.group;
    const log: GroupOp[] = [c];
    let t = T0;
    const next = (by: Person, op: OpKind, member?: Person, role?: Exclude<Role, 'owner'>) => {
      const o = act(by, g, [log[log.length - 1]!.hash], op, ++t, member, role);
      log.push(o);
      return o;
    };
    const addAdmin = next(owner, 'add', admin, 'admin');
    const addWriter = next(admin, 'add', writer, 'writer');
    const addReader = next(owner, 'add', reader, 'reader');
    const writerAdds = next(writer, 'add', x, 'writer');
    const readerAdds = next(reader, 'add', x, 'reader');
    const writerRemoves = next(writer, 'remove', reader);
    const writerPromotes = next(writer, 'role', writer, 'admin');
    const readerRole = next(reader, 'role', writer, 'reader');
    const adminAddsX = next(admin, 'add', x, 'reader');
    const adminPromotesX = next(admin, 'role', x, 'writer');
    const ownerAddsY = next(owner, 'add', y, 'writer');
    const adminRemovesY = next(admin, 'remove', y);
    const ownerDemotesAdmin = next(owner, 'role', admin, 'writer');
    const demotedAdds = next(admin, 'add', y, 'reader');
    const state = groupState(g, shuffled(log, 7), anyone);
    const why = reasons(state);
    for (const ok of [addAdmin, addWriter, addReader, adminAddsX, adminPromotesX, ownerAddsY]) {
      assert.equal(why.get(ok.hash), undefined);
    }
    for (const ok of [adminRemovesY, ownerDemotesAdmin]) assert.equal(why.get(ok.hash), undefined);
    for (const refused of [
      writerAdds,
      readerAdds,
      writerRemoves,
      writerPromotes,
      readerRole,
      demotedAdds,
    ]) {
      assert.equal(why.get(refused.hash), 'not_allowed');
    }
    assert.equal(state.applied.length, 9);
    assert.deepEqual(
      roles(state),
      roles(
        new Map<string, Role>([
          [owner.text, 'owner'],
          [admin.text, 'writer'],
          [writer.text, 'writer'],
          [reader.text, 'reader'],
          [x.text, 'writer'],
        ]),
      ),
    );
    assert.deepEqual(state.heads, [demotedAdds.hash]);
    assert.equal(state.current, ownerDemotesAdmin.hash);
    assert.deepEqual(state.check(writer.text, { op: 'add', member: y.text, role: 'reader' }), {
      ok: false,
      reason: 'not_allowed',
    });
    assert.deepEqual(state.check(owner.text, { op: 'add', member: y.text, role: 'reader' }), {
      ok: true,
    });
    assert.deepEqual(state.check(y.text, { op: 'rekey' }), { ok: false, reason: 'not_allowed' });
  });

  test('the owner cannot be removed or demoted; already_member, not_member, same_role', () => {
    const [owner, admin, bob, stranger] = [1, 2, 3, 4].map(() => person()) as [
      Person,
      Person,
      Person,
      Person,
    ];
    const c = create(owner);
    const log: GroupOp[] = [c];
    let t = T0;
    const next = (by: Person, op: OpKind, member?: Person, role?: Exclude<Role, 'owner'>) => {
      const o = act(by, c.group, [log[log.length - 1]!.hash], op, ++t, member, role);
      log.push(o);
      return o;
    };
    next(owner, 'add', admin, 'admin');
    next(owner, 'add', bob, 'writer');
    const removesOwner = next(admin, 'remove', owner);
    const demotesOwner = next(admin, 'role', owner, 'reader');
    const ownerLeaves = next(owner, 'remove', owner);
    const addsBob = next(admin, 'add', bob, 'reader');
    const addsOwner = next(admin, 'add', owner, 'admin');
    const removesStranger = next(admin, 'remove', stranger);
    const rolesStranger = next(owner, 'role', stranger, 'reader');
    const sameRole = next(admin, 'role', bob, 'writer');
    const state = groupState(c.group, log, anyone);
    const why = reasons(state);
    assert.equal(why.get(removesOwner.hash), 'owner_protected');
    assert.equal(why.get(demotesOwner.hash), 'owner_protected');
    assert.equal(why.get(ownerLeaves.hash), 'owner_protected');
    assert.equal(why.get(addsBob.hash), 'already_member');
    assert.equal(why.get(addsOwner.hash), 'already_member');
    assert.equal(why.get(removesStranger.hash), 'not_member');
    assert.equal(why.get(rolesStranger.hash), 'not_member');
    assert.equal(why.get(sameRole.hash), 'same_role');
    assert.equal(state.members.get(owner.text), 'owner');
    assert.equal(state.applied.length, 3);
  });

  test('any member but the owner may leave; any member but a reader may rekey', () => {
    const [owner, writer, reader] = [1, 2, 3].map(() => person()) as [Person, Person, Person];
    const c = create(owner);
    const log: GroupOp[] = [c];
    let t = T0;
    const next = (by: Person, op: OpKind, member?: Person, role?: Exclude<Role, 'owner'>) => {
      const o = act(by, c.group, [log[log.length - 1]!.hash], op, ++t, member, role);
      log.push(o);
      return o;
    };
    next(owner, 'add', writer, 'writer');
    next(owner, 'add', reader, 'reader');
    const writerRekeys = next(writer, 'rekey');
    const readerRekeys = next(reader, 'rekey');
    const writerLeaves = next(writer, 'remove', writer);
    const readerLeaves = next(reader, 'remove', reader);
    const goneRekeys = next(reader, 'rekey');
    const state = groupState(c.group, log, anyone);
    const why = reasons(state);
    for (const ok of [writerRekeys, writerLeaves, readerLeaves]) {
      assert.equal(why.get(ok.hash), undefined);
    }
    // A reader committing would draw the epoch secret, and so hold the table key.
    assert.equal(why.get(readerRekeys.hash), 'not_allowed');
    assert.equal(why.get(goneRekeys.hash), 'not_allowed');
    assert.deepEqual(roles(state), [[owner.text, 'owner']]);
  });
});

describe('concurrent operations', () => {
  test('two admins acting on the same prev converge whatever order the ops are read in', () => {
    const [owner, a1, a2, victim, newcomer] = [1, 2, 3, 4, 5].map(() => person()) as [
      Person,
      Person,
      Person,
      Person,
      Person,
    ];
    const c = create(owner);
    const g = c.group;
    const x1 = act(owner, g, [c.hash], 'add', T0 + 1, a1, 'admin');
    const x2 = act(owner, g, [x1.hash], 'add', T0 + 2, a2, 'admin');
    const x3 = act(owner, g, [x2.hash], 'add', T0 + 3, victim, 'writer');
    // Same prev: a1 removes the victim while a2 adds a newcomer, the add stamped earlier.
    const removal = act(a1, g, [x3.hash], 'remove', T0 + 20, victim);
    const add = act(a2, g, [x3.hash], 'add', T0 + 10, newcomer, 'reader');
    // Then a3 merges both heads.
    const merge = act(owner, g, [removal.hash, add.hash], 'rekey', T0 + 30);
    const log = [c, x1, x2, x3, removal, add, merge];
    const reference = groupState(g, log, anyone);
    // Removals go first (rank 0), although the add is older.
    assert.deepEqual(
      reference.applied.map((o) => o.hash),
      [c, x1, x2, x3, removal, add, merge].map((o) => o.hash),
    );
    assert.equal(reference.members.has(victim.text), false);
    assert.equal(reference.members.get(newcomer.text), 'reader');
    assert.deepEqual(reference.heads, [merge.hash]);
    for (let seed = 1; seed <= 200; seed++) {
      const other = groupState(g, shuffled(log, seed * 2654435761), anyone);
      sameState(other, reference);
    }
  });

  test('a demotion ranks before an add: role changes that lower a role go first', () => {
    const [owner, a1, a2, w] = [1, 2, 3, 4].map(() => person()) as [Person, Person, Person, Person];
    const c = create(owner);
    const g = c.group;
    const x1 = act(owner, g, [c.hash], 'add', T0 + 1, a1, 'admin');
    const x2 = act(owner, g, [x1.hash], 'add', T0 + 2, a2, 'admin');
    // a1 demotes a2 (rank 0) while a2, at an earlier time, adds w (rank 1): the add fails.
    const demote = act(a1, g, [x2.hash], 'role', T0 + 50, a2, 'writer');
    const add = act(a2, g, [x2.hash], 'add', T0 + 5, w, 'writer');
    for (const order of [
      [c, x1, x2, demote, add],
      [add, demote, x2, x1, c],
    ]) {
      const state = groupState(g, order, anyone);
      assert.equal(reasons(state).get(add.hash), 'not_allowed');
      assert.equal(state.members.get(a2.text), 'writer');
      assert.deepEqual(state.heads, [add.hash, demote.hash].sort());
    }
  });

  test('two admins removing each other at once: the first by (rank, at, hash) wins', () => {
    for (const [atA, atB] of [
      [T0 + 10, T0 + 20],
      [T0 + 20, T0 + 10],
      [T0 + 15, T0 + 15],
    ] as const) {
      const [owner, a, b] = [1, 2, 3].map(() => person()) as [Person, Person, Person];
      const c = create(owner);
      const g = c.group;
      const x1 = act(owner, g, [c.hash], 'add', T0 + 1, a, 'admin');
      const x2 = act(owner, g, [x1.hash], 'add', T0 + 2, b, 'admin');
      const aRemovesB = act(a, g, [x2.hash], 'remove', atA, b);
      const bRemovesA = act(b, g, [x2.hash], 'remove', atB, a);
      const aFirst = atA !== atB ? atA < atB : aRemovesB.hash < bRemovesA.hash;
      const [winner, loser] = aFirst ? [aRemovesB, bRemovesA] : [bRemovesA, aRemovesB];
      for (const order of [
        [c, x1, x2, aRemovesB, bRemovesA],
        [bRemovesA, aRemovesB, x2, x1, c],
      ]) {
        const state = groupState(g, order, anyone);
        assert.equal(state.current, winner.hash);
        assert.equal(reasons(state).get(loser.hash), 'not_allowed');
        assert.equal(state.members.has(aFirst ? a.text : b.text), true);
        assert.equal(state.members.has(aFirst ? b.text : a.text), false);
        // The rejected op stays in the DAG: the next op names both.
        assert.deepEqual(state.heads, [aRemovesB.hash, bRemovesA.hash].sort());
      }
    }
  });

  test("a removed admin's later op is rejected, and its children are judged on their own", () => {
    const [owner, admin, bob] = [1, 2, 3].map(() => person()) as [Person, Person, Person];
    const c = create(owner);
    const g = c.group;
    const x1 = act(owner, g, [c.hash], 'add', T0 + 1, admin, 'admin');
    const removed = act(owner, g, [x1.hash], 'remove', T0 + 2, admin);
    const late = act(admin, g, [removed.hash], 'add', T0 + 3, bob, 'admin');
    const after = act(owner, g, [late.hash], 'add', T0 + 4, bob, 'reader');
    const state = groupState(g, [after, late, removed, x1, c], anyone);
    assert.equal(reasons(state).get(late.hash), 'not_allowed');
    assert.equal(reasons(state).get(after.hash), undefined);
    assert.equal(state.members.get(bob.text), 'reader');
    assert.equal(state.members.has(admin.text), false);
    assert.deepEqual(state.heads, [after.hash]);
  });
});

describe('incomplete logs, replays, other groups and signers', () => {
  test('dropping an op from the middle: its descendants pend, state is as before it', () => {
    const [owner, a, b, c2] = [1, 2, 3, 4].map(() => person()) as [Person, Person, Person, Person];
    const c = create(owner);
    const g = c.group;
    const x1 = act(owner, g, [c.hash], 'add', T0 + 1, a, 'writer');
    const x2 = act(owner, g, [x1.hash], 'add', T0 + 2, b, 'writer');
    const x3 = act(owner, g, [x2.hash], 'add', T0 + 3, c2, 'writer');
    const side = act(a, g, [x1.hash], 'rekey', T0 + 4);
    const x4 = act(owner, g, [side.hash, x3.hash], 'remove', T0 + 5, a);
    const full = groupState(g, [c, x1, x2, x3, side, x4], anyone);
    assert.deepEqual(full.pending, []);
    assert.deepEqual(full.missing, []);
    assert.deepEqual(full.heads, [x4.hash]);
    const truncated = groupState(g, [x4, x3, side, x1, c], anyone);
    assert.deepEqual(truncated.missing, [x2.hash]);
    assert.deepEqual(truncated.pending, [x3.hash, x4.hash].sort());
    assert.deepEqual(truncated.heads, [side.hash]);
    assert.deepEqual(roles(truncated), [
      ...roles(
        new Map<string, Role>([
          [owner.text, 'owner'],
          [a.text, 'writer'],
        ]),
      ),
    ]);
    assert.deepEqual(truncated.rejected, []);
    assert.equal(truncated.current, side.hash);
  });

  test('a replayed op counts once', () => {
    const [owner, a] = [1, 2].map(() => person()) as [Person, Person];
    const c = create(owner);
    const x1 = act(owner, c.group, [c.hash], 'add', T0 + 1, a, 'writer');
    const again = parseGroupOp(decodeStatement(encodeStatement(x1.statement))!)!;
    const state = groupState(c.group, [c, x1, again, x1, c], anyone);
    assert.deepEqual(
      state.applied.map((o) => o.hash),
      [c.hash, x1.hash],
    );
    assert.deepEqual(state.rejected, []);
    assert.deepEqual(state.heads, [x1.hash]);
  });

  test("an op of another group is rejected 'wrong_group' and takes no part", () => {
    const [owner, a] = [1, 2].map(() => person()) as [Person, Person];
    const c = create(owner);
    const elsewhere = create(owner);
    const foreignAdd = act(owner, elsewhere.group, [c.hash], 'add', T0 + 1, a, 'admin');
    // An op of this group built on the foreign one does not descend from the genesis only.
    const onForeign = act(owner, c.group, [c.hash, foreignAdd.hash], 'add', T0 + 2, a, 'reader');
    const state = groupState(c.group, [onForeign, c, elsewhere, foreignAdd], anyone);
    const why = reasons(state);
    assert.equal(why.get(elsewhere.hash), 'wrong_group');
    assert.equal(why.get(foreignAdd.hash), 'wrong_group');
    assert.equal(why.get(onForeign.hash), 'unreachable');
    assert.deepEqual(state.pending, []);
    assert.equal(state.members.has(a.text), false);
    assert.deepEqual(state.heads, [c.hash]);
    assert.deepEqual(state.missing, []);
  });

  test("ops the directory refuses are 'bad_signer', stay in the DAG and change nothing", () => {
    const [owner, a, b] = [1, 2, 3].map(() => person()) as [Person, Person, Person];
    const rogue = generateIdentity();
    const c = create(owner);
    const g = c.group;
    const asked: [string, string, number, number][] = [];
    const accepts = (p: string, signer: string, at: number, seq: number): boolean => {
      asked.push([p, signer, at, seq]);
      return signer !== identityText(rogue);
    };
    const forged = sign(
      owner,
      groupOpBody({
        group: g,
        prev: [c.hash],
        op: 'add',
        member: a.text,
        role: 'admin',
        epoch: epoch(),
      }),
      T0 + 1,
      rogue,
    );
    const after = act(owner, g, [forged.hash], 'add', T0 + 2, b, 'writer');
    const state = groupState(g, [c, forged, after], accepts);
    assert.equal(reasons(state).get(forged.hash), 'bad_signer');
    assert.equal(state.members.has(a.text), false);
    assert.equal(state.members.get(b.text), 'writer');
    assert.deepEqual(state.heads, [after.hash]);
    assert.deepEqual(
      asked.find((q) => q[1] === identityText(rogue)),
      [owner.text, identityText(rogue), T0 + 1, forged.statement.seq],
    );
  });
});

describe('roleAfter and writeCutoff', () => {
  test('the role right after each epoch, and when a writer stopped being one', () => {
    const [owner, w, r] = [1, 2, 3].map(() => person()) as [Person, Person, Person];
    const c = create(owner);
    const g = c.group;
    const e1 = act(owner, g, [c.hash], 'add', T0 + 100, w, 'writer');
    const e2 = act(owner, g, [e1.hash], 'add', T0 + 200, r, 'reader');
    const e3 = act(owner, g, [e2.hash], 'role', T0 + 300, w, 'reader');
    const e4 = act(owner, g, [e3.hash], 'role', T0 + 400, w, 'admin');
    const e5 = act(owner, g, [e4.hash], 'remove', T0 + 500, w);
    const e6 = act(owner, g, [e5.hash], 'add', T0 + 600, w, 'reader');
    const refused = act(r, g, [e6.hash], 'add', T0 + 700, w, 'writer');
    const state = groupState(g, [c, e1, e2, e3, e4, e5, e6, refused], anyone);
    const expected: [GroupOp, Role | undefined, Role | undefined][] = [
      [c, undefined, undefined],
      [e1, 'writer', undefined],
      [e2, 'writer', 'reader'],
      [e3, 'reader', 'reader'],
      [e4, 'admin', 'reader'],
      [e5, undefined, 'reader'],
      [e6, 'reader', 'reader'],
    ];
    for (const [op, wRole, rRole] of expected) {
      assert.equal(state.roleAfter(w.text, op.hash), wRole, `w after ${op.statement.at - T0}`);
      assert.equal(state.roleAfter(r.text, op.hash), rRole);
      assert.equal(state.roleAfter(owner.text, op.hash), 'owner');
    }
    assert.equal(state.roleAfter(w.text, refused.hash), undefined);
    assert.equal(state.roleAfter(w.text, hex(32)), undefined);
    // Writer → reader at 300, admin at 400, removed at 500, back as a reader: cut off at 500.
    assert.equal(state.writeCutoff(w.text), T0 + 500);
    assert.equal(state.writeCutoff(r.text), undefined);
    assert.equal(state.writeCutoff(owner.text), undefined);
    const earlier = groupState(g, [c, e1, e2, e3], anyone);
    assert.equal(earlier.writeCutoff(w.text), T0 + 300);
    const writing = groupState(g, [c, e1, e2, e3, e4], anyone);
    assert.equal(writing.writeCutoff(w.text), undefined);
  });
});

describe('bounded work', () => {
  test('5,000 ops (a chain with concurrent branches) read each op a bounded number of times', () => {
    const owner = person();
    const admins = [1, 2, 3, 4].map(() => person());
    const c = create(owner);
    const g = c.group;
    const log: GroupOp[] = [c];
    let heads = [c.hash];
    let t = T0;
    for (const a of admins) {
      const o = act(owner, g, heads, 'add', ++t, a, 'admin');
      log.push(o);
      heads = [o.hash];
    }
    const extra = Array.from({ length: 40 }, () => person());
    let k = 0;
    while (log.length < 5000) {
      // Each round: four admins act at once on the same heads, then the next round merges them.
      const round = admins.map((a, i) => {
        const who = extra[(k + i) % extra.length]!;
        const kind = (k + i) % 3;
        const op: OpKind = kind === 0 ? 'add' : kind === 1 ? 'remove' : 'rekey';
        return act(
          a,
          g,
          heads,
          op,
          t + ((i * 7) % 5),
          op === 'rekey' ? undefined : who,
          op === 'add' ? 'reader' : undefined,
        );
      });
      t += 10;
      k++;
      log.push(...round);
      heads = round.map((o) => o.hash).sort();
    }
    let reads = 0;
    const counted = log.map(
      (op) =>
        new Proxy(op, {
          get(target, key, receiver) {
            reads++;
            return Reflect.get(target, key, receiver) as unknown;
          },
        }),
    );
    let asked = 0;
    const state = groupState(g, shuffled(counted, 12345), () => {
      asked++;
      return true;
    });
    assert.equal(asked, log.length);
    assert.equal(state.applied.length + state.rejected.length, log.length);
    assert.deepEqual(state.pending, []);
    assert.deepEqual(state.heads, heads);
    // Each op is read a small constant number of times per pass and per parent; an algorithm
    // that compared ops pairwise would read ~n² = 25,000,000 times.
    const n = log.length;
    assert.ok(reads < 60 * n, `reads ${reads} for ${n} ops`);
  });
});

describe('parseGroupOp strictness (§5.3)', () => {
  const alice = person();
  const bob = person();
  const nonce = hex(16);
  const group = groupIdOf(alice.text, nonce);
  const good = {
    group,
    prev: [hex(32)],
    op: 'add',
    member: bob.text,
    role: 'writer',
    name: null,
    nonce: null,
    meta: null,
    epoch: epoch(),
  };
  const parse = (body: Record<string, unknown>) => {
    const s = signStatement({
      kind: 'group-op',
      person: alice.text,
      signer: alice.id,
      seq: ++alice.seq,
      at: T0,
      body,
    });
    return parseGroupOp(decodeStatement(encodeStatement(s))!);
  };

  test('the good body parses, with every field read', () => {
    const op = parse(good);
    assert.ok(op);
    assert.equal(op.member, bob.text);
    assert.equal(op.role, 'writer');
    assert.deepEqual(op.prev, good.prev);
    assert.deepEqual(op.epoch, good.epoch);
    assert.equal(op.person, alice.text);
    assert.deepEqual(
      groupOpBody({
        group,
        prev: good.prev,
        op: 'add',
        member: bob.text,
        role: 'writer',
        epoch: good.epoch,
      }),
      good,
    );
  });

  const sorted = [hex(32), hex(32)].sort();
  const cases: [string, Record<string, unknown>][] = [
    ['an extra member', { ...good, extra: 1 }],
    ['a missing member', Object.fromEntries(Object.entries(good).filter(([k]) => k !== 'name'))],
    ['upper case group hex', { ...good, group: group.toUpperCase() }],
    ['short group', { ...good, group: group.slice(2) }],
    ['bad prev hex', { ...good, prev: ['zz' + hex(31)] }],
    ['bad epoch hex', { ...good, epoch: { ...good.epoch, reader: hex(31) } }],
    ['an extra epoch member', { ...good, epoch: { ...good.epoch, more: hex(32) } }],
    [
      'create with prev',
      { ...good, op: 'create', member: null, role: null, name: 'n', nonce, meta: {} },
    ],
    ['add without role', { ...good, role: null }],
    ['add with role owner', { ...good, role: 'owner' }],
    ['remove with a role', { ...good, op: 'remove' }],
    ['rekey with a member', { ...good, op: 'rekey', role: null }],
    ['add with a name', { ...good, name: 'x' }],
    ['no prev', { ...good, prev: [] }],
    ['more than 16 prev', { ...good, prev: Array.from({ length: 17 }, () => hex(32)).sort() }],
    ['unsorted prev', { ...good, prev: [sorted[1], sorted[0]] }],
    ['repeated prev', { ...good, prev: [sorted[0], sorted[0]] }],
    ['member not an identity', { ...good, member: 'p2pid1xyz' }],
    ['member in upper case', { ...good, member: bob.text.toUpperCase() }],
    ['unknown op', { ...good, op: 'merge' }],
    [
      'create name too long',
      {
        ...good,
        op: 'create',
        prev: [],
        member: null,
        role: null,
        name: 'x'.repeat(101),
        nonce,
        meta: {},
      },
    ],
    [
      'create empty name',
      { ...good, op: 'create', prev: [], member: null, role: null, name: '', nonce, meta: {} },
    ],
    [
      'create meta an array',
      { ...good, op: 'create', prev: [], member: null, role: null, name: 'n', nonce, meta: [] },
    ],
    [
      'create short nonce',
      {
        ...good,
        op: 'create',
        prev: [],
        member: null,
        role: null,
        name: 'n',
        nonce: hex(15),
        meta: {},
      },
    ],
  ];
  for (const [what, body] of cases) {
    test(`refuses ${what}`, () => {
      assert.equal(parse(body), undefined);
      // groupOpBody builds the members itself, so it cannot be given extra or missing ones.
      if (['an extra member', 'a missing member', 'an extra epoch member'].includes(what)) return;
      assert.throws(() => groupOpBody(body as unknown as Parameters<typeof groupOpBody>[0]));
    });
  }

  test('16 sorted prev and a valid create are accepted; other kinds of statement are not', () => {
    assert.ok(parse({ ...good, prev: Array.from({ length: 16 }, () => hex(32)).sort() }));
    const c = parse({
      ...good,
      op: 'create',
      prev: [],
      member: null,
      role: null,
      name: 'n',
      nonce,
      meta: { a: [1] },
    });
    assert.ok(c);
    assert.equal(c.group, groupIdOf(alice.text, Buffer.from(nonce, 'hex')));
    const s = signStatement({
      kind: 'record',
      person: alice.text,
      signer: alice.id,
      seq: 99,
      at: T0,
      body: good,
    });
    assert.equal(parseGroupOp(decodeStatement(encodeStatement(s))!), undefined);
  });
});
