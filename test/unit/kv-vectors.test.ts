/**
 * docs/vectors/kv.json (written once by scripts/kv-vectors.mjs) against the implementation:
 * every value is recomputed from the file's fixed inputs, and the last test checks that no
 * value of the file went unread, so a vector cannot silently stop being checked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { signingKeyPairFromSeed } from '../../src/crypto/ed25519.js';
import { boxKeyPairFromSecret } from '../../src/crypto/x25519.js';
import { decodeStatement, encodeStatement } from '../../src/identity/statement.js';
import { batchFromStatement, encodeBatchBody, signBatch, type KvOp } from '../../src/kv/batch.js';
import {
  ClockSkewError,
  HLC_ZERO,
  MAX_SKEW_MS,
  formatHlc,
  parseHlc,
  receive,
  tick,
  type Hlc,
} from '../../src/kv/hlc.js';
import { KvState, type KvVersion } from '../../src/kv/merge.js';
import { identityText, type Identity } from '../../src/keys/keys.js';
import { VectorDoc } from '../helpers/vector-doc.js';

const vectors = new VectorDoc('kv.json');
const doc = vectors.doc;
const value = (path: string) => vectors.value(path);
const str = (path: string) => vectors.str(path);
const num = (path: string) => vectors.num(path);
const length = (path: string) => vectors.length(path);
const keysOf = (path: string) => vectors.keysOf(path);

test('kv vectors: the clock steps', () => {
  assert.equal(num('hlc.max_skew_ms'), MAX_SKEW_MS);
  assert.equal(str('hlc.start'), formatHlc(HLC_ZERO));
  let clock: Hlc = HLC_ZERO;
  const steps = length('hlc.steps');
  assert.ok(steps >= 6);
  for (let i = 0; i < steps; i++) {
    const at = `hlc.steps.${i}`;
    const now = num(`${at}.now`);
    const refused = (doc as { hlc: { steps: Record<string, unknown>[] } }).hlc.steps[i]!.refused;
    if (str(`${at}.event`) === 'tick') clock = tick(clock, now);
    else {
      const remote = parseHlc(str(`${at}.remote`));
      assert.ok(remote);
      if (refused !== undefined) {
        assert.equal(str(`${at}.refused`), 'clock_skew');
        assert.throws(() => receive(clock, remote, now), ClockSkewError);
      } else clock = receive(clock, remote, now);
    }
    assert.equal(formatHlc(clock), str(`${at}.after`), at);
  }
});

function writer(name: string): { identity: Identity; text: string } {
  const identity = {
    signing: signingKeyPairFromSeed(Buffer.from(str(`writers.${name}.signing_seed`), 'hex')),
    box: boxKeyPairFromSecret(Buffer.from(str(`writers.${name}.box_secret`), 'hex')),
  };
  const text = identityText(identity);
  assert.equal(text, str(`writers.${name}.text`));
  return { identity, text };
}

test('kv vectors: batch bodies, statements and the scenario of docs/kv.md §5', () => {
  const space = str('space');
  const writers = Object.fromEntries(keysOf('writers').map((name) => [name, writer(name)]));
  const statements: string[] = [];
  for (let i = 0; i < length('batches'); i++) {
    const at = `batches.${i}`;
    const w = writers[str(`${at}.writer`)]!;
    const seen: Record<string, number> = {};
    for (const name of keysOf(`${at}.seen`)) seen[writers[name]!.text] = num(`${at}.seen.${name}`);
    const ops: KvOp[] = [];
    for (let j = 0; j < length(`${at}.ops`); j++) {
      const op = `${at}.ops.${j}`;
      const hlc = parseHlc(str(`${op}.hlc`));
      assert.ok(hlc);
      const key = Buffer.from(str(`${op}.key`));
      ops.push(
        str(`${op}.type`) === 'put'
          ? { type: 'put', key, value: Buffer.from(str(`${op}.value`)), hlc }
          : { type: 'del', key, hlc },
      );
    }
    const body = encodeBatchBody({ space, batch: num(`${at}.batch`), seen, ops });
    assert.equal(body, str(`${at}.body`), at);
    const statement = signBatch({
      person: w.text,
      signer: w.identity,
      seq: num(`${at}.seq`),
      at: num(`${at}.at`),
      body,
    });
    assert.equal(encodeStatement(statement), str(`${at}.statement`), at);
    assert.equal(statement.hash, str(`${at}.hash`), at);
    statements.push(str(`${at}.statement`));
  }

  const names = new Map(Object.entries(writers).map(([name, w]) => [w.text, name]));
  const version = (v: KvVersion): unknown => ({
    writer: names.get(v.signer),
    batch: v.batch,
    index: v.index,
    value: v.value === undefined ? null : v.value.toString('utf8'),
  });
  // Delivered in reverse and in a rotated order: the same result.
  for (const order of [
    [...statements].reverse(),
    [...statements.slice(2), ...statements.slice(0, 2)],
  ]) {
    const state = new KvState({ space, accepts: () => true, mayWrite: () => true });
    for (const text of order) {
      const decoded = decodeStatement(text);
      assert.ok(decoded);
      const batch = batchFromStatement(decoded);
      assert.ok(batch.ok);
      assert.equal(state.apply(batch.batch), 'applied');
    }
    for (const key of keysOf('result.keys')) {
      const at = `result.keys.${key}`;
      const expected = (doc as { result: { keys: Record<string, unknown> } }).result.keys[key];
      const w = state.winner(Buffer.from(key));
      assert.ok(w);
      assert.deepEqual(
        { winner: version(w), conflicts: state.conflicts(Buffer.from(key)).map(version) },
        expected,
        key,
      );
      for (const part of ['writer', 'batch', 'index', 'value']) value(`${at}.winner.${part}`);
      for (let j = 0; j < length(`${at}.conflicts`); j++) {
        for (const part of ['writer', 'batch', 'index', 'value'])
          value(`${at}.conflicts.${j}.${part}`);
      }
    }
    const live = [...state.entries()].map((v) => v.key.toString('utf8'));
    assert.deepEqual(live, (doc as { result: { live: string[] } }).result.live);
    live.forEach((_, j) => value(`result.live.${j}`));
    const vector: Record<string, number> = {};
    for (const [signer, n] of Object.entries(state.versionVector())) vector[names.get(signer)!] = n;
    for (const name of keysOf('result.version_vector')) {
      assert.equal(vector[name], num(`result.version_vector.${name}`));
    }
    assert.equal(Object.keys(vector).length, keysOf('result.version_vector').length);
  }
});

test('kv vectors: every value of the file was checked', () => {
  vectors.assertAllRead(60);
});
