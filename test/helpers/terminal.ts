/** Running a `p2pcloud` command on a terminal, as an operator would, and reading what it showed. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually } from './gateways.js';
import { until } from './logs.js';
import { cliPath } from './paths.js';
import { tempDir } from './tmp.js';

/**
 * Runs `p2pcloud <args>` on a terminal, waits until `http://127.0.0.1:<port><path>` answers,
 * sends SIGINT (as Ctrl-C would) and returns the terminal's output without carriage returns.
 */
export async function runOnTerminal(
  what: string,
  args: readonly string[],
  port: number,
  path: string,
): Promise<string> {
  const pidFile = join(tempDir(), 'pid');
  // `script` gives the process a terminal; the shell writes its pid and becomes the process
  // (exec), so that the signal reaches the process itself, not the shell.
  const quoted = [process.execPath, cliPath, ...args].map((arg) => `'${arg}'`).join(' ');
  const command = `echo $$ > '${pidFile}'; exec ${quoted}`;
  const finished = new Promise<string>((resolve, reject) => {
    execFile('script', ['-qec', command, '/dev/null'], { timeout: 120_000 }, (error, stdout) => {
      if (error && !stdout) reject(error);
      else resolve(stdout.replace(/\r/g, ''));
    });
  });
  await until(
    `the ${what} on a terminal to start`,
    () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '',
    60_000,
  );
  await eventually(
    `the ${what} on a terminal to answer`,
    async () => (await fetch(`http://127.0.0.1:${port}${path}`)).ok,
    60_000,
  );
  process.kill(Number(readFileSync(pidFile, 'utf8').trim()), 'SIGINT');
  return finished;
}

/** Every line is one readable log line: time, level, message, and no JSON braces. */
export function assertReadableLogLines(lines: readonly string[], output: string): void {
  for (const line of lines) {
    assert.match(line, /^\d\d:\d\d:\d\d\.\d{3} (INFO|WARN|ERROR) {1,2}\S/, output);
    assert.doesNotMatch(line, /[{}]/, output);
  }
}
