/**
 * Login by key: the gateway issues a random challenge; the browser signs a domain-separated
 * message naming the gateway's origin and the challenge with the identity's Ed25519 key; the
 * gateway checks the signature and opens a session (an HttpOnly, SameSite=Strict cookie).
 *
 *   message = "p2pcloud/v1/gateway-login\norigin: " + origin + "\nchallenge: " + challenge + "\n"
 *
 * Challenges are single-use and short-lived; sessions live in memory (a restart signs everyone
 * out, which costs one signature).
 */
import { verify } from '../crypto/ed25519.js';
import { randomBytes } from '../crypto/random.js';
import { fromHex, utf8 } from '../encoding/bytes.js';
import { decodeKeyText } from '../encoding/key-text.js';

export const LOGIN_DOMAIN = 'p2pcloud/v1/gateway-login';
export const CHALLENGE_TTL_MS = 120_000;
const MAX_CHALLENGES = 10_000;
const MAX_SESSIONS = 10_000;
const CHALLENGE_RE = /^[A-Za-z0-9_-]{43}$/;

export function loginMessage(origin: string, challenge: string): Buffer {
  return utf8(`${LOGIN_DOMAIN}\norigin: ${origin}\nchallenge: ${challenge}\n`);
}

/** Checks a login signature (hex) by the identity (p2pid1… text). Pure. */
export function loginSignatureValid(
  identity: string,
  origin: string,
  challenge: string,
  signatureHex: string,
): boolean {
  const signature = fromHex(signatureHex, 64);
  if (!signature) return false;
  let keys: Buffer;
  try {
    keys = decodeKeyText(identity, ['identity']).bytes;
  } catch {
    return false;
  }
  return verify(signature, loginMessage(origin, challenge), keys.subarray(0, 32));
}

export class Sessions {
  private readonly challenges = new Map<string, number>();
  private readonly sessions = new Map<string, { identity: string; expires: number }>();

  constructor(private readonly sessionMs: number) {}

  challenge(now = Date.now()): { challenge: string; expiresAt: number } {
    for (const [value, expires] of this.challenges) {
      if (expires > now && this.challenges.size < MAX_CHALLENGES) break;
      this.challenges.delete(value);
    }
    const challenge = randomBytes(32).toString('base64url');
    const expiresAt = now + CHALLENGE_TTL_MS;
    this.challenges.set(challenge, expiresAt);
    return { challenge, expiresAt };
  }

  /** True once per issued, unexpired challenge. */
  consume(challenge: string, now = Date.now()): boolean {
    if (!CHALLENGE_RE.test(challenge)) return false;
    const expires = this.challenges.get(challenge);
    this.challenges.delete(challenge);
    return expires !== undefined && expires > now;
  }

  open(identity: string, now = Date.now()): string {
    for (const [token, session] of this.sessions) {
      if (session.expires > now && this.sessions.size < MAX_SESSIONS) break;
      this.sessions.delete(token);
    }
    const token = randomBytes(32).toString('base64url');
    this.sessions.set(token, { identity, expires: now + this.sessionMs });
    return token;
  }

  identityOf(token: string | undefined, now = Date.now()): string | undefined {
    if (!token) return undefined;
    const session = this.sessions.get(token);
    if (!session) return undefined;
    if (session.expires <= now) {
      this.sessions.delete(token);
      return undefined;
    }
    return session.identity;
  }

  close(token: string | undefined): void {
    if (token) this.sessions.delete(token);
  }
}
