/**
 * The name of an exposed tunnel on a relay (docs/tunnels.md §3): 32 bytes derived from the
 * person who exposes it and the tunnel's name, so that only someone who knows both can ask
 * for it, and the relay learns neither. Pure.
 */
import { sha256 } from '../../crypto/sha256.js';
import { u32be, utf8 } from '../../encoding/bytes.js';
import { decodeKeyText } from '../../encoding/key-text.js';
import { P2PError } from '../../errors.js';

const SERVICE_CONTEXT = utf8('p2pcloud/v1/tunnel/service');

/** Letters, digits, '.', '_' and '-', 1 to 64 of them, starting with a letter or digit. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** A tunnel name as given, or bad_tunnel saying what a name may hold. */
export function checkTunnelName(name: unknown): string {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new P2PError(
      'bad_tunnel',
      'a tunnel name is 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit',
    );
  }
  return name;
}

/** SHA-256("p2pcloud/v1/tunnel/service" || identity bytes(person) || lp(name)). */
export function serviceId(person: string, name: string): Buffer {
  const identity = decodeKeyText(person, ['identity']).bytes;
  const text = utf8(checkTunnelName(name));
  return sha256(SERVICE_CONTEXT, identity, u32be(text.length), text);
}
