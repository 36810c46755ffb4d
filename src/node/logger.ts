import { pino, type Logger } from 'pino';

/** JSON lines on stderr, so stdout stays free for what a command prints. */
export function createLogger(level: string, name = 'p2pcloud'): Logger {
  return pino(
    { name, level, base: { pid: process.pid } },
    pino.destination({ dest: 2, sync: false }),
  );
}
