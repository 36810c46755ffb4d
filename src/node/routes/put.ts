import type { FastifyInstance } from 'fastify';
import { ERROR_CODES, P2PError } from '../../errors.js';
import { fromBase64 } from '../../encoding/bytes.js';
import { ENTRIES_MEDIA_TYPE, decodeFrames } from '../../entry/framing.js';
import { expectMediaType } from '../../http/fastify-errors.js';
import type { NodeContext } from '../context.js';
import type { IngestItem, IngestResult } from '../ingest.js';
import { TableLimit } from '../limits.js';
import { isLoopbackAddress } from '../../http/rate-limit.js';
import { TICKETS_HEADER, type Admission } from '../tickets/gate.js';

/** Turns a JSON body ({ entry } or { entries: [...] }) into ingest items. */
export function itemsFromJson(body: unknown, maxBatch: number): IngestItem[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new P2PError('bad_request', 'body must be an object with "entry" or "entries"');
  }
  const record = body as Record<string, unknown>;
  const keys = Object.keys(record);
  let texts: unknown[];
  if (keys.length === 1 && keys[0] === 'entry') texts = [record.entry];
  else if (keys.length === 1 && keys[0] === 'entries' && Array.isArray(record.entries)) {
    texts = record.entries;
  } else {
    throw new P2PError(
      'bad_request',
      'body must have exactly one of "entry" (string) or "entries" (array)',
    );
  }
  if (texts.length > maxBatch) {
    throw new P2PError('bad_request', `at most ${maxBatch} entries per request`);
  }
  return texts.map((text): IngestItem => {
    const bytes = typeof text === 'string' ? fromBase64(text) : undefined;
    if (!bytes) {
      return {
        rejection: {
          code: 'bad_base64',
          message: 'entry must be a base64 string of its canonical bytes',
        },
      };
    }
    return { bytes };
  });
}

export function summarize(results: readonly IngestResult[]): {
  status: number;
  body: Record<string, unknown>;
} {
  let stored = 0;
  let duplicates = 0;
  let rejected = 0;
  for (const r of results) {
    if (r.status === 'stored') stored++;
    else if (r.status === 'duplicate') duplicates++;
    else rejected++;
  }
  const body: Record<string, unknown> = { stored, duplicates, rejected, results };
  // Nothing accepted: answer with the reason, so a single bad entry gets a plain 4xx.
  if (results.length > 0 && rejected === results.length) {
    const first = results[0]!;
    const same = results.every((r) => r.code === first.code);
    const code = same && first.code ? first.code : 'bad_request';
    const message = same && first.message ? first.message : 'every entry was rejected; see results';
    return { status: ERROR_CODES[code].status, body: { error: { code, message }, ...body } };
  }
  return { status: 200, body };
}

/** How many results carry each rejection code, codes in alphabetical order; {} if none. */
export function rejectedCodes(results: readonly IngestResult[]): Record<string, number> {
  const counts = new Map<string, number>();
  for (const r of results) if (r.code) counts.set(r.code, (counts.get(r.code) ?? 0) + 1);
  return Object.fromEntries([...counts].sort(([a], [b]) => (a < b ? -1 : 1)));
}

/**
 * Checks a put's tickets before anything else (docs/tickets.md §8): a put whose tickets are
 * refused is refused as a whole, with the ticket's code, before any entry is verified.
 */
async function admitTickets(
  ctx: NodeContext,
  header: string | string[],
  items: readonly IngestItem[],
): Promise<Admission> {
  if (!ctx.tickets) {
    throw new P2PError('tickets_not_accepted', 'this node accepts no tickets: send proof of work');
  }
  const texts = ctx.tickets.parseHeader(header);
  // Every byte sent is paid for, whether or not its entry is then stored.
  const bytes = items.reduce((sum, item) => sum + ('bytes' in item ? item.bytes.length : 0), 0);
  return ctx.tickets.admit(texts, bytes, Date.now());
}

