/**
 * What a node checks of a verified job request before it reads any entry (docs/protocol.md
 * §16.2): the grant is this job's and this node's, nothing has expired, the limits are within
 * the node's, and the grant holds exactly the keys of the entries the job reads. Pure.
 */
import type { Grant } from '../../compute/grant.js';
import type { GrantKey } from '../../compute/entry-keys.js';
import { refuse } from '../../compute/errors.js';
import type { JobBody } from '../../compute/job.js';
import type { ComputeConfig } from './config.js';

/** How far ahead a job may expire: bounds how long its id must be remembered against replays. */
export const MAX_JOB_LIFETIME_MS = 24 * 3600 * 1000;

export interface Admitted {
  /** Entry id → its key, for every entry the module and inputs name. */
  readonly keys: Map<string, GrantKey>;
  /** When the job stops being valid: the earlier of the job's and the grant's expiry. */
  readonly expiresAt: number;
}

export function admitJob(
  body: JobBody,
  grant: Grant,
  node: { signing: string; config: ComputeConfig },
  now: number,
): Admitted {
  if (body.node !== node.signing) refuse('grant_invalid', 'the job is for another node');
  if (grant.node !== node.signing) refuse('grant_invalid', 'the grant is for another node');
  if (grant.job !== body.id) refuse('grant_invalid', 'the grant is for another job');
  const expiresAt = Math.min(body.expires_at, grant.expires_at);
  if (expiresAt <= now)
    refuse('grant_expired', `the job expired at ${new Date(expiresAt).toISOString()}`);
  if (body.expires_at > now + MAX_JOB_LIFETIME_MS) {
    refuse('job_invalid', 'expires_at: a job may expire at most 24 hours ahead');
  }
  const { max, max_module_bytes, max_input_bytes } = node.config;
  for (const name of ['memory_pages', 'fuel', 'wall_ms', 'output_bytes'] as const) {
    if (body.limits[name] > max[name]) {
      refuse(
        'limits_exceeded',
        `limits.${name} ${body.limits[name]} is above this node's ${max[name]}`,
      );
    }
  }
  if (body.module.size > max_module_bytes) {
    refuse(
      'limits_exceeded',
      `the module's ${body.module.size} bytes are above this node's ${max_module_bytes}`,
    );
  }
  const inputBytes = body.inputs.reduce((n, b) => n + b.size, 0);
  if (inputBytes > max_input_bytes) {
    refuse(
      'limits_exceeded',
      `the inputs' ${inputBytes} bytes are above this node's ${max_input_bytes}`,
    );
  }
  const granted = new Map(grant.keys.map((k) => [k.entry, k]));
  const keys = new Map<string, GrantKey>();
  for (const blob of [body.module, ...body.inputs]) {
    for (const entry of blob.entries) {
      const key = granted.get(entry);
      if (!key) refuse('input_not_granted', `the grant holds no key for entry ${entry}`);
      keys.set(entry, key);
    }
  }
  if (keys.size !== granted.size) {
    refuse('grant_invalid', 'the grant holds keys for entries the job does not read');
  }
  return { keys, expiresAt };
}
