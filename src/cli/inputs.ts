/**
 * What the user hands the command: node URLs, key files and key texts. Each is checked here and
 * every failure is a P2PError whose message names the option, the value and what was expected,
 * in the user's terms: the key modules' own messages speak of encodings and schemas.
 */
import { readFile } from 'node:fs/promises';
import { existsSync, statSync } from 'node:fs';
import { P2PError } from '../errors.js';
import { parsePublicKey, KEY_TEXT_PREFIX } from '../encoding/key-text.js';
import { parseIdentity, parseTableKey, type Identity, type TableKey } from '../keys/keys.js';
import { isOnionUrl, parseProxyUrl } from '../client/proxy.js';

const KEY_FILE_KIND = { identity: 'p2pcloud-identity', table: 'p2pcloud-table' } as const;
type KeyFileKind = keyof typeof KEY_FILE_KIND;

/** How each kind of key file is made, for messages that point the user the right way. */
const MADE_BY: Record<KeyFileKind, string> = {
  identity: 'an identity key file (made by p2pcloud keygen)',
  table: 'a table key file (made by p2pcloud table create)',
};

/** `option` is empty for a positional argument: the message then starts with the value. */
function bad(option: string, message: string): P2PError {
  return new P2PError('bad_argument', option ? `${option}: ${message}` : message);
}

/** Long values (key texts) are cut in messages: the start is enough to recognise them. */
function shown(value: string): string {
  return JSON.stringify(value.length > 24 ? `${value.slice(0, 20)}…` : value);
}

/** Checks every --node value; one wording for every kind of bad URL. */
export function nodeUrls(option: string, values: readonly string[]): string[] {
  return values.map((value) => {
    let url: URL | undefined;
    try {
      url = new URL(value);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname) {
      throw bad(option, `${shown(value)} is not a node URL (expected http://HOST:PORT)`);
    }
    return value.replace(/\/+$/, '');
  });
}

/** The help text of every --proxy flag. */
export const PROXY_HELP =
  'socks5h://HOST:PORT: reach the nodes only through this SOCKS5 proxy, which resolves their names (Tor: socks5h://127.0.0.1:9050); needed for .onion nodes';

/**
 * The --proxy value (normalised), or undefined; refuses .onion URLs among `urls` (given with
 * `option`) when there is no proxy, before anything is resolved or dialled.
 */
export function proxyFor(
  proxy: string | undefined,
  option: string,
  urls: readonly string[],
): string | undefined {
  if (proxy !== undefined) return parseProxyUrl('--proxy', proxy);
  const onion = urls.find(isOnionUrl);
  if (onion !== undefined) {
    throw new P2PError(
      'proxy_required',
      `${option}: ${onion} is an onion address, reached only through a proxy: add --proxy socks5h://HOST:PORT`,
    );
  }
  return undefined;
}

export function fileReadReason(error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'it is a directory';
    default:
      return error.code ?? error.message;
  }
}

/** Reads a file the user named; one wording for every file that cannot be read. */
export async function readUserFile(option: string, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw bad(option, `cannot read ${path}: ${fileReadReason(error as NodeJS.ErrnoException)}`);
  }
}

/** Which kind of key file a text is, or why it is none. */
function keyFileKind(option: string, path: string, text: string): KeyFileKind {
  let kind: unknown;
  try {
    kind = (JSON.parse(text) as { kind?: unknown } | null)?.kind;
  } catch {
    throw bad(option, `${path} is not a p2pcloud key file (it is not JSON)`);
  }
  if (kind === KEY_FILE_KIND.identity) return 'identity';
  if (kind === KEY_FILE_KIND.table) return 'table';
  throw bad(option, `${path} is not a p2pcloud key file (no "kind" of key)`);
}

