/**
 * Whom a request acts for. A browser (it sends Origin or Sec-Fetch-Site) must have signed in:
 * its session names the identity. A program on this machine (curl, a Flask app) sends neither
 * and acts as the gateway's own identity, the one given with --key: it could read that key file
 * anyway. Clients on other machines (--allow-remote) always need a session.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { P2PError } from '../errors.js';
import type { Identity } from '../keys/keys.js';
import type { Gateway } from './gateway.js';
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

/** Browsers send these on every request to a loopback origin (fetch in Node sends neither). */
export function isBrowserRequest(request: FastifyRequest): boolean {
  return request.headers.origin !== undefined || request.headers['sec-fetch-site'] !== undefined;
}

export function sessionToken(gateway: Gateway, request: FastifyRequest): string | undefined {
  return readCookie(request.headers.cookie, sessionCookieName(gateway.port));
}

/** The identity a request acts for; unauthorized for a browser without a session. */
export function actorOf(gateway: Gateway, request: FastifyRequest): Identity {
  const text = gateway.sessions.identityOf(sessionToken(gateway, request));
  const identity = text ? gateway.keyring.identity(text) : undefined;
  if (identity) return identity;
  if (isBrowserRequest(request) || !isLoopbackAddress(request.socket.remoteAddress)) {
    throw new P2PError('unauthorized');
  }
  return gateway.keyring.defaultIdentity;
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
