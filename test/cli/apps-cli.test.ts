/**
 * The gateway and forum commands as a user runs them: errors are one line on stderr with a
 * non-zero exit; the forum creates its identity and API key (mode 0600) on first start and
 * names the key file; the node serves its dashboard; and the web pages ship in the npm package.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { cliPath, repoRoot } from '../helpers/paths.js';
import { request, spawnForum } from '../helpers/gateways.js';
import { records } from '../helpers/logs.js';
import { spawnNode } from '../helpers/nodes.js';
import { tempDir } from '../helpers/tmp.js';

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('gateway errors are one line on stderr and a non-zero exit', () => {
  const cases = [
    ['gateway', '--node', 'http://127.0.0.1:1'],
    ['gateway', '--key', join(tempDir(), 'missing.json'), '--node', 'http://127.0.0.1:1'],
    ['gateway', '--key', 'x.json', '--node', 'ftp://example.org'],
    ['gateway', '--key', 'x.json', '--node', 'http://127.0.0.1:1', '--port', 'abc'],
    ['app', 'forum', '--data', tempDir(), '--poll-interval', '0'],
  ];
  for (const args of cases) {
    const result = run(args);
    assert.notEqual(result.status, 0, args.join(' '));
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    assert.match(result.stderr, /^p2pcloud: /);
  }
});

test('the forum creates its identity on first start and serves its pages', async () => {
  const node = await spawnNode(['--min-pow', '8', '--log-level', 'warn']);
  const data = join(tempDir(), 'forum');
  const forum = await spawnForum(node.url, data);
  const created = records(forum.stderr()).find((r) => r.msg === 'identity created');
  assert.equal(created?.identity, forum.identity, forum.stderr());
  assert.equal(statSync(join(data, 'identity.json')).mode & 0o777, 0o600);
  assert.equal(statSync(data).mode & 0o777, 0o700);
  // Its start-up line names the API key file that programs read (0600 like the identity).
  assert.equal(forum.apiKeyFile, join(data, 'api-key'));
  assert.equal(statSync(forum.apiKeyFile).mode & 0o777, 0o600);
  const anonymous = await request(forum.url, 'GET', '/api/health', undefined, {
    authorization: '',
  });
  assert.equal(anonymous.status, 401);
  const page = await fetch(`${forum.url}/`);
  assert.match(await page.text(), /p2pcloud forum/);
  const health = await request(forum.url, 'GET', '/api/health');
  assert.equal(health.body.identity, forum.identity);
  const dashboard = await fetch(`${node.url}/ui`);
  assert.equal(dashboard.status, 200);
  assert.match(await dashboard.text(), /p2pcloud node/);
  assert.equal(await forum.stop(), 0);
  await node.stop();
});

test('the web pages are part of the npm package', () => {
  const result = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
  assert.equal(result.status, 0, result.stderr);
  const files = new Set(
    (JSON.parse(result.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path),
  );
  for (const path of [
    'src/apps/forum/web/index.html',
    'src/apps/forum/web/app.js',
    'src/apps/forum/web/lib/identity.js',
    'src/ui/web/index.html',
    'src/ui/web/dashboard.js',
    'dist/src/apps/forum/plugin.js',
    'docs/gateway.md',
  ]) {
    assert.ok(files.has(path), path);
  }
});