/** Parses a key file of the given kind; the parsers' schema reports become one plain sentence. */
function parseKeyFile<K extends KeyFileKind>(
  option: string,
  path: string,
  text: string,
  want: K,
): K extends 'identity' ? Identity : TableKey {
  const kind = keyFileKind(option, path, text);
  if (kind !== want) {
    throw bad(option, `${path} is ${MADE_BY[kind]}; ${option} wants ${MADE_BY[want]}`);
  }
  try {
    return (want === 'identity' ? parseIdentity(text) : parseTableKey(text)) as never;
  } catch (error) {
    if (!(error instanceof P2PError)) throw error;
    const why = /damaged/.test(error.message)
      ? 'its public key does not match its secret key'
      : 'a field is missing or malformed';
    throw bad(option, `${path} is a damaged ${want} key file: ${why}`);
  }
}

/** Which kind of key file a path holds, for commands that take either. */
export async function loadAnyKeyFile(
  option: string,
  path: string,
): Promise<{ kind: 'identity'; key: Identity } | { kind: 'table'; key: TableKey }> {
  const text = await readUserFile(option, path);
  const kind = keyFileKind(option, path, text);
  return kind === 'identity'
    ? { kind, key: parseKeyFile(option, path, text, 'identity') }
    : { kind, key: parseKeyFile(option, path, text, 'table') };
}

export async function loadIdentityFile(option: string, path: string): Promise<Identity> {
  return parseKeyFile(option, path, await readUserFile(option, path), 'identity');
}

export async function loadTableKeyFile(option: string, path: string): Promise<TableKey> {
  return parseKeyFile(option, path, await readUserFile(option, path), 'table');
}

function isFile(path: string): boolean {
  try {
    return existsSync(path) && statSync(path).isFile();
  } catch {
    return false;
  }
}

const TEXT_NAMES = {
  identity: 'an identity text (p2pid1…)',
  recipient: 'a recipient key (p2prcpt1…)',
  table: "a table's public key (p2ptable1…)",
} as const;

/**
 * Parses a public key given as a key text (or 64 hex characters). A wrong kind, a typo caught by
 * the checksum and a file name given instead of a key each get their own message.
 */
function publicKeyText(option: string, text: string, want: 'table' | 'recipient'): Buffer {
  const wanted =
    want === 'table'
      ? TEXT_NAMES.table
      : `${TEXT_NAMES.identity}, ${TEXT_NAMES.recipient} or 64 hex characters`;
  try {
    return parsePublicKey(text, want);
  } catch (error) {
    if (!(error instanceof P2PError)) throw error;
  }
  const trimmed = text.trim().toLowerCase();
  const kind = (Object.keys(KEY_TEXT_PREFIX) as (keyof typeof KEY_TEXT_PREFIX)[]).find((k) =>
    trimmed.startsWith(`${KEY_TEXT_PREFIX[k]}1`),
  );
  if (kind && (want === 'table') !== (kind === 'table')) {
    throw bad(option, `${shown(text)} is ${TEXT_NAMES[kind]}; ${option} wants ${wanted}`);
  }
  if (kind) {
    throw bad(
      option,
      `${shown(text)} is not a valid ${kind} key text: its checksum fails (a typo, or part of it is missing)`,
    );
  }
  if (isFile(text)) {
    throw bad(
      option,
      `${text} is a file; ${option} wants the key's public text, which p2pcloud pubkey ${text} prints`,
    );
  }
  throw bad(option, `${shown(text)} is not a key: ${option} wants ${wanted}`);
}

/** A --to value: the recipient's X25519 public key. */
export function recipientKey(option: string, text: string): Buffer {
  return publicKeyText(option, text, 'recipient');
}

/**
 * A table to read: its public key text, or (for convenience, since `put` takes one) a table
 * key file, of which only the public key is used.
 */
export async function tableKeyTextOrFile(option: string, value: string): Promise<Buffer> {
  const looksLikeText = Object.values(KEY_TEXT_PREFIX).some((p) =>
    value.trim().toLowerCase().startsWith(`${p}1`),
  );
  if (!looksLikeText && isFile(value)) {
    const table = await loadTableKeyFile(option, value);
    return Buffer.from(table.signing.publicKey);
  }
  return publicKeyText(option, value, 'table');
}
