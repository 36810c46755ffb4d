/**
 * What the sandbox refuses before a module runs, and why: size (before anything is parsed),
 * validity, features outside the deterministic subset, imports it does not offer, names it
 * reserves, memory over the limit.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { Sandbox, SandboxError, type RunStatus } from '../../src/sandbox/index.js';
import binaryen from 'binaryen';
import { wat } from './wat.js';

const F = binaryen.Features;

const sandbox = new Sandbox({ workers: 1, maxModuleBytes: 1024 * 1024 });
after(() => sandbox.close());

async function refusal(bytes: Uint8Array, memoryPages = 16): Promise<SandboxError> {
  try {
    await sandbox.prepare(bytes, memoryPages);
  } catch (error) {
    assert.ok(error instanceof SandboxError, `not a SandboxError: ${String(error)}`);
    return error;
  }
  assert.fail('the module was accepted');
}

async function refused(
  bytes: Uint8Array,
  code: RunStatus,
  pattern: RegExp,
  memoryPages = 16,
): Promise<void> {
  const error = await refusal(bytes, memoryPages);
  assert.equal(error.code, code, error.message);
  assert.match(error.message, pattern);
}

test('bytes that are not Wasm are module_invalid', async () => {
  await refused(
    new TextEncoder().encode('#!/bin/sh\necho hello\n'),
    'module_invalid',
    /not a Wasm module/,
  );
  await refused(new Uint8Array(0), 'module_invalid', /not a Wasm module/);
  // A valid header and a truncated section.
  await refused(Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 10, 1), 'module_invalid', /./);
  // Well formed but not valid: a function that returns an i32 and leaves nothing.
  await refused(badResult(), 'module_invalid', /not a valid Wasm/);
});

/** A module whose only function claims an i32 result and has an empty body. */
function badResult(): Uint8Array {
  return Uint8Array.of(
    ...[0, 0x61, 0x73, 0x6d, 1, 0, 0, 0],
    ...[1, 5, 1, 0x60, 0, 1, 0x7f], // type () -> i32
    ...[3, 2, 1, 0], // one function of type 0
    ...[10, 4, 1, 2, 0, 0x0b], // body: no locals, end
  );
}

test('a module over maxModuleBytes is refused by its size, without being parsed', async () => {
  const huge = new Uint8Array(100 * 1024 * 1024); // zeros: no magic, not Wasm
  const started = performance.now();
  const error = await refusal(huge);
  const elapsed = performance.now() - started;
  assert.equal(error.code, 'module_too_large');
  assert.match(error.message, /104857600 bytes, more than the limit of 1048576/);
  // Hashing or validating 100 MB takes hundreds of milliseconds; a length check takes none.
  assert.ok(elapsed < 50, `refusing took ${elapsed.toFixed(1)} ms`);
});

test('SIMD, threads, shared memory and other features outside the subset are module_unsupported', async () => {
  await refused(
    wat('(module (func (export "_start") (drop (i32x4.splat (i32.const 1)))))', F.SIMD128),
    'module_unsupported',
    /SIMD/,
  );
  await refused(
    wat(
      '(module (memory 1 1 shared) (func (export "_start") (drop (i32.atomic.load (i32.const 0)))))',
      F.Atomics,
    ),
    'module_unsupported',
    /shared memory/,
  );
  await refused(
    wat(
      '(module (memory 1) (func (export "_start") (drop (i32.atomic.rmw.add (i32.const 0) (i32.const 1)))))',
      F.Atomics,
    ),
    'module_unsupported',
    /threads/,
  );
  await refused(
    wat(
      '(module (memory $a 1) (memory $b 1) (func (export "_start") (drop (i32.load $b (i32.const 0)))))',
      F.MultiMemory,
    ),
    'module_unsupported',
    /multiple memories/,
  );
  await refused(
    wat('(module (memory i64 1) (func (export "_start")))', F.Memory64),
    'module_unsupported',
    /memory64/,
  );
  await refused(
    wat('(module (func $f) (func (export "_start") (return_call $f)))', F.TailCall),
    'module_unsupported',
    /tail calls/,
  );
  await refused(
    wat('(module (tag $e) (func (export "_start") (throw $e)))', F.ExceptionHandling),
    'module_unsupported',
    /exception handling/,
  );
  await refused(
    wat('(module (import "env" "memory" (memory 1)) (func (export "_start")))'),
    'module_unsupported',
    /imported memory \(env\.memory\)/,
  );
  await refused(
    wat('(module (import "env" "g" (global i32)) (func (export "_start")))'),
    'module_unsupported',
    /imported global/,
  );
});

test('an import the sandbox does not offer, or with another signature, is import_not_allowed', async () => {
  await refused(
    wat(
      '(module (import "wasi_snapshot_preview1" "clock_time_get" (func (param i32 i64 i32) (result i32))) (func (export "_start")))',
    ),
    'import_not_allowed',
    /wasi_snapshot_preview1\.clock_time_get/,
  );
  await refused(
    wat(
      '(module (import "wasi_snapshot_preview1" "random_get" (func (param i32 i32) (result i32))) (func (export "_start")))',
    ),
    'import_not_allowed',
    /wasi_snapshot_preview1\.random_get/,
  );
  await refused(
    wat('(module (import "host" "fetch" (func)) (func (export "_start")))'),
    'import_not_allowed',
    /host\.fetch/,
  );
  await refused(
    wat(
      '(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32) (result i32))) (func (export "_start")))',
    ),
    'import_not_allowed',
    /fd_write as \(i32, i32\) -> \(i32\), but it is \(i32, i32, i32, i32\) -> \(i32\)/,
  );
  // The offered ones with their signatures are accepted.
  await sandbox.prepare(
    wat(`(module
      (import "wasi_snapshot_preview1" "fd_seek" (func (param i32 i64 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "proc_exit" (func (param i32)))
      (import "env" "abort" (func (param i32 i32 i32 i32)))
      (func (export "_start")))`),
    16,
  );
});

test('a module exporting a name the sandbox reserves is refused', async () => {
  await refused(
    wat(
      '(module (global (export "p2pcloud:fuel") (mut i64) (i64.const 99)) (func (export "_start")))',
    ),
    'module_unsupported',
    /p2pcloud:fuel/,
  );
});

test('a module whose initial memory is over the limit is memory_limit', async () => {
  await refused(
    wat('(module (memory 17) (func (export "_start")))'),
    'memory_limit',
    /17 memory pages.*16/,
  );
  await sandbox.prepare(wat('(module (memory 16) (func (export "_start")))'), 16);
});
