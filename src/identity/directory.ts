/**
 * A person's directory (docs/identity.md §3.1–3.3): the space anyone who knows the person's
 * identity text can derive, holding the device certificates and revocations signed for the
 * person, and the rule that turns those statements into the set of devices that speak for
 * the person.
 *
 *   table seed    = HKDF("p2pcloud/v1/directory", identity bytes(person), "table", 32)
 *   reader secret = HKDF("p2pcloud/v1/directory", identity bytes(person), "reader", 32)
 *
 * Pure: no I/O. Statements given to deviceState must have verified signatures (they come from
 * decodeStatement or signStatement); everything else about them is checked here.
 */
import { hkdfExpand, hkdfExtract } from '../crypto/hkdf.js';
import { signingKeyPairFromSeed } from '../crypto/ed25519.js';
import { boxKeyPairFromSecret, type BoxKeyPair } from '../crypto/x25519.js';
import { utf8 } from '../encoding/bytes.js';
import { encodeKeyText, trimKeyText } from '../encoding/key-text.js';
import type { TableKey } from '../keys/keys.js';
import { identityKeyBytes, parseJsonObject, type Statement } from './statement.js';

const DIRECTORY_SALT = utf8('p2pcloud/v1/directory');

/** Longest device name, in Unicode code points. */
export const DEVICE_NAME_MAX = 64;

/** The directory space of a person; throws bad_key when `person` is not an identity text. */
export function directoryKeys(person: string): { table: TableKey; reader: BoxKeyPair } {
  const prk = hkdfExtract(DIRECTORY_SALT, identityKeyBytes(person));
  return {
    table: { signing: signingKeyPairFromSeed(hkdfExpand(prk, utf8('table'), 32)) },
    reader: boxKeyPairFromSecret(hkdfExpand(prk, utf8('reader'), 32)),
  };
}

/**
 * The one text form of an identity (lower case, nothing around it), or undefined. Texts that
 * differ only in case or surrounding space name the same key, so they are compared in this form.
 */
export function canonicalIdentity(text: unknown): string | undefined {
  if (typeof text !== 'string' || text.length > 200) return undefined;
  try {
    const bytes = identityKeyBytes(text);
    // A valid text already in lower case with nothing around it is its own canonical form
    // (the checksum and zero padding were checked), so it need not be encoded again.
    return text === text.toLowerCase() && text === trimKeyText(text)
      ? text
      : encodeKeyText('identity', bytes);
  } catch {
    return undefined;
  }
}

/** The canonical form of an identity text; throws bad_key, naming what is wrong with it. */
function requireIdentity(text: string): string {
  return encodeKeyText('identity', identityKeyBytes(text));
}

export function isDeviceName(name: unknown): name is string {
  if (typeof name !== 'string' || name.length > DEVICE_NAME_MAX * 2) return false;
  const length = [...name].length;
  return length >= 1 && length <= DEVICE_NAME_MAX;
}

/** The body of a `device-cert` statement (§3.2). */
export function certBody(device: string, name: string): Record<string, unknown> {
  if (!isDeviceName(name))
    throw new RangeError(`device name must be 1-${DEVICE_NAME_MAX} characters`);
  return { device: requireIdentity(device), name };
}

/** The body of a `device-revoke` statement (§3.2). */
export function revokeBody(device: string, lastSeq: number): Record<string, unknown> {
  if (!Number.isSafeInteger(lastSeq) || lastSeq < 0) throw new RangeError('bad last_seq');
  return { device: requireIdentity(device), last_seq: lastSeq };
}

function hasExactly(object: Record<string, unknown>, members: readonly string[]): boolean {
  const keys = Object.keys(object);
  return keys.length === members.length && members.every((m) => Object.hasOwn(object, m));
}

interface Cert {
  readonly signer: string;
  readonly device: string;
  readonly name: string;
  readonly at: number;
  readonly seq: number;
  readonly hash: string;
}

interface Revocation {
  readonly device: string;
  readonly at: number;
  readonly lastSeq: number;
}

type Canonical = (text: unknown) => string | undefined;

/**
 * canonicalIdentity remembered for one computation: a directory repeats the same few texts
 * (the person, each signer) in every statement, and decoding one costs two bech32 passes.
 */
function canonicalCache(): Canonical {
  const known = new Map<string, string | undefined>();
  return (text) => {
    if (typeof text !== 'string') return undefined;
    if (known.has(text)) return known.get(text);
    const canonical = canonicalIdentity(text);
    known.set(text, canonical);
    return canonical;
  };
}

/** A device-cert body, strictly: exactly `device` (canonical identity text) and `name`. */
function readCert(s: Statement, signer: string, canonical: Canonical): Cert | undefined {
  const body = parseJsonObject(s.body);
  if (!body || !hasExactly(body, ['device', 'name'])) return undefined;
  const { device, name } = body;
  if (typeof device !== 'string' || canonical(device) !== device) return undefined;
  if (!isDeviceName(name)) return undefined;
  return { signer, device, name, at: s.at, seq: s.seq, hash: s.hash };
}

