/**
 * The key-value store of a group space, for programs in any language (docs/gateway.md §14).
 * Keys and values travel as UTF-8 text, or as base64 with `encoding: "base64"` (in the body or
 * the query); reads are answered from this device's replica, writes are acknowledged once kept
 * on this device and reach the nodes as soon as one answers.
 *
 *   GET    /api/spaces/:space/kv/value?key=K          value, writer, clock and conflicts
 *   GET    /api/spaces/:space/kv/versions?key=K       the winner (a delete too) and conflicts
 *   PUT    /api/spaces/:space/kv/value                { key, value } → batches written
 *   DELETE /api/spaces/:space/kv/value?key=K
 *   POST   /api/spaces/:space/kv/batch                { ops: [{ type, key, value? }] } atomic
 *   GET    /api/spaces/:space/kv/range                gt/gte/lt/lte/prefix, reverse, limit, values
 *   GET    /api/spaces/:space/kv/status               version vector, ignored batches, outbox
 *   GET    /api/spaces/:space/kv/watch                Server-Sent Events, one per change
 */
import { once } from 'node:events';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { P2PError } from '../../errors.js';
import { fromBase64, toBase64 } from '../../encoding/bytes.js';
import type { KvVersion } from '../../kv/merge.js';
import { formatHlc } from '../../kv/hlc.js';
import { actorOf } from '../actor.js';
import type { Gateway } from '../gateway.js';
import type { OpenSpace } from '../kv/hub.js';
import { parseBody } from './body.js';
import { openEventStream } from './event-stream.js';

/** Most operations one request may carry (each batch holds at most 1,000; they all commit together); a body of 256 KiB holds about 10,000 of the smallest. */
export const MAX_REQUEST_OPS = 5_000;
const DRAIN_MS = 30_000;
/** Most entries one range page returns. */
export const MAX_RANGE_LIMIT = 1000;

type Encoding = 'utf8' | 'base64';
const encodingSchema = z.enum(['utf8', 'base64']).default('utf8');
const putSchema = z
  .object({ key: z.string(), value: z.string(), encoding: encodingSchema })
  .strict();
const opSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('put'), key: z.string(), value: z.string() }).strict(),
  z.object({ type: z.literal('del'), key: z.string() }).strict(),
]);
const batchSchema = z.object({ ops: z.array(opSchema).min(1), encoding: encodingSchema }).strict();

function decode(text: string, encoding: Encoding, what: string): Buffer {
  if (encoding === 'utf8') return Buffer.from(text, 'utf8');
  const bytes = fromBase64(text);
  if (!bytes || toBase64(bytes) !== text) {
    throw new P2PError('bad_kv_op', `${what} is not canonical base64`);
  }
  return Buffer.from(bytes);
}

function encode(bytes: Buffer, encoding: Encoding): string {
  return encoding === 'utf8' ? bytes.toString('utf8') : toBase64(bytes);
}

function queryEncoding(query: Record<string, unknown>): Encoding {
  const value = query.encoding ?? 'utf8';
  if (value !== 'utf8' && value !== 'base64') {
    throw new P2PError('bad_query', 'encoding must be utf8 or base64');
  }
  return value;
}

function queryText(query: Record<string, unknown>, name: string): string | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new P2PError('bad_query', `${name} must be given once`);
  return value;
}

export function versionView(v: KvVersion, encoding: Encoding): Record<string, unknown> {
  return {
    value: v.value === undefined ? null : encode(v.value, encoding),
    hlc: formatHlc(v.hlc),
    signer: v.signer,
    person: v.person,
    batch: v.batch,
  };
}

/**
 * Narrows a range (abstract-level's gt/gte/lt/lte, where gte wins over gt and lte over lt) to
 * the keys that start with `prefix` as well: a client paging with `gt` = the last key and the
 * same prefix gets the next page.
 */
export function narrowToPrefix(range: Record<string, Buffer>, prefix: Buffer): void {
  if (range.gte) delete range.gt;
  if (range.lte) delete range.lt;
  const low = range.gte ?? range.gt;
  if (!low || Buffer.compare(low, prefix) < 0) {
    delete range.gt;
    range.gte = prefix;
  }
  // The keys with this prefix end before the prefix's successor, if it has one.
  let i = prefix.length - 1;
  while (i >= 0 && prefix[i] === 0xff) i--;
  if (i < 0) return;
  const end = Buffer.from(prefix.subarray(0, i + 1));
  end[i] = end[i]! + 1;
  const high = range.lte ?? range.lt;
  if (!high || Buffer.compare(high, end) >= 0) {
    delete range.lte;
    range.lt = end;
  }
}

/** Waits for a slow reader's socket to drain, for at most DRAIN_MS; false if it did not. */
async function drained(out: NodeJS.WritableStream): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const result = await Promise.race([
    once(out, 'drain').then(() => true),
    once(out, 'close').then(() => false),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), DRAIN_MS))),
  ]);
  clearTimeout(timer);
  return result;
}

