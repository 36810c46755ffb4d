import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fixtureFile, readFrames } from './fixtures.js';
import { encodeFrames, ENTRIES_MEDIA_TYPE } from '../src/entry/framing.js';

const count = Number(process.argv[2] ?? 200000);
const batch = Number(process.argv[3] ?? 1000);
const clients = Number(process.argv[4] ?? 4);
const file = await fixtureFile(count, 'a', console.log);
const dir = mkdtempSync(join(tmpdir(), 'p2p-bench-'));
const child = spawn(
  process.execPath,
  [
    'dist/src/cli/main.js',
    'node',
    '--port',
    '0',
    '--data',
    dir,
    '--min-pow',
    '0',
    '--log-level',
    'warn',
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
const url = await new Promise<string>((resolve) =>
  createInterface({ input: child.stdout! }).on('line', (l) => {
    const m = /listening on (\S+)/.exec(l);
    if (m) resolve(m[1]!);
  }),
);
const batches = readFrames(file, batch);
let done = 0;
const started = performance.now();
let last = started;
let lastDone = 0;
async function client(): Promise<void> {
  for (;;) {
    const next = batches.next();
    if (next.done) return;
    const body = encodeFrames(next.value);
    const res = await fetch(`${url}/put`, {
      method: 'POST',
      body,
      headers: { 'content-type': ENTRIES_MEDIA_TYPE },
    });
    const json = (await res.json()) as { stored: number };
    done += json.stored;
    const now = performance.now();
    if (now - last > 2000) {
      console.log(`${done} stored, ${Math.round((done - lastDone) / ((now - last) / 1000))}/s`);
      last = now;
      lastDone = done;
    }
  }
}
await Promise.all(Array.from({ length: clients }, () => client()));
const secs = (performance.now() - started) / 1000;
console.log(`total ${done} in ${secs.toFixed(1)} s = ${Math.round(done / secs)}/s`);
child.kill('SIGTERM');
