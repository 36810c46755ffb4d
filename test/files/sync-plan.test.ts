/**
 * The sync plan (src/cli/files/plan.ts), rule by rule (docs/files-sync.md §3), then every
 * combination of what the disk, the drive and the last agreement can hold for one path,
 * carried out on a model of both sides: they end equal, no version that differs from the
 * last agreement is lost, and a second plan over the result has nothing left to do.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  planSync,
  type Action,
  type LocalFile,
  type RemoteFile,
  type SyncedFile,
} from '../../src/cli/files/plan.js';
import { isReserved } from '../../src/cli/files/names.js';

const T = Date.UTC(2026, 11, 1, 9, 30);
const DEVICE = 'laptop';

function lf(path: string, sha256: string, mtime = T, fsPath = path): LocalFile {
  return { path, fsPath, size: sha256.length, mtime, sha256 };
}

function rf(path: string, sha256: string, version = `v-${sha256}`, lost?: string[]): RemoteFile {
  return { path, size: sha256.length, sha256, version, modified: T, ...(lost ? { lost } : {}) };
}

function sf(sha256: string, version = `v-${sha256}`, mtime = T): SyncedFile {
  return { size: sha256.length, mtime, sha256, version };
}

function plan(
  local: LocalFile[],
  remote: RemoteFile[],
  state: [string, SyncedFile][] = [],
): ReturnType<typeof planSync> {
  return planSync({ local, remote, state: new Map(state), device: DEVICE, reserved: isReserved });
}

/** The actions as short text, for assertions that read like the rules. */
function brief(actions: readonly Action[]): string[] {
  return actions.map((a) => {
    switch (a.type) {
      case 'move_local':
        return `move_local ${a.from.path} -> ${a.to}`;
      case 'move_remote':
        return `move_remote ${a.from} -> ${a.to.path}`;
      case 'conflict':
        return `conflict ${a.path} keep ${a.conflictPath}`;
      default:
        return `${a.type} ${a.path}`;
    }
  });
}

test('new files go each way; equal new files only record the agreement', () => {
  const p = plan([lf('a.txt', 'A'), lf('same.txt', 'S')], [rf('b.txt', 'B'), rf('same.txt', 'S')]);
  assert.deepEqual(brief(p.actions), ['upload a.txt', 'download b.txt', 'agree same.txt']);
  assert.deepEqual(p.skipped, []);
});

test('a change on one side goes to the other', () => {
  const p = plan(
    [lf('l.txt', 'L2'), lf('r.txt', 'R1')],
    [rf('l.txt', 'L1'), rf('r.txt', 'R2')],
    [
      ['l.txt', sf('L1')],
      ['r.txt', sf('R1')],
    ],
  );
  assert.deepEqual(brief(p.actions), ['upload l.txt', 'download r.txt']);
  const download = p.actions[1] as Extract<Action, { type: 'download' }>;
  assert.equal(download.replaces?.sha256, 'R1', 'the download replaces the file the scan saw');
  const upload = p.actions[0] as Extract<Action, { type: 'upload' }>;
  assert.equal(upload.base, 'v-L1', 'the upload names the version it replaces');
  const fresh = plan([lf('new', 'N')], []).actions[0] as Extract<Action, { type: 'upload' }>;
  assert.equal(fresh.base, undefined);
});

test('nothing changed: no action; only the version moved (same bytes): the record is updated', () => {
  assert.deepEqual(plan([lf('a', 'A')], [rf('a', 'A')], [['a', sf('A')]]).actions, []);
  const p = plan([lf('a', 'A')], [rf('a', 'A', 'v-other')], [['a', sf('A')]]);
  assert.deepEqual(brief(p.actions), ['agree a']);
});

test('deletes: unchanged on the other side it is deleted there, changed it comes back', () => {
  const p = plan(
    [lf('gone-remote-same', 'A'), lf('gone-remote-changed', 'B2')],
    [rf('gone-local-same', 'C'), rf('gone-local-changed', 'D2')],
    [
      ['gone-remote-same', sf('A')],
      ['gone-remote-changed', sf('B1')],
      ['gone-local-same', sf('C')],
      ['gone-local-changed', sf('D1')],
      ['gone-both', sf('E')],
    ],
  );
  assert.deepEqual(brief(p.actions), [
    'delete_remote gone-local-same',
    'delete_local gone-remote-same',
    'upload gone-remote-changed',
    'download gone-local-changed',
    'forget gone-both',
  ]);
});

