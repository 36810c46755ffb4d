import { pino, type DestinationStream, type Logger } from 'pino';

const LEVEL_NAMES: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

/** Fields every line carries, shown by position (time, level, message) or not at all. */
const FRAME = new Set(['time', 'level', 'msg', 'pid', 'hostname', 'name']);

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

function fieldValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  // A serialised error: its message says what happened; the stack is in the JSON form.
  if (value && typeof value === 'object' && typeof (value as Error).message === 'string') {
    return JSON.stringify((value as Error).message);
  }
  return JSON.stringify(value) ?? String(value);
}

/**
 * One pino record as one line for a person: local time, level, message, then the other fields as
 * key=value. The same events and fields as the JSON form, so nothing is seen on a terminal that a
 * log file lacks.
 */
export function formatLogLine(record: Record<string, unknown>): string {
  const time = new Date(typeof record.time === 'number' ? record.time : Date.now());
  const clock = `${pad(time.getHours())}:${pad(time.getMinutes())}:${pad(time.getSeconds())}.${pad(time.getMilliseconds(), 3)}`;
  const level = (LEVEL_NAMES[record.level as number] ?? String(record.level)).padEnd(5);
  const fields = Object.entries(record)
    .filter(([key]) => !FRAME.has(key))
    .map(([key, value]) => `${key}=${fieldValue(value)}`);
  const message = typeof record.msg === 'string' ? record.msg : '';
  return [clock, level, message, ...fields].filter((part) => part !== '').join(' ');
}

/** Rewrites pino's JSON lines as readable ones before they reach a terminal. */
function readableStream(out: NodeJS.WriteStream): DestinationStream {
  return {
    write(chunk: string): void {
      for (const line of chunk.split('\n')) {
        if (line === '') continue;
        let record: Record<string, unknown>;
        try {
          record = JSON.parse(line) as Record<string, unknown>;
        } catch {
          out.write(`${line}\n`);
          continue;
        }
        out.write(`${formatLogLine(record)}\n`);
      }
    },
  };
}

/**
 * Log lines go to stderr, so stdout stays free for what a command prints. In a file or a pipe
 * they are pino's JSON lines; on a terminal each is one readable line instead (formatLogLine).
 */
export function createLogger(level: string, name = 'p2pcloud'): Logger {
  const options = { name, level, base: { pid: process.pid } };
  if (process.stderr.isTTY === true) return pino(options, readableStream(process.stderr));
  return pino(options, pino.destination({ dest: 2, sync: false }));
}
