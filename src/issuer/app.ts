/**
 * The issuer's HTTP application (docs/tickets.md §6): published keys, blind issuance against a
 * voucher, and the spent set. Bounded like the node: body size, batch sizes, requests per
 * address. It logs counts, never a blinded message, ticket or spent id.
 */
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import { P2PError } from '../errors.js';
import {
  expectMediaType,
  httpLayerOptions,
  installErrorHandlers,
  installHttpLayer,
  parseJsonBody,
  sendError,
  toP2PError,
} from '../http/fastify-errors.js';
import { fastifyLogOptions } from '../http/fastify-log.js';
import { installRateLimit } from '../http/rate-limit.js';
import { installPipelineLimit } from '../http/pipeline-limit.js';
import { DEFAULT_CONNECTION_LIMITS, installConnectionLimit } from '../http/connection-limit.js';
import { decodeTicket, verifyTicket } from '../market/tickets/ticket.js';
import type { IssuerConfig } from './config.js';
import type { IssuerKeyring } from './keyring.js';
import { parseRedeemRequest, parseTicketsRequest, voucherOf } from './requests.js';
import type { IssuerStore } from './store.js';

const ACCEPTED = 'application/json';

export interface IssuerContext {
  readonly config: IssuerConfig;
  readonly store: IssuerStore;
  readonly keyring: IssuerKeyring;
  readonly log: Logger;
  readonly now: () => number;
}

export async function buildIssuerApp(ctx: IssuerContext): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    ...fastifyLogOptions(ctx.log),
    bodyLimit: ctx.config.max_body_bytes,
    return503OnClosing: true,
    ...httpLayerOptions(60_000),
    frameworkErrors: (error, _request, reply) =>
      sendError(reply as unknown as FastifyReply, toP2PError(error, ACCEPTED)),
  });
  await installRateLimit(app, ctx.config.rate_limit);
  installPipelineLimit(app);
  installConnectionLimit(app.server, {
    ...DEFAULT_CONNECTION_LIMITS,
    loopback: ctx.config.rate_limit.loopback,
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) =>
    parseJsonBody(body, done),
  );
  installErrorHandlers(app, ACCEPTED, (error, request) =>
    request.log.error({ err: error }, 'request failed'),
  );
  installHttpLayer(app);

  const seconds = (): number => Math.floor(ctx.now() / 1000);

  app.get('/issuer/keys', async (_request, reply) => {
    // Made here too, so a buyer never finds an issuer with nothing to sign with.
    const current = await ctx.keyring.current(seconds());
    return reply.send({ current: current.key.record.id, keys: ctx.keyring.published() });
  });

  app.post('/issuer/tickets', async (request, reply) => {
    expectMediaType(request, [ACCEPTED]);
    const voucher = voucherOf(request.headers.authorization);
    const now = seconds();
    await ctx.keyring.current(now);
    const parsed = parseTicketsRequest(request.body, ctx.config.max_batch, (id) => {
      const loaded = ctx.keyring.byId(id);
      return loaded ? loaded.key.modulusBytes : undefined;
    });
    const loaded = ctx.keyring.byId(parsed.keyId)!;
    const current = await ctx.keyring.current(now);
    if (current !== loaded) {
      throw new P2PError(
        'ticket_expired',
        `key ${parsed.keyId.slice(0, 16)}… no longer signs; use ${current.key.record.id}`,
      );
    }
    // The checks RSASP1 makes on each input happen before the voucher is charged.
    for (const [i, blinded] of parsed.blinded.entries()) {
      if (Buffer.compare(blinded, loaded.signing.modulus) >= 0) {
        throw new P2PError('bad_request', `blinded[${i}] is not below the modulus`);
      }
    }
    ctx.store.purchase(voucher, loaded.key.id, parsed.blinded.length, now);
    let signatures: string[];
    try {
      signatures = parsed.blinded.map((b) => ctx.keyring.sign(loaded, b).toString('base64url'));
    } catch (error) {
      ctx.store.refund(voucher, parsed.blinded.length);
      throw error;
    }
    ctx.log.info({ count: signatures.length }, 'tickets issued');
    return reply.send({ key_id: parsed.keyId, blind_signatures: signatures });
  });

  app.post('/issuer/redeem', async (request, reply) => {
    expectMediaType(request, [ACCEPTED]);
    const texts = parseRedeemRequest(request.body, ctx.config.max_redeem_batch);
    const now = seconds();
    const verified = [];
    for (const [i, text] of texts.entries()) {
      try {
        verified.push(
          await verifyTicket(decodeTicket(text), (id) => ctx.keyring.byId(id)?.key, now),
        );
      } catch (error) {
        if (error instanceof P2PError)
          throw new P2PError(error.code, `tickets[${i}]: ${error.message}`, { index: i });
        throw error;
      }
    }
    const already = ctx.store.redeem(
      verified.map((v) => ({ spentId: v.spentId, keyId: v.key.id })),
      ctx.now(),
    );
    if (already.length > 0) {
      ctx.log.info({ count: texts.length }, 'redemption refused: spent before');
      throw new P2PError(
        'ticket_spent',
        `${already.length} of the tickets were spent before; none was spent now`,
        { spent: already },
      );
    }
    ctx.log.info({ count: verified.length }, 'tickets redeemed');
    return reply.send({ redeemed: verified.length });
  });
  return app;
}