test('both changed: the drive keeps the name, this device’s version a conflict name', () => {
  const p = plan(
    [lf('docs/report.txt', 'L')],
    [rf('docs/report.txt', 'R')],
    [['docs/report.txt', sf('O')]],
  );
  assert.deepEqual(brief(p.actions), [
    'conflict docs/report.txt keep docs/report (conflict from laptop 2026-12-01).txt',
  ]);
  // Both new and different counts as both changed.
  const fresh = plan([lf('x.md', 'L')], [rf('x.md', 'R')]);
  assert.deepEqual(brief(fresh.actions), [
    'conflict x.md keep x (conflict from laptop 2026-12-01).md',
  ]);
  // Both changed to the same bytes: no conflict.
  assert.deepEqual(brief(plan([lf('y', 'N')], [rf('y', 'N')], [['y', sf('O')]]).actions), [
    'agree y',
  ]);
});

test('a conflict name already taken on either side gets the next number', () => {
  const first = 'a (conflict from laptop 2026-12-01).txt';
  const p = plan(
    [lf('a.txt', 'L'), lf('A (Conflict from LAPTOP 2026-12-01).TXT', 'Z')],
    [rf('a.txt', 'R'), rf('a (conflict from laptop 2026-12-01 2).txt', 'Y')],
    [['a.txt', sf('O')]],
  );
  const conflict = p.actions.find((a) => a.type === 'conflict') as Extract<
    Action,
    { type: 'conflict' }
  >;
  assert.notEqual(conflict.conflictPath, first);
  assert.equal(conflict.conflictPath, 'a (conflict from laptop 2026-12-01 3).txt');
});

test('this device’s write that lost in the drive is kept as a conflict copy, not overwritten', () => {
  // The disk holds what this device wrote (its version v-mine), the drive shows another
  // device's concurrent version as the winner and lists v-mine among the losers.
  const p = plan(
    [lf('shared.txt', 'MINE')],
    [rf('shared.txt', 'THEIRS', 'v-theirs', ['v-mine'])],
    [['shared.txt', sf('MINE', 'v-mine')]],
  );
  assert.deepEqual(brief(p.actions), [
    'conflict shared.txt keep shared (conflict from laptop 2026-12-01).txt',
  ]);
  // Losers that are not this device's write: the winner is simply downloaded.
  const other = plan(
    [lf('shared.txt', 'MINE')],
    [rf('shared.txt', 'THEIRS', 'v-theirs', ['v-someone'])],
    [['shared.txt', sf('MINE', 'v-mine')]],
  );
  assert.deepEqual(brief(other.actions), ['download shared.txt']);
});

test('a move in the drive is a rename on disk, nothing downloaded', () => {
  const p = plan(
    [lf('old/name.txt', 'A')],
    [rf('new/name.txt', 'A', 'v1')],
    [['old/name.txt', sf('A', 'v1')]],
  );
  assert.deepEqual(brief(p.actions), ['move_local old/name.txt -> new/name.txt']);
});

test('a move in the drive while the disk copy changed: the change is uploaded, the moved file downloaded', () => {
  const p = plan([lf('old.txt', 'A2')], [rf('new.txt', 'A', 'v1')], [['old.txt', sf('A', 'v1')]]);
  assert.deepEqual(brief(p.actions), ['upload old.txt', 'download new.txt']);
});

test('a rename on disk is a move in the drive, nothing uploaded', () => {
  const p = plan(
    [lf('renamed.txt', 'A')],
    [rf('orig.txt', 'A', 'v1')],
    [['orig.txt', sf('A', 'v1')]],
  );
  assert.deepEqual(brief(p.actions), ['move_remote orig.txt -> renamed.txt']);
  const move = p.actions[0] as Extract<Action, { type: 'move_remote' }>;
  assert.equal(move.synced.version, 'v1');
});

test('a rename on disk while the drive changed the file: the drive’s change comes down, the renamed file goes up', () => {
  const p = plan(
    [lf('renamed.txt', 'A')],
    [rf('orig.txt', 'A2', 'v2')],
    [['orig.txt', sf('A', 'v1')]],
  );
  assert.deepEqual(brief(p.actions), ['upload renamed.txt', 'download orig.txt']);
});

test('a copy is not a rename; two renames of equal files pair up once each', () => {
  const copy = plan([lf('a', 'A'), lf('b', 'A')], [rf('a', 'A', 'v1')], [['a', sf('A', 'v1')]]);
  assert.deepEqual(brief(copy.actions), ['upload b']);
  const two = plan(
    [lf('x2', 'A'), lf('y2', 'A')],
    [rf('x', 'A', 'v1'), rf('y', 'A', 'v2')],
    [
      ['x', sf('A', 'v1')],
      ['y', sf('A', 'v2')],
    ],
  );
  assert.deepEqual(brief(two.actions), ['move_remote x -> x2', 'move_remote y -> y2']);
});

