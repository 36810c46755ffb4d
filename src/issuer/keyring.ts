/**
 * The issuer's signing keys: the newest valid one signs; the others are still published (so
 * that nodes can tell an expired ticket from a forged one) and still redeem while valid. When
 * no key is valid for the coming minute a new one is made, so rotation needs no operator.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { blindSign, signingKeyOf, type SigningKey } from '../market/tickets/blind-sign.js';
import {
  ISSUER_KEY_VERSION,
  keyIdOf,
  parseIssuerKey,
  type IssuerKey,
  type IssuerKeyRecord,
  type ModulusBits,
} from '../market/tickets/issuer-key.js';
import type { TicketKind } from '../market/tickets/message.js';
import type { IssuerStore, StoredKey } from './store.js';

/** Keys published at most: older ones are of no use to anyone and only lengthen the answer. */
export const MAX_PUBLISHED_KEYS = 16;
/** A key is not handed out for signing in its last minute, so its tickets are spendable. */
const SIGNING_MARGIN_SECONDS = 60;

export interface KeyringSettings {
  readonly bits: ModulusBits;
  readonly validitySeconds: number;
  readonly kind: TicketKind;
  readonly value: number;
}

export interface LoadedKey {
  readonly key: IssuerKey;
  readonly signing: SigningKey;
}

export class IssuerKeyring {
  private loaded = new Map<string, LoadedKey>();

  constructor(
    private readonly store: IssuerStore,
    private readonly settings: KeyringSettings,
  ) {}

  async load(): Promise<void> {
    const loaded = new Map<string, LoadedKey>();
    for (const stored of this.store.keys().slice(0, MAX_PUBLISHED_KEYS)) {
      const key = await parseIssuerKey(recordOf(stored));
      const privateKey = createPrivateKey({ key: stored.pkcs8, format: 'der', type: 'pkcs8' });
      loaded.set(key.record.id, {
        key,
        signing: signingKeyOf(privateKey, createPublicKey(privateKey)),
      });
    }
    this.loaded = loaded;
  }

  /** The key that signs now, made first if there is none. */
  async current(nowSeconds: number): Promise<LoadedKey> {
    const usable = this.signingKey(nowSeconds);
    if (usable) return usable;
    const { privateKey, publicKey } = generateKeyPairSync('rsa', {
      modulusLength: this.settings.bits,
      publicExponent: 65537,
    });
    const spki = publicKey.export({ format: 'der', type: 'spki' });
    this.store.addKey({
      id: keyIdOf(spki),
      spki,
      pkcs8: privateKey.export({ format: 'der', type: 'pkcs8' }),
      modulusBits: this.settings.bits,
      kind: this.settings.kind,
      value: this.settings.value,
      notBefore: nowSeconds,
      notAfter: nowSeconds + this.settings.validitySeconds,
    });
    await this.load();
    return this.signingKey(nowSeconds)!;
  }

  private signingKey(nowSeconds: number): LoadedKey | undefined {
    const margin = Math.min(SIGNING_MARGIN_SECONDS, Math.floor(this.settings.validitySeconds / 2));
    for (const loaded of this.loaded.values()) {
      const r = loaded.key.record;
      if (
        r.not_before <= nowSeconds &&
        r.not_after - margin > nowSeconds &&
        r.kind === this.settings.kind &&
        r.value === this.settings.value &&
        r.modulus_bits === this.settings.bits
      ) {
        return loaded;
      }
    }
    return undefined;
  }

  byId(idHex: string): LoadedKey | undefined {
    return this.loaded.get(idHex);
  }

  published(): IssuerKeyRecord[] {
    return [...this.loaded.values()].map((l) => l.key.record);
  }

  sign(loaded: LoadedKey, blinded: Uint8Array): Buffer {
    return blindSign(loaded.signing, blinded);
  }
}

function recordOf(stored: StoredKey): IssuerKeyRecord {
  return {
    version: ISSUER_KEY_VERSION,
    id: stored.id.toString('hex'),
    public_key: stored.spki.toString('base64url'),
    modulus_bits: stored.modulusBits as ModulusBits,
    kind: stored.kind as TicketKind,
    value: stored.value,
    not_before: stored.notBefore,
    not_after: stored.notAfter,
  };
}
