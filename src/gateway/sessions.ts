/**
 * Login by key: the gateway issues a random challenge; the browser signs a domain-separated
 * message naming the gateway's origin and the challenge with the identity's Ed25519 key; the
 * gateway checks the signature and opens a session (an HttpOnly, SameSite=Strict cookie).
 *
 *   message = "p2pcloud/v1/gateway-login\norigin: " + origin + "\nchallenge: " + challenge + "\n"
 *
 * Challenges are made so that issuing one stores nothing: 8 bytes of expiry time (ms, big-endian),
 * 8 random bytes, and the first 16 bytes of an HMAC-SHA256 of those 16 bytes under a secret that
 * the gateway draws at start (base64url, 43 characters). Any number of requests for challenges
 * therefore cannot push out the one a user is signing. A challenge is remembered only once a
 * login with it succeeded (it is single-use), until it expires; sessions live in memory (a
 * restart signs everyone out, which costs one signature).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { verify } from '../crypto/ed25519.js';
import { randomBytes } from '../crypto/random.js';
import { fromHex, utf8 } from '../encoding/bytes.js';
import { decodeKeyText } from '../encoding/key-text.js';

export const LOGIN_DOMAIN = 'p2pcloud/v1/gateway-login';
export const CHALLENGE_TTL_MS = 120_000;
/** Used challenges remembered (until they expire): bounds successful logins per two minutes. */
const MAX_USED = 10_000;
const MAX_SESSIONS = 10_000;
const MAX_SESSIONS_PER_IDENTITY = 32;
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

export type ChallengeCheck = 'ok' | 'invalid' | 'expired' | 'used' | 'busy';

export class Sessions {
  private readonly secret = randomBytes(32);
  private readonly used = new Map<string, number>();
  private readonly sessions = new Map<string, { identity: string; expires: number }>();
  /** Each identity's session tokens, oldest first. */
  private readonly byIdentity = new Map<string, string[]>();

  constructor(private readonly sessionMs: number) {}

  private mac(head: Buffer): Buffer {
    return createHmac('sha256', this.secret).update(head).digest().subarray(0, 16);
  }

  challenge(now = Date.now()): { challenge: string; expiresAt: number } {
    const expiresAt = now + CHALLENGE_TTL_MS;
    const head = Buffer.alloc(16);
    head.writeBigUInt64BE(BigInt(expiresAt), 0);
    randomBytes(8).copy(head, 8);
    const challenge = Buffer.concat([head, this.mac(head)]).toString('base64url');
    return { challenge, expiresAt };
  }

  /** Whether this gateway issued the challenge and it has not expired (used or not). */
  check(challenge: string, now = Date.now()): ChallengeCheck {
    if (!CHALLENGE_RE.test(challenge)) return 'invalid';
    const bytes = Buffer.from(challenge, 'base64url');
    if (bytes.length !== 32) return 'invalid';
    if (!timingSafeEqual(bytes.subarray(16), this.mac(bytes.subarray(0, 16)))) return 'invalid';
    if (Number(bytes.readBigUInt64BE(0)) <= now) return 'expired';
    return this.used.has(challenge) ? 'used' : 'ok';
  }

  /**
   * Marks a challenge used; call it once the login it carries has verified, so that only
   * successful logins take room. 'ok' once per issued, unexpired challenge.
   */
  consume(challenge: string, now = Date.now()): ChallengeCheck {
    const state = this.check(challenge, now);
    if (state !== 'ok') return state;
    if (this.used.size >= MAX_USED) {
      for (const [value, expires] of this.used) if (expires <= now) this.used.delete(value);
    }
    // Full of unexpired ones: refuse rather than forget one, which would allow its replay.
    if (this.used.size >= MAX_USED) return 'busy';
    this.used.set(challenge, Number(Buffer.from(challenge, 'base64url').readBigUInt64BE(0)));
    return 'ok';
  }

  /**
   * Opens a session. An identity keeps at most MAX_SESSIONS_PER_IDENTITY (its own oldest goes),
   * and when all are full the oldest session of the identity holding most goes: signing in
   * again and again under one identity never signs out another.
   */
  open(identity: string, now = Date.now()): string {
    for (const [token, session] of this.sessions) {
      if (session.expires > now) break;
      this.drop(token);
    }
    const own = this.byIdentity.get(identity);
    if (own && own.length >= MAX_SESSIONS_PER_IDENTITY) this.drop(own[0]!);
    else if (this.sessions.size >= MAX_SESSIONS) {
      let busiest: string[] = [];
      for (const tokens of this.byIdentity.values()) {
        if (tokens.length > busiest.length) busiest = tokens;
      }
      this.drop(busiest[0]!);
    }
    const token = randomBytes(32).toString('base64url');
    this.sessions.set(token, { identity, expires: now + this.sessionMs });
    const tokens = this.byIdentity.get(identity) ?? [];
    tokens.push(token);
    this.byIdentity.set(identity, tokens);
    return token;
  }

  private drop(token: string): void {
    const session = this.sessions.get(token);
    if (!session) return;
    this.sessions.delete(token);
    const tokens = this.byIdentity.get(session.identity)!;
    tokens.splice(tokens.indexOf(token), 1);
    if (tokens.length === 0) this.byIdentity.delete(session.identity);
  }

  identityOf(token: string | undefined, now = Date.now()): string | undefined {
    if (!token) return undefined;
    const session = this.sessions.get(token);
    if (!session) return undefined;
    if (session.expires <= now) {
      this.drop(token);
      return undefined;
    }
    return session.identity;
  }

  close(token: string | undefined): void {
    if (token) this.drop(token);
  }
}
