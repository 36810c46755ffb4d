/**
 * The answer of one job on one node, read after the run that sent it is gone (interrupted, its
 * poll lost): checked as a run checks it (docs/compute-client.md §2 step 5) with what is still
 * known, the job id. With a payer, this settles a metered job: the job must be one of the
 * payer's ledger and the node the ledger's, and the verified compute receipt is noted there
 * (docs/billing.md §11) as the fuel the node may bill; an answer that fails a check notes nothing.
 */
import { P2PError } from '../../errors.js';
import type { Identity } from '../../keys/keys.js';
import { recordJobReceipt, type Payer } from '../billing/metered.js';
import { nodeBillingKey } from '../billing/node-key.js';
import type { CallOptions } from '../http.js';
import { checkAnswer, type Checked } from './answer.js';
import { jobState, jobsInfo } from './node-api.js';

export interface JobResultOptions {
  readonly node: string;
  /** The job id (32 hex) the requester chose. */
  readonly id: string;
  /** The identity the output is sealed to. */
  readonly identity: Identity;
  /** The payer whose ledger holds the job: its receipt is noted there once it verified. */
  readonly payer?: Payer;
  readonly options?: CallOptions;
}

/** Reads, checks and (with a payer) notes job `id`'s answer; see the module comment. */
export async function fetchJobResult(request: JobResultOptions): Promise<Checked> {
  const { node, id, identity, payer } = request;
  const options = request.options ?? {};
  if (!/^[0-9a-f]{32}$/.test(id)) {
    throw new P2PError(
      'bad_argument',
      `not a job id (expected 32 hex characters): ${id.slice(0, 40)}`,
    );
  }
  const nothing = payer ? ', nothing recorded' : '';
  if (payer && !payer.ledger.requestOfJob(id)) {
    throw new P2PError(
      'bad_argument',
      `job ${id} is not in the ledger ${payer.ledger.path}: it was not sent with this payer${nothing}`,
    );
  }
  // The ledger counts one node: a node with another billing key never billed this job.
  if (payer) await nodeBillingKey(node, payer.ledger, options);
  // The node's compute key: a receipt it shows must be signed by it, not merely by someone.
  const info = await jobsInfo(node, options);
  const state = await jobState(node, id, 0, options);
  if (state.status !== 'done') {
    throw new P2PError(
      'bad_argument',
      `job ${id} is ${state.status} on ${node}: no result yet${nothing}`,
    );
  }
  let checked: Checked;
  try {
    checked = checkAnswer(node, info.node, { id }, identity, state);
  } catch (error) {
    if (error instanceof P2PError && payer) {
      throw new P2PError(error.code, `${error.message}${nothing}`, error.details);
    }
    throw error;
  }
  if (payer) await recordJobReceipt(payer.ledger, checked.receipt);
  return checked;
}
