/**
 * `p2pcloud log …`: the append-only logs of a group space (docs/kv.md §7) through a running
 * gateway (docs/gateway.md §14). Each device appends to its own hash chain; `tail` prints every
 * writer's verified entries in the merged order, and warns about writers whose chains the
 * gateway found forked, with gaps, or rewritten.
 */
import type { Command } from 'commander';
import { connectGateway, gatewayClientOptions, type GatewayFlags } from '../gateway-client.js';
import { comparePositions, decodeCursor, encodeCursor, type Position } from '../../log/merge.js';
import { parseIntOption } from '../parse.js';
import {
  argumentBytes,
  fromWire,
  jsonBytes,
  shownBytes,
  spacePath,
  type DataFlags,
} from '../space-data.js';
import { stopSignal } from '../stop-signal.js';

type Flags = GatewayFlags & DataFlags;

interface LogEntryAnswer {
  writer: string;
  person: string;
  seq: number;
  at: number;
  hash: string;
  data: string;
  cursor: string;
}

interface Contradiction {
  seq: number;
  reason: string;
}

export interface LogProblemAnswer {
  writer: string;
  verified: number;
  gaps: { from: number; to: number }[];
  forks: Contradiction[];
  rewrites: Contradiction[];
}

interface LogPageAnswer {
  entries: LogEntryAnswer[];
  cursor: string | null;
  more: boolean;
  problems: LogProblemAnswer[];
}

/** Most entries one page asks for (the gateway's limit). */
const PAGE = 1000;
/** How long `tail --follow` waits between reads. */
const FOLLOW_MS = 1000;
/** How far before the last entry read `tail --follow` reads again, for entries that came late. */
const FOLLOW_LOOKBACK_MS = 10 * 60_000;

/**
 * Where a round of `tail --follow` reads from: `lookback` ms of merged time before the last
 * entry read (a cursor of that time), never before `floor` (the --after given), from the start
 * when nothing was read yet.
 */
export function lookbackCursor(
  last: string | undefined,
  floor: Position | undefined,
  lookback: number,
): string | undefined {
  const at = last === undefined ? undefined : decodeCursor(last);
  const start = floor === undefined ? undefined : encodeCursor(floor);
  if (!at) return start;
  const back: Position = { t: Math.max(0, at.t - lookback - 1), writer: at.writer, seq: 1 };
  if (back.t === 0) return start;
  return floor && comparePositions(back, floor) < 0 ? start : encodeCursor(back);
}

/** One warning line per fault of a writer's chain, naming the writer and the seq. */
export function problemLines(log: string, problems: readonly LogProblemAnswer[]): string[] {
  const lines: string[] = [];
  for (const p of problems) {
    const shown = `only its entries 1-${p.verified} are shown`;
    const intro = `warning: log ${log}: writer ${p.writer}`;
    for (const f of p.forks) {
      lines.push(`${intro} signed two entries at seq ${f.seq} (fork, ${f.reason}); ${shown}`);
    }
    for (const g of p.gaps) {
      const seqs = g.to > g.from ? `seq ${g.from}-${g.to}` : `seq ${g.from}`;
      lines.push(`${intro} has a gap: ${seqs} not received; ${shown}`);
    }
    for (const r of p.rewrites) {
      lines.push(
        `${intro} contradicts its signed head at seq ${r.seq} (rewrite, ${r.reason}); ${shown}`,
      );
    }
  }
  return lines;
}

/** `time writer seq data`, the data on one line (see shownBytes). */
export function entryLine(e: LogEntryAnswer, flags: DataFlags): string {
  return `${new Date(e.at).toISOString()} ${e.writer} ${e.seq} ${shownBytes(fromWire(e.data), flags)}`;
}

