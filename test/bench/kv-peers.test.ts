import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { autobaseConvergence } from '../../bench/peers/autobase-kv.js';
import { hyperbeeFigures } from '../../bench/peers/hyperbee.js';
import { processesMentioning } from '../helpers/processes.js';
import { tempDir } from '../helpers/tmp.js';

test('Hyperbee peer figures: every stored key is read back and iterated, from files on disk', async () => {
  const dir = tempDir();
  const figures = await hyperbeeFigures({
    keys: 3000,
    keyBytes: 32,
    valueBytes: 100,
    batch: 1000,
    gets: 500,
    dir,
  });
  for (const rate of [figures.puts, figures.gets, figures.keysIterated]) {
    assert.ok(Number.isFinite(rate) && rate > 0, `rate ${rate}`);
  }
  assert.ok(readdirSync(dir).length > 0, 'the Hypercore wrote its files in the directory');
});

test('Autobase convergence: both writers end with the same 2N keys, and no writer outlives it', async () => {
  const root = tempDir();
  const result = await autobaseConvergence({
    perWriter: 300,
    capMs: 120_000,
    scratch: (prefix) => mkdtempSync(join(root, prefix)),
  });
  assert.equal(result.converged, true);
  assert.equal(result.keys, 600);
  assert.equal(result.perWriter, 300);
  assert.ok(result.seconds > 0 && result.seconds < 120, `seconds ${result.seconds}`);
  assert.deepEqual(processesMentioning(root), []);
});

test('Autobase convergence past the cap is reported as not converged, with the keys reached', async () => {
  const root = tempDir();
  const started = performance.now();
  const result = await autobaseConvergence({
    perWriter: 2000,
    capMs: 1,
    scratch: (prefix) => mkdtempSync(join(root, prefix)),
  });
  assert.equal(result.converged, false);
  assert.equal(result.seconds, 0.001);
  assert.ok(result.keys < 4000, `keys ${result.keys}`);
  // Setup and offline writes take seconds; the writers are then closed or killed promptly.
  assert.ok(performance.now() - started < 90_000);
  assert.deepEqual(processesMentioning(root), []);
});