test('names that are one name in the drive are skipped, with both named, and the drive’s file is left alone', () => {
  const p = plan(
    [lf('Notes.txt', 'A'), lf('notes.txt', 'B')],
    [rf('NOTES.txt', 'C')],
    [['NOTES.txt', sf('C')]],
  );
  assert.deepEqual(p.actions, []);
  assert.deepEqual(
    p.skipped.map((s) => [s.path, s.reason]),
    [
      ['Notes.txt', 'same_name'],
      ['notes.txt', 'same_name'],
    ],
  );
  assert.match(p.skipped[0]!.detail, /"Notes\.txt" and "notes\.txt"/);
  // Composed and decomposed spellings collide too.
  const nf = plan([lf('café', 'A'), lf('café', 'B', T, 'cafe\u0301')], []);
  assert.equal(nf.skipped.length, 2);
});

test('a name spelt differently on disk and in the drive is one file', () => {
  const p = plan([lf('Readme.MD', 'A')], [rf('README.md', 'A')]);
  assert.deepEqual(brief(p.actions), ['agree README.md']);
  const changed = plan([lf('Readme.MD', 'A')], [rf('README.md', 'B')], [['README.md', sf('A')]]);
  const download = changed.actions[0] as Extract<Action, { type: 'download' }>;
  assert.equal(download.type, 'download');
  assert.equal(download.fsPath, 'Readme.MD', 'written over the name on disk');
  // A decomposed name on disk is the composed one in the drive.
  const nfd = plan([lf('café', 'A', T, 'cafe\u0301')], [rf('café', 'A')], [['café', sf('A')]]);
  assert.deepEqual(nfd.actions, []);
});

test('drive paths reserved on disk are skipped', () => {
  const p = plan(
    [],
    [rf('.p2pcloud/sync-state.json', 'X'), rf('x.p2pcloud-part', 'Y'), rf('ok', 'Z')],
  );
  assert.deepEqual(brief(p.actions), ['download ok']);
  assert.deepEqual(
    p.skipped.map((s) => s.reason),
    ['reserved', 'reserved'],
  );
});

test('a record that is behind (a crash before it was saved) only catches up', () => {
  // Upload done, record not saved: both sides equal, no record.
  assert.deepEqual(brief(plan([lf('a', 'A')], [rf('a', 'A')]).actions), ['agree a']);
  // Remote delete done, record not saved: gone from both.
  assert.deepEqual(brief(plan([], [], [['a', sf('A')]]).actions), ['forget a']);
  // Move in the drive done, record not saved.
  assert.deepEqual(
    brief(plan([lf('b', 'A')], [rf('b', 'A', 'v1')], [['a', sf('A', 'v1')]]).actions),
    ['agree b', 'forget a'],
  );
  // A conflict stopped after the local rename: the aside copy goes up, the drive's comes down.
  const aside = 'a (conflict from laptop 2026-12-01).txt';
  assert.deepEqual(
    brief(plan([lf(aside, 'L')], [rf('a.txt', 'R')], [['a.txt', sf('O')]]).actions),
    [`upload ${aside}`, 'download a.txt'],
  );
});

// ---- Every combination for one path, carried out on a model of both sides ----

type Side = Map<string, string>; // path -> content (sha)

/** Carries a plan out on the model; uploads make a new version named after the bytes. */
function carryOut(actions: readonly Action[], local: Side, remote: Map<string, RemoteFile>): void {
  for (const a of actions) {
    switch (a.type) {
      case 'upload':
        remote.set(a.path, rf(a.path, local.get(a.local.fsPath)!, `v-${a.local.sha256}-up`));
        break;
      case 'download':
        local.set(a.fsPath, a.remote.sha256);
        break;
      case 'delete_local':
        local.delete(a.local.fsPath);
        break;
      case 'delete_remote':
        remote.delete(a.path);
        break;
      case 'move_local':
        local.set(a.to, local.get(a.from.fsPath)!);
        local.delete(a.from.fsPath);
        break;
      case 'move_remote': {
        const r = remote.get(a.from)!;
        remote.delete(a.from);
        remote.set(a.to.path, { ...r, path: a.to.path });
        break;
      }
      case 'conflict':
        local.set(a.conflictPath, local.get(a.local.fsPath)!);
        remote.set(a.conflictPath, rf(a.conflictPath, a.local.sha256, `v-${a.local.sha256}-c`));
        local.set(a.path, a.remote.sha256);
        break;
      case 'agree':
      case 'forget':
        break;
    }
  }
}

/** The agreement after a round: every path equal on both sides. */
function agreed(local: Side, remote: Map<string, RemoteFile>): [string, SyncedFile][] {
  return [...remote].map(([path, r]) => [path, sf(local.get(path)!, r.version)]);
}