/** A device-revoke body, strictly: exactly `device` and `last_seq` (a safe integer ≥ 0). */
function readRevocation(s: Statement, canonical: Canonical): Revocation | undefined {
  const body = parseJsonObject(s.body);
  if (!body || !hasExactly(body, ['device', 'last_seq'])) return undefined;
  const { device, last_seq: lastSeq } = body;
  if (typeof device !== 'string' || canonical(device) !== device) return undefined;
  if (typeof lastSeq !== 'number' || !Number.isSafeInteger(lastSeq) || lastSeq < 0) {
    return undefined;
  }
  return { device, at: s.at, lastSeq };
}

export interface DeviceInfo {
  readonly device: string;
  readonly name: string;
  /** `at` of the earliest certificate that counts. */
  readonly certifiedAt: number;
  /** Identity text of that certificate's signer. */
  readonly issuer: string;
  /** Set when the root revoked the device: what it signs past this no longer counts. */
  readonly cutoff: { at: number; lastSeq: number } | undefined;
}

export interface DeviceState {
  readonly person: string;
  /** Certified devices (the root not included), by identity text. */
  readonly devices: ReadonlyMap<string, DeviceInfo>;
  /** §3.3 step 4: may `signer` speak for this person with a statement at (at, seq)? */
  accepts(signer: string, at: number, seq: number): boolean;
  /** Certified and not revoked (the root: always true). */
  isActive(device: string): boolean;
  /** Box public keys (32 bytes) of the root and every active device: who receives group keys. */
  recipients(): Buffer[];
}

type Cutoff = { at: number; lastSeq: number };

function within(cutoff: Cutoff | undefined, at: number, seq: number): boolean {
  return cutoff === undefined || (at <= cutoff.at && seq <= cutoff.lastSeq);
}

/** Earliest first; equal times by hash, so that every reader picks the same certificate. */
function earlier(a: Cert, b: Cert): boolean {
  return a.at < b.at || (a.at === b.at && a.hash < b.hash);
}

/**
 * §3.3: the devices that speak for `person`. Statements of any kind may be passed; only
 * device-cert and device-revoke with `person` equal to `person` are used, and those whose body
 * is not exactly as §3.2 says are ignored. Linear in the number of statements: the certified
 * set grows by following each new device's own certificates once.
 */
export function deviceState(person: string, statements: readonly Statement[]): DeviceState {
  const root = requireIdentity(person);
  const canonical = canonicalCache();
  const cutoffs = new Map<string, Cutoff>();
  const certsBySigner = new Map<string, Cert[]>();

  for (const s of statements) {
    if (s.kind !== 'device-cert' && s.kind !== 'device-revoke') continue;
    if (canonical(s.person) !== root) continue;
    const signer = canonical(s.signer);
    if (!signer) continue;
    if (s.kind === 'device-revoke') {
      // Step 1: only the root revokes, and never itself.
      if (signer !== root) continue;
      const revocation = readRevocation(s, canonical);
      if (!revocation || revocation.device === root) continue;
      const previous = cutoffs.get(revocation.device);
      cutoffs.set(revocation.device, {
        at: Math.min(previous?.at ?? revocation.at, revocation.at),
        lastSeq: Math.min(previous?.lastSeq ?? revocation.lastSeq, revocation.lastSeq),
      });
      continue;
    }
    const cert = readCert(s, signer, canonical);
    if (!cert || cert.device === root) continue;
    const list = certsBySigner.get(signer);
    if (list) list.push(cert);
    else certsBySigner.set(signer, [cert]);
  }

  // Step 3: breadth first from the root over the certificates that count.
  const chosen = new Map<string, Cert>();
  const queue = [root];
  const reached = new Set([root]);
  for (let i = 0; i < queue.length; i++) {
    const signer = queue[i]!;
    const cutoff = signer === root ? undefined : cutoffs.get(signer);
    for (const cert of certsBySigner.get(signer) ?? []) {
      if (!within(cutoff, cert.at, cert.seq)) continue;
      const current = chosen.get(cert.device);
      if (!current || earlier(cert, current)) chosen.set(cert.device, cert);
      if (!reached.has(cert.device)) {
        reached.add(cert.device);
        queue.push(cert.device);
      }
    }
  }

  const devices = new Map<string, DeviceInfo>();
  for (const device of [...chosen.keys()].sort()) {
    const cert = chosen.get(device)!;
    devices.set(device, {
      device,
      name: cert.name,
      certifiedAt: cert.at,
      issuer: cert.signer,
      cutoff: cutoffs.get(device),
    });
  }

  const isActive = (device: string): boolean => {
    const id = canonicalIdentity(device);
    if (id === root) return true;
    const info = id === undefined ? undefined : devices.get(id);
    return info !== undefined && info.cutoff === undefined;
  };

  return {
    person: root,
    devices,
    accepts(signer: string, at: number, seq: number): boolean {
      const id = canonicalIdentity(signer);
      if (id === root) return true;
      const info = id === undefined ? undefined : devices.get(id);
      return info !== undefined && within(info.cutoff, at, seq);
    },
    isActive,
    recipients(): Buffer[] {
      const seen = new Set<string>();
      const out: Buffer[] = [];
      for (const id of [root, ...devices.keys()]) {
        if (!isActive(id)) continue;
        const box = identityKeyBytes(id).subarray(32, 64);
        const hex = box.toString('hex');
        if (seen.has(hex)) continue;
        seen.add(hex);
        out.push(Buffer.from(box));
      }
      return out;
    },
  };
}
