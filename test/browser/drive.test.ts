/**
 * The drive end to end, with real parts only: a node as a child process, three drive servers
 * (`p2pcloud app drive`, each a gateway with its own identity) on it, and three people in
 * headless Chromium, each in a browser of their own.
 *
 * A makes a drive and a folder in it, drops a text file and an image onto the page (a drop
 * event carrying a DataTransfer built in the page) and watches both uploads reach 100%;
 * previews the text (its first 64 KiB only, through a Range request) and the image; uploads
 * a second version with the file picker and sees two versions, opening the earlier one; a
 * file named like markup shows as text; a name the tree refuses gets its reason; deletes a
 * file, moves one into a new folder by renaming it, renames that folder (to a name like
 * markup) and deletes it with its file. A shares the folder with B as a reader; B, on their
 * own gateway, joins, sees the folder's files and downloads one, byte for byte. A then shares
 * the whole drive with B as a writer; B joins and uploads, and A's page shows B's file. C sees
 * no such drive (C's identity is one made in the browser), and a direct request for the
 * content is refused, by C's gateway and by A's.
 * Screenshots of the main states go to test-artifacts/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { identityText } from '../../src/keys/keys.js';
import { openBrowser, waitInPage, type BrowserUser } from '../helpers/browser.js';
import { newKeyFile, spawnGateway, type GatewayProcess } from '../helpers/gateways.js';
import { spawnNode } from '../helpers/nodes.js';
import { tempDir } from '../helpers/tmp.js';

// What the functions run in the page use of its globals (the tests compile without the DOM's types).
interface PageElement {
  readonly complete: boolean;
  readonly naturalWidth: number;
  readonly naturalHeight: number;
  readonly value: number;
  getAttribute(name: string): string | null;
  dispatchEvent(event: unknown): boolean;
}
interface PageCanvas {
  width: number;
  height: number;
  getContext(kind: '2d'): { fillStyle: string; fillRect(...numbers: number[]): void };
  toBlob(done: (blob: Blob | null) => void, type: string): void;
}
declare const document: {
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): { readonly length: number };
  createElement(tag: 'canvas'): PageCanvas;
};
declare const DataTransfer: new () => { readonly items: { add(file: unknown): void } };
declare const DragEvent: new (type: string, init: Record<string, unknown>) => unknown;
declare const File: new (parts: Blob[], name: string, options: { type: string }) => unknown;

const HOSTILE = '<img src=x onerror="window.__pwned=1">.txt';
const HOSTILE_FOLDER = '<svg onload="window.__pwned=2">';

function spawnDrive(node: string, key: string): Promise<GatewayProcess> {
  return spawnGateway([
    'app',
    'drive',
    '--port',
    '0',
    '--node',
    node,
    '--data',
    join(tempDir(), 'drive'),
    '--key',
    key,
    '--poll-interval',
    '0.5',
    '--log-level',
    'warn',
  ]);
}

async function signIn(user: BrowserUser, url: string, keyFile: string): Promise<void> {
  await user.page.goto(`${url}/`);
  await user.page.waitForSelector('[data-test=login]');
  await user.page.setInputFiles('[data-test=key-file]', keyFile);
  await user.page.waitForSelector('[data-test=sidebar] h3');
}

/** Drops files (made in the page: text, or a PNG drawn on a canvas) onto the drive view. */
async function dropFiles(
  user: BrowserUser,
  files: { name: string; text?: string; png?: [number, number] }[],
): Promise<number[][]> {
  return user.page.evaluate(async (list) => {
    const transfer = new DataTransfer();
    const bytes: number[][] = [];
    for (const file of list) {
      let blob: Blob;
      if (file.png) {
        const canvas = document.createElement('canvas');
        [canvas.width, canvas.height] = file.png;
        const g = canvas.getContext('2d')!;
        g.fillStyle = '#0e7490';
        g.fillRect(0, 0, canvas.width, canvas.height);
        g.fillStyle = '#fde047';
        g.fillRect(canvas.width / 4, canvas.height / 4, canvas.width / 2, canvas.height / 2);
        blob = await new Promise<Blob>((resolve) => canvas.toBlob((b) => resolve(b!), 'image/png'));
      } else {
        blob = new Blob([file.text ?? '']);
      }
      bytes.push([...new Uint8Array(await blob.arrayBuffer())]);
      transfer.items.add(
        new File([blob], file.name, { type: file.png ? 'image/png' : 'text/plain' }),
      );
    }
    const target = document.querySelector('[data-test=drive]')!;
    for (const type of ['dragenter', 'dragover', 'drop']) {
      target.dispatchEvent(
        new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: transfer }),
      );
    }
    return bytes;
  }, files);
}

