/**
 * HPKE (RFC 9180) for one cipher suite only:
 *   KEM  DHKEM(X25519, HKDF-SHA256)  kem_id  0x0020
 *   KDF  HKDF-SHA256                 kdf_id  0x0001
 *   AEAD ChaCha20-Poly1305           aead_id 0x0003
 * built on libsodium's X25519 and ChaCha20-Poly1305 and Node's HMAC-SHA256. All four modes are
 * implemented so the whole of the RFC's published vectors for this suite can be checked; entries
 * use the base mode.
 */
import sodium from 'sodium-native';
import { hkdfExpand, hkdfExtract } from './hkdf.js';
import { boxPublicKey, x25519, X25519_KEY_BYTES } from './x25519.js';
import { randomBytes } from './random.js';
import { concatBytes, u16be, utf8 } from '../encoding/bytes.js';

export const HPKE_MODE = { base: 0, psk: 1, auth: 2, authPsk: 3 } as const;
export type HpkeMode = (typeof HPKE_MODE)[keyof typeof HPKE_MODE];

const KEM_ID = 0x0020;
const KDF_ID = 0x0001;
const AEAD_ID = 0x0003;
const N_SECRET = 32;
const N_K = 32;
const N_N = 12;
const N_H = 32;
export const HPKE_ENC_BYTES = 32;
export const HPKE_TAG_BYTES = 16;

const VERSION_LABEL = utf8('HPKE-v1');
const KEM_SUITE_ID = concatBytes(utf8('KEM'), u16be(KEM_ID));
const HPKE_SUITE_ID = concatBytes(utf8('HPKE'), u16be(KEM_ID), u16be(KDF_ID), u16be(AEAD_ID));
const EMPTY = Buffer.alloc(0);

function labeledExtract(
  suiteId: Uint8Array,
  salt: Uint8Array,
  label: string,
  ikm: Uint8Array,
): Buffer {
  return hkdfExtract(salt, concatBytes(VERSION_LABEL, suiteId, utf8(label), ikm));
}

function labeledExpand(
  suiteId: Uint8Array,
  prk: Uint8Array,
  label: string,
  info: Uint8Array,
  length: number,
): Buffer {
  return hkdfExpand(
    prk,
    concatBytes(u16be(length), VERSION_LABEL, suiteId, utf8(label), info),
    length,
  );
}

/** DeriveKeyPair (RFC 9180 §7.1.3) for X25519. */
export function deriveKeyPair(ikm: Uint8Array): { secretKey: Buffer; publicKey: Buffer } {
  const dkpPrk = labeledExtract(KEM_SUITE_ID, EMPTY, 'dkp_prk', ikm);
  const secretKey = labeledExpand(KEM_SUITE_ID, dkpPrk, 'sk', EMPTY, X25519_KEY_BYTES);
  return { secretKey, publicKey: boxPublicKey(secretKey) };
}

function extractAndExpand(dh: Uint8Array, kemContext: Uint8Array): Buffer {
  const eaePrk = labeledExtract(KEM_SUITE_ID, EMPTY, 'eae_prk', dh);
  return labeledExpand(KEM_SUITE_ID, eaePrk, 'shared_secret', kemContext, N_SECRET);
}

export interface KeySchedule {
  readonly sharedSecret: Buffer;
  readonly key: Buffer;
  readonly baseNonce: Buffer;
  readonly exporterSecret: Buffer;
}

// The two hashes of psk_id and info only depend on constants for the entry use, so they are
// memoised per distinct input (a handful of values in practice) to keep bulk opening fast.
const extractCache = new Map<string, Buffer>();
function cachedLabeledExtract(label: string, ikm: Uint8Array): Buffer {
  if (ikm.length > 64) return labeledExtract(HPKE_SUITE_ID, EMPTY, label, ikm);
  const cacheKey = `${label}:${Buffer.from(ikm).toString('hex')}`;
  let value = extractCache.get(cacheKey);
  if (!value) {
    value = labeledExtract(HPKE_SUITE_ID, EMPTY, label, ikm);
    if (extractCache.size > 256) extractCache.clear();
    extractCache.set(cacheKey, value);
  }
  return value;
}

