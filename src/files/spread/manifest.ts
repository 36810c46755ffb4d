/**
 * The spread manifest (docs/spread.md §4.1): a versioned JSON object that says how a file was
 * cut and coded and where its shards are, sealed to the owner and stored on every provider.
 * The decoder is strict: a member missing, extra or of the wrong form, or numbers that do not
 * agree with each other, refuse the whole manifest with bad_spread_manifest. Pure: no I/O.
 */
import { fail } from '../../errors.js';
import { hasExactly, isCount, isPlainObject } from '../json-shape.js';
import { isSupportedCode, SHARD_ALIGN } from './erasure.js';
import { MAX_SHARD_BYTES, pageCount, stripeCount } from './layout.js';

export const SPREAD_MANIFEST_TYPE = 'p2pcloud/spread';
export const SPREAD_MANIFEST_VERSION = 1;
/** UTF-8 bytes of a manifest text: one padded entry of 64 KiB holds it. */
export const MAX_SPREAD_MANIFEST_BYTES = 60 * 1024;
export const MAX_URL_BYTES = 512;

/** A page of one provider's shard list: its entry and the SHA-256 of its bytes (hex). */
export interface PageRef {
  readonly entry: string;
  readonly sha256: string;
}

export interface SpreadProvider {
  readonly url: string;
  readonly pages: readonly PageRef[];
}

export interface SpreadManifest {
  /** 1 when the file is spread, one more at every repair. */
  readonly revision: number;
  /** Entry id of the manifest this one replaces (hex), or null. */
  readonly previous: string | null;
  readonly size: number;
  /** SHA-256 of the whole file (hex). */
  readonly sha256: string;
  readonly k: number;
  readonly n: number;
  readonly shardBytes: number;
  readonly stripes: number;
  /** Shard i of every stripe is on providers[i]. */
  readonly providers: readonly SpreadProvider[];
}

const HEX64 = /^[0-9a-f]{64}$/;
const MEMBERS = [
  'type',
  'version',
  'revision',
  'previous',
  'size',
  'sha256',
  'k',
  'n',
  'shard_bytes',
  'stripes',
  'providers',
];

/** The manifest text, members in the order of docs/spread.md, no spaces. */
export function encodeSpreadManifest(manifest: SpreadManifest): Buffer {
  checkManifest(manifest);
  const text = Buffer.from(
    JSON.stringify({
      type: SPREAD_MANIFEST_TYPE,
      version: SPREAD_MANIFEST_VERSION,
      revision: manifest.revision,
      previous: manifest.previous,
      size: manifest.size,
      sha256: manifest.sha256,
      k: manifest.k,
      n: manifest.n,
      shard_bytes: manifest.shardBytes,
      stripes: manifest.stripes,
      providers: manifest.providers.map((p) => ({
        url: p.url,
        pages: p.pages.map((page) => ({ entry: page.entry, sha256: page.sha256 })),
      })),
    }),
    'utf8',
  );
  if (text.length > MAX_SPREAD_MANIFEST_BYTES) {
    throw new RangeError(
      `the manifest would take ${text.length} bytes, more than ${MAX_SPREAD_MANIFEST_BYTES}`,
    );
  }
  return text;
}

