/**
 * The errors of compute jobs: a P2PError whose code is one of the compute codes, so callers
 * can tell a refused job from any other failure by class and still answer with its HTTP status.
 */
import { P2PError } from '../errors.js';

export const COMPUTE_ERROR_CODES = [
  'compute_disabled',
  'job_invalid',
  'bad_signature',
  'grant_invalid',
  'grant_expired',
  'input_not_granted',
  'input_missing',
  'table_not_allowed',
  'limits_exceeded',
  'job_replayed',
  'job_queue_full',
  'job_unknown',
] as const;
export type ComputeErrorCode = (typeof COMPUTE_ERROR_CODES)[number];

export class ComputeError extends P2PError {
  declare readonly code: ComputeErrorCode;
  constructor(code: ComputeErrorCode, message?: string, details?: Record<string, unknown>) {
    super(code, message, details);
    this.name = 'ComputeError';
  }
}

export function refuse(code: ComputeErrorCode, message?: string): never {
  throw new ComputeError(code, message);
}