function keySchedule(
  mode: HpkeMode,
  sharedSecret: Buffer,
  info: Uint8Array,
  psk: Uint8Array,
  pskId: Uint8Array,
): KeySchedule {
  const hasPsk = psk.length > 0;
  if (hasPsk !== pskId.length > 0) throw new RangeError('HPKE: psk and psk_id go together');
  const wantsPsk = mode === HPKE_MODE.psk || mode === HPKE_MODE.authPsk;
  if (hasPsk !== wantsPsk) throw new RangeError('HPKE: psk presence does not match the mode');
  const pskIdHash = cachedLabeledExtract('psk_id_hash', pskId);
  const infoHash = cachedLabeledExtract('info_hash', info);
  const context = concatBytes(Uint8Array.of(mode), pskIdHash, infoHash);
  const secret = labeledExtract(HPKE_SUITE_ID, sharedSecret, 'secret', psk);
  return {
    sharedSecret,
    key: labeledExpand(HPKE_SUITE_ID, secret, 'key', context, N_K),
    baseNonce: labeledExpand(HPKE_SUITE_ID, secret, 'base_nonce', context, N_N),
    exporterSecret: labeledExpand(HPKE_SUITE_ID, secret, 'exp', context, N_H),
  };
}

/** An HPKE encryption context: one key, a sequence number per message (RFC 9180 §5.2). */
export class HpkeContext {
  private seq = 0;
  constructor(private readonly schedule: KeySchedule) {}

  get keySchedule(): KeySchedule {
    return this.schedule;
  }

  private nextNonce(): Buffer {
    const nonce = Buffer.from(this.schedule.baseNonce);
    // seq fits in 53 bits here; XOR it big-endian into the low bytes of the nonce.
    let value = this.seq;
    for (let i = N_N - 1; i >= 0 && value > 0; i--) {
      nonce[i]! ^= value & 0xff;
      value = Math.floor(value / 256);
    }
    if (this.seq >= Number.MAX_SAFE_INTEGER) throw new RangeError('HPKE: message limit reached');
    this.seq += 1;
    return nonce;
  }

  seal(aad: Uint8Array, plaintext: Uint8Array): Buffer {
    const out = Buffer.allocUnsafe(plaintext.length + HPKE_TAG_BYTES);
    sodium.crypto_aead_chacha20poly1305_ietf_encrypt(
      out,
      plaintext,
      aad,
      null,
      this.nextNonce(),
      this.schedule.key,
    );
    return out;
  }

  /** Returns undefined when the ciphertext does not authenticate. */
  open(aad: Uint8Array, ciphertext: Uint8Array): Buffer | undefined {
    if (ciphertext.length < HPKE_TAG_BYTES) return undefined;
    const out = Buffer.allocUnsafe(ciphertext.length - HPKE_TAG_BYTES);
    const nonce = this.nextNonce();
    try {
      sodium.crypto_aead_chacha20poly1305_ietf_decrypt(
        out,
        null,
        ciphertext,
        aad,
        nonce,
        this.schedule.key,
      );
    } catch {
      return undefined;
    }
    return out;
  }

  export(exporterContext: Uint8Array, length: number): Buffer {
    return labeledExpand(
      HPKE_SUITE_ID,
      this.schedule.exporterSecret,
      'sec',
      exporterContext,
      length,
    );
  }
}

export interface SetupOptions {
  readonly mode?: HpkeMode;
  readonly info?: Uint8Array;
  readonly psk?: Uint8Array;
  readonly pskId?: Uint8Array;
  /** Sender's static key pair, for the auth modes. */
  readonly sender?: { secretKey: Uint8Array; publicKey: Uint8Array };
  /** Fixed ephemeral key pair: only for test vectors. */
  readonly ephemeral?: { secretKey: Uint8Array; publicKey: Uint8Array };
}

