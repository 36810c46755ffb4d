/**
 * One process at a time writes a payer's ledger (docs/billing.md §8.1): commands in separate
 * processes that append to one ledger, and compact it, lose none of each other's lines; a
 * holder killed with SIGKILL frees the ledger at once; a ledger held too long is ledger_busy,
 * naming the holder's pid.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { Ledger } from '../../src/client/billing/ledger.js';
import { tempDir } from '../helpers/tmp.js';

const appender = fileURLToPath(new URL('./ledger-appender.js', import.meta.url));

function run(args: readonly string[]): { child: ChildProcess; done: Promise<string> } {
  const child = spawn(process.execPath, [appender, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<string>((resolve, reject) => {
    child.on('exit', (code, signal) => {
      if (code === 0) resolve(out);
      else reject(new Error(`appender exited ${code ?? signal}: ${err}`));
    });
  });
  return { child, done };
}

/** Resolves once `child` printed `word`. */
function said(child: ChildProcess, word: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes(word)) resolve();
    });
    child.on('exit', () => reject(new Error(`exited before saying ${word}`)));
  });
}

test('two processes appending to one ledger, and compacting it, lose none of each other’s lines', async () => {
  const path = join(tempDir(), 'shared.ledger');
  const payer = randomBytes(32).toString('hex');
  const rounds = 12;
  const lines = 15;
  const a = run([path, payer, 'a', String(rounds), String(lines)]);
  const b = run([path, payer, 'b', String(rounds), String(lines)]);
  await Promise.all([a.done, b.done]);
  // Every line parses (a damaged line in the middle is refused), every request is there once,
  // with the answer recorded after it.
  const ledger = await Ledger.open(path, payer);
  try {
    const requests = ledger.data.requests;
    assert.equal(requests.length, 2 * rounds * lines);
    assert.equal(new Set(requests.map((r) => r.request)).size, requests.length);
    for (const r of requests) {
      assert.ok(r.kind === 'get' && r.bytes !== null, `request ${r.request} has its answer`);
    }
  } finally {
    await ledger.close();
  }
  const text = readFileSync(path, 'utf8');
  assert.ok(text.endsWith('\n'));
  for (const line of text.slice(0, -1).split('\n')) JSON.parse(line);
});

test('a holder killed with SIGKILL frees the ledger at once; one that holds it is named', async () => {
  const path = join(tempDir(), 'held.ledger');
  const payer = randomBytes(32).toString('hex');
  const holder = run([path, payer, 'hold']);
  holder.done.catch(() => undefined);
  try {
    await said(holder.child, 'locked');
    const begun = Date.now();
    await assert.rejects(Ledger.open(path, payer, { waitMs: 300 }), (error: Error) => {
      assert.equal((error as { code?: string }).code, 'ledger_busy');
      assert.equal(
        error.message.startsWith(
          `the ledger ${path} is in use by another process (pid ${holder.child.pid})`,
        ),
        true,
        error.message,
      );
      return true;
    });
    assert.ok(Date.now() - begun >= 300, 'it waited');
    holder.child.kill('SIGKILL');
    await new Promise((resolve) => holder.child.once('exit', resolve));
    const freed = Date.now();
    const ledger = await Ledger.open(path, payer, { waitMs: 0 });
    assert.ok(Date.now() - freed < 1000, 'taken at once');
    // While this process holds it, a second open here waits too, and is told who holds it.
    await assert.rejects(Ledger.open(path, payer, { waitMs: 100 }), {
      code: 'ledger_busy',
      message: /in use by this process/,
    });
    await ledger.close();
    const again = await Ledger.open(path, payer, { waitMs: 0 });
    await again.close();
  } finally {
    holder.child.kill('SIGKILL');
  }
});

test('a process waiting for the ledger takes it when the holder closes it, and sees its lines', async () => {
  const path = join(tempDir(), 'wait.ledger');
  const payer = randomBytes(32).toString('hex');
  const first = await Ledger.open(path, payer);
  const waiting = run([path, payer, 'w', '1', '3']);
  // The child waits for the lock meanwhile; the lines written here come first.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const request = randomBytes(32).toString('hex');
  await first.add({ kind: 'get', request, sent_at: 1, bytes: 5 });
  await first.close();
  await waiting.done;
  const ledger = await Ledger.open(path, payer);
  try {
    assert.deepEqual(
      ledger.data.requests.map((r) => r.request)[0],
      request,
      'the first process’s line is kept, before the waiting one’s',
    );
    assert.equal(ledger.data.requests.length, 4);
  } finally {
    await ledger.close();
  }
});
