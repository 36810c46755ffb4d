/**
 * `p2pcloud app drive` as a user runs it: it makes its identity on first start, sends `/` to
 * the drive's page at /drive/, serves the page and the sign-in modules it shares with the forum
 * under the pages' security policy, and opens nothing without a session: the page's data comes
 * from the gateway's own routes, behind the same guard and sign-in as every other caller.
 * The pages ship in the npm package.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { CONTENT_SECURITY_POLICY } from '../../src/web/static-files.js';
import { repoRoot } from '../helpers/paths.js';
import { request, spawnGateway } from '../helpers/gateways.js';
import { records } from '../helpers/logs.js';
import { spawnNode } from '../helpers/nodes.js';
import { tempDir } from '../helpers/tmp.js';

test('the drive makes its identity, serves its page at /drive/ and nothing without a session', async () => {
  const node = await spawnNode(['--min-pow', '8', '--log-level', 'warn']);
  const data = join(tempDir(), 'drive');
  const drive = await spawnGateway([
    'app',
    'drive',
    '--port',
    '0',
    '--node',
    node.url,
    '--data',
    data,
  ]);
  const created = records(drive.stderr()).find((r) => r.msg === 'identity created');
  assert.equal(created?.identity, drive.identity, drive.stderr());
  assert.equal(statSync(join(data, 'identity.json')).mode & 0o777, 0o600);
  assert.equal(drive.apiKeyFile, join(data, 'api-key'));

  const home = await fetch(`${drive.url}/`, { redirect: 'manual' });
  assert.equal(home.status, 302);
  assert.equal(home.headers.get('location'), '/drive/');
  for (const path of ['/drive/', '/drive', '/drive/index.html']) {
    const page = await fetch(`${drive.url}${path}`);
    assert.equal(page.status, 200, path);
    assert.match(await page.text(), /<title>p2pcloud drive<\/title>/);
    assert.equal(page.headers.get('content-security-policy'), CONTENT_SECURITY_POLICY);
    assert.equal(page.headers.get('x-frame-options'), 'DENY');
  }
  for (const path of [
    '/drive/app.js',
    '/drive/views/drive.js',
    '/drive/lib/files-api.js',
    '/drive/shared/identity.js',
    '/drive/shared/api.js',
    '/drive/shared/dom.js',
    '/drive/shared/bech32m.js',
    '/drive/shared/sign-in.js',
    '/drive/shared/shell.js',
    '/drive/shared/icons.js',
  ]) {
    const script = await fetch(`${drive.url}${path}`);
    assert.equal(script.status, 200, path);
    assert.match(script.headers.get('content-type') ?? '', /^text\/javascript/, path);
    await script.arrayBuffer();
  }
  // The page links the apps' shared base stylesheet before its own.
  for (const path of ['/drive/shared/base.css', '/drive/style.css']) {
    const sheet = await fetch(`${drive.url}${path}`);
    assert.equal(sheet.status, 200, path);
    assert.match(sheet.headers.get('content-type') ?? '', /^text\/css/, path);
    await sheet.arrayBuffer();
  }
  // The drive has no routes of its own beyond its pages; the forum's pages are not mounted.
  assert.equal((await fetch(`${drive.url}/drive/api/files`)).status, 404);
  assert.equal((await fetch(`${drive.url}/app.js`)).status, 404);

  // The routes the page calls answer only a session or the API key, and never another origin.
  const anonymous = await request(drive.url, 'GET', '/api/groups', undefined, {
    authorization: '',
  });
  assert.equal(anonymous.status, 401);
  const foreign = await request(drive.url, 'GET', '/api/groups', undefined, {
    origin: 'http://evil.example',
    'sec-fetch-site': 'cross-site',
  });
  assert.equal(foreign.status, 403);
  const owner = await request(drive.url, 'GET', '/api/groups');
  assert.equal(owner.status, 200);
  assert.deepEqual(owner.body.groups, []);

  assert.equal(await drive.stop(), 0);
  await node.stop();
});

test('p2pcloud app drive fails in one line on bad options', () => {
  const result = spawnSync(
    process.execPath,
    [
      join(repoRoot, 'dist', 'src', 'cli', 'main.js'),
      'app',
      'drive',
      '--data',
      tempDir(),
      '--port',
      'x',
    ],
    { encoding: 'utf8' },
  );
  assert.notEqual(result.status, 0);
  assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
  assert.match(result.stderr, /^p2pcloud: .*--port/);
});

test('the drive’s pages are part of the npm package', () => {
  const result = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
  assert.equal(result.status, 0, result.stderr);
  const files = new Set(
    (JSON.parse(result.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path),
  );
  for (const path of [
    'src/apps/drive/web/index.html',
    'src/apps/drive/web/app.js',
    'src/apps/drive/web/style.css',
    'src/apps/drive/web/views/drive.js',
    'src/apps/drive/web/lib/files-api.js',
    'src/apps/forum/web/lib/identity.js',
    'src/apps/forum/web/lib/sign-in.js',
    'src/apps/forum/web/lib/shell.js',
    'src/apps/forum/web/lib/icons.js',
    'src/apps/forum/web/lib/base.css',
    'dist/src/apps/drive/plugin.js',
  ]) {
    assert.ok(files.has(path), path);
  }
});
