/**
 * What the compute plugin needs of the sandbox (src/sandbox, docs/compute-sandbox.md): prepare
 * a module once, run it with limits, report its load, close.
 */
import type { Sandbox } from '../../sandbox/index.js';

export type { PreparedModule, RunOutcome, RunStatus, SandboxLimits } from '../../sandbox/index.js';
export type JobSandbox = Pick<Sandbox, 'prepare' | 'run' | 'stats' | 'close'>;
