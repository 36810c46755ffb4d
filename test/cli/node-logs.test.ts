/**
 * What `p2pcloud node` tells its operator, read from real node processes: one line on stdout
 * saying where it listens, log lines on stderr in one format (JSON in a pipe or file, one
 * readable line each on a terminal), sync rounds at info only when they changed something, and
 * the shutdown with the signal that caused it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { makeEntry } from '../helpers/entries.js';
import { deadUrl, putFrames, putResults } from '../helpers/http.js';
import { assertShutdownLogged, records, until, type LogRecord } from '../helpers/logs.js';
import { spawnNode } from '../helpers/nodes.js';
import { configFile } from '../helpers/sync.js';
import { assertReadableLogLines, runOnTerminal } from '../helpers/terminal.js';
import { tempDir } from '../helpers/tmp.js';

test('start-up says "listening" once, every log line is JSON, shutdown is logged with its signal', async () => {
  const node = await spawnNode(['--min-pow', '0']);
  const stdout: string[] = [];
  node.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => stdout.push(chunk));
  await until('the start-up log', () =>
    records(node.stderr()).some((r) => r.msg === 'node started'),
  );
  const started = records(node.stderr()).find((r) => r.msg === 'node started')!;
  assert.equal(started.level, 30);
  assert.equal(started.url, node.url);
  assert.doesNotMatch(node.stderr(), /listening/i);
  assert.equal(await node.stop(), 0);
  // spawnNode consumed the stdout line that announced the URL; nothing else was printed.
  assert.equal(stdout.join(''), '');
  const logged = records(node.stderr());
  assertShutdownLogged(logged, 'node', node.stderr());
});

test('sync rounds log at debug when nothing changed and at info when entries moved', async () => {
  // No pushes: the entry reaches the other node only through a sync round.
  const config = configFile({ sync: { push_peers: 0 } });
  const args = ['--min-pow', '0', '--config', config, '--sync-interval', '0.2'];
  const a = await spawnNode([...args, '--log-level', 'debug']);
  const b = await spawnNode([...args, '--log-level', 'debug', '--peer', a.url]);
  const rounds = (node: typeof a): LogRecord[] =>
    records(node.stderr()).filter((r) => r.msg === 'sync round');
  const changed = (r: LogRecord): boolean =>
    (r.fetched as number) > 0 || (r.stored as number) > 0 || (r.pushed as number) > 0;
  await until('three idle sync rounds', () => rounds(b).length >= 3);
  for (const round of rounds(b)) {
    assert.equal(changed(round), false, JSON.stringify(round));
    assert.equal(round.level, 20, JSON.stringify(round));
  }
  const entry = makeEntry({ text: 'moved by a sync round' });
  assert.equal(putResults(await putFrames(a.url, [entry.bytes]))[0]!.status, 'stored');
  await until('a sync round that moved the entry', () =>
    [...rounds(a), ...rounds(b)].some(changed),
  );
  for (const round of [...rounds(a), ...rounds(b)]) {
    assert.equal(round.level, changed(round) ? 30 : 20, JSON.stringify(round));
  }
  await Promise.all([a.stop(), b.stop()]);
});

test('on a terminal the log lines are readable, one line each, in the same order', async () => {
  const port = Number(new URL(await deadUrl()).port);
  const data = join(tempDir(), 'data');
  const output = await runOnTerminal(
    'node',
    ['node', '--port', `${port}`, '--data', data],
    port,
    '/health',
  );
  const lines = output.split('\n').filter((line) => line.length > 0);
  assert.equal(lines.filter((line) => /listening/.test(line)).length, 1, output);
  assert.match(lines.find((l) => /listening/.test(l))!, /^p2pcloud node listening on http:\/\//);
  const logLines = lines.filter((line) => !/listening/.test(line));
  assert.ok(logLines.length >= 3, output);
  assertReadableLogLines(logLines, output);
  assert.ok(logLines.some((l) => / INFO {2}node started url=http:\/\/127\.0\.0\.1:\d+ /.test(l)));
  assert.ok(
    logLines.some((l) => / INFO {2}node stopping signal=SIGINT$/.test(l)),
    output,
  );
  assert.ok(
    logLines.some((l) => / INFO {2}node stopped ms=\d+$/.test(l)),
    output,
  );
});
