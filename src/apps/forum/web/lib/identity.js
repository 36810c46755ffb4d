// Identities in the browser: key files (the same JSON as `p2pcloud keygen` writes), identities
// generated with WebCrypto (Ed25519 for signing, X25519 for sealing), kept in IndexedDB, and
// the login signature. Secret keys never leave this machine: the forum talks to the gateway on
// this machine only.

import { encode, decode } from './bech32m.js';

const ED25519_PKCS8 = '302e020100300506032b657004220420';
const X25519_PKCS8 = '302e020100300506032b656e04220420';
export const LOGIN_DOMAIN = 'p2pcloud/v1/gateway-login';

export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function fromHex(hex) {
  if (!/^(?:[0-9a-f]{2})*$/.test(hex)) throw new Error('not lowercase hex');
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function base64urlToBytes(text) {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

async function importPrivate(algorithm, prefix, secretHex, usages, extractable) {
  const pkcs8 = fromHex(prefix + secretHex);
  return crypto.subtle.importKey('pkcs8', pkcs8, { name: algorithm }, extractable, usages);
}

/** The public key of a secret, through WebCrypto's JWK export (its `x` member). */
async function publicOf(algorithm, prefix, secretHex, usages) {
  const key = await importPrivate(algorithm, prefix, secretHex, usages, true);
  const jwk = await crypto.subtle.exportKey('jwk', key);
  return base64urlToBytes(jwk.x);
}

export function identityTextOf(signingPublic, boxPublic) {
  const bytes = new Uint8Array(64);
  bytes.set(signingPublic, 0);
  bytes.set(boxPublic, 32);
  return encode('p2pid', bytes);
}

/** A short, readable tag of an identity text, e.g. "p2pid1x7qk…gau28sq". */
export function shortId(text) {
  return text ? `${text.slice(0, 10)}…${text.slice(-6)}` : '';
}

/**
 * Checks a key file picked by the user: the right kind, and a `public` text that matches its
 * secrets (recomputed here), as docs/protocol.md §3.4 asks of every reader.
 */
export async function checkKeyFile(object) {
  if (!object || object.kind !== 'p2pcloud-identity' || object.version !== 1) {
    throw new Error('this is not a p2pcloud identity key file');
  }
  if (!/^[0-9a-f]{64}$/.test(object.signing_seed) || !/^[0-9a-f]{64}$/.test(object.box_secret)) {
    throw new Error('the key file is damaged');
  }
  const signing = await publicOf('Ed25519', ED25519_PKCS8, object.signing_seed, ['sign']);
  const box = await publicOf('X25519', X25519_PKCS8, object.box_secret, ['deriveBits']);
  const text = identityTextOf(signing, box);
  if (text !== object.public)
    throw new Error('the key file is damaged: its public key does not match');
  decode(text);
  return {
    kind: 'p2pcloud-identity',
    version: 1,
    signing_seed: object.signing_seed,
    box_secret: object.box_secret,
    public: text,
  };
}

/** A new identity made by WebCrypto, as a key file object. */
export async function generateIdentity() {
  const signing = await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify']);
  const box = await crypto.subtle.generateKey({ name: 'X25519' }, true, ['deriveBits']);
  const seed = new Uint8Array(await crypto.subtle.exportKey('pkcs8', signing.privateKey)).slice(16);
  const secret = new Uint8Array(await crypto.subtle.exportKey('pkcs8', box.privateKey)).slice(16);
  const signingPublic = new Uint8Array(await crypto.subtle.exportKey('raw', signing.publicKey));
  const boxPublic = new Uint8Array(await crypto.subtle.exportKey('raw', box.publicKey));
  return {
    kind: 'p2pcloud-identity',
    version: 1,
    signing_seed: toHex(seed),
    box_secret: toHex(secret),
    public: identityTextOf(signingPublic, boxPublic),
  };
}

export function loginMessage(origin, challenge) {
  return `${LOGIN_DOMAIN}\norigin: ${origin}\nchallenge: ${challenge}\n`;
}

/** Signs the login message for `challenge` with the key file's Ed25519 key; hex signature. */
export async function signLogin(keyFile, challenge) {
  if (!/^[A-Za-z0-9_-]{43}$/.test(challenge)) throw new Error('the gateway sent a bad challenge');
  const key = await importPrivate('Ed25519', ED25519_PKCS8, keyFile.signing_seed, ['sign'], false);
  const message = new TextEncoder().encode(loginMessage(location.origin, challenge));
  return toHex(new Uint8Array(await crypto.subtle.sign('Ed25519', key, message)));
}

export function keyFileText(keyFile) {
  return `${JSON.stringify(keyFile, null, 2)}\n`;
}

// IndexedDB: identities created (or remembered) in this browser.

const DB_NAME = 'p2pcloud-forum';
const STORE = 'identities';

function openDb() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: 'public' });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function withStore(mode, work) {
  const db = await openDb();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const result = work(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(result.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

/** Key files kept in this browser (as key files: the bookkeeping members are left out). */
export async function storedIdentities() {
  const rows = await withStore('readonly', (store) => store.getAll());
  return rows.map(({ kind, version, signing_seed, box_secret, public: text }) => ({
    kind,
    version,
    signing_seed,
    box_secret,
    public: text,
  }));
}

export function storeIdentity(keyFile) {
  return withStore('readwrite', (store) => store.put({ ...keyFile, saved_at: Date.now() }));
}

export function forgetIdentity(publicText) {
  return withStore('readwrite', (store) => store.delete(publicText));
}

export async function storedIdentity(publicText) {
  return (await storedIdentities()).find((k) => k.public === publicText);
}

/** Offers the key file for download (the user keeps it: it is the only way back in). */
export function downloadKeyFile(file) {
  const blob = new Blob([keyFileText(file)], { type: 'application/json' });
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = `p2pcloud-identity-${file.public.slice(6, 14)}.json`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
