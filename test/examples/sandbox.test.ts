/**
 * The examples through the real Sandbox (src/sandbox): their imports are accepted, they give
 * the results the test's own WASI host gives, and the same fuel on every run.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  Sandbox,
  type PreparedModule,
  type RunOutcome,
  type SandboxLimits,
} from '../../src/sandbox/index.js';
import { exampleModule } from './modules.js';
import { runWasi } from './wasi-host.js';
import { expectedResult, notes, random } from './wordcount-reference.js';
import { assertSameImage, boxFilter, decode, encode, gradient } from './thumbnail-reference.js';

const LIMITS: SandboxLimits = {
  memoryPages: 256,
  fuel: 2_000_000_000,
  // Generous: the machine running the tests may be busy.
  wallMs: 30_000,
  outputBytes: 1 << 20,
};

const sandbox = new Sandbox({ workers: 2, maxModuleBytes: 1 << 20 });
after(() => sandbox.close());

async function prepared(name: 'wordcount' | 'thumbnail', into = sandbox): Promise<PreparedModule> {
  const bytes = exampleModule(name);
  const module = await into.prepare(bytes, LIMITS.memoryPages);
  assert.equal(module.sha256, createHash('sha256').update(bytes).digest('hex'));
  assert.equal(module.size, bytes.length);
  return module;
}

function run(
  module: PreparedModule,
  inputs: Uint8Array[],
  args: string[] = [],
  limits: Partial<SandboxLimits> = {},
  into = sandbox,
): Promise<RunOutcome> {
  return into.run({ module, entry: '_start', args, inputs, limits: { ...LIMITS, ...limits } });
}

test('the word count in the sandbox: the expected result, the same fuel on every run', async () => {
  const module = await prepared('wordcount');
  const input = notes(11, 150_000);
  const first = await run(module, [input]);
  assert.equal(first.status, 'ok', first.message);
  assert.equal(first.output.toString(), expectedResult(input));
  assert.equal(first.bytesRead, input.length);
  assert.equal(first.bytesWritten, first.output.length);
  assert.equal(first.log.length, 0);
  assert.ok(first.fuel > input.length, `${first.fuel} fuel for ${input.length} bytes`);
  // The test's own host gives the same output.
  const host = await runWasi({ module: exampleModule('wordcount'), inputs: [input] });
  assert.ok(host.output.equals(first.output));

  const second = await run(module, [input]);
  assert.equal(second.fuel, first.fuel);
  assert.ok(second.output.equals(first.output));
  // And another sandbox, as on another node.
  const other = new Sandbox({ workers: 1, maxModuleBytes: 1 << 20 });
  try {
    const elsewhere = await run(await prepared('wordcount', other), [input], [], {}, other);
    assert.equal(elsewhere.fuel, first.fuel);
    assert.ok(elsewhere.output.equals(first.output));
  } finally {
    await other.close();
  }

  // fd 0 is every input one after the other: a word may run from one into the next.
  const split = await run(module, [Buffer.from('say hel'), Buffer.from('lo, hello\n')]);
  assert.equal(
    split.output.toString(),
    '{"words":3,"lines":1,"bytes":17,"top":[["hello",2],["say",1]]}\n',
  );
  const empty = await run(module, []);
  assert.equal(empty.output.toString(), '{"words":0,"lines":0,"bytes":0,"top":[]}\n');
});

test('the word count stopped by its limits', async () => {
  const module = await prepared('wordcount');
  const next = random(12);
  const distinct = Buffer.from(
    Array.from({ length: 200_000 }, () => Math.floor(next() * 1e9).toString(36)).join(' '),
  );
  const full = await run(module, [distinct]);
  assert.equal(full.status, 'ok', full.message);
  assert.equal(full.output.toString(), expectedResult(distinct));
  const memory = await run(module, [distinct], [], { memoryPages: 8 });
  assert.equal(memory.status, 'memory_limit', memory.message);
  const fuel = await run(module, [distinct], [], { fuel: Math.floor(full.fuel / 2) });
  assert.equal(fuel.status, 'out_of_fuel', fuel.message);
  assert.equal(fuel.fuel, Math.floor(full.fuel / 2));
  assert.equal(fuel.output.length, 0);
});

test('the thumbnail in the sandbox: pixel for pixel, the same fuel on every run', async () => {
  const module = await prepared('thumbnail');
  const image = gradient(240, 170, 3);
  const input = encode(image);
  const first = await run(module, [input], ['100']);
  assert.equal(first.status, 'ok', first.message);
  assertSameImage(decode(first.output), boxFilter(image, 100, 71), 'P6 240×170 → 100');
  assert.equal(first.bytesRead, input.length);
  const second = await run(module, [input], ['100']);
  assert.equal(second.fuel, first.fuel);
  assert.ok(second.output.equals(first.output));
  const host = await runWasi({
    module: exampleModule('thumbnail'),
    inputs: [input],
    args: ['100'],
  });
  assert.ok(host.output.equals(first.output));

  const grey = gradient(33, 9, 1);
  const small = await run(module, [encode(grey)]);
  assert.equal(small.status, 'ok', small.message);
  assertSameImage(decode(small.output), grey, 'an image under 128 pixels');
});

test('the thumbnail refuses a malformed header in the sandbox: exit code 2 and a log line', async () => {
  const module = await prepared('thumbnail');
  const outcome = await run(module, [Buffer.from('P3\n1 1\n255\n0 0 0\n')]);
  assert.equal(outcome.status, 'exit');
  assert.equal(outcome.exitCode, 2);
  assert.equal(outcome.log.toString(), 'thumbnail: not a binary PPM (P6) or PGM (P5) image\n');
  assert.equal(outcome.output.length, 0);
  const badArgument = await run(module, [encode(gradient(4, 4, 1))], ['big']);
  assert.equal(badArgument.status, 'exit');
  assert.equal(badArgument.exitCode, 2);
  assert.match(badArgument.log.toString(), /^thumbnail: the argument must be/);
});
