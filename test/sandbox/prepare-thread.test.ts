/**
 * Checking and instrumenting a module happens off the main thread, within a time limit and a
 * bound on how much the module may grow: a module built to be slow or to blow up costs the node
 * neither its event loop nor its memory.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Sandbox, SandboxError } from '../../src/sandbox/index.js';
import { wat } from './wat.js';

const u32 = (n: number): number[] => {
  const out: number[] = [];
  do {
    const b = n & 0x7f;
    n >>>= 7;
    out.push(n ? b | 0x80 : b);
  } while (n);
  return out;
};
const section = (id: number, payload: number[]): number[] => [
  id,
  ...u32(payload.length),
  ...payload,
];

/** `functions` bodies of `[] -> []`, each the given instructions; no exports. */
function moduleOf(functions: number, code: number[]): Uint8Array {
  const body = Uint8Array.from([...u32(code.length + 2), 0, ...code, 0x0b]);
  const declared = [...u32(functions), ...new Array<number>(functions).fill(0)];
  const head = Uint8Array.from([
    ...[0, 0x61, 0x73, 0x6d, 1, 0, 0, 0],
    ...section(1, [1, 0x60, 0, 0]),
    ...section(3, declared),
    10,
    ...u32(u32(functions).length + functions * body.length),
    ...u32(functions),
  ]);
  // Built in place: a module of megabytes as a plain array would leave the test's own
  // garbage collection to stall the event loop it measures.
  const bytes = new Uint8Array(head.length + functions * body.length);
  bytes.set(head);
  for (let i = 0; i < functions; i++) bytes.set(body, head.length + i * body.length);
  return bytes;
}

/** 600 functions, each 2,166 nested blocks: about 3.9 MB that take seconds to read and meter. */
function nested(): Uint8Array {
  const n = 2166;
  const code: number[] = [];
  for (let i = 0; i < n; i++) code.push(0x02, 0x40);
  for (let i = 0; i < n; i++) code.push(0x0b);
  return moduleOf(600, code);
}

const sandboxes: Sandbox[] = [];
after(() => Promise.all(sandboxes.map((s) => s.close())));
function sandbox(options: { prepareMs?: number } = {}): Sandbox {
  const s = new Sandbox({ workers: 1, maxModuleBytes: 8 << 20, ...options });
  sandboxes.push(s);
  return s;
}

test('a module slow to check leaves the main thread free and a runaway is stopped on time', async () => {
  const s = sandbox();
  const big = nested();
  const spin = await s.prepare(wat('(module (func (export "_start") (loop $l (br $l))))'), 1);
  const runaway = s.run({
    module: spin,
    entry: '_start',
    args: [],
    inputs: [],
    limits: { memoryPages: 1, fuel: 9e15, wallMs: 200, outputBytes: 0 },
  });
  const waiting = Date.now();
  while (s.stats().busy === 0 && Date.now() - waiting < 10_000) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.equal(s.stats().busy, 1, 'the runaway is running');
  let last = performance.now();
  let longest = 0;
  const ticks = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 5);
  const started = performance.now();
  const prepared = await s.prepare(big, 1).then(
    () => 'prepared',
    (error: unknown) => (error instanceof SandboxError ? error.code : String(error)),
  );
  const took = performance.now() - started;
  longest = Math.max(longest, performance.now() - last);
  clearInterval(ticks);
  const outcome = await runaway;
  assert.ok(['prepared', 'module_too_large'].includes(prepared), prepared);
  assert.ok(took > longest, `the check took ${took} ms`);
  assert.equal(outcome.status, 'wall_limit');
  // Margins for a loaded machine; on the main thread the gap was the whole check (seconds).
  assert.ok(outcome.wallMs < 1000, `the runaway was stopped after ${outcome.wallMs} ms`);
  assert.ok(
    longest < Math.min(250, took / 4),
    `the event loop stalled ${longest} ms while a check took ${took} ms`,
  );
});

test('a check past the time limit refuses the module, and the next module is checked', async () => {
  const s = sandbox({ prepareMs: 30 });
  await assert.rejects(s.prepare(nested(), 1), (error: unknown) => {
    assert.ok(error instanceof SandboxError);
    assert.equal(error.code, 'module_unsupported');
    assert.match(error.message, /longer than the limit of 30 ms/);
    return true;
  });
  const small = await s.prepare(wat('(module (func (export "_start")))'), 1);
  const outcome = await s.run({
    module: small,
    entry: '_start',
    args: [],
    inputs: [],
    limits: { memoryPages: 1, fuel: 100, wallMs: 5000, outputBytes: 0 },
  });
  assert.equal(outcome.status, 'ok', outcome.message);
});

test('a module that instrumenting would grow more than 4x is refused as too large', async () => {
  const s = sandbox();
  // 20,000 × (i32.const 0; memory.grow; drop): each 5 bytes becomes about 40.
  const code: number[] = [];
  for (let i = 0; i < 20_000; i++) code.push(0x41, 0, 0x40, 0, 0x1a);
  const bytes = Uint8Array.from([
    ...moduleOf(1, code).subarray(0, 8 + 6 + 4),
    ...section(5, [1, 0, 1]),
    ...moduleOf(1, code).subarray(8 + 6 + 4),
  ]);
  assert.ok(WebAssembly.validate(bytes));
  await assert.rejects(s.prepare(bytes, 4), (error: unknown) => {
    assert.ok(error instanceof SandboxError);
    assert.equal(error.code, 'module_too_large');
    assert.match(error.message, /instrumented/);
    return true;
  });
});
