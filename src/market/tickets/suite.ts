/**
 * The blind signature suite tickets use: RSABSSA-SHA384-PSS-Randomized (RFC 9474 §5), through
 * @cloudflare/blindrsa-ts for the buyer's blind and finalize and for everyone's verify. The
 * issuer's side (the private operation) is in blind-sign.ts.
 */
import type { webcrypto } from 'node:crypto';
import { RSABSSA } from '@cloudflare/blindrsa-ts';
import { P2PError } from '../../errors.js';

export const SUITE_NAME = 'RSABSSA-SHA384-PSS-Randomized';
/** Bytes of the random prefix the Randomized variant puts before the message (RFC 9474 §4.1). */
export const MSG_PREFIX_BYTES = 32;

const suite = RSABSSA.SHA384.PSS.Randomized();
/** The library's CryptoKey type (the DOM one); node's webcrypto keys are the same objects. */
type SuiteKey = Parameters<typeof suite.verify>[0];

export interface Blinded {
  /** msg_prefix || message: what the final signature is over. */
  readonly preparedMessage: Uint8Array;
  readonly blindedMessage: Uint8Array;
  /** The blinding inverse: secret, kept by the buyer until finalize. */
  readonly inverse: Uint8Array;
}

export async function blindMessage(
  key: webcrypto.CryptoKey,
  message: Uint8Array,
): Promise<Blinded> {
  const preparedMessage = suite.prepare(message);
  const { blindedMsg, inv } = await suite.blind(key as SuiteKey, preparedMessage);
  return { preparedMessage, blindedMessage: blindedMsg, inverse: inv };
}

/**
 * Unblinds the issuer's answer and checks the result is a valid signature: an issuer (or a
 * network) that answers anything else is caught here, before the buyer counts the ticket.
 */
export async function finalizeSignature(
  key: webcrypto.CryptoKey,
  preparedMessage: Uint8Array,
  blindSignature: Uint8Array,
  inverse: Uint8Array,
): Promise<Uint8Array> {
  try {
    return await suite.finalize(key as SuiteKey, preparedMessage, blindSignature, inverse);
  } catch (error) {
    throw new P2PError(
      'ticket_invalid',
      `the issuer's blind signature does not finalize to a valid signature (${(error as Error).message})`,
    );
  }
}

export async function verifySignature(
  key: webcrypto.CryptoKey,
  preparedMessage: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  try {
    return await suite.verify(key as SuiteKey, signature, preparedMessage);
  } catch {
    return false;
  }
}
