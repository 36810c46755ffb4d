/**
 * The committed example modules are what their source builds to, the build is reproducible,
 * and the modules stay inside what the sandbox runs: imports from its WASI subset only, no
 * WebAssembly feature beyond bulk memory and sign extension.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import binaryen from 'binaryen';
import { repoRoot } from '../helpers/paths.js';
import { tempDir } from '../helpers/tmp.js';
import { EXAMPLES, exampleModule } from './modules.js';
import { WASI_SUBSET, wasm } from './wasi-host.js';

function build(out: string): string {
  const result = spawnSync(
    process.execPath,
    [join(repoRoot, 'scripts', 'build-examples.mjs'), '--out', out],
    { encoding: 'utf8', timeout: 120_000 },
  );
  assert.equal(result.status, 0, `build-examples failed:\n${result.stderr}${result.stdout}`);
  return result.stdout;
}

test('rebuilding the examples from source gives the committed modules, byte for byte', () => {
  const first = tempDir('p2pcloud-examples-');
  const second = tempDir('p2pcloud-examples-');
  const report = build(first);
  build(second);
  for (const name of EXAMPLES) {
    const committed = exampleModule(name);
    const rebuilt = readFileSync(join(first, `${name}.wasm`));
    assert.ok(
      rebuilt.equals(committed),
      `examples/${name}/build/${name}.wasm differs from what its source builds to: run npm run examples`,
    );
    assert.ok(
      readFileSync(join(second, `${name}.wasm`)).equals(rebuilt),
      `${name}: two builds differ`,
    );
    assert.match(
      report,
      new RegExp(`^${name}: ${committed.length} bytes, sha256 [0-9a-f]{64}$`, 'm'),
    );
  }
});

test('build-examples refuses arguments it does not know', () => {
  const result = spawnSync(
    process.execPath,
    [join(repoRoot, 'scripts', 'build-examples.mjs'), '--force'],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(result.status, 2);
  assert.match(result.stderr, /^usage: /);
});

test('the example modules import only from the WASI subset and export _start and memory', () => {
  for (const name of EXAMPLES) {
    const module = new wasm.Module(exampleModule(name));
    for (const { module: from, name: what, kind } of wasm.Module.imports(module)) {
      assert.equal(kind, 'function', `${name} imports a ${kind}`);
      assert.ok(WASI_SUBSET.includes(`${from}.${what}`), `${name} imports ${from}.${what}`);
    }
    const exports = wasm.Module.exports(module).map((e) => `${e.kind} ${e.name}`);
    assert.deepEqual(exports.sort(), ['function _start', 'memory memory'], name);
  }
});

/** Whether a module validates with only the features the sandbox allows. */
function withinAllowedFeatures(bytes: Uint8Array): boolean {
  const { Features } = binaryen;
  const module = binaryen.readBinary(bytes);
  try {
    module.setFeatures(
      Features.MVP | Features.BulkMemory | Features.BulkMemoryOpt | Features.SignExt,
    );
    return module.validate() !== 0;
  } finally {
    module.dispose();
  }
}

test('the example modules use no WebAssembly feature beyond bulk memory and sign extension', () => {
  // The check itself tells a SIMD module apart (binaryen prints why it does not validate).
  const simd = new binaryen.Module();
  simd.setFeatures(binaryen.Features.MVP | binaryen.Features.SIMD128);
  simd.addFunction('f', binaryen.none, binaryen.v128, [], simd.v128.const(new Array(16).fill(1)));
  simd.addFunctionExport('f', 'f');
  const simdBytes = simd.emitBinary();
  simd.dispose();
  assert.equal(withinAllowedFeatures(simdBytes), false);

  for (const name of EXAMPLES) {
    assert.ok(withinAllowedFeatures(exampleModule(name)), `${name} needs more features`);
  }
});