export function decodeSpreadManifest(bytes: Buffer): SpreadManifest {
  const bad = (why: string): never => fail('bad_spread_manifest', `spread manifest: ${why}`);
  if (bytes.length > MAX_SPREAD_MANIFEST_BYTES) bad('too large');
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    bad('not JSON');
  }
  if (!isPlainObject(value)) bad('not an object');
  const o = value as Record<string, unknown>;
  if (o.type !== SPREAD_MANIFEST_TYPE) bad(`type is not "${SPREAD_MANIFEST_TYPE}"`);
  if (o.version !== SPREAD_MANIFEST_VERSION) bad(`unsupported version ${String(o.version)}`);
  if (!hasExactly(o, MEMBERS)) bad(`members must be exactly ${MEMBERS.join(', ')}`);
  if (!Array.isArray(o.providers)) bad('providers is not an array');
  const providers = (o.providers as unknown[]).map((p, i): SpreadProvider => {
    if (!isPlainObject(p) || !hasExactly(p, ['url', 'pages']))
      bad(`provider ${i} must have exactly url and pages`);
    const provider = p as Record<string, unknown>;
    if (typeof provider.url !== 'string') bad(`provider ${i}: url is not a string`);
    if (!Array.isArray(provider.pages)) bad(`provider ${i}: pages is not an array`);
    const pages = (provider.pages as unknown[]).map((page, j): PageRef => {
      if (!isPlainObject(page) || !hasExactly(page, ['entry', 'sha256']))
        bad(`provider ${i} page ${j} must have exactly entry and sha256`);
      const ref = page as Record<string, unknown>;
      if (typeof ref.entry !== 'string' || !HEX64.test(ref.entry))
        bad(`provider ${i} page ${j}: entry is not 64 lowercase hex`);
      if (typeof ref.sha256 !== 'string' || !HEX64.test(ref.sha256))
        bad(`provider ${i} page ${j}: sha256 is not 64 lowercase hex`);
      return { entry: ref.entry as string, sha256: ref.sha256 as string };
    });
    return { url: provider.url as string, pages };
  });
  const manifest: SpreadManifest = {
    revision: o.revision as number,
    previous: o.previous as string | null,
    size: o.size as number,
    sha256: o.sha256 as string,
    k: o.k as number,
    n: o.n as number,
    shardBytes: o.shard_bytes as number,
    stripes: o.stripes as number,
    providers,
  };
  try {
    checkManifest(manifest);
  } catch (error) {
    bad((error as Error).message);
  }
  return manifest;
}

/** The rules both directions hold a manifest to; throws a RangeError naming the first broken. */
function checkManifest(m: SpreadManifest): void {
  const check = (ok: boolean, why: string): void => {
    if (!ok) throw new RangeError(why);
  };
  check(isCount(m.revision) && m.revision >= 1, 'revision is not an integer ≥ 1');
  check(
    m.previous === null || (typeof m.previous === 'string' && HEX64.test(m.previous)),
    'previous is neither null nor 64 lowercase hex',
  );
  check((m.revision === 1) === (m.previous === null), 'previous is null exactly at revision 1');
  check(isCount(m.size), 'size is not an integer ≥ 0');
  check(typeof m.sha256 === 'string' && HEX64.test(m.sha256), 'sha256 is not 64 lowercase hex');
  check(isCount(m.k) && isCount(m.n) && isSupportedCode(m.k, m.n), 'k and n are not a code');
  check(
    isCount(m.shardBytes) &&
      m.shardBytes >= SHARD_ALIGN &&
      m.shardBytes <= MAX_SHARD_BYTES &&
      m.shardBytes % SHARD_ALIGN === 0,
    `shard_bytes is not a multiple of ${SHARD_ALIGN} in [${SHARD_ALIGN}, ${MAX_SHARD_BYTES}]`,
  );
  check(isCount(m.stripes), 'stripes is not an integer ≥ 0');
  check(m.stripes === stripeCount(m.size, m.k, m.shardBytes), 'stripes does not match the size');
  check(m.providers.length === m.n, 'there are not n providers');
  const pages = pageCount(m.stripes);
  const urls = new Set<string>();
  m.providers.forEach((p, i) => {
    check(isProviderUrl(p.url), `provider ${i}: url is not an http(s) URL of ≤ ${MAX_URL_BYTES}`);
    check(!urls.has(p.url), `provider ${i}: url ${p.url} appears twice`);
    urls.add(p.url);
    check(p.pages.length === pages, `provider ${i} does not list ${pages} page(s)`);
  });
}

/** An http or https URL without credentials, query or fragment, in its normal form. */
export function isProviderUrl(url: string): boolean {
  if (typeof url !== 'string' || Buffer.byteLength(url) > MAX_URL_BYTES) return false;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  return (
    (parsed.protocol === 'http:' || parsed.protocol === 'https:') &&
    parsed.username === '' &&
    parsed.password === '' &&
    parsed.search === '' &&
    parsed.hash === '' &&
    normalProviderUrl(url) === url
  );
}

/** A node URL as a manifest keeps it: the URL's own form, without trailing slashes. */
export function normalProviderUrl(url: string): string {
  return new URL(url).href.replace(/\/+$/, '');
}
