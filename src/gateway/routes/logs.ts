/**
 * The append-only logs of a group space (docs/gateway.md §14, docs/kv.md §7). Each device
 * appends to its own hash-chained log; a read returns every writer's verified entries in the
 * merged order, a page at a time from a cursor, with the forks, gaps and rewrites found.
 *
 *   GET  /api/spaces/:space/logs                    names of the logs held
 *   POST /api/spaces/:space/logs/:log               { data } or { data_base64 } → the new entry
 *   GET  /api/spaces/:space/logs/:log?after=C&limit=N   a page of the merged view
 *   POST /api/spaces/:space/logs/:log/head          a signed head of this device's chain
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { P2PError } from '../../errors.js';
import { fromBase64, toBase64 } from '../../encoding/bytes.js';
import type { Statement } from '../../identity/statement.js';
import { encodeCursor, MAX_PAGE } from '../../log/merge.js';
import type { WriterChain } from '../../log/chain.js';
import { actorOf } from '../actor.js';
import type { Gateway } from '../gateway.js';
import type { OpenSpace } from '../kv/hub.js';
import { checkLogName } from '../kv/log-book.js';
import { parseBody } from './body.js';

const appendSchema = z.union([
  z.object({ data: z.string() }).strict(),
  z.object({ data_base64: z.string() }).strict(),
]);

function problems(chain: WriterChain): Record<string, unknown> | undefined {
  if (chain.forks.length + chain.gaps.length + chain.rewrites.length === 0) return undefined;
  const evidence = (s: Statement) => ({ hash: s.hash, at: s.at });
  return {
    writer: chain.writer,
    verified: chain.verified.length,
    gaps: chain.gaps,
    forks: chain.forks.map((f) => ({
      seq: f.seq,
      reason: f.reason,
      first: evidence(f.first),
      second: evidence(f.second),
    })),
    rewrites: chain.rewrites.map((r) => ({
      seq: r.seq,
      reason: r.reason,
      first: evidence(r.first),
      second: evidence(r.second),
    })),
  };
}

export function registerLogRoutes(app: FastifyInstance, gateway: Gateway): void {
  async function open(request: FastifyRequest): Promise<OpenSpace> {
    const actor = actorOf(gateway, request);
    const { space } = request.params as { space: string };
    return gateway.kv.space(actor, gateway.space(actor, space).id);
  }

  app.get('/api/spaces/:space/logs', async (request) => {
    const space = await open(request);
    return { logs: space.logs.names() };
  });

  app.post('/api/spaces/:space/logs/:log', async (request) => {
    const { log } = request.params as { log: string };
    checkLogName(log);
    const body = parseBody(appendSchema, request.body);
    let data: Buffer;
    if ('data' in body) data = Buffer.from(body.data, 'utf8');
    else {
      const bytes = fromBase64(body.data_base64);
      if (!bytes || toBase64(bytes) !== body.data_base64) {
        throw new P2PError('bad_log', 'data_base64 is not canonical base64');
      }
      data = Buffer.from(bytes);
    }
    const space = await open(request);
    const statement = space.logs.append(log, data);
    const seq = (JSON.parse(statement.body) as { seq: number }).seq;
    return {
      log,
      writer: statement.signer,
      seq,
      hash: statement.hash,
      at: statement.at,
      pending: space.replica.outboxSize(),
    };
  });

  app.post('/api/spaces/:space/logs/:log/head', async (request) => {
    const { log } = request.params as { log: string };
    const space = await open(request);
    const statement = space.logs.head(log);
    const body = JSON.parse(statement.body) as { seq: number; hash: string };
    return { log, writer: statement.signer, seq: body.seq, hash: body.hash, head: statement.hash };
  });

  app.get('/api/spaces/:space/logs/:log', { config: { query: true } }, async (request) => {
    const { log } = request.params as { log: string };
    checkLogName(log);
    const query = request.query as Record<string, unknown>;
    const after = query.after;
    if (after !== undefined && typeof after !== 'string') {
      throw new P2PError('bad_log', 'after must be given once');
    }
    const limitText = typeof query.limit === 'string' ? query.limit : '100';
    const limit = Number(limitText);
    if (!/^[0-9]{1,4}$/.test(limitText) || limit < 1 || limit > MAX_PAGE) {
      throw new P2PError('bad_query', `limit must be 1-${MAX_PAGE}`);
    }
    const encoding = query.encoding ?? 'utf8';
    if (encoding !== 'utf8' && encoding !== 'base64') {
      throw new P2PError('bad_query', 'encoding must be utf8 or base64');
    }
    const space = await open(request);
    const page = space.logs.read(log, after, limit);
    const { report, refused } = space.logs.computed(log);
    return {
      log,
      entries: page.entries.map(({ entry, position }) => ({
        writer: entry.writer,
        person: entry.person,
        seq: entry.seq,
        at: entry.statement.at,
        hash: entry.hash,
        data: encoding === 'utf8' ? entry.data.toString('utf8') : toBase64(entry.data),
        cursor: encodeCursor(position),
      })),
      cursor: page.cursor ?? null,
      more: page.more,
      problems: [...report.writers.values()].flatMap((chain) => problems(chain) ?? []),
      refused: { ...report.refused, judged: refused.judged },
    };
  });
}