/** Waits until the upload of `path` is stored, and checks that its progress reached 100%. */
async function uploaded(user: BrowserUser, path: string, size: number): Promise<void> {
  const row = user.page.locator(`[data-test=upload][data-path=${JSON.stringify(path)}]`);
  await row.and(user.page.locator('[data-state=done]')).waitFor({ timeout: 60_000 });
  assert.equal(await row.getAttribute('data-sent'), String(size), `${path}: bytes sent`);
  assert.equal(await row.locator('[data-test=upload-percent]').textContent(), '100%');
  assert.equal(
    await row
      .locator('[data-test=upload-progress]')
      .evaluate((p) => (p as unknown as PageElement).value),
    100,
  );
}

function fileRow(user: BrowserUser, path: string) {
  // A CSS string is written as JSON writes one (the hostile name holds quotes).
  return user.page.locator(`[data-test=file][data-path=${JSON.stringify(path)}]`);
}

test(
  'A uploads, previews, keeps versions and shares a folder; B downloads it; C cannot see it',
  { timeout: 300_000 },
  async () => {
    const run = Date.now().toString(36);
    // Over 64 KiB, with text that is not ASCII: the preview shows the first 64 KiB only.
    const line = (i: number) => `line ${i} of the notes ${run}: grüße, 東京, ✓\n`;
    const body = Array.from({ length: 2600 }, (_, i) => line(i)).join('');
    const v1 = `FIRST VERSION ${run}\n${body}LAST LINE ${run}\n`;
    const v2 = `SECOND VERSION ${run}\n${body}THE END ${run}\n`;
    assert.ok(Buffer.byteLength(v1) > 100_000);

    const node = await spawnNode(['--min-pow', '8', '--log-level', 'warn']);
    const [keyA, keyB, keyC] = [await newKeyFile(), await newKeyFile(), await newKeyFile()];
    const [driveA, driveB, driveC] = await Promise.all(
      [keyA, keyB, keyC].map((key) => spawnDrive(node.url, key.path)),
    );
    const [a, b, c] = [await openBrowser('a'), await openBrowser('b'), await openBrowser('c')];
    await signIn(a, driveA.url, keyA.path);
    await signIn(b, driveB.url, keyB.path);
    // C makes an identity in the browser (WebCrypto), which registers with C's gateway.
    await c.page.goto(`${driveC.url}/`);
    await c.page.click('[data-test=create-identity]');
    await c.page.waitForSelector('[data-test=created-banner]');
    await c.page.waitForSelector('[data-test=welcome]');
    const identityC = (await c.page.textContent('[data-test=my-identity]'))!;
    assert.match(identityC, /^p2pid1/);
    assert.notEqual(identityC, identityText(keyC.identity));
    assert.match(a.page.url(), /\/drive\/#?\/?$/);
    await a.page.waitForSelector('[data-test=welcome]');
    assert.equal(await a.page.textContent('[data-test=my-identity]'), identityText(keyA.identity));

    // A makes a drive, and a folder in it (kept by the page until a file is in it).
    await a.page.fill('[data-test=new-drive-name]', 'Family');
    await a.page.click('[data-test=new-drive-submit]');
    await a.page.waitForSelector('[data-test=drive-name]:text-is("Family")');
    await a.page.waitForSelector('[data-test=empty-folder]');
    const family = (await a.page.getAttribute('[data-test=drive]', 'data-space'))!;
    assert.match(family, /^[0-9a-f]{32}$/);
    await a.screenshot('drive-01-a-new-drive');
    await a.page.click('[data-test=new-folder]');
    await a.page.fill('[data-test=new-folder-name]', 'Holiday');
    await a.page.click('[data-test=new-folder-submit]');
    await a.page.waitForSelector('[data-test=drive][data-folder="Holiday"]');
    assert.deepEqual(await a.page.locator('[data-test=crumb]').allTextContents(), [
      'Family',
      'Holiday',
    ]);

    // A drops a text file and an image into it; both uploads reach 100%.
    const [text1, png] = await dropFiles(a, [
      { name: 'notes.txt', text: v1 },
      { name: 'photo.png', png: [96, 64] },
    ]);
    assert.deepEqual(Buffer.from(text1!), Buffer.from(v1));
    await uploaded(a, 'Holiday/notes.txt', Buffer.byteLength(v1));
    await uploaded(a, 'Holiday/photo.png', png!.length);
    await fileRow(a, 'Holiday/notes.txt').waitFor();
    await fileRow(a, 'Holiday/photo.png').waitFor();
    await a.screenshot('drive-02-a-uploaded');

    // The text preview is the first 64 KiB, fetched with one Range request.
    const ranges: string[] = [];
    a.page.on('request', (r) => {
      if (r.url().includes('/files/content')) ranges.push(r.headers().range ?? 'none');
    });
    await fileRow(a, 'Holiday/notes.txt').locator('[data-test=file-link]').click();
    const preview = a.page.locator('[data-test=preview-text]');
    await preview.waitFor();
    assert.equal(await preview.getAttribute('data-bytes'), '65536');
    const shown = (await preview.textContent())!;
    assert.ok(shown.startsWith(`FIRST VERSION ${run}\nline 0 of the notes`), shown.slice(0, 80));
    assert.ok(!shown.includes(`LAST LINE ${run}`));
    assert.ok(Buffer.byteLength(shown) <= 65536 && Buffer.byteLength(shown) > 65530);
    assert.ok(v1.startsWith(shown));
    await a.page.waitForSelector('[data-test=preview-cut]');
    assert.deepEqual(ranges, ['bytes=0-65535']);
    await a.screenshot('drive-03-a-text-preview');

    // The image preview is the image itself, from the content route.
    await fileRow(a, 'Holiday/photo.png').locator('[data-test=file-link]').click();
    const image = a.page.locator('[data-test=preview-image]');
    await image.waitFor();
    await waitInPage(a.page, () => {
      const img = document.querySelector('[data-test=preview-image]');
      return img !== null && img.complete && img.naturalWidth > 0;
    });
    assert.deepEqual(
      await image.evaluate((img) => [
        (img as unknown as PageElement).naturalWidth,
        (img as unknown as PageElement).naturalHeight,
      ]),
      [96, 64],
    );
    await a.screenshot('drive-04-a-image-preview');

    // A second version of the notes, by the file picker: two versions, the earlier one opens.
    await fileRow(a, 'Holiday/notes.txt').locator('[data-test=file-link]').click();
    await a.page.waitForSelector('[data-test=preview-text]');
    await a.page.setInputFiles('[data-test=upload-input]', {
      name: 'notes.txt',
      mimeType: 'text/plain',
      buffer: Buffer.from(v2),
    });
    await a.page.waitForSelector(
      '[data-test=upload][data-path="Holiday/notes.txt"][data-state=done] >> nth=1',
      { timeout: 60_000 },
    );
    await waitInPage(
      a.page,
      () => document.querySelectorAll('[data-test=versions] [data-test=version]').length === 2,
    );
    assert.equal(await a.page.getAttribute('[data-test=version] >> nth=0', 'data-current'), 'true');
    await a.page.waitForSelector(`[data-test=preview-text]:text("SECOND VERSION ${run}")`);
    await a.page.click('[data-test=open-version]');
    await a.page.waitForSelector(`[data-test=preview-text]:text("FIRST VERSION ${run}")`);
    await a.screenshot('drive-05-a-versions');

    // A file named like markup shows as text, and nothing of it runs.
    const [hostile] = await dropFiles(a, [{ name: HOSTILE, text: 'just text\n' }]);
    await uploaded(a, `Holiday/${HOSTILE}`, hostile!.length);
    const hostileRow = fileRow(a, `Holiday/${HOSTILE}`);
    await hostileRow.waitFor();
    assert.equal(await hostileRow.locator('[data-test=file-link]').textContent(), HOSTILE);
    await hostileRow.locator('[data-test=file-link]').click();
    await a.page.waitForSelector('[data-test=preview-text]:text("just text")');
    assert.equal(await a.page.textContent('[data-test=file-title]'), HOSTILE);
    assert.equal(await a.page.locator('img[src="x"]').count(), 0);
    assert.equal(
      await a.page.evaluate(() => (globalThis as { __pwned?: unknown }).__pwned),
      undefined,
    );
    await a.screenshot('drive-06-a-hostile-name');

    // A name the tree refuses: the upload's row says why, and nothing is stored.
    await dropFiles(a, [{ name: 'back\\slash.txt', text: 'refused\n' }]);
    const refused = a.page.locator('[data-test=upload][data-path="Holiday/back\\\\slash.txt"]');
    await refused.and(a.page.locator('[data-state=failed]')).waitFor();
    assert.match(
      (await refused.locator('[data-test=upload-status]').textContent())!,
      /^Failed: .*backslash/,
    );
    assert.equal(await fileRow(a, 'Holiday/back\\slash.txt').count(), 0);
    // So is a folder name that could not be one, before anything is sent.
    await a.page.click('[data-test=new-folder]');
    await a.page.fill('[data-test=new-folder-name]', '..');
    await a.page.click('[data-test=new-folder-submit]');
    assert.equal(await a.page.textContent('[data-test=drive-error]'), '".." cannot be a name');
    assert.equal(await a.page.getAttribute('[data-test=drive]', 'data-folder'), 'Holiday');

    // Rename (a move within the drive) and delete, at the drive's root.
    await a.page.click('[data-test=crumb] >> text=Family');
    await a.page.waitForSelector('[data-test=drive][data-folder=""]');
    await a.page.waitForSelector('[data-test=folder][data-path="Holiday"]');
    assert.equal(
      await a.page.textContent('[data-test=folder][data-path="Holiday"] td.size'),
      '3 files',
    );
    await dropFiles(a, [
      { name: 'scratch.txt', text: 'to be moved\n' },
      { name: 'other.txt', text: 'to be deleted\n' },
    ]);
    await uploaded(a, 'scratch.txt', 12);
    await uploaded(a, 'other.txt', 14);
    await fileRow(a, 'other.txt').locator('[data-test=delete]').click();
    await fileRow(a, 'other.txt').locator('[data-test=delete].armed').click();
    await fileRow(a, 'other.txt').waitFor({ state: 'detached' });
    // Renaming edits the whole path: a new folder in it moves the file there.
    await fileRow(a, 'scratch.txt').locator('[data-test=rename]').click();
    await a.page.fill('[data-test=rename-input]', 'Archive/draft.txt');
    await a.page.press('[data-test=rename-input]', 'Enter');
    const archive = a.page.locator('[data-test=folder][data-path="Archive"]');
    await archive.waitFor();
    assert.equal(await fileRow(a, 'scratch.txt').count(), 0);
    assert.equal(await archive.locator('td.size').textContent(), '1 file');
    // A folder moves with what is in it (here to a name like markup, which stays text in the
    // listing, the breadcrumbs and the address), and is deleted with it.
    await archive.locator('[data-test=rename]').click();
    await a.page.fill('[data-test=rename-input]', HOSTILE_FOLDER);
    await a.page.press('[data-test=rename-input]', 'Enter');
    const attic = a.page.locator(`[data-test=folder][data-path=${JSON.stringify(HOSTILE_FOLDER)}]`);
    await attic.waitFor();
    await archive.waitFor({ state: 'detached' });
    assert.equal(await attic.locator('[data-test=folder-link]').textContent(), HOSTILE_FOLDER);
    await attic.locator('[data-test=folder-link]').click();
    await fileRow(a, `${HOSTILE_FOLDER}/draft.txt`).waitFor();
    assert.deepEqual(await a.page.locator('[data-test=crumb]').allTextContents(), [
      'Family',
      HOSTILE_FOLDER,
    ]);
    assert.equal(decodeURIComponent(a.page.url().split('#')[1]!), `/d/${family}/${HOSTILE_FOLDER}`);
    assert.equal(await a.page.locator('svg[onload]').count(), 0);
    assert.equal(
      await a.page.evaluate(() => (globalThis as { __pwned?: unknown }).__pwned),
      undefined,
    );
    await a.page.click('[data-test=crumb] >> text=Family');
    await attic.locator('[data-test=delete]').click();
    await attic.locator('[data-test=delete].armed').click();
    await attic.waitFor({ state: 'detached' });
    const left = await a.page.evaluate(async (space) => {
      const answer = await fetch(`/api/spaces/${space}/files/list?recursive=1`);
      return ((await answer.json()) as { files: { path: string }[] }).files.map((f) => f.path);
    }, family);
    assert.deepEqual(
      left.sort(),
      ['Holiday/notes.txt', 'Holiday/photo.png', `Holiday/${HOSTILE}`].sort(),
    );

    // A shares the folder with B, as a reader: a new drive holding copies of its files.
    await a.page.click('[data-test=folder-link] >> text=Holiday');
    await a.page.waitForSelector('[data-test=drive][data-folder="Holiday"]');
    await a.page.click('[data-test=share-current]');
    await a.page.fill('[data-test=share-member]', identityText(keyB.identity));
    await a.page.selectOption('[data-test=share-role]', 'reader');
    await a.page.click('[data-test=share-submit]');
    await waitInPage(
      a.page,
      (before) => {
        const drive = document.querySelector('[data-test=drive]');
        return drive !== null && drive.getAttribute('data-space') !== before;
      },
      family,
      { timeout: 120_000 },
    );
    const shared = (await a.page.getAttribute('[data-test=drive]', 'data-space'))!;
    await a.page.waitForSelector('[data-test=drive-name]:text-is("Holiday")');
    await fileRow(a, 'notes.txt').waitFor();
    await a.page.waitForSelector(`[data-test=drive-link][data-space="${shared}"]`);
    await a.screenshot('drive-07-a-shared');

    // B finds it under "Shared with you", joins, and downloads the notes byte for byte.
    await b.page.waitForSelector(`[data-test=invitation][data-space="${shared}"]`, {
      timeout: 90_000,
    });
    await b.screenshot('drive-08-b-invitation');
    await b.page.click(
      `[data-test=invitation][data-space="${shared}"] [data-test=accept-invitation]`,
    );
    await b.page.waitForSelector(`[data-test=drive][data-space="${shared}"]`, { timeout: 60_000 });
    await fileRow(b, 'notes.txt').waitFor({ timeout: 60_000 });
    await fileRow(b, 'photo.png').waitFor();
    assert.equal(await fileRow(b, HOSTILE).locator('[data-test=file-link]').textContent(), HOSTILE);
    assert.equal(await b.page.locator('img[src="x"]').count(), 0);
    // A reader's page has no controls that write.
    await b.page.waitForSelector('[data-test=read-only]');
    assert.equal(await b.page.locator('[data-test=upload-button], [data-test=rename]').count(), 0);
    const [download] = await Promise.all([
      b.page.waitForEvent('download'),
      fileRow(b, 'notes.txt').locator('[data-test=download]').click(),
    ]);
    assert.equal(download.suggestedFilename(), 'notes.txt');
    assert.deepEqual(readFileSync((await download.path())!), Buffer.from(v2));
    await fileRow(b, 'photo.png').locator('[data-test=file-link]').click();
    await waitInPage(b.page, () => {
      const img = document.querySelector('[data-test=preview-image]');
      return img !== null && img.complete && img.naturalWidth === 96;
    });
    await b.screenshot('drive-09-b-shared-drive');
    // On a phone's width the sidebar goes above the folder, and the panel below it.
    await b.page.setViewportSize({ width: 390, height: 844 });
    await fileRow(b, 'notes.txt').waitFor();
    await b.screenshot('drive-10-b-phone');
    await b.page.setViewportSize({ width: 1280, height: 900 });

    // A shares the whole of Family with B as a writer: B joins it, and what B uploads there
    // reaches A's page.
    await a.page.click(`[data-test=drive-link][data-space="${family}"]`);
    await a.page.waitForSelector(`[data-test=drive][data-space="${family}"][data-folder=""]`);
    await a.page.click('[data-test=share-current]');
    assert.equal(await a.page.textContent('[data-test=share-what]'), 'this whole drive');
    await a.page.fill('[data-test=share-member]', identityText(keyB.identity));
    await a.page.selectOption('[data-test=share-role]', 'writer');
    await a.page.click('[data-test=share-submit]');
    await a.page.waitForSelector('[data-test=share-form]', { state: 'detached' });
    await b.page.waitForSelector(`[data-test=invitation][data-space="${family}"]`, {
      timeout: 90_000,
    });
    await b.page.click(
      `[data-test=invitation][data-space="${family}"] [data-test=accept-invitation]`,
    );
    await b.page.waitForSelector(`[data-test=drive][data-space="${family}"]`, { timeout: 60_000 });
    await b.page.waitForSelector('[data-test=folder][data-path="Holiday"]', { timeout: 60_000 });
    await b.page.waitForSelector('[data-test=upload-button]');
    await b.page.setInputFiles('[data-test=upload-input]', {
      name: 'from-b.txt',
      mimeType: 'text/plain',
      buffer: Buffer.from(`written by B ${run}\n`),
    });
    await uploaded(b, 'from-b.txt', Buffer.byteLength(`written by B ${run}\n`));
    await fileRow(a, 'from-b.txt').waitFor({ timeout: 60_000 });
    await fileRow(a, 'from-b.txt').locator('[data-test=file-link]').click();
    await a.page.waitForSelector(`[data-test=preview-text]:text("written by B ${run}")`);
    await a.screenshot('drive-11-a-sees-b-upload');

    // C sees no such drive, and neither C's gateway nor A's hands out its content.
    await c.page.reload();
    await c.page.waitForSelector('[data-test=welcome]');
    assert.equal(await c.page.locator('[data-test=drive-link], [data-test=invitation]').count(), 0);
    const own = await c.context.request.get(
      `${driveC.url}/api/spaces/${shared}/files/content?path=notes.txt`,
    );
    assert.equal(own.status(), 404);
    assert.equal(((await own.json()) as { error: { code: string } }).error.code, 'no_such_space');
    const other = await c.context.request.get(
      `${driveA.url}/api/spaces/${shared}/files/content?path=notes.txt`,
    );
    assert.equal(other.status(), 401);
    assert.ok(!(await other.text()).includes(run));
    await c.page.goto(`${driveC.url}/drive/#/d/${shared}`);
    await c.page.waitForSelector('[data-test=route-error]');
    await c.screenshot('drive-12-c-nothing');

    // Every page rendered cleanly, apart from the refusal C's page was sent to provoke.
    const provoked = [
      /status of 404 .*\/api\/spaces\/[0-9a-f]{32}\/files\/list/,
      /status of 400 .*\/files\/content\?path=Holiday%2Fback%5Cslash\.txt/,
    ];
    assert.deepEqual(
      [...a.errors, ...b.errors, ...c.errors].filter((e) => !provoked.some((p) => p.test(e))),
      [],
    );
    for (const gateway of [driveA, driveB, driveC]) assert.equal(await gateway.stop(), 0);
    await node.stop();
  },
);