export function registerLogCommands(
  program: Command,
  out: (line: string) => void,
  err: (line: string) => void,
): void {
  const log = program
    .command('log')
    .description("append to and read a group space's append-only logs through a running gateway");
  const withData = (command: Command): Command =>
    gatewayClientOptions(command).option(
      '--base64',
      'data is given and printed as base64 (for bytes that are not text)',
    );

  withData(
    log
      .command('append')
      .description("append an entry to this device's chain of a log; prints its seq and hash")
      .argument('<space>', 'group id or name')
      .argument('<log>', 'the log name, 1 to 64 characters')
      .argument('<data>', 'the data, or - to read it from stdin (one trailing newline dropped)'),
  ).action(async (space: string, name: string, dataText: string, flags: Flags) => {
    const data = await argumentBytes('DATA', dataText, flags);
    const gateway = await connectGateway(flags);
    const path = await spacePath(gateway, space);
    const answer = await gateway.call<{ seq: number; hash: string }>(
      'POST',
      `${path}/logs/${encodeURIComponent(name)}`,
      { data_base64: data.toString('base64') },
    );
    out(flags.json ? JSON.stringify(answer) : `${answer.seq} ${answer.hash}`);
  });

  withData(
    log
      .command('tail')
      .description(
        'print a log\'s entries in merged order, one "time writer seq data" line each (\\, tab, newline and carriage return in data escaped as \\\\, \\t, \\n, \\r)',
      )
      .argument('<space>', 'group id or name')
      .argument('<log>', 'the log name')
      .option(
        '--limit <n>',
        'at most this many entries: the last n, or with --after the first n after it (default: all)',
      )
      .option('--after <cursor>', 'start after this position (a cursor from --json output)')
      .option(
        '--follow',
        'then keep printing new entries, reading once a second, until interrupted',
      ),
  ).action(
    async (
      space: string,
      name: string,
      flags: Flags & { limit?: string; after?: string; follow?: boolean },
    ) => {
      const limit =
        flags.limit === undefined
          ? undefined
          : parseIntOption('--limit', flags.limit, 1, Number.MAX_SAFE_INTEGER);
      const gateway = await connectGateway(flags);
      const path = `${await spacePath(gateway, space)}/logs/${encodeURIComponent(name)}`;
      let cursor = flags.after;
      const floor = flags.after === undefined ? undefined : decodeCursor(flags.after);
      const warned = new Set<string>();
      const seen = new Map<string, number>();

      const read = async (from: string | undefined, count: number): Promise<LogPageAnswer> => {
        const after = from === undefined ? '' : `&after=${encodeURIComponent(from)}`;
        const page = await gateway.call<LogPageAnswer>(
          'GET',
          `${path}?encoding=base64&limit=${Math.min(count, PAGE)}${after}`,
        );
        for (const line of problemLines(name, page.problems)) {
          if (warned.has(line)) continue;
          warned.add(line);
          err(line);
        }
        cursor = page.cursor ?? cursor;
        return page;
      };
      /** The entries not read before (a writer's entries come in seq order). */
      const fresh = (entries: readonly LogEntryAnswer[]): LogEntryAnswer[] =>
        entries.filter((e) => {
          if (e.seq <= (seen.get(e.writer) ?? 0)) return false;
          seen.set(e.writer, e.seq);
          return true;
        });
      const print = (e: LogEntryAnswer): void =>
        out(
          flags.json
            ? JSON.stringify({ ...e, data: jsonBytes(fromWire(e.data), flags) })
            : entryLine(e, flags),
        );

      if (limit !== undefined && flags.after === undefined) {
        // The last `limit` entries: read to the end, keeping no more than that many.
        let last: LogEntryAnswer[] = [];
        for (;;) {
          const page = await read(cursor, PAGE);
          last = [...last, ...fresh(page.entries)].slice(-limit);
          if (!page.more || page.entries.length === 0) break;
        }
        last.forEach(print);
      } else {
        let left = limit ?? Number.MAX_SAFE_INTEGER;
        while (left > 0) {
          const page = await read(cursor, left);
          fresh(page.entries).forEach(print);
          left -= page.entries.length;
          if (!page.more || page.entries.length === 0) break;
        }
      }
      if (!flags.follow) return;

      let stopped = false;
      let wake: (() => void) | undefined;
      void stopSignal().then(() => {
        stopped = true;
        wake?.();
      });
      while (!stopped) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, FOLLOW_MS);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        if (stopped) break;
        // From a while before the last entry read: an entry that reached the gateway late
        // (its writer was offline) may sort before it.
        let from = lookbackCursor(cursor, floor, FOLLOW_LOOKBACK_MS);
        for (;;) {
          const page = await read(from, PAGE);
          fresh(page.entries).forEach(print);
          from = page.cursor ?? from;
          if (!page.more || page.entries.length === 0 || stopped) break;
        }
      }
    },
  );
}
