/**
 * The stack budget, not the engine's stack, stops deep calls: a module whose every 2-byte call
 * pushes 1,000 values stops with the budget's own trap and the same fuel under V8's baseline
 * compiler and with it turned off (--no-liftoff), which have different frame sizes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const child = fileURLToPath(new URL('./deep-calls-child.js', import.meta.url));

async function outcomes(
  flags: string[],
): Promise<{ status: string; message?: string; fuel: number }[]> {
  const { stdout } = await promisify(execFile)(process.execPath, [...flags, child], {
    timeout: 120_000,
  });
  return JSON.parse(stdout) as { status: string; message?: string; fuel: number }[];
}

test('deep calls stop at the stack budget with the same fuel under every compiler tier', async () => {
  const [baseline, optimized] = await Promise.all([outcomes([]), outcomes(['--no-liftoff'])]);
  for (const o of [...baseline, ...optimized]) {
    assert.equal(o.status, 'trap');
    assert.match(o.message ?? '', /calls nested too deep/);
  }
  const fuel = new Set([...baseline, ...optimized].map((o) => o.fuel));
  assert.equal(fuel.size, 1, `fuel differs: ${[...fuel].join(', ')}`);
});
