/**
 * Whom a request acts for:
 *
 * - a session (signed in by key, sessions.ts) names the identity: how browsers, and clients on
 *   other machines (--allow-remote), act;
 * - a program on this machine that presents the gateway's API key (`Authorization: Bearer`,
 *   api-key.ts) acts as the gateway's own identity, the one given with --key. Being on this
 *   machine proves nothing on a shared computer, and headers such as Origin can be sent by any
 *   program, so the key, readable by the gateway's owner only, is what makes it the owner's.
 *   Like key files, the key is accepted over loopback only;
 * - anything else is refused with 401 unauthorized.
 *
 * Every data route requires one of these; only the routes a browser needs to sign in are open.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { P2PError } from '../errors.js';
import type { Identity } from '../keys/keys.js';
import type { Gateway } from './gateway.js';
import { checkBearer } from './api-key.js';
import { isLoopbackAddress } from './guard.js';

export function sessionCookieName(port: number): string {
  // Cookies are shared by all ports of a host: the port in the name keeps gateways apart.
  return `p2pcloud_session_${port}`;
}

export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return rest.join('=');
  }
  return undefined;
}

export function sessionToken(gateway: Gateway, request: FastifyRequest): string | undefined {
  return readCookie(request.headers.cookie, sessionCookieName(gateway.port));
}

/** Routes (as registered) that answer without a session or key: signing in, and nothing else. */
const OPEN_ROUTES = new Set([
  '/api',
  '/api/auth/challenge',
  '/api/auth/login',
  '/api/auth/logout',
  '/api/auth/session',
  '/api/identities',
]);

/**
 * Whether a route needs a caller: the gateway's API and every app's API (`/<app>/api/…`). Takes
 * the route's registered pattern, not the request's path, so no spelling of a path escapes it.
 * Pure.
 */
export function routeNeedsCaller(route: string | undefined): boolean {
  if (route === undefined || OPEN_ROUTES.has(route)) return false;
  return /^\/([^/]+\/)?api(\/|$)/.test(route);
}

/** The identity a request acts for; 401 unauthorized without a session or the API key. */
export function actorOf(gateway: Gateway, request: FastifyRequest): Identity {
  const text = gateway.sessions.identityOf(sessionToken(gateway, request));
  const identity = text ? gateway.keyring.identity(text) : undefined;
  if (identity) return identity;
  const header = request.headers.authorization;
  const bearer = checkBearer(header, gateway.apiKey.key);
  if (!isLoopbackAddress(request.socket.remoteAddress)) {
    throw new P2PError(
      'unauthorized',
      bearer === 'absent'
        ? 'sign in first: no valid session'
        : 'the API key is accepted from this machine only: sign in instead',
    );
  }
  if (bearer === 'valid') return gateway.keyring.defaultIdentity;
  const where = gateway.apiKey.path;
  throw new P2PError(
    'unauthorized',
    bearer === 'absent'
      ? `send the gateway's API key as "Authorization: Bearer <key>" (the key is in ${where}, readable by the gateway's owner only), or sign in`
      : `the API key is wrong: the gateway's key is in ${where}`,
  );
}

export function setSessionCookie(
  gateway: Gateway,
  reply: FastifyReply,
  token: string,
  maxAgeSeconds: number,
): void {
  void reply.header(
    'set-cookie',
    `${sessionCookieName(gateway.port)}=${token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${Math.round(maxAgeSeconds)}`,
  );
}

export function clearSessionCookie(gateway: Gateway, reply: FastifyReply): void {
  void reply.header(
    'set-cookie',
    `${sessionCookieName(gateway.port)}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`,
  );
}
