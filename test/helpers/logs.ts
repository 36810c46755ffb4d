/** Reading what a process logged: its JSON log lines, and waiting for one. */
import assert from 'node:assert/strict';

export interface LogRecord {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** Every stderr line must be one JSON record: a plain line among them fails the test. */
export function records(stderr: string): LogRecord[] {
  return stderr
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => {
      try {
        return JSON.parse(line) as LogRecord;
      } catch {
        throw new Error(`a log line is not JSON: ${line}`);
      }
    });
}

export async function until(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** `<name> stopping` names the signal, at info, and `<name> stopped` with its duration follows. */
export function assertShutdownLogged(logged: readonly LogRecord[], name: string, stderr: string) {
  const stopping = logged.find((r) => r.msg === `${name} stopping`);
  assert.ok(stopping, stderr);
  assert.equal(stopping.signal, 'SIGTERM');
  assert.equal(stopping.level, 30);
  const stopped = logged.findIndex((r) => r.msg === `${name} stopped`);
  assert.ok(stopped > logged.indexOf(stopping), `no "${name} stopped" after "${name} stopping"`);
  assert.equal(typeof logged[stopped]!.ms, 'number');
}
