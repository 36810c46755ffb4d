/**
 * Runs a write policy on the ingest path. The policy is the operator's code, so nothing it
 * does may take the node down: a check that throws, takes longer than its deadline or answers
 * something malformed refuses the whole batch with policy_failed (and is logged), and the
 * node carries on.
 */
import type { Logger } from 'pino';
import { ERROR_CODES, isErrorCode } from '../../errors.js';
import { toHex } from '../../encoding/bytes.js';
import type { Entry } from '../../entry/format.js';
import type { Rejection } from '../policy.js';
import type { IngestSource, PolicyDecision, PolicyEntry, WritePolicy } from './types.js';

/** Longest refusal message kept from a policy. */
const MAX_MESSAGE = 500;

class PolicyFault extends Error {}

function policyEntry(entry: Entry, id: Buffer, source: IngestSource): PolicyEntry {
  return {
    id: toHex(id),
    table: toHex(entry.table),
    recipient: toHex(entry.recipient),
    bytes: entry.bytes.length,
    createdAt: entry.createdAt,
    expiresAt: entry.expiresAt,
    source,
  };
}

/** The refusal a decision stands for, or undefined to accept; throws PolicyFault if malformed. */
function rejectionOf(decision: PolicyDecision | undefined, index: number): Rejection | undefined {
  if (typeof decision !== 'object' || decision === null) {
    throw new PolicyFault(`decision ${index} is not an object`);
  }
  if (decision.accept === true) return undefined;
  if (decision.accept !== false) throw new PolicyFault(`decision ${index} has no boolean accept`);
  const { code, message } = decision;
  if (!isErrorCode(code) || ERROR_CODES[code].status < 400 || ERROR_CODES[code].status >= 500) {
    throw new PolicyFault(`decision ${index} refuses with ${String(code)}, not a 4xx error code`);
  }
  if (typeof message !== 'string' || message.length === 0) {
    throw new PolicyFault(`decision ${index} has no message`);
  }
  return { code, message: message.slice(0, MAX_MESSAGE) };
}

export class WritePolicyGate {
  constructor(
    private readonly policy: WritePolicy,
    readonly timeoutMs: number,
    private readonly log: Logger,
  ) {}

  /** One rejection (or undefined: accepted) per entry, in order. */
  async decide(
    entries: readonly { entry: Entry; id: Buffer }[],
    source: IngestSource,
  ): Promise<(Rejection | undefined)[]> {
    if (entries.length === 0) return [];
    const asked = entries.map((e) => policyEntry(e.entry, e.id, source));
    let timer: NodeJS.Timeout | undefined;
    try {
      const answer = await Promise.race([
        // A check that throws at once is caught like one whose promise rejects.
        Promise.resolve().then(() => this.policy.check(asked)),
        new Promise<never>((_resolve, reject) => {
          timer = setTimeout(
            () => reject(new PolicyFault(`check took longer than ${this.timeoutMs} ms`)),
            this.timeoutMs,
          );
        }),
      ]);
      if (!Array.isArray(answer) || answer.length !== entries.length) {
        throw new PolicyFault(
          `check answered ${Array.isArray(answer) ? `${answer.length} decisions` : 'no array'} for ${entries.length} entries`,
        );
      }
      return (answer as readonly PolicyDecision[]).map((decision, i) => rejectionOf(decision, i));
    } catch (error) {
      const reason = error instanceof PolicyFault ? error.message : `check threw: ${String(error)}`;
      this.log.warn({ reason, entries: entries.length, source }, 'write policy failed');
      const rejection: Rejection = {
        code: 'policy_failed',
        message: `the write policy failed (${reason.slice(0, MAX_MESSAGE)}): try again later`,
      };
      return entries.map(() => rejection);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Tells the policy that entries it accepted were not stored; a fault is logged, no more. */
  async notStored(
    entries: readonly { entry: Entry; id: Buffer }[],
    source: IngestSource,
  ): Promise<void> {
    if (!this.policy.notStored || entries.length === 0) return;
    try {
      await this.policy.notStored(entries.map((e) => policyEntry(e.entry, e.id, source)));
    } catch (error) {
      this.log.warn(
        { err: error, entries: entries.length, source },
        'write policy notStored failed',
      );
    }
  }

  async close(): Promise<void> {
    try {
      await this.policy.close?.();
    } catch (error) {
      this.log.warn({ err: error }, 'write policy failed to close');
    }
  }
}
