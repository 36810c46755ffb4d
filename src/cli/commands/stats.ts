import type { Command } from 'commander';
import { tableText } from '../../keys/keys.js';
import { summarizeStore } from '../../node/tools/store-summary.js';
import { formatBytes } from '../files/progress.js';
import { parseIntOption } from '../parse.js';
import { storeOptions, toolConfig, withStore, type StoreAccessOptions } from './store-access.js';

interface StatsOptions extends StoreAccessOptions {
  top?: string;
  json?: boolean;
}

const time = (ms: number | undefined): string =>
  ms === undefined ? '-' : new Date(ms).toISOString();

export function registerStatsCommand(program: Command, out: (line: string) => void): void {
  storeOptions(
    program
      .command('stats')
      .description(
        "a store's size: entries, bytes, tables (the largest first), disk use and time span",
      ),
  )
    .option('--top <n>', 'list this many tables, the largest by bytes first (default 10)')
    .option('--json', 'one JSON object')
    .action(async (options: StatsOptions) => {
      const top = options.top === undefined ? 10 : parseIntOption('--top', options.top, 0, 100_000);
      const config = await toolConfig(options);
      await withStore(config, { mustExist: true }, async (store) => {
        const s = await summarizeStore(store, top);
        if (options.json) {
          out(
            JSON.stringify({
              backend: s.backend,
              schema_version: s.schemaVersion ?? null,
              entries: s.entries,
              bytes: s.bytes,
              tables: s.tables,
              disk_bytes: s.diskBytes ?? null,
              oldest_created_at: s.oldestCreatedAt ?? null,
              newest_created_at: s.newestCreatedAt ?? null,
              top_tables: s.topTables.map((t) => ({
                table: tableText(t.table),
                entries: t.count,
                bytes: t.bytes,
              })),
            }),
          );
          return;
        }
        const rows: [string, string][] = [
          [
            'backend',
            `${s.backend}${s.schemaVersion !== undefined ? ` (schema ${s.schemaVersion})` : ''}`,
          ],
          ['entries', String(s.entries)],
          ['bytes', `${s.bytes} (${formatBytes(s.bytes)})`],
          ['tables', String(s.tables)],
          [
            'disk',
            s.diskBytes === undefined ? '-' : `${s.diskBytes} (${formatBytes(s.diskBytes)})`,
          ],
          ['oldest', time(s.oldestCreatedAt)],
          ['newest', time(s.newestCreatedAt)],
        ];
        for (const [name, value] of rows) out(`${name.padEnd(8)} ${value}`);
        if (s.topTables.length === 0) return;
        out('');
        const width = Math.max(5, ...s.topTables.map((t) => tableText(t.table).length));
        out(`${'TABLE'.padEnd(width)}  ${'ENTRIES'.padStart(10)}  ${'BYTES'.padStart(14)}`);
        for (const t of s.topTables) {
          out(
            `${tableText(t.table).padEnd(width)}  ${String(t.count).padStart(10)}  ${String(t.bytes).padStart(14)}`,
          );
        }
      });
    });
}
