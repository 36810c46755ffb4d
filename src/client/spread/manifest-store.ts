/**
 * Where a spread manifest lives: sealed to the owner as one entry, stored on every provider,
 * named by that entry's id. Loading tries the nodes given, in order, until one holds an entry
 * with that id that opens to a valid manifest.
 */
import { P2PError } from '../../errors.js';
import type { Identity } from '../../keys/keys.js';
import type { PowRule } from '../../entry/pow-rule.js';
import {
  decodeSpreadManifest,
  encodeSpreadManifest,
  type SpreadManifest,
} from '../../files/spread/manifest.js';
import { Provider } from './provider.js';
import { openPiece, type Sealer } from './sealer.js';

/** Seals the manifest once and writes it to every provider; returns its entry id. */
export async function storeManifest(
  manifest: SpreadManifest,
  providers: readonly Provider[],
  sealer: Sealer,
  signal?: AbortSignal,
): Promise<string> {
  const text = encodeSpreadManifest(manifest);
  // One entry for all: the proof of work is the most any provider asks of it.
  const rules: PowRule[] = [];
  for (const p of providers) rules.push(...(await p.powRules()));
  const piece = await sealer.seal(text, rules);
  await Promise.all(providers.map((p) => p.put([piece.bytes], signal)));
  return piece.id;
}

export interface LoadedManifest {
  readonly manifest: SpreadManifest;
  /** The node it was read from. */
  readonly from: string;
}

/** The manifest `ref` names, from the first of `nodes` that holds a valid one. */
export async function loadManifest(
  ref: string,
  nodes: readonly string[],
  owner: Identity,
  signal?: AbortSignal,
): Promise<LoadedManifest> {
  if (!/^[0-9a-f]{64}$/.test(ref)) {
    throw new P2PError('bad_argument', `a manifest reference is 64 lowercase hex: ${ref}`);
  }
  const failures: string[] = [];
  let invalid: P2PError | undefined;
  for (const url of nodes) {
    try {
      const bytes = (await new Provider(-1, url).fetch([ref], signal)).get(ref);
      if (!bytes) {
        failures.push(`${url}: does not hold it`);
        continue;
      }
      const text = openPiece(bytes, owner);
      if (!text) {
        failures.push(`${url}: it does not open with this identity`);
        invalid ??= new P2PError(
          'bad_spread_manifest',
          `manifest ${ref} is not sealed to this identity`,
        );
        continue;
      }
      return { manifest: decodeSpreadManifest(text), from: url };
    } catch (error) {
      if (error instanceof P2PError && error.code === 'aborted') throw error;
      if (error instanceof P2PError && error.code === 'bad_spread_manifest') invalid ??= error;
      failures.push(`${url}: ${(error as Error).message}`);
    }
  }
  if (invalid) throw invalid;
  throw new P2PError(
    'manifest_unavailable',
    `no node given holds manifest ${ref} (${failures.join('; ') || 'no node given'})`,
  );
}
