/**
 * The drive page's pure modules (src/apps/drive/web/lib/paths.js and kinds.js, the very files
 * the browser loads): what a drop of files and folders yields, routes that carry any file
 * name there and back, the name checks that
 * spare the gateway obvious mistakes, which files are previewed how (an SVG never as an
 * image), which media types an upload may claim, and how a cut preview is decoded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { driveWebDir } from '../../src/apps/drive/plugin.js';

interface Route {
  space: string | null;
  folder: string;
}

const paths = (await import(pathToFileURL(join(driveWebDir(), 'lib', 'paths.js')).href)) as {
  joinPath(folder: string, name: string): string;
  parentOf(path: string): string;
  nameOf(path: string): string;
  crumbs(folder: string): { name: string; path: string }[];
  isUnder(path: string, folder: string): boolean;
  nameProblem(name: string): string | null;
  pathProblem(path: string): string | null;
  parseRoute(hash: string): Route;
  routeHash(space: string, folder?: string): string;
};

const kinds = (await import(pathToFileURL(join(driveWebDir(), 'lib', 'kinds.js')).href)) as {
  TEXT_PREVIEW_BYTES: number;
  previewKind(file: { name: string; media_type: string | null }): string;
  uploadMediaType(type: string, name: string): string | null;
  previewText(bytes: Uint8Array, complete: boolean): { text: string; binary: boolean };
  formatBytes(n: number): string;
  percent(done: number, total: number): number;
};

interface Dropped {
  blob: { name: string };
  relative: string;
}

const drop = (await import(pathToFileURL(join(driveWebDir(), 'lib', 'drop.js')).href)) as {
  DROP_MAX_FILES: number;
  walkEntries(entries: unknown[], max?: number): Promise<Dropped[]>;
  takeDrop(transfer: unknown): () => Promise<Dropped[]>;
};

const SPACE = '0123456789abcdef0123456789abcdef';

/** An entry of the browser's entries API: a file, answering later as the browser does. */
function fileEntry(name: string) {
  return {
    name,
    isFile: true,
    isDirectory: false,
    file: (done: (file: { name: string }) => void) => setTimeout(() => done({ name }), 0),
  };
}

/** A folder's entry whose reader lists `batch` children per call, then an empty batch. */
function folderEntry(name: string, children: unknown[], batch = 2) {
  return {
    name,
    isFile: false,
    isDirectory: true,
    createReader() {
      let at = 0;
      return {
        readEntries(done: (entries: unknown[]) => void) {
          const next = children.slice(at, at + batch);
          at += next.length;
          setTimeout(() => done(next), 0);
        },
      };
    },
  };
}

test('a dropped folder yields every file under it, read batch by batch, in order', async () => {
  const photos = folderEntry('photos', [
    fileEntry('a.jpg'),
    fileEntry('b.jpg'),
    folderEntry('2026', [fileEntry('c.jpg'), folderEntry('empty', [])]),
    fileEntry('d.jpg'),
    fileEntry('e.jpg'),
  ]);
  const dropped = await drop.walkEntries([fileEntry('notes.txt'), photos, fileEntry('z.txt')]);
  assert.deepEqual(
    dropped.map((d) => d.relative),
    [
      'notes.txt',
      'photos/a.jpg',
      'photos/b.jpg',
      'photos/2026/c.jpg',
      'photos/d.jpg',
      'photos/e.jpg',
      'z.txt',
    ],
  );
  assert.deepEqual(
    dropped.map((d) => d.blob.name),
    ['notes.txt', 'a.jpg', 'b.jpg', 'c.jpg', 'd.jpg', 'e.jpg', 'z.txt'],
  );
  // A drop of too many files is refused, not walked to its end.
  await assert.rejects(drop.walkEntries([photos], 3), /at most 3 files/);
  assert.equal(drop.DROP_MAX_FILES, 10_000);
});

test('a drop of plain files is taken as it is; one holding a folder is walked', async () => {
  const files = [{ name: 'a.txt' }, { name: 'b.png' }];
  const plain = drop.takeDrop({
    files,
    items: files.map(() => ({ kind: 'file', webkitGetAsEntry: () => null })),
  });
  assert.deepEqual(await plain(), [
    { blob: files[0], relative: 'a.txt' },
    { blob: files[1], relative: 'b.png' },
  ]);
  const folder = folderEntry('docs', [fileEntry('x.md')]);
  const walked = drop.takeDrop({
    files: [{ name: 'docs' }],
    items: [{ kind: 'file', webkitGetAsEntry: () => folder }],
  });
  assert.deepEqual(
    (await walked()).map((d) => d.relative),
    ['docs/x.md'],
  );
});

test('a route carries any folder path there and back', () => {
  const folders = [
    '',
    'Holiday',
    'Holiday/2026',
    'a b/c#d/e?f/100%/<img src=x onerror=alert(1)>',
    'café/日本語/emoji 🎉',
    '..a/.hidden/a..b',
  ];
  for (const folder of folders) {
    const hash = paths.routeHash(SPACE, folder);
    assert.ok(!hash.slice(2).includes('#') && !hash.includes('?'), hash);
    assert.deepEqual(paths.parseRoute(hash), { space: SPACE, folder });
  }
  // Anything that is not a drive's route is the home route, whatever it holds.
  for (const hash of ['', '#/', '#/d/', '#/d/xyz', `#/x/${SPACE}`, `#/d/${SPACE.toUpperCase()}`]) {
    assert.deepEqual(paths.parseRoute(hash), { space: null, folder: '' }, hash);
  }
  // A segment that does not decode leaves the drive's root rather than throwing.
  assert.deepEqual(paths.parseRoute(`#/d/${SPACE}/%E0%A4%A`), { space: SPACE, folder: '' });
});

