import type { Command } from 'commander';
import { createWriteStream, existsSync, renameSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { P2PError } from '../../errors.js';
import { EXPORT_FORMATS, type ExportFormat } from '../../node/tools/export-format.js';
import { exportEntries, type ExportFilter } from '../../node/tools/export-writer.js';
import { formatBytes } from '../files/progress.js';
import { recipientKey, tableKeyTextOrFile } from '../inputs.js';
import { collect, parseSince } from '../parse.js';
import {
  countBar,
  storeOptions,
  toolConfig,
  withStore,
  type StoreAccessOptions,
} from './store-access.js';

interface ExportOptions extends StoreAccessOptions {
  table?: string[];
  recipient?: string[];
  since?: string;
  until?: string;
  format?: string;
  out?: string;
  json?: boolean;
}

export function parseFormat(
  option: string,
  text: string | undefined,
  auto: boolean,
): ExportFormat | 'auto' {
  if (text === undefined) return auto ? 'auto' : 'jsonl';
  if ((EXPORT_FORMATS as readonly string[]).includes(text)) return text as ExportFormat;
  if (auto && text === 'auto') return 'auto';
  throw new P2PError(
    'bad_argument',
    `${option}: expected ${auto ? 'auto, ' : ''}jsonl or framed, got "${text}"`,
  );
}

export function registerExportCommand(
  program: Command,
  out: (line: string) => void,
  err: (line: string) => void,
): void {
  storeOptions(
    program
      .command('export')
      .description(
        "write a store's entries (all, or those of the filters) to a file or stdout, as JSON lines or binary frames (docs/operations.md)",
      ),
  )
    .option(
      '--table <table>',
      'only this table: its public key (p2ptable1…) or key file (repeatable)',
      collect,
    )
    .option(
      '--recipient <key>',
      'only entries sealed to this identity or recipient key (repeatable)',
      collect,
    )
    .option('--since <time>', 'created at or after: ms, ISO date, or 15m/2h/7d ago')
    .option('--until <time>', 'created before: ms, ISO date, or 15m/2h/7d ago')
    .option(
      '--format <format>',
      'jsonl (one JSON object per line) or framed (binary) (default jsonl)',
    )
    .option('--out <file>', 'write to this new file (default: stdout)')
    .option('--json', 'print the summary as JSON')
    .action(async (options: ExportOptions) => {
      const format = parseFormat('--format', options.format, false) as ExportFormat;
      const filter: ExportFilter = {
        ...(options.table
          ? {
              tables: await Promise.all(options.table.map((t) => tableKeyTextOrFile('--table', t))),
            }
          : {}),
        ...(options.recipient
          ? { recipients: options.recipient.map((r) => recipientKey('--recipient', r)) }
          : {}),
        ...(options.since ? { since: parseSince('--since', options.since) } : {}),
        ...(options.until ? { until: parseSince('--until', options.until) } : {}),
      };
      if (filter.since !== undefined && filter.until !== undefined && filter.until <= filter.since)
        throw new P2PError('bad_argument', '--until: must be later than --since');
      const toFile = options.out !== undefined && options.out !== '-';
      if (toFile && existsSync(options.out!))
        throw new P2PError(
          'file_exists',
          `--out: ${options.out} exists: choose another name or remove it`,
        );
      const config = await toolConfig(options);
      await withStore(config, { mustExist: true }, async (store) => {
        // The file appears under its name only once it is complete.
        const partial = toFile ? `${options.out}.partial-${process.pid}` : undefined;
        const sink = partial
          ? createWriteStream(partial, { flags: 'wx', mode: 0o600 })
          : process.stdout;
        const total = filter.tables
          ? (await store.tableStats(filter.tables)).reduce((n, t) => n + t.count, 0)
          : (await store.stats()).entries;
        const bar = countBar('export', total);
        let summary;
        try {
          summary = await exportEntries(store, filter, format, sink, {
            onProgress: (p) => bar.update(p.entries),
          });
          if (partial) {
            sink.end();
            await once(sink, 'close');
            renameSync(partial, options.out!);
          }
        } catch (error) {
          if (partial) {
            sink.destroy();
            rmSync(partial, { force: true });
          }
          if ((error as NodeJS.ErrnoException).code === 'EPIPE')
            throw new P2PError(
              'aborted',
              'stdout was closed before the export ended: what it received is incomplete',
            );
          throw error;
        } finally {
          bar.stop();
        }
        const line = options.json
          ? JSON.stringify({
              format,
              entries: summary.entries,
              bytes: summary.bytes,
              ...(toFile ? { file: options.out } : {}),
            })
          : `exported ${summary.entries} entries (${formatBytes(summary.bytes)}) as ${format}${toFile ? ` to ${options.out}` : ''}`;
        // The entries themselves go to stdout when no file is named: the summary goes aside.
        if (toFile) out(line);
        else err(line);
      });
    });
}
