/**
 * The requester's reputation file of compute nodes: counts add up across runs, a missing file
 * is an empty record, a damaged one is refused and left untouched, and writes are atomic.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { P2PError } from '../../src/errors.js';
import {
  applyVerdicts,
  emptyReputation,
  parseReputation,
  readReputation,
  recordVerdicts,
} from '../../src/client/compute/reputation.js';
import { tempDir } from '../helpers/tmp.js';

const A = 'a1'.repeat(32);
const B = 'b2'.repeat(32);
const C = 'c3'.repeat(32);

test('a missing file is an empty record; verdicts add up over runs and are written', async () => {
  const dir = tempDir();
  const path = join(dir, 'reputation.json');
  assert.deepEqual(await readReputation(path), emptyReputation());
  await recordVerdicts(
    path,
    [
      { node: A, verdict: 'agreed' },
      { node: B, verdict: 'disagreed' },
      { node: C, verdict: 'failed' },
    ],
    1000,
  );
  const second = await recordVerdicts(
    path,
    [
      { node: A, verdict: 'agreed' },
      { node: B, verdict: 'agreed' },
      { node: C, verdict: 'failed' },
    ],
    2000,
  );
  const onDisk = JSON.parse(readFileSync(path, 'utf8')) as unknown;
  assert.deepEqual(onDisk, second);
  assert.deepEqual(onDisk, {
    v: 1,
    nodes: {
      [A]: { agreed: 2, disagreed: 0, failed: 0, last_seen: 2000 },
      [B]: { agreed: 1, disagreed: 1, failed: 0, last_seen: 2000 },
      // A node that never answered was never seen.
      [C]: { agreed: 0, disagreed: 0, failed: 2, last_seen: 0 },
    },
  });
  assert.equal(statSync(path).mode & 0o777, 0o600);
  // No temporary file is left beside it.
  assert.deepEqual(readdirSync(dir), ['reputation.json']);
});

test('a damaged file is refused with a clear error and left as it was', async () => {
  const dir = tempDir();
  const path = join(dir, 'reputation.json');
  const damaged: [string, RegExp][] = [
    ['{"v":1,"nodes":{', /not JSON/],
    ['[]', /not a JSON object/],
    ['{"v":2,"nodes":{}}', /version 2 is not 1/],
    ['{"v":1}', /"nodes" is not an object/],
    [
      `{"v":1,"nodes":{"xyz":{"agreed":0,"disagreed":0,"failed":0,"last_seen":0}}}`,
      /not a node key/,
    ],
    [`{"v":1,"nodes":{"${A}":{"agreed":-1,"disagreed":0,"failed":0,"last_seen":0}}}`, /"agreed"/],
    [
      `{"v":1,"nodes":{"${A}":{"agreed":1,"disagreed":0.5,"failed":0,"last_seen":0}}}`,
      /"disagreed"/,
    ],
    [`{"v":1,"nodes":{"${A}":{"agreed":1,"disagreed":0,"last_seen":0}}}`, /"failed"/],
  ];
  for (const [text, reason] of damaged) {
    writeFileSync(path, text);
    await assert.rejects(
      recordVerdicts(path, [{ node: A, verdict: 'agreed' }]),
      (error: unknown) =>
        error instanceof P2PError &&
        error.code === 'bad_reputation' &&
        error.message.includes(path) &&
        reason.test(error.message),
      text,
    );
    assert.equal(readFileSync(path, 'utf8'), text, 'the damaged file is not overwritten');
  }
});

test('applying verdicts leaves the record given unchanged and refuses a bad node key', () => {
  const before = parseReputation(
    `{"v":1,"nodes":{"${A}":{"agreed":3,"disagreed":1,"failed":0,"last_seen":5}}}`,
  );
  assert.ok(typeof before !== 'string');
  const after = applyVerdicts(before, [{ node: A, verdict: 'disagreed' }], 9);
  assert.deepEqual(before.nodes[A], { agreed: 3, disagreed: 1, failed: 0, last_seen: 5 });
  assert.deepEqual(after.nodes[A], { agreed: 3, disagreed: 2, failed: 0, last_seen: 9 });
  assert.throws(() => applyVerdicts(before, [{ node: 'http://x', verdict: 'agreed' }], 9));
});

test('runs that finish at the same time in one process lose none of their verdicts', async () => {
  const path = join(tempDir(), 'reputation.json');
  await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      recordVerdicts(path, [{ node: A, verdict: i % 4 === 0 ? 'disagreed' : 'agreed' }], i),
    ),
  );
  const record = await readReputation(path);
  assert.deepEqual(record.nodes[A], { agreed: 15, disagreed: 5, failed: 0, last_seen: 19 });
});
