/**
 * A job over a person's encrypted notes on three node processes, two honest and one that
 * returns a wrong result with a valid receipt: the requester gets the honest output (checked
 * against a count made here), the liar is flagged as disagreeing and the reputation file says
 * so. Then the cases where there is no majority to be had, and a node that is down.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '../../src/client/client.js';
import { blobOfEntries, storeBlob } from '../../src/client/compute/blob-store.js';
import { jobsInfo } from '../../src/client/compute/node-api.js';
import { runJob } from '../../src/client/compute/run-job.js';
import { P2PError } from '../../src/errors.js';
import { generateIdentity, generateTableKey } from '../../src/keys/keys.js';
import { spawnComputeNode } from '../helpers/compute-node.js';
import { deadUrl } from '../helpers/http.js';
import { tempDir } from '../helpers/tmp.js';
import {
  exampleWordCount as wordCount,
  exampleWordCountModule as wordCountModule,
} from '../helpers/word-count.js';

const [honestA, liar, honestB] = await Promise.all([
  spawnComputeNode(),
  spawnComputeNode({}, 'lying-compute-node'),
  spawnComputeNode(),
]);
const nodes = [honestA.url, liar.url, honestB.url];
const person = generateIdentity();
const notesTable = generateTableKey();
const client = new Client({ nodes, powThreads: 1 });

const NOTES = [
  'Buy milk, eggs and\tbread.\n',
  'Call the plumber about the kitchen sink on Tuesday\n',
  `Ideas: ${'a garden of words '.repeat(400)}\n`,
  '  one more  \r\n',
];
const noteIds: string[] = [];
for (const note of NOTES) {
  const put = await client.put({ table: notesTable, to: person.box.publicKey, data: note });
  assert.equal(put.accepted, 3, JSON.stringify(put.nodes));
  noteIds.push(put.id);
}
const notes = await blobOfEntries(client, person, noteIds);
const module = await storeBlob(client, { table: notesTable, identity: person }, wordCountModule());
const keyOf = new Map<string, string>();
for (const url of nodes) keyOf.set(url, (await jobsInfo(url)).node);
const expected = wordCount(NOTES.join(''));

test('two honest nodes outvote the liar: the honest count, the liar flagged and recorded', async () => {
  const reputation = join(tempDir(), 'reputation.json');
  const result = await runJob({ nodes, identity: person, module, inputs: [notes], reputation });
  assert.equal(result.output.toString(), expected);
  assert.equal((JSON.parse(expected) as { words: number }).words, 1617);
  assert.deepEqual(result.agreeing, [honestA.url, honestB.url]);
  assert.deepEqual(result.disagreeing, [liar.url]);
  assert.deepEqual(result.failed, []);
  const body = result.receipt.body;
  assert.equal(body.status, 'ok');
  assert.equal(body.module, module.sha256);
  assert.deepEqual(body.inputs, [notes.sha256]);
  assert.equal(body.bytes_read, Buffer.byteLength(NOTES.join('')));
  assert.equal(body.bytes_written, expected.length);
  assert.ok([keyOf.get(honestA.url), keyOf.get(honestB.url)].includes(body.node));
  // The liar's receipt is valid and signed by its own key: it is a disagreement, not a failure.
  const lie = result.nodes.find((n) => n.node === liar.url)!;
  assert.equal(lie.verdict, 'disagreed');
  assert.equal(lie.receipt?.body.node, keyOf.get(liar.url));
  assert.notEqual(lie.receipt?.body.output, body.output);
  assert.equal(lie.receipt?.body.fuel, body.fuel, 'the liar ran the job: only its output differs');
  // Each node was sent a job of its own id.
  assert.equal(new Set(result.nodes.map((n) => n.id)).size, 3);
  assert.equal(result.id, result.nodes[0]!.id);

  const record = JSON.parse(readFileSync(reputation, 'utf8')) as {
    v: number;
    nodes: Record<string, { agreed: number; disagreed: number; failed: number }>;
  };
  assert.equal(record.v, 1);
  assert.deepEqual(
    Object.fromEntries(
      Object.entries(record.nodes).map(([k, n]) => [k, [n.agreed, n.disagreed, n.failed]]),
    ),
    {
      [keyOf.get(honestA.url)!]: [1, 0, 0],
      [keyOf.get(liar.url)!]: [0, 1, 0],
      [keyOf.get(honestB.url)!]: [1, 0, 0],
    },
  );

  // Asked for two of the three, the requester leaves out the node its record flags.
  const again = await runJob({
    nodes,
    count: 2,
    identity: person,
    module,
    inputs: [notes],
    reputation,
  });
  assert.deepEqual(again.agreeing, [honestA.url, honestB.url]);
  assert.equal(again.nodes.length, 2);
  assert.equal(again.output.toString(), expected);
});

test('a node that is down fails; the other two still make a majority of three', async () => {
  const down = await deadUrl();
  const result = await runJob({
    nodes: [honestA.url, down, honestB.url],
    identity: person,
    module,
    inputs: [notes],
  });
  assert.equal(result.output.toString(), expected);
  assert.deepEqual(result.agreeing, [honestA.url, honestB.url]);
  assert.equal(result.failed.length, 1);
  assert.equal(result.failed[0]!.node, down);
  assert.equal(result.failed[0]!.code, 'node_unreachable');
});

test('one honest node against the liar and a dead node is no majority, and nothing is flagged', async () => {
  const reputation = join(tempDir(), 'reputation.json');
  const down = await deadUrl();
  await assert.rejects(
    runJob({
      nodes: [honestA.url, liar.url, down],
      identity: person,
      module,
      inputs: [notes],
      reputation,
    }),
    (error: unknown) =>
      error instanceof P2PError &&
      error.code === 'no_majority' &&
      error.message.includes(liar.url) &&
      error.message.includes(down),
  );
  const record = JSON.parse(readFileSync(reputation, 'utf8')) as {
    nodes: Record<string, { agreed: number; disagreed: number }>;
  };
  // Neither the honest node nor the liar can be told right: only a failure could be recorded,
  // and the dead node never told its key.
  assert.deepEqual(record.nodes, {});
});

test('a node without the inputs refuses the job (input_missing) and counts as failed', async () => {
  // The notes are on the three nodes; an input that no node holds is refused by each.
  const stray = generateIdentity();
  const other = new Client({ nodes: [honestA.url], powThreads: 1 });
  const lonely = await storeBlob(
    other,
    { table: notesTable, identity: stray },
    Buffer.from('x y z'),
  );
  const result = await runJob({
    nodes: [honestA.url, honestB.url],
    identity: stray,
    module: await storeBlob(other, { table: notesTable, identity: stray }, wordCountModule()),
    inputs: [lonely],
  }).catch((error: unknown) => error);
  assert.ok(result instanceof P2PError, 'honestB does not hold the entries: no majority of 2');
  assert.equal(result.code, 'no_majority');
  assert.match(result.message, /input_missing/);
  assert.deepEqual(
    (result.details?.failed as { node: string; code: string }[]).map((f) => [f.node, f.code]),
    [[honestB.url, 'input_missing']],
  );
  assert.deepEqual(result.details?.agreeing, []);
});

test('one node reached under two addresses votes once: the liar and its alias do not outvote an honest node', async () => {
  const alias = liar.url.replace(/^http:/, 'HTTP:');
  const reputation = join(tempDir(), 'reputation.json');
  const error = await runJob({
    nodes: [honestA.url, liar.url, alias],
    identity: person,
    module,
    inputs: [notes],
    reputation,
  }).catch((caught: unknown) => caught);
  assert.ok(error instanceof P2PError, 'the wrong output must not be accepted');
  assert.equal(error.code, 'no_majority');
  assert.deepEqual(
    (error.details?.failed as { node: string; code: string }[]).map((f) => [f.node, f.code]),
    [[alias, 'node_duplicate']],
  );
  const record = JSON.parse(readFileSync(reputation, 'utf8')) as {
    nodes: Record<string, { disagreed: number }>;
  };
  assert.equal(
    record.nodes[keyOf.get(honestA.url)!]?.disagreed ?? 0,
    0,
    'the honest node is not flagged',
  );
});

test('every node runs the job under the same limits: a strict node is not taken for a liar', async () => {
  const strict = await spawnComputeNode({ compute: { max: { fuel: 1000 } } } as never);
  const three = [honestA.url, honestB.url, strict.url];
  const owner = generateIdentity();
  const writer = new Client({ nodes: three, powThreads: 1 });
  const text = await storeBlob(
    writer,
    { table: notesTable, identity: owner },
    Buffer.from('a b c'),
  );
  const code = await storeBlob(writer, { table: notesTable, identity: owner }, wordCountModule());
  // Limits left open: the strictest node's fuel limit for all three, which agree it ran out.
  const open = await runJob({ nodes: three, identity: owner, module: code, inputs: [text] });
  assert.deepEqual(open.agreeing, three);
  assert.deepEqual(open.disagreeing, []);
  assert.equal(open.receipt.body.status, 'out_of_fuel');
  assert.equal(open.receipt.body.fuel_limit, 1000);
  // A fuel limit the strict node does not allow: it refuses the job and fails, nobody disagrees.
  const set = await runJob({
    nodes: three,
    identity: owner,
    module: code,
    inputs: [text],
    limits: { fuel: 10_000_000 },
  });
  assert.equal(set.output.toString(), wordCount('a b c'));
  assert.deepEqual(set.agreeing, [honestA.url, honestB.url]);
  assert.deepEqual(set.disagreeing, []);
  assert.deepEqual(
    set.failed.map((f) => [f.node, f.code]),
    [[strict.url, 'limits_exceeded']],
  );
});
