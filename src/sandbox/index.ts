/** The sandbox that runs untrusted Wasm modules (docs/compute-sandbox.md). */
export { Sandbox } from './sandbox.js';
export type {
  PreparedModule,
  RunJob,
  RunOutcome,
  SandboxLimits,
  SandboxOptions,
} from './sandbox.js';
export { SandboxError } from './errors.js';
export type { RunStatus } from './errors.js';
