/**
 * How a server hands its logger to fastify. Fastify's own info lines are one "Server listening
 * at" per interface address, repeating what the process announces once, and per-request lines
 * would dominate the log at thousands of requests per second; its warnings and errors still
 * come through.
 */
import { LogController, type FastifyBaseLogger } from 'fastify';
import type { Logger } from 'pino';

export function fastifyLogOptions(log: Logger) {
  return {
    // pino's Logger and fastify's logger interface differ only in typing details.
    loggerInstance: (log.levelVal >= 40
      ? log
      : log.child({}, { level: 'warn' })) as unknown as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
  };
}
