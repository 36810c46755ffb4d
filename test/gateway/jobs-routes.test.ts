/**
 * Compute jobs through a gateway process over files of a group's drive, on three compute node
 * processes of which one lies: POST /api/jobs answers 202 at once, GET /api/jobs/:id gives the
 * majority's output and names the liar, the gateway's reputation file records it, and bad
 * requests get stable 4xx codes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnComputeNode } from '../helpers/compute-node.js';
import { putFile } from '../helpers/files.js';
import { eventually, request } from '../helpers/gateways.js';
import { ok, startDevice } from '../helpers/identity.js';
import { exampleWordCount, exampleWordCountModule } from '../helpers/word-count.js';

const [a, liar, b] = await Promise.all([
  spawnComputeNode(),
  spawnComputeNode({}, 'lying-compute-node'),
  spawnComputeNode(),
]);
const device = await startDevice([a.url, liar.url, b.url]);
const group = (await ok(device.url, 'POST', '/api/groups', { name: 'jobs' }, 201)).id as string;
const NOTES = `${'Monday: water the plants.\nTuesday: call Ada about the plants\n'.repeat(2000)}`;
const MORE = 'A last note without a newline';
for (const [path, bytes] of [
  ['bin/wordcount.wasm', exampleWordCountModule()],
  ['notes/week.txt', Buffer.from(NOTES)],
  ['notes/last.txt', Buffer.from(MORE)],
] as const) {
  const put = await putFile(device.url, group, path, bytes);
  assert.equal(put.status, 201, JSON.stringify(put.body));
}

async function finished(id: string): Promise<Record<string, unknown>> {
  return eventually(
    `job ${id} to finish`,
    async () => {
      const answer = await ok(device.url, 'GET', `/api/jobs/${id}`);
      return answer.status === 'running' ? undefined : answer;
    },
    60_000,
  );
}

test('a job over two files of the drive: the honest count, the liar named and recorded', async () => {
  const started = await ok(
    device.url,
    'POST',
    '/api/jobs',
    { space: group, module: 'bin/wordcount.wasm', inputs: ['notes/week.txt', 'notes/last.txt'] },
    202,
  );
  assert.equal(started.status, 'running');
  const job = await finished(started.id as string);
  assert.equal(job.status, 'done', JSON.stringify(job));
  assert.equal(job.module, 'bin/wordcount.wasm');
  assert.deepEqual(job.inputs, ['notes/week.txt', 'notes/last.txt']);
  const result = job.result as Record<string, unknown>;
  assert.equal(result.status, 'ok');
  assert.equal(result.output_text, exampleWordCount(NOTES + MORE));
  assert.equal(
    Buffer.from(result.output_base64 as string, 'base64').toString(),
    result.output_text,
  );
  assert.deepEqual(result.agreeing, [a.url, b.url]);
  assert.deepEqual(result.disagreeing, [liar.url]);
  assert.deepEqual(result.failed, []);
  assert.deepEqual(job.progress, { [a.url]: 'done', [liar.url]: 'done', [b.url]: 'done' });

  const record = JSON.parse(
    readFileSync(join(device.dataDir, 'compute-reputation.json'), 'utf8'),
  ) as { v: number; nodes: Record<string, { agreed: number; disagreed: number }> };
  assert.equal(record.v, 1);
  const counts = Object.values(record.nodes).map((n) => [n.agreed, n.disagreed]);
  assert.deepEqual(counts.sort(), [
    [0, 1],
    [1, 0],
    [1, 0],
  ]);
});

test('a run stopped by its limits is done with the stop in its result; nodes: 2 asks two', async () => {
  const started = await ok(
    device.url,
    'POST',
    '/api/jobs',
    {
      space: group,
      module: 'bin/wordcount.wasm',
      inputs: ['notes/week.txt'],
      limits: { fuel: 5000 },
      nodes: 2,
    },
    202,
  );
  const job = await finished(started.id as string);
  assert.equal(job.status, 'done', JSON.stringify(job));
  const result = job.result as Record<string, unknown>;
  assert.equal(result.status, 'out_of_fuel');
  assert.equal(result.fuel, 5000);
  assert.equal(result.output_text, '');
  // The gateway's record flags the liar now: it is the one left out.
  assert.deepEqual(result.agreeing, [a.url, b.url]);
});

test('bad requests: stable codes, nothing started', async () => {
  const post = (body: unknown) => request(device.url, 'POST', '/api/jobs', body);
  const cases: [unknown, number, string, RegExp?][] = [
    [{ space: group }, 400, 'bad_request', /module/],
    [{ space: 'nope', module: 'm' }, 400, 'bad_request', /space/],
    [{ space: group, module: 'bin/wordcount.wasm', extra: 1 }, 400, 'bad_request'],
    [{ space: group, module: 'bin/wordcount.wasm', limits: { fuel: 0 } }, 400, 'bad_request'],
    [
      { space: group, module: 'bin/wordcount.wasm', inputs: Array(65).fill('x') },
      400,
      'bad_request',
    ],
    [{ space: group, module: 'bin/wordcount.wasm', nodes: 4 }, 400, 'bad_request', /3 node/],
    [{ space: 'ab'.repeat(16), module: 'bin/wordcount.wasm' }, 404, 'no_such_space'],
    [{ space: group, module: 'bin/missing.wasm' }, 404, 'no_such_file'],
    [
      { space: group, module: 'bin/wordcount.wasm', inputs: ['notes/nope.txt'] },
      404,
      'no_such_file',
    ],
    [{ space: group, module: '../etc/passwd' }, 400, 'bad_path'],
  ];
  for (const [body, status, code, message] of cases) {
    const answer = await post(body);
    assert.equal(answer.status, status, JSON.stringify({ body, answer: answer.body }));
    const error = answer.body.error as { code: string; message: string };
    assert.equal(error.code, code, JSON.stringify(body));
    if (message) assert.match(error.message, message);
  }
  const unknown = await request(device.url, 'GET', `/api/jobs/${'0'.repeat(32)}`);
  assert.equal(unknown.status, 404);
  assert.equal((unknown.body.error as { code: string }).code, 'job_unknown');
  // Without the API key (or a session) nothing is answered.
  const anonymous = await request(
    device.url,
    'POST',
    '/api/jobs',
    { space: group, module: 'm' },
    {
      authorization: '',
    },
  );
  assert.equal(anonymous.status, 401);
});
