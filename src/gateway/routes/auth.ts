/**
 * Signing in by key, and registering identities created in a local browser.
 *
 *   POST /api/auth/challenge   a fresh single-use challenge
 *   POST /api/auth/login       { identity, challenge, signature } → session cookie
 *   POST /api/auth/logout
 *   GET  /api/auth/session     who is signed in ({ signed_in: false } if nobody)
 *   GET  /api/me               whom this request acts for
 *   POST /api/identities       { key_file } → the gateway holds this identity from now on;
 *                              accepted from this machine only, whatever --allow-remote says
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { P2PError } from '../../errors.js';
import { identityText, parseIdentity } from '../../keys/keys.js';
import { actorOf, clearSessionCookie, sessionToken, setSessionCookie } from '../actor.js';
import type { Gateway } from '../gateway.js';
import { isLoopbackAddress } from '../guard.js';
import { LOGIN_DOMAIN, loginSignatureValid, type ChallengeCheck } from '../sessions.js';
import { parseBody } from './body.js';

const loginSchema = z
  .object({
    identity: z.string().min(1).max(200),
    challenge: z.string().min(1).max(100),
    signature: z.string().min(1).max(200),
  })
  .strict();

/** Why a login's challenge is refused, by what Sessions.check says. */
const REFUSED: Record<Exclude<ChallengeCheck, 'ok'>, string> = {
  invalid: 'this gateway did not issue that challenge: ask for a new one',
  expired: 'the challenge expired: ask for a new one',
  used: 'the challenge was used already: ask for a new one',
  busy: 'too many sign-ins in the last two minutes: try again shortly',
};

const registerSchema = z.object({ key_file: z.record(z.string(), z.unknown()) }).strict();

/** The origin the browser signed for: this request's own scheme-less host. */
function originOf(request: FastifyRequest): string {
  return `http://${request.headers.host ?? ''}`;
}

function whoami(gateway: Gateway, text: string): Record<string, unknown> {
  const identity = gateway.keyring.identity(text)!;
  return {
    identity: text,
    personal_space: gateway.keyring.personalSpaceOf(identity).id,
    gateway_identity: text === gateway.keyring.defaultText,
  };
}

export function registerAuthRoutes(app: FastifyInstance, gateway: Gateway): void {
  app.post('/api/auth/challenge', async () => {
    const { challenge, expiresAt } = gateway.sessions.challenge();
    return { challenge, expires_at: expiresAt, domain: LOGIN_DOMAIN };
  });

  app.post('/api/auth/login', async (request, reply) => {
    const body = parseBody(loginSchema, request.body);
    const state = gateway.sessions.check(body.challenge);
    if (state !== 'ok') throw new P2PError('unauthorized', REFUSED[state]);
    if (!loginSignatureValid(body.identity, originOf(request), body.challenge, body.signature)) {
      throw new P2PError('unauthorized', 'the signature does not verify for this identity');
    }
    const text = body.identity.trim();
    if (!gateway.keyring.identity(text)) {
      throw new P2PError(
        'unknown_identity',
        'this gateway does not hold this identity: register its key file first',
      );
    }
    // Marked used only now, so that only logins that verified take room.
    const used = gateway.sessions.consume(body.challenge);
    if (used !== 'ok') throw new P2PError('unauthorized', REFUSED[used]);
    const token = gateway.sessions.open(text);
    setSessionCookie(gateway, reply, token, gateway.config.session_hours * 3600);
    return whoami(gateway, text);
  });

  app.post('/api/auth/logout', async (request, reply) => {
    gateway.sessions.close(sessionToken(gateway, request));
    clearSessionCookie(gateway, reply);
    return { signed_out: true };
  });

  app.get('/api/auth/session', async (request) => {
    const text = gateway.sessions.identityOf(sessionToken(gateway, request));
    // Not being signed in is an answer, not an error: pages ask this before anything else.
    if (!text || !gateway.keyring.identity(text)) return { signed_in: false };
    return { signed_in: true, ...whoami(gateway, text) };
  });

  app.get('/api/me', async (request) => whoami(gateway, identityText(actorOf(gateway, request))));

  app.post('/api/identities', async (request, reply) => {
    // A secret key may cross the loopback interface, never the network.
    if (!isLoopbackAddress(request.socket.remoteAddress)) {
      throw new P2PError('forbidden', 'key files are only accepted from this machine');
    }
    const body = parseBody(registerSchema, request.body);
    const identity = parseIdentity(JSON.stringify(body.key_file));
    const registered = await gateway.keyring.registerIdentity(identity);
    if (registered) void gateway.poller.refresh().catch(() => undefined);
    void reply.code(registered ? 201 : 200);
    return { ...whoami(gateway, identityText(identity)), registered };
  });
}