export function registerKvRoutes(app: FastifyInstance, gateway: Gateway): void {
  async function open(request: FastifyRequest): Promise<OpenSpace> {
    const actor = actorOf(gateway, request);
    const { space } = request.params as { space: string };
    return gateway.kv.space(actor, gateway.space(actor, space).id);
  }

  function keyOf(request: FastifyRequest, encoding: Encoding): Buffer {
    const key = queryText(request.query as Record<string, unknown>, 'key');
    if (key === undefined) throw new P2PError('bad_query', 'key is required');
    return decode(key, encoding, 'key');
  }

  function written(open: OpenSpace, batches: string[]): Record<string, unknown> {
    return { batches, pending: open.replica.outboxSize() };
  }

  app.get('/api/spaces/:space/kv/value', { config: { query: true } }, async (request) => {
    const encoding = queryEncoding(request.query as Record<string, unknown>);
    const space = await open(request);
    const key = keyOf(request, encoding);
    const winner = space.replica.winner(key);
    if (!winner || winner.value === undefined) throw new P2PError('no_such_key');
    return {
      key: encode(key, encoding),
      ...versionView(winner, encoding),
      conflicts: space.replica.conflicts(key).map((v) => versionView(v, encoding)),
    };
  });

  // The winner even when it is a delete: the puts a concurrent delete beat are conflicts too,
  // and a reader must be able to see them (GET value answers no_such_key for a deleted key).
  app.get('/api/spaces/:space/kv/versions', { config: { query: true } }, async (request) => {
    const encoding = queryEncoding(request.query as Record<string, unknown>);
    const space = await open(request);
    const key = keyOf(request, encoding);
    const winner = space.replica.winner(key);
    return {
      key: encode(key, encoding),
      winner: winner ? versionView(winner, encoding) : null,
      conflicts: space.replica.conflicts(key).map((v) => versionView(v, encoding)),
    };
  });

  app.put('/api/spaces/:space/kv/value', async (request) => {
    const body = parseBody(putSchema, request.body);
    const space = await open(request);
    const key = decode(body.key, body.encoding, 'key');
    const value = decode(body.value, body.encoding, 'value');
    return written(space, space.replica.replicate([{ type: 'put', key, value }]));
  });

  app.delete('/api/spaces/:space/kv/value', { config: { query: true } }, async (request) => {
    const encoding = queryEncoding(request.query as Record<string, unknown>);
    const space = await open(request);
    return written(
      space,
      space.replica.replicate([{ type: 'del', key: keyOf(request, encoding) }]),
    );
  });

  app.post('/api/spaces/:space/kv/batch', async (request) => {
    const raw = request.body as { ops?: unknown } | undefined;
    if (Array.isArray(raw?.ops) && raw.ops.length > MAX_REQUEST_OPS) {
      throw new P2PError(
        'kv_batch_too_large',
        `${raw.ops.length} operations in one request; at most ${MAX_REQUEST_OPS}`,
      );
    }
    const body = parseBody(batchSchema, request.body);
    const space = await open(request);
    const ops = body.ops.map((op, i) =>
      op.type === 'put'
        ? {
            type: 'put' as const,
            key: decode(op.key, body.encoding, `ops[${i}].key`),
            value: decode(op.value, body.encoding, `ops[${i}].value`),
          }
        : { type: 'del' as const, key: decode(op.key, body.encoding, `ops[${i}].key`) },
    );
    return written(space, space.replica.replicate(ops));
  });

  app.get('/api/spaces/:space/kv/range', { config: { query: true } }, async (request) => {
    const query = request.query as Record<string, unknown>;
    const encoding = queryEncoding(query);
    const space = await open(request);
    const range: Record<string, Buffer> = {};
    for (const name of ['gt', 'gte', 'lt', 'lte'] as const) {
      const text = queryText(query, name);
      if (text !== undefined) range[name] = decode(text, encoding, name);
    }
    const prefix = queryText(query, 'prefix');
    if (prefix !== undefined) narrowToPrefix(range, decode(prefix, encoding, 'prefix'));
    const limitText = queryText(query, 'limit') ?? '100';
    const limit = Number(limitText);
    if (!/^[0-9]{1,4}$/.test(limitText) || limit < 1 || limit > MAX_RANGE_LIMIT) {
      throw new P2PError('bad_query', `limit must be 1-${MAX_RANGE_LIMIT}`);
    }
    const reverse = queryText(query, 'reverse') === 'true';
    const values = queryText(query, 'values') !== 'false';
    // One more than asked, to say whether a next page exists without a second query.
    const rows = (await space.replica
      .iterator({
        ...range,
        reverse,
        limit: limit + 1,
        keys: true,
        values,
        keyEncoding: 'buffer',
        valueEncoding: 'buffer',
      })
      .all()) as unknown as [Buffer, Buffer | undefined][];
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      entries: page.map(([key, value]) => ({
        key: encode(key, encoding),
        ...(values ? { value: encode(value!, encoding) } : {}),
      })),
      // Pass as gt (or lt with reverse) to read the next page.
      next: rows.length > limit && last ? encode(last[0], encoding) : null,
    };
  });

  app.get('/api/spaces/:space/kv/status', async (request) => {
    const space = await open(request);
    return space.replica.replicaStatus();
  });

  app.get('/api/spaces/:space/kv/watch', { config: { query: true } }, async (request, reply) => {
    const encoding = queryEncoding(request.query as Record<string, unknown>);
    const space = await open(request);
    const stream = openEventStream(reply);
    const { out } = stream;
    out.write(': watching\n\n');
    const stop = new AbortController();
    // The response's close, not the request's: a request closes once its (empty) body is read.
    out.once('close', () => stop.abort());
    const changes = space.replica.watch({ signal: stop.signal });
    for await (const change of changes) {
      const data = JSON.stringify({
        origin: change.origin,
        keys: change.keys.map((k) => encode(k, encoding)),
      });
      if (!out.write(`event: change\ndata: ${data}\n\n`) && !(await drained(out))) {
        // A reader that does not keep up is dropped rather than buffered without bound.
        break;
      }
    }
    stream.end();
  });
}
