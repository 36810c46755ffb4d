/**
 * The attestation hook (docs/compute.md §9). A node that runs inside a trusted execution
 * environment makes its compute keys there and asks the platform for evidence over
 *
 *   report data = SHA-256("p2pcloud/v1/attest" || node signing key (32) || node box key (32))
 *
 * which binds the keys that sign receipts and open grants to the environment. Verifiers of
 * real platforms (AMD SEV-SNP, Intel TDX) are described in the document; this module holds the
 * interfaces and one test implementation, "test-ed25519", where a fixed "platform" Ed25519 key
 * plays the hardware. Pure.
 */
import { sign, verify, type SigningKeyPair } from '../crypto/ed25519.js';
import { sha256 } from '../crypto/sha256.js';
import { bytesEqual, utf8 } from '../encoding/bytes.js';

export const ATTEST_DOMAIN = utf8('p2pcloud/v1/attest');
export const TEST_ATTEST_DOMAIN = utf8('p2pcloud/v1/attest-test-ed25519');
export const TEST_ATTESTATION_KIND = 'test-ed25519';

export interface Attester {
  readonly kind: string;
  evidence(reportData: Uint8Array): Promise<Uint8Array>;
}

export type AttestationVerdict = { ok: true } | { ok: false; reason: string };

export interface AttestationVerifier {
  readonly kind: string;
  verify(evidence: Uint8Array, reportData: Uint8Array): Promise<AttestationVerdict>;
}

export function attestationReportData(nodeSigningKey: Uint8Array, nodeBoxKey: Uint8Array): Buffer {
  if (nodeSigningKey.length !== 32 || nodeBoxKey.length !== 32) {
    throw new RangeError('node keys must be 32 bytes each');
  }
  return sha256(ATTEST_DOMAIN, nodeSigningKey, nodeBoxKey);
}

/**
 * Test evidence = platform public key (32) || Ed25519 signature (64) by the platform key over
 * "p2pcloud/v1/attest-test-ed25519" || report data (32).
 */
export class TestEd25519Attester implements Attester {
  readonly kind = TEST_ATTESTATION_KIND;
  constructor(private readonly platform: SigningKeyPair) {}

  evidence(reportData: Uint8Array): Promise<Uint8Array> {
    const sig = sign(Buffer.concat([TEST_ATTEST_DOMAIN, reportData]), this.platform);
    return Promise.resolve(Buffer.concat([this.platform.publicKey, sig]));
  }
}

export class TestEd25519Verifier implements AttestationVerifier {
  readonly kind = TEST_ATTESTATION_KIND;
  constructor(private readonly platformPublicKey: Uint8Array) {}

  verify(evidence: Uint8Array, reportData: Uint8Array): Promise<AttestationVerdict> {
    return Promise.resolve(this.check(evidence, reportData));
  }

  private check(evidence: Uint8Array, reportData: Uint8Array): AttestationVerdict {
    if (evidence.length !== 96) return { ok: false, reason: 'evidence is not 96 bytes' };
    if (reportData.length !== 32) return { ok: false, reason: 'report data is not 32 bytes' };
    if (!bytesEqual(evidence.subarray(0, 32), this.platformPublicKey)) {
      return { ok: false, reason: 'evidence is from another platform key' };
    }
    const message = Buffer.concat([TEST_ATTEST_DOMAIN, reportData]);
    if (!verify(evidence.subarray(32), message, this.platformPublicKey)) {
      return { ok: false, reason: 'platform signature does not verify over this report data' };
    }
    return { ok: true };
  }
}
