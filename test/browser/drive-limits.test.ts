/**
 * The drive page under the gateway's rate limit: a gateway that takes 40 requests per 10 s
 * from an address, and a person who drops 30 files at once, then deletes the folder that
 * holds them (30 requests more, one per file). Where the gateway answers 429, the page waits
 * and goes on: every upload ends stored, the folder ends empty, and nothing is lost or left.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openBrowser, waitInPage } from '../helpers/browser.js';
import { newKeyFile, request, spawnGateway } from '../helpers/gateways.js';
import { spawnNode } from '../helpers/nodes.js';
import { tempDir } from '../helpers/tmp.js';

// What the function run in the page uses of its globals (the tests compile without the DOM's).
declare const document: { querySelector(selector: string): { dispatchEvent(e: unknown): boolean } };
declare const DataTransfer: new () => { readonly items: { add(file: unknown): void } };
declare const DragEvent: new (type: string, init: Record<string, unknown>) => unknown;
declare const File: new (parts: string[], name: string, options: { type: string }) => unknown;

const FILES = 30;

test(
  'uploads and a folder deletion wait out the gateway’s rate limit',
  { timeout: 300_000 },
  async () => {
    const node = await spawnNode(['--min-pow', '8', '--log-level', 'warn']);
    const key = await newKeyFile();
    const drive = await spawnGateway([
      'app',
      'drive',
      '--port',
      '0',
      '--node',
      node.url,
      '--data',
      join(tempDir(), 'drive'),
      '--key',
      key.path,
      '--rate-limit',
      '40',
      '--log-level',
      'warn',
    ]);
    const group = await request(drive.url, 'POST', '/api/groups', { name: 'Busy' });
    assert.equal(group.status, 201);
    const space = group.body.id as string;
    // The requests above count too: the page starts in a window of its own.
    await new Promise((resolve) => setTimeout(resolve, 10_500));

    const user = await openBrowser('busy');
    await user.page.goto(`${drive.url}/drive/#/d/${space}`);
    await user.page.setInputFiles('[data-test=key-file]', key.path);
    await user.page.waitForSelector(`[data-test=drive][data-space="${space}"]`);
    await user.page.click('[data-test=new-folder]');
    await user.page.fill('[data-test=new-folder-name]', 'many');
    await user.page.click('[data-test=new-folder-submit]');
    await user.page.waitForSelector('[data-test=drive][data-folder="many"]');

    await user.page.evaluate((count) => {
      const transfer = new DataTransfer();
      for (let i = 0; i < count; i++) {
        transfer.items.add(new File([`file ${i}\n`], `f${i}.txt`, { type: 'text/plain' }));
      }
      const target = document.querySelector('[data-test=drive]');
      for (const type of ['dragenter', 'dragover', 'drop']) {
        target.dispatchEvent(
          new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: transfer }),
        );
      }
    }, FILES);
    await waitInPage(
      user.page,
      (count) =>
        (
          globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } }
        ).document.querySelectorAll('[data-test=upload][data-state=done]').length === count,
      FILES,
      { timeout: 120_000, interval: 500 },
    );
    assert.equal(await user.page.locator('[data-test=upload][data-state=failed]').count(), 0);
    await waitInPage(
      user.page,
      (count) =>
        (
          globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } }
        ).document.querySelectorAll('[data-test=file]').length === count,
      FILES,
      { timeout: 60_000, interval: 500 },
    );
    await user.screenshot('drive-limits-01-uploaded');

    await user.page.click('[data-test=crumb] >> text=Busy');
    const folder = user.page.locator('[data-test=folder][data-path="many"]');
    await folder.waitFor({ timeout: 60_000 });
    await folder.locator('[data-test=delete]').click();
    await folder.locator('[data-test=delete].armed').click();
    await folder.waitFor({ state: 'detached', timeout: 120_000 }).catch(async (error: Error) => {
      const shown = await user.page.textContent('[data-test=drive-error]');

      throw new Error(`${error.message}; the page says: ${shown}`);
    });

    // The limit let the drop and the deletion through only by waiting: it was met.
    const limited = user.errors.filter((e) => /status of 429/.test(e));
    assert.ok(limited.length > 0, 'the rate limit was never reached');
    assert.deepEqual(
      user.errors.filter((e) => !/status of 429/.test(e)),
      [],
    );
    await new Promise((resolve) => setTimeout(resolve, 10_500));
    const left = await request(drive.url, 'GET', `/api/spaces/${space}/files/list?recursive=1`);
    assert.equal(left.status, 200);
    assert.deepEqual(left.body.files, []);
    assert.equal(await drive.stop(), 0);
    await node.stop();
  },
);
