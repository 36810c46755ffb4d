#!/usr/bin/env node
// Builds the compute examples (examples/<name>/assembly/index.ts, AssemblyScript) into
// examples/<name>/build/<name>.wasm, the modules committed next to their source. The flags are
// fixed and the paths relative, so a build gives the same bytes on any machine;
// test/examples/build.test.ts checks that the committed modules are what their source builds to.
//
//   node scripts/build-examples.mjs             write examples/<name>/build/<name>.wasm
//   node scripts/build-examples.mjs --out DIR   write DIR/<name>.wasm instead
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const EXAMPLES = ['wordcount', 'thumbnail'];

// The sandbox runs a deterministic subset of WebAssembly: no SIMD, no threads, no
// non-trapping float-to-int conversions; bulk memory and sign extension are allowed. The stub
// runtime (a bump allocator, nothing freed) is all a run-once job needs, and the examples
// allocate through their own examples/lib/memory.ts anyway. No assertions: the code checks
// its input itself and reports on fd 2.
const FLAGS = [
  '--optimizeLevel',
  '3',
  '--shrinkLevel',
  '0',
  '--noAssert',
  '--runtime',
  'stub',
  '--disable',
  'nontrapping-f2i',
  '--disable',
  'mutable-globals',
];

/** Compiles one example; returns the module's bytes. */
async function buildExample(name) {
  const { default: asc } = await import('assemblyscript/asc');
  let wasm;
  let log = '';
  const { error } = await asc.main(
    ['assembly/index.ts', '--baseDir', join(root, 'examples', name), ...FLAGS, '-o', 'out.wasm'],
    {
      stdout: { write: (text) => (log += text) },
      stderr: { write: (text) => (log += text) },
      writeFile: (file, contents) => {
        if (file === 'out.wasm') wasm = Buffer.from(contents);
      },
    },
  );
  if (error || !wasm) throw new Error(`building ${name} failed: ${error?.message ?? ''}\n${log}`);
  return wasm;
}

const args = process.argv.slice(2);
if (args.length > 0 && !(args.length === 2 && args[0] === '--out')) {
  console.error('usage: node scripts/build-examples.mjs [--out DIR]');
  process.exit(2);
}
for (const name of EXAMPLES) {
  const wasm = await buildExample(name);
  const dir = args[0] === '--out' ? args[1] : join(root, 'examples', name, 'build');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.wasm`), wasm);
  const sha256 = createHash('sha256').update(wasm).digest('hex');
  console.log(`${name}: ${wasm.length} bytes, sha256 ${sha256}`);
}
