import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeStatement, encodeStatement } from '../../src/identity/statement.js';
import {
  MAX_BATCH_BODY_BYTES,
  MAX_BATCH_OPS,
  MAX_KEY_BYTES,
  MAX_VALUE_BYTES,
  batchFromStatement,
  decodeBatchBody,
  decodeBatchObject,
  encodeBatchBody,
  signBatch,
  splitIntoBatches,
  type KvOp,
} from '../../src/kv/batch.js';
import { generateIdentity, identityText } from '../../src/keys/keys.js';

const SPACE = 'ab'.repeat(16);
const writer = generateIdentity();
const WRITER = identityText(writer);
const hlc = { ms: 1_767_225_600_000, counter: 0 };

function opCount(text: string): number {
  const decoded = decodeBatchBody(text);
  assert.ok(decoded.ok);
  return decoded.body.ops.length;
}

function put(key: string, value: Buffer | string = 'v'): KvOp {
  return { type: 'put', key: Buffer.from(key), value: Buffer.from(value), hlc };
}

function body(ops: unknown[], extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ space: SPACE, batch: 1, seen: {}, ops, ...extra });
}

const goodOp = { type: 'put', key: 'a2V5', value: 'dmFs', hlc: '0000000000010000' };

test('a body round-trips through the encoder and the decoder', () => {
  const ops: KvOp[] = [put('k1', 'v1'), { type: 'del', key: Buffer.from('k2'), hlc }];
  const text = encodeBatchBody({ space: SPACE, batch: 4, seen: { [WRITER]: 3 }, ops });
  const decoded = decodeBatchBody(text);
  assert.ok(decoded.ok);
  assert.equal(decoded.body.batch, 4);
  assert.deepEqual({ ...decoded.body.seen }, { [WRITER]: 3 });
  assert.deepEqual(decoded.body.ops, ops);
});

test('the decoder refuses every malformed member with its reason', () => {
  const cases: [string, string][] = [
    ['not json', 'not_json'],
    ['[1]', 'not_json'],
    [body([goodOp], { extra: 1 }), 'members'],
    [JSON.stringify({ space: SPACE, batch: 1, ops: [goodOp] }), 'members'],
    [body([goodOp], { space: 'AB'.repeat(16) }), 'space'],
    [body([goodOp], { space: 'ab'.repeat(15) }), 'space'],
    [body([goodOp], { batch: 0 }), 'batch_number'],
    [body([goodOp], { batch: 1.5 }), 'batch_number'],
    [body([goodOp], { batch: '1' }), 'batch_number'],
    [body([goodOp], { seen: [] }), 'seen'],
    [body([goodOp], { seen: { notanidentity: 1 } }), 'seen'],
    [body([goodOp], { seen: { [WRITER]: 0 } }), 'seen'],
    [body([]), 'ops'],
    [body([goodOp], { ops: {} }), 'ops'],
    [body([{ ...goodOp, type: 'merge' }]), 'op_type'],
    [body([{ ...goodOp, extra: true }]), 'op_members'],
    [body([{ type: 'del', key: 'a2V5', value: 'dmFs', hlc: goodOp.hlc }]), 'op_members'],
    [body([{ type: 'put', key: 'a2V5', hlc: goodOp.hlc }]), 'op_members'],
    [body(['op']), 'op_members'],
    [body([{ ...goodOp, key: 'a2V5=' }]), 'bad_base64'],
    [body([{ ...goodOp, key: 'a2V' }]), 'bad_base64'],
    [body([{ ...goodOp, key: 'a2V5 ' }]), 'bad_base64'],
    [body([{ ...goodOp, key: 'a2-5' }]), 'bad_base64'],
    [body([{ ...goodOp, key: 'a2V=' }]), 'bad_base64'], // non-zero trailing bits: not canonical
    [body([{ ...goodOp, value: 'dmFs!' }]), 'bad_base64'],
    [body([{ ...goodOp, key: 7 }]), 'bad_base64'],
    [body([{ ...goodOp, hlc: 65536 }]), 'hlc'],
    [body([{ ...goodOp, hlc: '00000000000G0000' }]), 'hlc'],
    [
      body([{ ...goodOp, key: Buffer.alloc(MAX_KEY_BYTES + 1).toString('base64') }]),
      'key_too_large',
    ],
    [
      body([{ ...goodOp, value: Buffer.alloc(MAX_VALUE_BYTES + 1).toString('base64') }]),
      'value_too_large',
    ],
    [body([goodOp], { pad: 'x'.repeat(MAX_BATCH_BODY_BYTES) }), 'too_large'],
  ];
  for (const [text, reason] of cases) {
    const decoded = decodeBatchBody(text);
    assert.equal(decoded.ok, false, text.slice(0, 120));
    assert.equal(!decoded.ok && decoded.reason, reason, text.slice(0, 120));
  }
});

test('the operation count is limited for parsed bodies too', () => {
  const del = { type: 'del', key: '', hlc: goodOp.hlc };
  const object = (n: number): Record<string, unknown> => ({
    space: SPACE,
    batch: 1,
    seen: {},
    ops: Array.from({ length: n }, () => del),
  });
  assert.ok(decodeBatchObject(object(MAX_BATCH_OPS)).ok);
  assert.deepEqual(decodeBatchObject(object(MAX_BATCH_OPS + 1)), {
    ok: false,
    reason: 'too_many_ops',
  });
  // As text, the byte limit binds first.
  assert.deepEqual(decodeBatchBody(JSON.stringify(object(MAX_BATCH_OPS))), {
    ok: false,
    reason: 'too_large',
  });
});

