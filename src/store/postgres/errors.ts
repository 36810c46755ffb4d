/**
 * What PostgreSQL's and the driver's failures mean for a node: the server being away is
 * `unavailable` (503, the client may retry), never a crash; the URL in messages never shows a
 * password. Pure.
 */
import { P2PError } from '../../errors.js';

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);

/** SQLSTATEs of a server that is shutting down, starting up or out of connections. */
const SERVER_AWAY = new Set(['57P01', '57P02', '57P03', '53300', '58030']);

const DRIVER_AWAY =
  /Connection terminated|connection error|not queryable|Client was closed|timeout exceeded when trying to connect|Connection ended/i;

/** Deadlock and serialization failures: the transaction may simply be run again. */
export function isRetryable(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return code === '40P01' || code === '40001';
}

export function isConnectionFailure(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code) || SERVER_AWAY.has(code) || code.startsWith('08')) return true;
  }
  return DRIVER_AWAY.test(error.message);
}

function reason(error: Error): string {
  const code = (error as { code?: unknown }).code;
  if (code === 'ECONNREFUSED') return 'connection refused (is PostgreSQL running there?)';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'host not found';
  if (code === '57P01' || code === '57P02') return 'the server is shutting down';
  if (code === '57P03') return 'the server is starting up';
  if (code === '53300') return 'too many connections';
  return error.message.replace(/postgres(ql)?:\/\/\S+/gi, '').trim() || 'connection failed';
}

/** The error a store method gives for `error`: connection failures become `unavailable`. */
export function storeError(error: unknown, where: string): unknown {
  if (error instanceof P2PError) return error;
  if (isConnectionFailure(error)) {
    return new P2PError(
      'unavailable',
      `PostgreSQL at ${where} is unavailable (${reason(error as Error)}); try again`,
    );
  }
  return error;
}

/** Why the store could not be opened, in one line for the operator. */
export function openError(error: unknown, where: string): P2PError {
  if (error instanceof P2PError) return error;
  const code = (error as { code?: unknown })?.code;
  if (isConnectionFailure(error)) {
    return new P2PError(
      'unavailable',
      `cannot reach PostgreSQL at ${where}: ${reason(error as Error)}`,
    );
  }
  if (code === '28P01' || code === '28000') {
    return new P2PError(
      'bad_config',
      `PostgreSQL at ${where} refused the login: ${(error as Error).message}`,
    );
  }
  if (code === '3D000') {
    return new P2PError('bad_config', `PostgreSQL at ${where}: ${(error as Error).message}`);
  }
  const message = error instanceof Error ? error.message : String(error);
  return new P2PError('bad_config', `cannot open the PostgreSQL store at ${where}: ${message}`);
}