test('every combination for one path converges, loses no changed version, and settles', () => {
  const localOptions = [undefined, 'O', 'L'];
  const remoteOptions = [undefined, 'O', 'R', 'L'];
  const stateOptions = [undefined, 'O'];
  let cases = 0;
  for (const l of localOptions) {
    for (const r of remoteOptions) {
      for (const s of stateOptions) {
        for (const lostMine of [false, true]) {
          if (lostMine && (!s || !r || r === s)) continue;
          cases += 1;
          const what = `disk ${l ?? '-'}, drive ${r ?? '-'}, agreed ${s ?? '-'}${lostMine ? ', mine lost' : ''}`;
          const local: Side = new Map(l ? [['f.txt', l]] : []);
          const remote = new Map<string, RemoteFile>(
            r ? [['f.txt', rf('f.txt', r, `v-${r}`, lostMine ? ['v-O'] : undefined)]] : [],
          );
          const state: [string, SyncedFile][] = s ? [['f.txt', sf(s, `v-${s}`)]] : [];
          const before = new Set([...local.values(), ...[...remote.values()].map((x) => x.sha256)]);
          const first = plan(
            [...local].map(([p, c]) => lf(p, c)),
            [...remote.values()],
            state,
          );
          carryOut(first.actions, local, remote);
          // Both sides hold the same paths and bytes.
          assert.deepEqual(
            [...local].sort(),
            [...remote].map(([p, x]) => [p, x.sha256]).sort(),
            `${what}: converged (${brief(first.actions).join('; ')})`,
          );
          // Nothing but the agreed version may disappear; with a lost write, not even that.
          const after = new Set(local.values());
          for (const content of before) {
            if (content === s && !lostMine) continue;
            assert.ok(
              after.has(content),
              `${what}: ${content} kept (${brief(first.actions).join('; ')})`,
            );
          }
          // A second round over the result, with the agreement recorded, does nothing.
          const second = plan(
            [...local].map(([p, c]) => lf(p, c)),
            [...remote.values()].map((x) => rf(x.path, x.sha256, x.version)),
            agreed(local, remote),
          );
          assert.deepEqual(brief(second.actions), [], `${what}: settled`);
        }
      }
    }
  }
  assert.ok(cases >= 24, `${cases} cases`);
});

test('rename combinations converge and the renamed bytes are neither lost nor sent', () => {
  // Renames on one side with every kind of change on the other.
  const scenarios: {
    name: string;
    local: [string, string][];
    remote: [string, string, string][];
    state: [string, string, string][];
    moves: number;
  }[] = [
    {
      name: 'drive rename',
      local: [['a', 'A']],
      remote: [['b', 'A', 'v1']],
      state: [['a', 'A', 'v1']],
      moves: 1,
    },
    {
      name: 'disk rename',
      local: [['b', 'A']],
      remote: [['a', 'A', 'v1']],
      state: [['a', 'A', 'v1']],
      moves: 1,
    },
    {
      name: 'both renamed to different names',
      local: [['b', 'A']],
      remote: [['c', 'A', 'v1']],
      state: [['a', 'A', 'v1']],
      moves: 0,
    },
    {
      name: 'both renamed to the same name',
      local: [['b', 'A']],
      remote: [['b', 'A', 'v1']],
      state: [['a', 'A', 'v1']],
      moves: 0,
    },
    {
      name: 'drive renamed into a name the disk has taken',
      local: [
        ['a', 'A'],
        ['b', 'X'],
      ],
      remote: [['b', 'A', 'v1']],
      state: [['a', 'A', 'v1']],
      moves: 0,
    },
  ];
  for (const sc of scenarios) {
    const local: Side = new Map(sc.local);
    const remote = new Map(sc.remote.map(([p, c, v]) => [p, rf(p, c, v)]));
    const first = plan(
      [...local].map(([p, c]) => lf(p, c)),
      [...remote.values()],
      sc.state.map(([p, c, v]) => [p, sf(c, v)]),
    );
    const moves = first.actions.filter((a) => a.type === 'move_local' || a.type === 'move_remote');
    assert.equal(moves.length, sc.moves, `${sc.name}: ${brief(first.actions).join('; ')}`);
    if (sc.moves > 0) {
      assert.ok(
        !first.actions.some((a) => a.type === 'upload' || a.type === 'download'),
        `${sc.name}: nothing sent`,
      );
    }
    const before = new Set([...local.values(), ...[...remote.values()].map((x) => x.sha256)]);
    carryOut(first.actions, local, remote);
    assert.deepEqual(
      [...local].sort(),
      [...remote].map(([p, x]) => [p, x.sha256]).sort(),
      `${sc.name}: converged (${brief(first.actions).join('; ')})`,
    );
    for (const content of before)
      assert.ok(new Set(local.values()).has(content), `${sc.name}: ${content} kept`);
    const second = plan(
      [...local].map(([p, c]) => lf(p, c)),
      [...remote.values()],
      agreed(local, remote),
    );
    assert.deepEqual(brief(second.actions), [], `${sc.name}: settled`);
  }
});