test('paths split into parents, names and breadcrumbs', () => {
  assert.equal(paths.joinPath('', 'a.txt'), 'a.txt');
  assert.equal(paths.joinPath('x/y', 'a.txt'), 'x/y/a.txt');
  assert.equal(paths.parentOf('x/y/a.txt'), 'x/y');
  assert.equal(paths.parentOf('a.txt'), '');
  assert.equal(paths.nameOf('x/y/a.txt'), 'a.txt');
  assert.deepEqual(paths.crumbs(''), [{ name: '', path: '' }]);
  assert.deepEqual(paths.crumbs('x/y'), [
    { name: '', path: '' },
    { name: 'x', path: 'x' },
    { name: 'y', path: 'x/y' },
  ]);
  assert.ok(paths.isUnder('x/y/a', 'x'));
  assert.ok(paths.isUnder('x', 'x'));
  assert.ok(paths.isUnder('anything', ''));
  assert.ok(!paths.isUnder('xy/a', 'x'));
});

test('the names a person types are checked as the gateway would', () => {
  for (const bad of [
    '',
    '  ',
    'a/b',
    'a\\b',
    '.',
    '..',
    'tab\there',
    'nul\u0000',
    'c1\u0085',
    'é'.repeat(128),
  ]) {
    assert.ok(paths.nameProblem(bad), JSON.stringify(bad));
  }
  for (const good of [
    'notes.txt',
    '.hidden',
    'a..b',
    '...',
    '<img src=x>',
    'CON',
    'é'.repeat(127),
  ]) {
    assert.equal(paths.nameProblem(good), null, good);
  }
  assert.equal(paths.pathProblem('a/b/c.txt'), null);
  assert.ok(paths.pathProblem('/a'));
  assert.ok(paths.pathProblem('a//b'));
  assert.ok(paths.pathProblem('a/../b'));
  assert.ok(paths.pathProblem(''));
});

test('files are previewed by kind, and an SVG never as an image', () => {
  const kind = (name: string, media_type: string | null) => kinds.previewKind({ name, media_type });
  assert.equal(kind('a.png', 'image/png'), 'image');
  assert.equal(kind('a', 'image/jpeg'), 'image');
  assert.equal(kind('a.png', null), 'image');
  assert.equal(kind('photo.JPG', 'application/octet-stream'), 'image');
  // An SVG is a document that can hold script: shown as text, never loaded as an image.
  assert.equal(kind('a.svg', 'image/svg+xml'), 'text');
  assert.equal(kind('a.svg', null), 'text');
  assert.equal(kind('notes.txt', 'text/plain; charset=utf-8'), 'text');
  assert.equal(kind('data.json', 'application/json'), 'text');
  assert.equal(kind('README', null), 'text');
  assert.equal(kind('movie.mp4', 'video/mp4'), 'none');
  assert.equal(kind('archive.zip', null), 'none');
  assert.equal(kind('x.txt', 'image/tiff'), 'none');
});

test('an upload claims only a media type the format accepts', () => {
  assert.equal(kinds.uploadMediaType('text/plain', 'a.txt'), 'text/plain');
  assert.equal(kinds.uploadMediaType('Text/Plain', 'a.txt'), 'text/plain');
  assert.equal(kinds.uploadMediaType('text/plain;charset=utf-8', 'a'), 'text/plain;charset=utf-8');
  assert.equal(
    kinds.uploadMediaType('text/plain; charset="utf-8"', 'a'),
    'text/plain; charset="utf-8"',
  );
  assert.equal(kinds.uploadMediaType('', 'photo.png'), 'image/png');
  assert.equal(kinds.uploadMediaType('', 'notes'), null);
  assert.equal(kinds.uploadMediaType('text', 'a'), null);
  assert.equal(kinds.uploadMediaType('text/plain; x=a b', 'a'), null);
  assert.equal(kinds.uploadMediaType(`a/${'b'.repeat(300)}`, 'a'), null);
});

test('a preview cut inside a character drops it; binary bytes are not shown as text', () => {
  const bytes = new TextEncoder().encode('grüße');
  const cut = bytes.subarray(0, bytes.length - 1); // the last "e" gone: ends after "ß"
  assert.deepEqual(kinds.previewText(cut, false), { text: 'grüß', binary: false });
  const midChar = bytes.subarray(0, 5); // "gr" + "ü" + the first byte of "ß"
  assert.deepEqual(kinds.previewText(midChar, false), { text: 'grü', binary: false });
  assert.equal(kinds.previewText(midChar, true).text, 'grü\uFFFD');
  assert.equal(kinds.previewText(new Uint8Array([104, 105, 0, 1]), true).binary, true);
  const noise = Uint8Array.from({ length: 400 }, (_, i) => 0x80 + (i % 64));
  assert.equal(kinds.previewText(noise, true).binary, true);
  assert.equal(kinds.TEXT_PREVIEW_BYTES, 65536);
});

test('sizes and percentages for people', () => {
  assert.equal(kinds.formatBytes(0), '0 bytes');
  assert.equal(kinds.formatBytes(1), '1 byte');
  assert.equal(kinds.formatBytes(999), '999 bytes');
  assert.equal(kinds.formatBytes(1500), '1.5 KB');
  assert.equal(kinds.formatBytes(123_456_789), '123 MB');
  assert.equal(kinds.percent(0, 10), 0);
  assert.equal(kinds.percent(5, 10), 50);
  assert.equal(kinds.percent(10, 10), 100);
  assert.equal(kinds.percent(11, 10), 100);
  assert.equal(kinds.percent(0, 0), 100);
});
