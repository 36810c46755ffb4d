/**
 * What `p2pcloud gateway` and `p2pcloud app forum` tell their operator, read from real
 * processes, as a node does: one line on stdout saying where it listens, log lines on stderr in
 * one format (JSON in a pipe or file, one readable line each on a terminal) without fastify's
 * own start-up lines, and the shutdown with the signal that caused it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { deadUrl } from '../helpers/http.js';
import { newKeyFile, spawnGateway } from '../helpers/gateways.js';
import { assertShutdownLogged, records, until } from '../helpers/logs.js';
import { spawnNode } from '../helpers/nodes.js';
import { assertReadableLogLines, runOnTerminal } from '../helpers/terminal.js';
import { tempDir } from '../helpers/tmp.js';

// A node that answers, so that the only warnings are ones the test did not cause.
const node = await spawnNode(['--min-pow', '0', '--log-level', 'warn']);

for (const what of ['gateway', 'forum'] as const) {
  test(`${what}: "listening" once on stdout, every log line JSON, shutdown logged with its signal`, async () => {
    const dir = tempDir();
    const args =
      what === 'gateway'
        ? ['gateway', '--key', (await newKeyFile(dir)).path]
        : ['app', 'forum', '--log-level', 'debug'];
    const gateway = await spawnGateway([
      ...args,
      '--port',
      '0',
      '--node',
      node.url,
      '--data',
      join(dir, 'data'),
    ]);
    const stdout: string[] = [];
    gateway.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => stdout.push(chunk));
    await until('the start-up log', () =>
      records(gateway.stderr()).some((r) => r.msg === 'gateway started'),
    );
    const started = records(gateway.stderr()).find((r) => r.msg === 'gateway started')!;
    assert.equal(started.level, 30);
    assert.equal(started.url, gateway.url);
    assert.equal(started.name, `p2pcloud-${what}`);
    if (what === 'forum') {
      const created = records(gateway.stderr()).find((r) => r.msg === 'identity created');
      assert.ok(created, gateway.stderr());
      assert.equal(created.identity, gateway.identity);
      assert.equal(created.file, join(dir, 'data', 'identity.json'));
    }
    // A request, so that per-request lines would show if fastify logged them.
    assert.equal((await fetch(`${gateway.url}/api`)).status, 200);
    assert.equal(await gateway.stop(), 0);
    // spawnGateway consumed the stdout line that announced the URL; nothing else was printed.
    assert.equal(stdout.join(''), '');
    assert.doesNotMatch(gateway.stderr(), /listening/i);
    const logged = records(gateway.stderr());
    assert.deepEqual(
      logged.filter((r) => r.level >= 40),
      [],
      'nothing went wrong, so nothing warns',
    );
    assertShutdownLogged(logged, 'gateway', gateway.stderr());
  });
}

test('forum on a terminal: readable log lines, one "listening" line, SIGINT logged', async () => {
  const port = Number(new URL(await deadUrl()).port);
  const data = join(tempDir(), 'data');
  const output = await runOnTerminal(
    'forum',
    ['app', 'forum', '--port', `${port}`, '--node', node.url, '--data', data],
    port,
    '/api',
  );
  const lines = output.split('\n').filter((line) => line.length > 0);
  assert.equal(lines.filter((line) => /listening/i.test(line)).length, 1, output);
  assert.match(lines.find((l) => /listening/.test(l))!, /^p2pcloud forum listening on http:\/\//);
  const logLines = lines.filter((line) => !/listening/.test(line));
  assert.ok(logLines.length >= 4, output);
  assertReadableLogLines(logLines, output);
  assert.ok(logLines.some((l) => / INFO {2}identity created identity=p2pid1\S+ file=/.test(l)));
  assert.ok(
    logLines.some((l) => / INFO {2}gateway started url=http:\/\/127\.0\.0\.1:\d+ /.test(l)),
  );
  assert.ok(
    logLines.some((l) => / INFO {2}gateway stopping signal=SIGINT$/.test(l)),
    output,
  );
  assert.ok(
    logLines.some((l) => / INFO {2}gateway stopped ms=\d+$/.test(l)),
    output,
  );
});
