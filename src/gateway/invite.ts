/**
 * Invitations: how the keys of a private space reach a new member. An invitation is the
 * plaintext of an entry sealed to the invitee's X25519 key (so only the invitee can open it) in
 * the inviter's personal table; the invitee's gateway finds it by reading entries addressed to
 * its identity. The inviter signs it with its identity key:
 *
 *   { "type": "p2pcloud/invite", "v": 1, "from": "p2pid1…", "to": "p2pid1…", "at": …,
 *     "space": "{\"name\":…,\"table_seed\":…,\"reader_secret\":…,\"meta\":{…}}", "sig": "…" }
 *
 * signed message = "p2pcloud/v1/invite-sig" || from (64 bytes) || to (64 bytes) || u64(at)
 *                  || lp(space), with lp(x) a u32 big-endian length and the UTF-8 bytes.
 *
 * Pure: no I/O.
 */
import { sign, verify } from '../crypto/ed25519.js';
import { fromHex, toHex, u32be, u64be, utf8 } from '../encoding/bytes.js';
import { identityText, type Identity } from '../keys/keys.js';
import { identityBytes, parseObject } from './record.js';
import { secretsSchema, type SpaceSecrets } from './space.js';

export const INVITE_TYPE = 'p2pcloud/invite';
export const INVITE_DOMAIN = utf8('p2pcloud/v1/invite-sig');

export interface Invitation {
  readonly from: string;
  readonly to: string;
  readonly at: number;
  readonly space: SpaceSecrets;
  /** The signed text of `space`. */
  readonly spaceText: string;
  readonly sig: string;
}

function inviteMessage(from: string, to: string, at: number, spaceText: string): Buffer {
  const text = utf8(spaceText);
  return Buffer.concat([
    INVITE_DOMAIN,
    identityBytes(from),
    identityBytes(to),
    u64be(at),
    u32be(text.length),
    text,
  ]);
}

export function createInvitation(
  inviter: Identity,
  to: string,
  at: number,
  space: SpaceSecrets,
): Buffer {
  const from = identityText(inviter);
  const spaceText = JSON.stringify(space);
  const sig = toHex(sign(inviteMessage(from, to, at, spaceText), inviter.signing));
  return utf8(JSON.stringify({ type: INVITE_TYPE, v: 1, from, to, at, space: spaceText, sig }));
}

const MEMBERS = ['type', 'v', 'from', 'to', 'at', 'space', 'sig'];

/** Reads and checks an invitation; undefined for anything malformed or not signed by `from`. */
export function decodeInvitation(plaintext: Buffer): Invitation | undefined {
  const object = parseObject(plaintext.toString('utf8'));
  if (!object || object.type !== INVITE_TYPE || object.v !== 1) return undefined;
  if (Object.keys(object).length !== MEMBERS.length) return undefined;
  if (!MEMBERS.every((m) => Object.hasOwn(object, m))) return undefined;
  const { from, to, at, space, sig } = object;
  if (typeof from !== 'string' || typeof to !== 'string' || typeof space !== 'string') {
    return undefined;
  }
  if (typeof at !== 'number' || !Number.isSafeInteger(at) || at < 0) return undefined;
  const signature = typeof sig === 'string' ? fromHex(sig, 64) : undefined;
  if (!signature) return undefined;
  const secrets = secretsSchema.safeParse(parseObject(space));
  if (!secrets.success) return undefined;
  try {
    const message = inviteMessage(from, to, at, space);
    if (!verify(signature, message, identityBytes(from).subarray(0, 32))) return undefined;
  } catch {
    return undefined;
  }
  return { from, to, at, space: secrets.data, spaceText: space, sig: sig as string };
}
