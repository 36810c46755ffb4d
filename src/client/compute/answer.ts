/**
 * Checking what a node answers for a finished job (docs/compute.md): the receipt, and the
 * sealed output and log that belong to it. Pure.
 */
import type { Blob } from '../../compute/blob.js';
import { fromBase64Url } from '../../compute/encoding.js';
import { verifyReceipt, type VerifiedReceipt } from '../../compute/receipt.js';
import { openResult } from '../../compute/result.js';
import { sha256 } from '../../crypto/sha256.js';
import { toHex } from '../../encoding/bytes.js';
import { P2PError } from '../../errors.js';
import type { Identity } from '../../keys/keys.js';

export interface Checked {
  readonly receipt: VerifiedReceipt;
  readonly output: Buffer;
  readonly log: Buffer | undefined;
}

/** The largest sealed output read: the format's output_bytes bound and the seal. */
const MAX_SEALED_OUTPUT_BYTES = 2 ** 32 + 1024;

/**
 * The output a receipt names, opened from its sealed form (base64url) with the requester's
 * key: empty when the receipt names none. Throws decrypt_failed when it does not open for
 * this receipt and node_lied when it opens to other bytes than the receipt's hash.
 */
export function openOutput(
  node: string,
  identity: Identity,
  receipt: VerifiedReceipt,
  sealedText: string | undefined,
): Buffer {
  if (receipt.body.output === null) return Buffer.alloc(0);
  const sealed =
    sealedText === undefined ? undefined : fromBase64Url(sealedText, MAX_SEALED_OUTPUT_BYTES);
  const opened = sealed && openResult('output', identity.box, receipt.hash, sealed);
  if (!opened) {
    throw new P2PError(
      'node_lied',
      `${node}: the sealed output is missing or does not open for its receipt with this identity`,
      { node },
    );
  }
  if (toHex(sha256(opened)) !== receipt.body.output) {
    throw new P2PError(
      'node_lied',
      `${node}: the output's SHA-256 is not the one its receipt names`,
      {
        node,
      },
    );
  }
  return opened;
}

/** What the requester knows of the job it sent to one node. */
export interface ExpectedJob {
  /** The job's id, chosen by the requester. */
  readonly id: string;
  /**
   * The job hash, module and inputs sent. A requester that lost its run (only its ledger says
   * the job was sent) knows the id alone: the receipt is then held to the id, the node's key and
   * the sealed output.
   */
  readonly sent?: {
    readonly hash: string;
    readonly module: Blob;
    readonly inputs: readonly Blob[];
  };
}

/**
 * Checks a finished job's answer: a receipt signed by `key` for exactly this job, and a sealed
 * output that opens for that receipt and hashes to what it names. Throws node_lied otherwise.
 */
export function checkAnswer(
  node: string,
  key: string,
  expected: ExpectedJob,
  identity: Identity,
  answer: { receipt?: unknown; output?: string; log?: string },
): Checked {
  const lie = (what: string): P2PError => new P2PError('node_lied', `${node}: ${what}`, { node });
  const receipt = verifyReceipt(answer.receipt, key);
  if (!receipt) throw lie("the receipt is missing or not signed by the node's compute key");
  const body = receipt.body;
  const sent = expected.sent;
  if (body.job_id !== expected.id || (sent && body.job !== sent.hash)) {
    throw lie('the receipt names another job');
  }
  if (
    sent &&
    (body.module !== sent.module.sha256 ||
      body.inputs.length !== sent.inputs.length ||
      body.inputs.some((sha, i) => sha !== sent.inputs[i]!.sha256))
  ) {
    throw lie("the receipt names another module or other inputs than the job's");
  }
  const output = openOutput(node, identity, receipt, answer.output);
  const sealedLog = answer.log === undefined ? undefined : fromBase64Url(answer.log, 1024 * 1024);
  const log = sealedLog ? openResult('log', identity.box, receipt.hash, sealedLog) : undefined;
  return { receipt, output, log };
}
