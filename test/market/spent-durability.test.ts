/**
 * The node's spent-ticket set follows the node's durability (docs/tickets.md §8.3): with
 * "power" every mark is synced to disk before the put is answered, so a ticket taken stays
 * spent through a power cut; with "process" marks are not synced one by one. Observed with
 * strace on a real file: the fsync/fdatasync calls while a child process marks five tickets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers/tmp.js';

const probe = fileURLToPath(new URL('./spent-probe.js', import.meta.url));

function syncsWhileMarking(durability: 'process' | 'power'): number {
  const dir = tempDir();
  const trace = join(dir, 'trace.txt');
  execFileSync(
    'strace',
    [
      '-f',
      '-qq',
      '-e',
      'trace=fsync,fdatasync,write',
      '-o',
      trace,
      process.execPath,
      probe,
      dir,
      durability,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 },
  );
  let step = 'open';
  let syncs = 0;
  for (const line of readFileSync(trace, 'utf8').split('\n')) {
    const mark = /write\(1, "MARK-([a-z]+)/.exec(line);
    if (mark) step = mark[1]!;
    else if (step === 'marks' && /\b(fsync|fdatasync)\(/.test(line)) syncs += 1;
  }
  return syncs;
}

test('with durability "power" every spent mark is synced; with "process" none is', () => {
  assert.ok(syncsWhileMarking('power') >= 5, 'five marks, each synced before it returns');
  assert.equal(syncsWhileMarking('process'), 0);
});