/**
 * A put refused for its tickets is answered like any refused batch: every entry rejected with
 * the ticket's code, so that clients read one shape whatever went wrong.
 */
async function refusedForTickets(
  items: readonly IngestItem[],
  run: () => Promise<IngestResult[]>,
): Promise<IngestResult[]> {
  try {
    return await run();
  } catch (error) {
    if (!(error instanceof P2PError) || !/^tickets?_/.test(error.code)) throw error;
    return items.map(() => ({ status: 'rejected', code: error.code, message: error.message }));
  }
}

/** Ingest without proof of work; the tickets are spent only if some entry is then stored. */
async function ingestWithTickets(
  ctx: NodeContext,
  admission: Admission,
  items: readonly IngestItem[],
): Promise<IngestResult[]> {
  const now = Date.now();
  const checked = await ctx.ingestor.check(items, 'put', now, true);
  if (checked.valid.length > 0) {
    try {
      await ctx.tickets!.spend(admission, now);
    } catch (error) {
      await ctx.ingestor.discard(checked);
      throw error;
    }
  }
  const [results] = await ctx.ingestor.store([checked]);
  return results!;
}

export function registerPutRoute(app: FastifyInstance, ctx: NodeContext): void {
  const tableLimit = new TableLimit(ctx.config.limits);
  app.post('/put', async (request, reply) => {
    ctx.metrics.putRequests += 1;
    expectMediaType(request, ['application/json', ENTRIES_MEDIA_TYPE, 'application/octet-stream']);
    const contentType = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    let items: IngestItem[];
    if (contentType === ENTRIES_MEDIA_TYPE || contentType === 'application/octet-stream') {
      const frames = decodeFrames(request.body as Buffer, {
        maxFrameBytes: ctx.config.max_body_bytes,
        maxFrames: ctx.config.max_batch_entries,
      });
      items = frames.map((bytes) => ({ bytes }));
    } else {
      items = itemsFromJson(request.body, ctx.config.max_batch_entries);
    }
    const source = request.headers['p2pcloud-push'] === '1' ? 'push' : 'put';
    const limited =
      tableLimit.active &&
      (ctx.config.limits.loopback || !isLoopbackAddress(request.socket.remoteAddress));
    const ticketHeader = request.headers[TICKETS_HEADER];
    const screened = limited ? tableLimit.screen(items) : undefined;
    const results =
      ticketHeader === undefined
        ? await ctx.ingestor.ingest(screened?.items ?? items, source)
        : await refusedForTickets(items, async () =>
            ingestWithTickets(
              ctx,
              await admitTickets(ctx, ticketHeader, items),
              screened?.items ?? items,
            ),
          );
    for (const observe of ctx.putObservers) observe(request, screened?.items ?? items, results);
    if (screened) {
      tableLimit.charge(items, results);
      if (screened.retryAfterSeconds !== undefined) {
        void reply.header('retry-after', String(screened.retryAfterSeconds));
      }
    }
    const { status, body } = summarize(results);
    // Bulk writers (peers pushing, loaders) may ask for counts only: per-entry results of a
    // large batch can outweigh the entries' ids many times over. Error answers too, so that a
    // batch refused as a whole costs no more to answer than one that was accepted.
    if (request.headers['p2pcloud-results'] === 'summary') {
      delete body.results;
      body.rejected_codes = rejectedCodes(results);
    }
    if ((body.stored as number) > 0)
      ctx.metrics.note(
        'put',
        `stored ${String(body.stored)} ${body.stored === 1 ? 'entry' : 'entries'}`,
      );
    if ((body.rejected as number) > 0) {
      const codes = [...new Set(results.filter((r) => r.code).map((r) => r.code))].join(', ');
      ctx.metrics.note(
        'reject',
        `rejected ${String(body.rejected)} ${body.rejected === 1 ? 'entry' : 'entries'} (${codes})`,
      );
    }
    return reply.code(status).send(body);
  });
}
