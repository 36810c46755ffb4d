/**
 * `p2pcloud kv …`: the key-value store of a group space (docs/kv.md) through a running gateway
 * (docs/gateway.md §14). Reads come from the gateway's replica; a write is kept there at once
 * and reaches the nodes when one answers. Keys and values are UTF-8 text, or base64 with
 * --base64; the commands ask the gateway for base64 themselves so that any bytes print exactly.
 */
import type { Command } from 'commander';
import { P2PError } from '../../errors.js';
import {
  connectGateway,
  gatewayClientOptions,
  type GatewayClient,
  type GatewayFlags,
} from '../gateway-client.js';
import { EventStreamReader } from '../event-stream.js';
import { parseIntOption } from '../parse.js';
import {
  argumentBytes,
  fromWire,
  jsonBytes,
  shownBytes,
  spacePath,
  textBytes,
  type DataFlags,
} from '../space-data.js';
import { stopSignal } from '../stop-signal.js';

type Flags = GatewayFlags & DataFlags;

interface Version {
  value: string | null;
  hlc: string;
  signer: string;
  person: string;
  batch: number;
}

interface ValueAnswer extends Version {
  key: string;
  conflicts: Version[];
}

interface RangeAnswer {
  entries: { key: string; value?: string }[];
  next: string | null;
}

/** Most entries one range request asks for (the gateway's limit). */
const RANGE_PAGE = 1000;

function b64(bytes: Buffer): string {
  return encodeURIComponent(bytes.toString('base64'));
}

/** The keys with `prefix` end before this key; undefined when every longer key has it. */
export function prefixEnd(prefix: Buffer): Buffer | undefined {
  const end = Buffer.from(prefix);
  let i = end.length - 1;
  while (i >= 0 && end[i] === 0xff) i--;
  if (i < 0) return undefined;
  end[i] = end[i]! + 1;
  return end.subarray(0, i + 1);
}

/**
 * The query of each page of a listing. The range is given as bounds, not as `prefix`, so that
 * the bound past the previous page (gt, or lt in reverse) is the only one that moves.
 */
export function rangeQuery(options: {
  prefix?: Buffer;
  after?: Buffer;
  reverse: boolean;
  limit: number;
}): string {
  const parts = ['encoding=base64', `limit=${options.limit}`];
  const start = options.prefix && options.prefix.length > 0 ? options.prefix : undefined;
  const end = options.prefix ? prefixEnd(options.prefix) : undefined;
  if (options.reverse) {
    parts.push('reverse=true');
    if (start) parts.push(`gte=${b64(start)}`);
    if (options.after) parts.push(`lt=${b64(options.after)}`);
    else if (end) parts.push(`lt=${b64(end)}`);
  } else {
    if (options.after) parts.push(`gt=${b64(options.after)}`);
    else if (start) parts.push(`gte=${b64(start)}`);
    if (end) parts.push(`lt=${b64(end)}`);
  }
  return parts.join('&');
}

async function readValue(
  gateway: GatewayClient,
  path: string,
  key: Buffer,
  shownKey: string,
): Promise<ValueAnswer> {
  try {
    return await gateway.call<ValueAnswer>(
      'GET',
      `${path}/kv/value?encoding=base64&key=${b64(key)}`,
    );
  } catch (error) {
    if (error instanceof P2PError && error.code === 'no_such_key') {
      throw new P2PError(
        'no_such_key',
        `no such key ${JSON.stringify(shownKey)} in ${path.slice('/api/spaces/'.length)} (no_such_key)`,
      );
    }
    throw error;
  }
}

/** A change event's data, checked: the gateway's answer is not trusted blindly. */
function changeOf(data: string): { origin: string; keys: string[] } {
  let change: unknown;
  try {
    change = JSON.parse(data);
  } catch {
    change = undefined;
  }
  const { origin, keys } = (change ?? {}) as { origin?: unknown; keys?: unknown };
  if (
    typeof origin !== 'string' ||
    !Array.isArray(keys) ||
    !keys.every((k): k is string => typeof k === 'string')
  ) {
    throw new P2PError('node_error', 'the gateway sent a change that is not as specified');
  }
  return { origin, keys };
}

function versionJson(v: Version, flags: DataFlags): Record<string, unknown> {
  return { ...v, value: v.value === null ? null : jsonBytes(fromWire(v.value), flags) };
}

