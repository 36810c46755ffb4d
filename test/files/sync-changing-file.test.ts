/**
 * A file that changes between the scan that hashed it and the end of its upload (a program
 * still writing it, an edit in place) must not reach the drive as a version: the bytes sent
 * would be a mix of the file's states, or a prefix of a file that grew, which no one wrote.
 * Driven step by step through the sync's own scan, plan and apply against a real gateway and
 * node, so that the file changes at a known point and not by luck of timing: the upload is
 * cut before its end, nothing is committed, and a later round (after a crash that lost the
 * round's record, as a `kill -9` does) sends the file as it is then.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFileSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { P2PError } from '../../src/errors.js';
import { GatewayClient } from '../../src/cli/gateway-client.js';
import { Agreements, applyAction } from '../../src/cli/files/apply.js';
import { ChangedWhileSent, Drive } from '../../src/cli/files/drive.js';
import { planSync } from '../../src/cli/files/plan.js';
import { isReserved } from '../../src/cli/files/names.js';
import { scanFolder } from '../../src/cli/files/scan.js';
import { FolderSync, lockFolder } from '../../src/cli/files/sync.js';
import { apiKeyOf } from '../helpers/gateways.js';
import { testBytes } from '../helpers/files.js';
import { ok, startDevice } from '../helpers/identity.js';
import { spawnNode } from '../helpers/nodes.js';
import { tempDir } from '../helpers/tmp.js';

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const SILENT = { start: () => ({ add: () => undefined, stop: () => undefined }) };

test('a file that changes while the sync sends it is not committed, and a later round sends it whole', async () => {
  const node = await spawnNode(['--min-pow', '0', '--sync-interval', '3600']);
  const device = await startDevice(node.url);
  const space = (await ok(device.url, 'POST', '/api/groups', { name: 'changing' }, 201))
    .id as string;
  const gateway = new GatewayClient(device.url, apiKeyOf(device.url));
  const drive = new Drive(gateway, space);
  const dir = tempDir();
  const lines: string[] = [];
  const context = {
    dir,
    drive,
    gateway,
    device: 'desk',
    progress: SILENT,
    out: (line: string) => lines.push(line),
    err: (line: string) => lines.push(line),
  };

  /** One round's scan and plan (no record yet), the file changed by `change` before its upload. */
  async function uploadAfter(name: string, change: () => void): Promise<unknown> {
    const scan = await scanFolder(dir, new Map());
    const plan = planSync({
      local: scan.files.filter((f) => f.path === name),
      remote: [],
      state: new Map(),
      device: 'desk',
      reserved: isReserved,
    });
    assert.deepEqual(
      plan.actions.map((a) => (a.type === 'upload' ? `upload ${a.path}` : a.type)),
      [`upload ${name}`],
    );
    change();
    // The record of this round is dropped, as a crash before the state is saved drops it.
    const agreements = new Agreements(new Map());
    return applyAction(
      { dir, drive, agreements, progress: SILENT, device: 'desk' },
      plan.actions[0]!,
    ).then(
      (line) => line,
      (error: unknown) => error,
    );
  }

  async function inDrive(): Promise<Map<string, string>> {
    return new Map((await drive.listAll('')).map((f) => [f.path, f.sha256]));
  }

  // Scanned while a program had written only the first part of it; the rest lands before the
  // upload reads it (the scan's size is a prefix of the file by then).
  const whole = testBytes(3_000_000);
  writeFileSync(join(dir, 'large.bin'), whole.subarray(0, 1_000_000));
  const grew = await uploadAfter('large.bin', () =>
    appendFileSync(join(dir, 'large.bin'), whole.subarray(1_000_000)),
  );
  assert.ok(grew instanceof P2PError, `the upload of a grown file is refused, got ${String(grew)}`);
  assert.match(grew.message, /large\.bin changed/);
  assert.deepEqual([...(await inDrive())], [], 'no prefix of the file reached the drive');

  // The same through the drive's upload alone (as `files put` uses it): a length taken before
  // the file grew does not send a prefix.
  await assert.rejects(
    drive.upload('put.bin', join(dir, 'large.bin'), 1_000_000),
    (error: Error) => error instanceof ChangedWhileSent,
  );
  assert.deepEqual([...(await inDrive())], [], 'no prefix put into the drive');

  // Edited in place to other bytes of the same size, its time set back to the scanned one: only
  // the bytes tell.
  const when = new Date(Date.UTC(2026, 10, 30, 12));
  writeFileSync(join(dir, 'same-size.txt'), 'first text\n');
  utimesSync(join(dir, 'same-size.txt'), when, when);
  const edited = await uploadAfter('same-size.txt', () => {
    writeFileSync(join(dir, 'same-size.txt'), 'other text\n');
    utimesSync(join(dir, 'same-size.txt'), when, when);
  });
  assert.ok(
    edited instanceof P2PError,
    `the upload of an edited file is refused, got ${String(edited)}`,
  );
  assert.deepEqual([...(await inDrive())], [], 'no mix of two texts reached the drive');

  // Empty when scanned (a program had just created it), written before the upload.
  writeFileSync(join(dir, 'empty-then-not.txt'), '');
  const filled = await uploadAfter('empty-then-not.txt', () =>
    writeFileSync(join(dir, 'empty-then-not.txt'), 'now with text\n'),
  );
  assert.ok(
    filled instanceof P2PError,
    `the upload of a filled file is refused, got ${String(filled)}`,
  );
  assert.deepEqual([...(await inDrive())], [], 'no empty version reached the drive');

  // The sync started again, with no record of that round: each file goes up as it is now, under
  // its own name, and no version the disk never held whole takes a name (nor is a conflict
  // copy made of the file's own later bytes).
  const unlock = await lockFolder(dir);
  const round = await new FolderSync(context).runRound();
  await unlock();
  assert.equal(round.failed, 0, lines.join('\n'));
  const expected = new Map([
    ['empty-then-not.txt', sha(Buffer.from('now with text\n'))],
    ['large.bin', sha(whole)],
    ['same-size.txt', sha(Buffer.from('other text\n'))],
  ]);
  assert.deepEqual([...(await inDrive())].sort(), [...expected].sort(), lines.join('\n'));
  for (const [name, hash] of expected) {
    assert.equal(sha(readFileSync(join(dir, name))), hash, `${name} on disk`);
  }
  assert.deepEqual(lines.filter((l) => !l.startsWith('round ')).sort(), [
    'upload empty-then-not.txt',
    'upload large.bin',
    'upload same-size.txt',
  ]);
});
