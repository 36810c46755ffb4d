/**
 * Devices of the caller's person (docs/identity.md §3).
 *
 *   GET  /api/devices                    the person, this device, and the person's devices
 *   POST /api/devices/link               { ttl_seconds? } → a one-time link code for a new device
 *   POST /api/devices/accept             { code, name?, wait_seconds? } → link this gateway's
 *                                        identity to the person of the code
 *   POST /api/devices/:device/revoke     revoke a device (needs the root key) and rekey groups
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { P2PError } from '../../errors.js';
import { identityText } from '../../keys/keys.js';
import { actorOf } from '../actor.js';
import type { Gateway } from '../gateway.js';
import { DEFAULT_LINK_TTL_SECONDS } from '../identity/links.js';
import { parseBody } from './body.js';

const linkSchema = z
  .object({ ttl_seconds: z.number().int().min(30).max(86_400).optional() })
  .strict();
const acceptSchema = z
  .object({
    code: z.string().min(1).max(200),
    name: z.string().min(1).max(64).optional(),
    wait_seconds: z.number().min(1).max(600).optional(),
  })
  .strict();

export function registerDeviceRoutes(app: FastifyInstance, gateway: Gateway): void {
  const layer = gateway.identity;

  app.get('/api/devices', async (request) => {
    const actor = actorOf(gateway, request);
    const text = identityText(actor);
    const person = layer.personOf(text);
    await layer.readDirectories([person]);
    const state = layer.directories.state(person);
    return {
      person,
      device: text,
      root: person === text,
      devices: [
        {
          device: person,
          name: 'root',
          root: true,
          certified_at: null,
          issuer: null,
          revoked_at: null,
        },
        ...[...state.devices.values()]
          .sort((a, b) => a.certifiedAt - b.certifiedAt)
          .map((d) => ({
            device: d.device,
            name: d.name,
            root: false,
            certified_at: d.certifiedAt,
            issuer: d.issuer,
            revoked_at: d.cutoff?.at ?? null,
            last_seq: d.cutoff?.lastSeq ?? null,
          })),
      ],
    };
  });

  app.post('/api/devices/link', async (request, reply) => {
    const actor = actorOf(gateway, request);
    const body = parseBody(linkSchema, request.body ?? {});
    const link = layer.links.create(actor, body.ttl_seconds ?? DEFAULT_LINK_TTL_SECONDS);
    void reply.code(201);
    return {
      code: link.code,
      expires_at: link.expiresAt,
      person: layer.personOf(identityText(actor)),
    };
  });

  app.post('/api/devices/accept', async (request) => {
    const actor = actorOf(gateway, request);
    if (actor !== gateway.keyring.defaultIdentity) {
      throw new P2PError('forbidden', "only the gateway's own identity can be linked as a device");
    }
    const body = parseBody(acceptSchema, request.body);
    const result = await layer.links.accept(
      actor,
      body.code,
      body.name ?? 'device',
      (body.wait_seconds ?? 60) * 1000,
    );
    void gateway.poller.refresh().catch(() => undefined);
    return {
      person: result.person,
      device: result.device,
      groups: result.groups,
      requests: result.requests,
    };
  });

  app.post('/api/devices/:device/revoke', async (request) => {
    const actor = actorOf(gateway, request);
    const { device } = request.params as { device: string };
    const result = await layer.revoke(actor, device);
    return {
      revoked: device,
      revoked_at: result.revokedAt,
      last_seq: result.lastSeq,
      rekeyed: result.rekeyed,
    };
  });
}