export function registerKvCommands(
  program: Command,
  out: (line: string) => void,
  err: (line: string) => void,
): void {
  const kv = program
    .command('kv')
    .description("read and write a group space's key-value store through a running gateway");
  const withData = (command: Command): Command =>
    gatewayClientOptions(command).option(
      '--base64',
      'keys and values are given and printed as base64 (for bytes that are not text)',
    );

  withData(
    kv
      .command('get')
      .description("print a key's value (with --json: who wrote it, when, and its conflicts)")
      .argument('<space>', 'group id or name')
      .argument('<key>', 'the key'),
  ).action(async (space: string, keyText: string, flags: Flags) => {
    const key = textBytes('KEY', keyText, flags);
    const gateway = await connectGateway(flags);
    const path = await spacePath(gateway, space);
    const answer = await readValue(gateway, path, key, keyText);
    const value = fromWire(answer.value ?? '');
    if (flags.json) {
      out(
        JSON.stringify({
          ...versionJson(answer, flags),
          key: jsonBytes(key, flags),
          conflicts: answer.conflicts.map((v) => versionJson(v, flags)),
        }),
      );
    } else out(flags.base64 ? value.toString('base64') : value.toString('utf8'));
    const n = answer.conflicts.length;
    if (n > 0 && !flags.json) {
      err(
        `note: ${n + 1} concurrent versions of ${JSON.stringify(keyText)} exist; this one won, --json lists the other${n > 1 ? 's' : ''}`,
      );
    }
  });

  withData(
    kv
      .command('put')
      .description('set a key to a value; prints the hash of the batch written')
      .argument('<space>', 'group id or name')
      .argument('<key>', 'the key')
      .argument('<value>', 'the value, or - to read it from stdin (one trailing newline dropped)'),
  ).action(async (space: string, keyText: string, valueText: string, flags: Flags) => {
    const key = textBytes('KEY', keyText, flags);
    const value = await argumentBytes('VALUE', valueText, flags);
    const gateway = await connectGateway(flags);
    const path = await spacePath(gateway, space);
    const answer = await gateway.call<{ batches: string[]; pending: number }>(
      'PUT',
      `${path}/kv/value`,
      { key: key.toString('base64'), value: value.toString('base64'), encoding: 'base64' },
    );
    if (flags.json) out(JSON.stringify(answer));
    else for (const hash of answer.batches) out(hash);
  });

  withData(
    kv
      .command('del')
      .description('delete a key (a key that is absent stays absent); prints the batch hash')
      .argument('<space>', 'group id or name')
      .argument('<key>', 'the key'),
  ).action(async (space: string, keyText: string, flags: Flags) => {
    const key = textBytes('KEY', keyText, flags);
    const gateway = await connectGateway(flags);
    const path = await spacePath(gateway, space);
    const answer = await gateway.call<{ batches: string[]; pending: number }>(
      'DELETE',
      `${path}/kv/value?encoding=base64&key=${b64(key)}`,
    );
    if (flags.json) out(JSON.stringify(answer));
    else for (const hash of answer.batches) out(hash);
  });

  withData(
    kv
      .command('ls')
      .description(
        'list keys and values in key order: one "key<TAB>value" line each (\\, tab, newline and carriage return escaped as \\\\, \\t, \\n, \\r)',
      )
      .argument('<space>', 'group id or name')
      .option('--prefix <prefix>', 'only keys that start with this')
      .option('--limit <n>', 'at most this many entries (default: all)')
      .option('--reverse', 'in reverse key order'),
  ).action(
    async (
      space: string,
      flags: Flags & { prefix?: string; limit?: string; reverse?: boolean },
    ) => {
      const prefix =
        flags.prefix === undefined ? undefined : textBytes('--prefix', flags.prefix, flags);
      let left =
        flags.limit === undefined
          ? Number.MAX_SAFE_INTEGER
          : parseIntOption('--limit', flags.limit, 1, Number.MAX_SAFE_INTEGER);
      const gateway = await connectGateway(flags);
      const path = await spacePath(gateway, space);
      let after: Buffer | undefined;
      while (left > 0) {
        const query = rangeQuery({
          ...(prefix ? { prefix } : {}),
          ...(after ? { after } : {}),
          reverse: flags.reverse === true,
          limit: Math.min(left, RANGE_PAGE),
        });
        const page = await gateway.call<RangeAnswer>('GET', `${path}/kv/range?${query}`);
        for (const entry of page.entries) {
          const key = fromWire(entry.key);
          const value = fromWire(entry.value ?? '');
          out(
            flags.json
              ? JSON.stringify({ key: jsonBytes(key, flags), value: jsonBytes(value, flags) })
              : `${shownBytes(key, flags)}\t${shownBytes(value, flags)}`,
          );
        }
        left -= page.entries.length;
        if (page.next === null || page.entries.length === 0) break;
        after = fromWire(page.next);
      }
    },
  );

  // The watch route takes no query (its `encoding` is refused): keys arrive as UTF-8 text.
  gatewayClientOptions(
    kv
      .command('watch')
      .description(
        'print one line per change until interrupted: local or remote, then the keys changed (tab-separated, escaped as in ls)',
      )
      .argument('<space>', 'group id or name'),
  ).action(async (space: string, flags: GatewayFlags) => {
    const gateway = await connectGateway(flags);
    const path = await spacePath(gateway, space);
    const stop = new AbortController();
    let interrupted = false;
    void stopSignal().then(() => {
      interrupted = true;
      stop.abort();
    });
    const response = await gateway.stream(`${path}/kv/watch`, stop.signal);
    err(`watching ${path.slice('/api/spaces/'.length)}; interrupt (Ctrl-C) to stop`);
    const reader = new EventStreamReader();
    try {
      for await (const chunk of response) {
        for (const event of reader.push(chunk as Buffer)) {
          if (event.event !== 'change') continue;
          const change = changeOf(event.data);
          out(
            flags.json
              ? JSON.stringify(change)
              : [change.origin, ...change.keys.map((k) => shownBytes(Buffer.from(k), {}))].join(
                  '\t',
                ),
          );
        }
      }
    } catch (error) {
      if (!interrupted) throw error;
    }
    if (!interrupted) {
      throw new P2PError(
        'node_unreachable',
        `the gateway at ${gateway.url} ended the watch (did it stop?)`,
      );
    }
  });
}
