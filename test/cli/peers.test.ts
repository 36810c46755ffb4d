/** `p2pcloud peers`: a node's peer table from the command line. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnNode } from '../helpers/nodes.js';
import { runCli as cli } from '../helpers/spawn.js';
import { deadUrl, waitFor } from '../helpers/http.js';

const first = await spawnNode(['--min-pow', '0', '--log-level', 'warn']);
const second = await spawnNode([
  '--min-pow',
  '0',
  '--log-level',
  'warn',
  '--peer',
  first.url,
  '--sync-interval',
  '0.3',
]);

test('peers lists both directions of a hello, as a table and as JSON', async () => {
  // The second node says hello to the first in its first round: then each knows the other.
  const met = await waitFor(
    async () => {
      const result = await cli(['peers', '--node', first.url, '--json']);
      return result.code === 0 && result.stdout.includes(second.url);
    },
    60_000,
    200,
  );
  assert.ok(met, 'the first node never learnt of the second');

  const json = await cli(['peers', '--node', second.url, '--json']);
  assert.equal(json.code, 0, json.stderr);
  const peers = json.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { url: string; state: string; source: string });
  const known = peers.find((p) => p.url === first.url);
  assert.ok(known, json.stdout);
  assert.equal(known.source, 'config');
  assert.equal(known.state, 'ok');

  const text = await cli(['peers', '--node', second.url]);
  assert.equal(text.code, 0, text.stderr);
  const lines = text.stdout.trim().split('\n');
  assert.match(lines[0]!, /^URL\s+STATE\s+SEEN\s+FAILURES\s+PENALTY\s+NEXT\s+TABLES\s+FROM$/);
  assert.ok(
    lines.some((line) => line.startsWith(first.url) && /\bok\b/.test(line)),
    text.stdout,
  );
});

test('peers against an unreachable node is one error line and a non-zero exit', async () => {
  const result = await cli(['peers', '--node', await deadUrl()]);
  assert.notEqual(result.code, 0);
  assert.equal(result.stdout, '');
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, result.stderr);
  assert.match(lines[0]!, /^p2pcloud: /);
});

test('peers words a bad node URL as every other command does', async () => {
  for (const url of ['not-a-url', 'ftp://example.org', 'http//127.0.0.1:7447']) {
    const result = await cli(['peers', '--node', url]);
    assert.notEqual(result.code, 0);
    assert.equal(result.stdout, '');
    assert.equal(
      result.stderr,
      `p2pcloud: --node: ${JSON.stringify(url)} is not a node URL (expected http://HOST:PORT)\n`,
    );
  }
});