test('the limits themselves are accepted', () => {
  const exact = body([goodOp], { pad: '' });
  const padded = body([goodOp], {
    pad: 'x'.repeat(MAX_BATCH_BODY_BYTES - Buffer.byteLength(exact)),
  });
  assert.equal(Buffer.byteLength(padded), MAX_BATCH_BODY_BYTES);
  // Exactly at the byte limit the text is read (and refused only for its extra member).
  assert.deepEqual(decodeBatchBody(padded), { ok: false, reason: 'members' });
  const big = {
    ...goodOp,
    key: Buffer.alloc(MAX_KEY_BYTES).toString('base64'),
    value: Buffer.alloc(MAX_VALUE_BYTES).toString('base64'),
  };
  assert.ok(decodeBatchBody(body([big])).ok);
});

test('the encoder refuses what the decoder would refuse', () => {
  const base = { space: SPACE, batch: 1, seen: {} };
  assert.throws(() => encodeBatchBody({ ...base, ops: [] }), RangeError);
  assert.throws(
    () => encodeBatchBody({ ...base, ops: [put('x'.repeat(MAX_KEY_BYTES + 1))] }),
    RangeError,
  );
  assert.throws(
    () => encodeBatchBody({ ...base, ops: [put('k', Buffer.alloc(MAX_VALUE_BYTES + 1))] }),
    RangeError,
  );
  assert.throws(() => encodeBatchBody({ ...base, batch: 0, ops: [put('k')] }), RangeError);
  assert.throws(
    () =>
      encodeBatchBody({
        ...base,
        ops: Array.from({ length: 2 }, () => put('k', Buffer.alloc(30_000))),
      }),
    RangeError,
  );
});

test('splitIntoBatches fills consecutive batches within every limit and keeps op order', () => {
  const ops: KvOp[] = [];
  for (let i = 0; i < 2500; i++)
    ops.push(put(`key-${i}`, i % 500 === 0 ? Buffer.alloc(20_000, i % 256) : `v${i}`));
  const seen = { [WRITER]: 6 };
  const bodies = splitIntoBatches({ space: SPACE, firstBatch: 7, seen, ops });
  assert.ok(bodies.length >= 3);
  const back: KvOp[] = [];
  bodies.forEach((text, i) => {
    assert.ok(Buffer.byteLength(text) <= MAX_BATCH_BODY_BYTES);
    const decoded = decodeBatchBody(text);
    assert.ok(decoded.ok, `body ${i}`);
    assert.equal(decoded.body.batch, 7 + i);
    assert.ok(decoded.body.ops.length <= MAX_BATCH_OPS);
    back.push(...decoded.body.ops);
  });
  assert.deepEqual(back, ops);
  // Small ops: each body is as full as the byte limit allows.
  const small = Array.from({ length: 2001 }, (_, i) => put(`${i}`.padStart(4, '0')));
  const texts = splitIntoBatches({ space: SPACE, firstBatch: 1, seen: {}, ops: small });
  const opBytes = Buffer.byteLength(JSON.stringify(JSON.parse(texts[0]!).ops[0])) + 1;
  for (const t of texts.slice(0, -1)) {
    assert.ok(Buffer.byteLength(t) + opBytes > MAX_BATCH_BODY_BYTES, 'a body was not full');
  }
  assert.equal(
    texts.map(opCount).reduce((a, b) => a + b),
    2001,
  );
  // Large ops: split by size, as full as possible.
  const large = Array.from({ length: 5 }, (_, i) => put(`${i}`, Buffer.alloc(15_000)));
  const sizes = splitIntoBatches({ space: SPACE, firstBatch: 1, seen: {}, ops: large }).map(
    opCount,
  );
  assert.deepEqual(sizes, [2, 2, 1]);
  assert.deepEqual(splitIntoBatches({ space: SPACE, firstBatch: 1, seen: {}, ops: [] }), []);
});

test('a batch is signed as a kv-batch statement and read back from its JSON', () => {
  const text = encodeBatchBody({ space: SPACE, batch: 1, seen: {}, ops: [put('k')] });
  const statement = signBatch({ person: WRITER, signer: writer, seq: 9, at: 1000, body: text });
  assert.equal(statement.kind, 'kv-batch');
  assert.equal(statement.body, text);
  const decoded = decodeStatement(encodeStatement(statement));
  assert.ok(decoded);
  const read = batchFromStatement(decoded);
  assert.ok(read.ok);
  assert.equal(read.batch.signer, WRITER);
  assert.equal(read.batch.seq, 9);
  assert.deepEqual(read.batch.body.ops, [put('k')]);
  assert.throws(() => signBatch({ person: WRITER, signer: writer, seq: 1, at: 1, body: '{}' }));
  const other = decodeStatement(encodeStatement({ ...statement, kind: 'record' }));
  assert.equal(other, undefined); // the signature covers the kind
});
