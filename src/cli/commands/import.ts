import type { Command } from 'commander';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { pino } from 'pino';
import { P2PError } from '../../errors.js';
import { Ingestor } from '../../node/ingest.js';
import { NodeMetrics } from '../../node/metrics.js';
import { policyFromConfig } from '../../node/policy.js';
import { VerifyPool } from '../../node/verify-pool.js';
import { loadWritePolicy } from '../../node/write-policy/load.js';
import { readExport } from '../../node/tools/import-reader.js';
import { importEntries, type ImportReport } from '../../node/tools/importer.js';
import { progressOn, type Transfer } from '../files/progress.js';
import { fileReadReason } from '../inputs.js';
import { parseIntOption } from '../parse.js';
import { parseFormat } from './export.js';
import { storeOptions, toolConfig, withStore, type StoreAccessOptions } from './store-access.js';

interface ImportOptions extends StoreAccessOptions {
  format?: string;
  minPow?: string;
  batch?: string;
  strict?: boolean;
  json?: boolean;
}

/** The chunks of `source`, counted into `transfer` as they are read. */
async function* counted(source: AsyncIterable<Buffer>, transfer: Transfer): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    transfer.add(chunk.length);
    yield chunk;
  }
}

function reportLines(report: ImportReport, format: string): string[] {
  const where = format === 'jsonl' ? 'line' : 'frame';
  const lines = [
    `read ${report.read} ${format === 'jsonl' ? 'lines' : 'frames'}: ${report.stored} stored, ${report.duplicate} duplicate, ${report.rejected} rejected`,
  ];
  const codes = Object.entries(report.rejectedByCode);
  if (codes.length > 0) lines.push(`rejected: ${codes.map(([c, n]) => `${c} ${n}`).join(', ')}`);
  for (const r of report.firstRejects)
    lines.push(`${where} ${r.position}: ${r.code}: ${r.message}`);
  if (report.rejected > report.firstRejects.length)
    lines.push(`(${report.rejected - report.firstRejects.length} more rejected)`);
  return lines;
}

function reportJson(report: ImportReport, format: string): string {
  const where = format === 'jsonl' ? 'line' : 'frame';
  return JSON.stringify({
    format,
    read: report.read,
    stored: report.stored,
    duplicate: report.duplicate,
    rejected: report.rejected,
    rejected_by_code: report.rejectedByCode,
    first_rejects: report.firstRejects.map((r) => ({
      [where]: r.position,
      code: r.code,
      message: r.message,
    })),
    ...(report.fatal ? { fatal: report.fatal } : {}),
  });
}

export function registerImportCommand(program: Command, out: (line: string) => void): void {
  storeOptions(
    program
      .command('import')
      .description(
        'verify the entries of an export file as the node would and store them in its store (the node must be stopped); damaged lines are counted and reported, the rest imported',
      )
      .argument('<file>', 'the export file, or - to read stdin'),
  )
    .option('--format <format>', 'auto, jsonl or framed (default auto: from the first bytes)')
    .option(
      '--min-pow <bits>',
      'proof-of-work bits an entry of the largest size needs (default: as the node, from --config)',
    )
    .option('--batch <n>', 'entries per transaction (default 2000)')
    .option('--strict', 'exit non-zero when any entry or line was rejected')
    .option('--json', 'print the report as JSON')
    .action(async (file: string, options: ImportOptions) => {
      const format = parseFormat('--format', options.format, true);
      const batch =
        options.batch === undefined ? 2000 : parseIntOption('--batch', options.batch, 1, 100_000);
      let size = 0;
      if (file !== '-') {
        let info;
        try {
          info = await stat(file);
        } catch (error) {
          const why = fileReadReason(error as NodeJS.ErrnoException);
          throw new P2PError('bad_argument', `cannot read ${file}: ${why}`);
        }
        if (!info.isFile())
          throw new P2PError('bad_argument', `cannot read ${file}: it is not a file`);
        size = info.size;
      }
      const config = await toolConfig(options, {
        min_pow_bits:
          options.minPow === undefined
            ? undefined
            : parseIntOption('--min-pow', options.minPow, 0, 40),
      });
      const policy = policyFromConfig(config);
      const input = (
        file === '-' ? process.stdin : createReadStream(file, { highWaterMark: 1 << 20 })
      ) as AsyncIterable<Buffer>;
      // The bar follows the bytes of the file read (stdin has no size: no bar).
      const transfer = size > 0 ? progressOn().start('import', size) : undefined;
      const source = transfer ? counted(input, transfer) : input;
      let read: Awaited<ReturnType<typeof readExport>>;
      let report: ImportReport;
      try {
        read = await readExport(source, format, policy.maxEntryBytes);
        if (!read)
          throw new P2PError(
            'bad_argument',
            `${file} is neither a JSONL nor a framed export: give --format`,
          );
        const records = read.records;
        report = await withStore(config, { mustExist: false, lockAs: 'import' }, async (store) => {
          // The node's write policy judges imported entries as it judges puts.
          const writePolicy = config.write_policy
            ? await loadWritePolicy(config.write_policy, store, pino({ level: 'silent' }))
            : undefined;
          const pool = new VerifyPool(config.verify_threads ?? availableParallelism());
          try {
            const ingestor = new Ingestor(store, pool, policy, new NodeMetrics(), writePolicy);
            return await importEntries(records, ingestor, { batch, inFlight: pool.threads + 1 });
          } finally {
            await pool.close();
            await writePolicy?.close();
          }
        });
      } finally {
        transfer?.stop();
      }
      if (options.json) out(reportJson(report, read.format));
      else for (const line of reportLines(report, read.format)) out(line);
      if (report.fatal)
        throw new P2PError(
          'bad_request',
          `${file}: ${report.fatal} (${report.stored} entries before it were imported)`,
        );
      if (options.strict && report.rejected > 0)
        throw new P2PError('bad_request', `${file}: ${report.rejected} rejected (--strict)`);
    });
}
