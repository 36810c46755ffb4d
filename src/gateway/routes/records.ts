/**
 * Records of a collection in a space.
 *
 *   GET    /api/spaces/:space/collections/:collection/records        list (see list-query.ts)
 *   POST   /api/spaces/:space/collections/:collection/records        { data, key? } create, or
 *                                                                   replace the caller's record `key`
 *   GET    /api/spaces/:space/collections/:collection/records/:id
 *   PUT    /api/spaces/:space/collections/:collection/records/:id    { data } new version
 *   DELETE /api/spaces/:space/collections/:collection/records/:id    tombstone
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { P2PError } from '../../errors.js';
import { identityText } from '../../keys/keys.js';
import { actorOf } from '../actor.js';
import { Gateway } from '../gateway.js';
import type { StoredRecord } from '../index-db.js';
import { parseListQuery } from '../list-query.js';
import { checkCollection, dataText } from '../record.js';
import { parseBody } from './body.js';

const createSchema = z.object({ data: z.unknown(), key: z.string().optional() }).strict();
const updateSchema = z.object({ data: z.unknown() }).strict();

const BASE = '/api/spaces/:space/collections/:collection/records';

export function recordView(record: StoredRecord): Record<string, unknown> {
  return {
    id: record.id,
    key: record.key,
    space: record.space,
    collection: record.collection,
    author: record.author,
    created_at: record.createdAt,
    updated_at: record.updatedAt,
    version: record.version,
    data: JSON.parse(record.data) as unknown,
  };
}

interface Params {
  space: string;
  collection: string;
  id?: string;
}

export function registerRecordRoutes(app: FastifyInstance, gateway: Gateway): void {
  app.get(BASE, { config: { query: true } }, async (request) => {
    const params = request.params as Params;
    const space = gateway.space(actorOf(gateway, request), params.space);
    const query = parseListQuery(request.query as Record<string, unknown>);
    const { records, total } = gateway.index.list(
      space.id,
      checkCollection(params.collection),
      query,
    );
    return { records: records.map(recordView), total, limit: query.limit, offset: query.offset };
  });

  app.post(BASE, async (request, reply) => {
    const actor = actorOf(gateway, request);
    const params = request.params as Params;
    const space = gateway.space(actor, params.space);
    const body = parseBody(createSchema, request.body);
    const result = await gateway.write(
      actor,
      space,
      checkCollection(params.collection),
      body.key ?? Gateway.newKey(),
      dataText(body.data),
    );
    void reply.code(result.created ? 201 : 200);
    return { ...recordView(result.record), nodes: result.accepted };
  });

  app.get(`${BASE}/:id`, async (request) => {
    const params = request.params as Params;
    const space = gateway.space(actorOf(gateway, request), params.space);
    return recordView(gateway.record(space, params.collection, params.id!));
  });

  const change = async (
    request: FastifyRequest,
    data: 'update' | 'delete',
  ): Promise<Record<string, unknown>> => {
    const actor = actorOf(gateway, request);
    const params = request.params as Params;
    const space = gateway.space(actor, params.space);
    const record = gateway.record(space, params.collection, params.id!);
    if (record.author !== identityText(actor)) throw new P2PError('not_author');
    const text =
      data === 'update' ? dataText(parseBody(updateSchema, request.body).data) : undefined;
    const result = await gateway.write(actor, space, record.collection, record.key, text);
    return data === 'update'
      ? { ...recordView(result.record), nodes: result.accepted }
      : { id: record.id, deleted: true, nodes: result.accepted };
  };

  app.put(`${BASE}/:id`, async (request) => change(request, 'update'));
  app.delete(`${BASE}/:id`, async (request) => change(request, 'delete'));
}
