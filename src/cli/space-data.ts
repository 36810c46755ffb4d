/**
 * What the `kv` and `log` commands share: the group space a user names, bytes given on the
 * command line or on stdin, and bytes shown on one line of output.
 */
import { P2PError } from '../errors.js';
import type { GatewayClient } from './gateway-client.js';
import { groupId } from './commands/group.js';

/** Options of every kv and log command besides the gateway's. */
export interface DataFlags {
  base64?: boolean;
}

/** The API path of a group space: SPACE is a group id, or the name of one of the caller's groups. */
export async function spacePath(gateway: GatewayClient, given: string): Promise<string> {
  return `/api/spaces/${await groupId(gateway, given)}`;
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * The bytes of a value argument: `-` reads stdin, without one trailing newline (the one `echo`
 * and editors add, as `p2pcloud put -` does); with --base64 the text is base64.
 */
export async function argumentBytes(what: string, text: string, flags: DataFlags): Promise<Buffer> {
  if (text === '-') {
    const data = await readStdin();
    if (data.at(-1) !== 0x0a) return data;
    return data.subarray(0, data.at(-2) === 0x0d ? -2 : -1);
  }
  return textBytes(what, text, flags);
}

/** A key (or value) given as text: UTF-8, or with --base64 canonical base64. */
export function textBytes(what: string, text: string, flags: DataFlags): Buffer {
  if (!flags.base64) return Buffer.from(text, 'utf8');
  const bytes = Buffer.from(text, 'base64');
  if (bytes.toString('base64') !== text) {
    throw new P2PError(
      'bad_argument',
      `${what}: ${JSON.stringify(text.slice(0, 40))} is not base64`,
    );
  }
  return bytes;
}

/**
 * Bytes shown on one line: base64 with --base64, otherwise UTF-8 text with a backslash, tab,
 * line feed and carriage return written \\, \t, \n and \r, so that every entry stays one line
 * and the line can be split at tabs.
 */
export function shownBytes(bytes: Buffer, flags: DataFlags): string {
  if (flags.base64) return bytes.toString('base64');
  return bytes.toString('utf8').replace(/[\\\t\n\r]/g, (c) => ESCAPES[c]!);
}

const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** Bytes in a --json line: text, or base64 with --base64. */
export function jsonBytes(bytes: Buffer, flags: DataFlags): string {
  return flags.base64 ? bytes.toString('base64') : bytes.toString('utf8');
}

/** Base64 text from the gateway (asked for with encoding=base64) as bytes. */
export function fromWire(text: string): Buffer {
  return Buffer.from(text, 'base64');
}
