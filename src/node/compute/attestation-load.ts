/**
 * Loads the attestation module named in `compute.attestation`, once, at start, and asks it for
 * the evidence over the node's compute keys (docs/compute.md §9). Anything wrong with it stops
 * the start with one bad_config error naming the module and the fault.
 *
 * The module's default export is `(options) => Attester | Promise<Attester>`.
 */
import { attestationReportData, type Attester } from '../../compute/attestation.js';
import { toBase64Url } from '../../compute/encoding.js';
import { MAX_EVIDENCE_BYTES } from '../../compute/receipt.js';
import { P2PError } from '../../errors.js';
import { loadOperatorModule } from '../operator-module.js';
import type { ComputeConfig } from './config.js';
import type { ComputeKeys } from './key-file.js';

/** How long a module may take to make its attester and evidence (a platform call). */
const DEADLINE_MS = 60_000;

export interface Attestation {
  readonly kind: string;
  /** base64url of the evidence. */
  readonly evidence: string;
}

async function withDeadline<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${what} took longer than ${DEADLINE_MS} ms`)),
          DEADLINE_MS,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export async function loadAttestation(
  settings: NonNullable<ComputeConfig['attestation']>,
  keys: ComputeKeys,
): Promise<Attestation> {
  const { factory: loadedFactory, fail } = await loadOperatorModule(
    settings.module,
    'compute.attestation.module',
    '(options) => attester',
  );
  const factory = loadedFactory as unknown as (options: Record<string, unknown>) => unknown;
  let attester: Attester;
  let evidence: Uint8Array;
  try {
    attester = (await withDeadline(
      Promise.resolve(factory(settings.options)),
      'the factory',
    )) as Attester;
    if (
      typeof attester !== 'object' ||
      attester === null ||
      typeof attester.kind !== 'string' ||
      !/^[a-z0-9][a-z0-9-]{0,63}$/.test(attester.kind) ||
      typeof attester.evidence !== 'function'
    ) {
      return fail(
        'the factory must return { kind, evidence(reportData) } with a kind of [a-z0-9-]',
      );
    }
    const reportData = attestationReportData(keys.signing.publicKey, keys.box.publicKey);
    evidence = await withDeadline(Promise.resolve(attester.evidence(reportData)), 'evidence');
  } catch (error) {
    if (error instanceof P2PError) throw error;
    return fail(`failed: ${(error as Error).message.split('\n')[0]}`);
  }
  if (
    !(evidence instanceof Uint8Array) ||
    evidence.length === 0 ||
    evidence.length > MAX_EVIDENCE_BYTES
  ) {
    return fail(`evidence must be 1 to ${MAX_EVIDENCE_BYTES} bytes`);
  }
  return { kind: attester.kind, evidence: toBase64Url(evidence) };
}