function modeOf(options: SetupOptions): HpkeMode {
  return options.mode ?? HPKE_MODE.base;
}

function isAuthMode(mode: HpkeMode): boolean {
  return mode === HPKE_MODE.auth || mode === HPKE_MODE.authPsk;
}

/** SetupS for any mode: returns the encapsulated key and the sender's context. */
export function setupSender(
  recipientPublicKey: Uint8Array,
  options: SetupOptions = {},
): { enc: Buffer; context: HpkeContext } {
  const mode = modeOf(options);
  const ephemeral = options.ephemeral ?? deriveKeyPair(randomBytes(32));
  const enc = Buffer.from(ephemeral.publicKey);
  let dh = x25519(ephemeral.secretKey, recipientPublicKey);
  let kemContext = concatBytes(enc, recipientPublicKey);
  if (isAuthMode(mode)) {
    if (!options.sender) throw new RangeError('HPKE: auth modes need a sender key pair');
    dh = concatBytes(dh, x25519(options.sender.secretKey, recipientPublicKey));
    kemContext = concatBytes(kemContext, options.sender.publicKey);
  }
  const sharedSecret = extractAndExpand(dh, kemContext);
  const schedule = keySchedule(
    mode,
    sharedSecret,
    options.info ?? EMPTY,
    options.psk ?? EMPTY,
    options.pskId ?? EMPTY,
  );
  return { enc, context: new HpkeContext(schedule) };
}

/** SetupR for any mode. `senderPublicKey` is required in the auth modes. */
export function setupRecipient(
  enc: Uint8Array,
  recipient: { secretKey: Uint8Array; publicKey: Uint8Array },
  options: Omit<SetupOptions, 'ephemeral' | 'sender'> & { senderPublicKey?: Uint8Array } = {},
): HpkeContext {
  const mode = modeOf(options);
  if (enc.length !== HPKE_ENC_BYTES) throw new RangeError('HPKE: enc must be 32 bytes');
  let dh = x25519(recipient.secretKey, enc);
  let kemContext = concatBytes(enc, recipient.publicKey);
  if (isAuthMode(mode)) {
    if (!options.senderPublicKey) throw new RangeError('HPKE: auth modes need the sender key');
    dh = concatBytes(dh, x25519(recipient.secretKey, options.senderPublicKey));
    kemContext = concatBytes(kemContext, options.senderPublicKey);
  }
  const sharedSecret = extractAndExpand(dh, kemContext);
  const schedule = keySchedule(
    mode,
    sharedSecret,
    options.info ?? EMPTY,
    options.psk ?? EMPTY,
    options.pskId ?? EMPTY,
  );
  return new HpkeContext(schedule);
}

/** Single-shot base-mode seal: returns enc || ciphertext. */
export function sealBase(
  recipientPublicKey: Uint8Array,
  info: Uint8Array,
  aad: Uint8Array,
  plaintext: Uint8Array,
  ephemeral?: { secretKey: Uint8Array; publicKey: Uint8Array },
): Buffer {
  const { enc, context } = setupSender(
    recipientPublicKey,
    ephemeral ? { info, ephemeral } : { info },
  );
  return concatBytes(enc, context.seal(aad, plaintext));
}

/** Single-shot base-mode open of enc || ciphertext; undefined when it does not authenticate. */
export function openBase(
  recipient: { secretKey: Uint8Array; publicKey: Uint8Array },
  info: Uint8Array,
  aad: Uint8Array,
  sealed: Uint8Array,
): Buffer | undefined {
  if (sealed.length < HPKE_ENC_BYTES + HPKE_TAG_BYTES) return undefined;
  let context: HpkeContext;
  try {
    context = setupRecipient(sealed.subarray(0, HPKE_ENC_BYTES), recipient, { info });
  } catch {
    return undefined;
  }
  return context.open(aad, sealed.subarray(HPKE_ENC_BYTES));
}
