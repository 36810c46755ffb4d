/**
 * billing.sqlite durability (docs/billing.md §3): the commit that stores signed receipts is
 * synced to disk before the receipts are sent, so a power cut cannot make the node sign a seq
 * again over other usage; the metered request path is not synced per request. Observed with
 * strace on a real file: the fsync/fdatasync calls of each step of a child process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers/tmp.js';

const probe = fileURLToPath(new URL('./sync-probe.js', import.meta.url));

test('storing receipts syncs billing.sqlite to disk; recording usage does not', () => {
  const dir = tempDir();
  const trace = join(dir, 'trace.txt');
  execFileSync(
    'strace',
    ['-f', '-qq', '-e', 'trace=fsync,fdatasync,write', '-o', trace, process.execPath, probe, dir],
    { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 },
  );
  const syncs: Record<string, number> = {};
  let step = 'open';
  for (const line of readFileSync(trace, 'utf8').split('\n')) {
    const mark = /write\(1, "MARK-([a-z]+)/.exec(line);
    if (mark) step = mark[1]!;
    else if (/\b(fsync|fdatasync)\(/.test(line)) syncs[step] = (syncs[step] ?? 0) + 1;
  }
  assert.equal(syncs.usage ?? 0, 0, `usage rows synced: ${JSON.stringify(syncs)}`);
  assert.ok((syncs.receipt ?? 0) >= 1, `receipts not synced: ${JSON.stringify(syncs)}`);
});
