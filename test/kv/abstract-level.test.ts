import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SUITE = fileURLToPath(new URL('./abstract-level-suite.js', import.meta.url));

/** Output lines of each failing tape assertion, with the test name and the YAML block after it. */
function failures(tap: string): string[] {
  const lines = tap.split('\n');
  const out: string[] = [];
  let name = '';
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.startsWith('# ')) name = lines[i]!;
    if (!lines[i]!.startsWith('not ok')) continue;
    const block = [name, lines[i]!];
    for (let j = i + 1; j < lines.length && j < i + 12 && !/^(ok|not ok|#) /.test(lines[j]!); j++) {
      block.push(lines[j]!);
    }
    out.push(block.join('\n'));
  }
  return out;
}

async function runSuite(args: string[]): Promise<void> {
  const child = spawn(process.execPath, [SUITE, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const failed = failures(stdout);
  assert.deepEqual(failed, [], `failing assertions:\n${failed.slice(0, 20).join('\n\n')}`);
  assert.equal(code, 0, `suite exited ${code}: ${stderr.slice(-2000)}`);
  const passed = /^# pass\s+(\d+)$/m.exec(stdout);
  // The suite runs thousands of assertions; a run that stopped early would pass few.
  assert.ok(
    passed !== null && Number(passed[1]) > 5000,
    `too few assertions ran:\n${stdout.slice(-500)}`,
  );
}

test(
  'SqliteLevel passes abstract-level’s own test suite, with iterators paging 3 rows at a time',
  { timeout: 120_000 },
  () => runSuite(['3']),
);

test(
  'the replicated store (every write a signed, merged batch) passes abstract-level’s own test suite',
  { timeout: 180_000 },
  () => runSuite(['3', 'replica']),
);
