/** Why a run ended, or why a module was refused (docs/compute-sandbox.md, "Statuses"). */
export type RunStatus =
  | 'ok'
  | 'exit'
  | 'trap'
  | 'out_of_fuel'
  | 'memory_limit'
  | 'wall_limit'
  | 'output_limit'
  | 'module_invalid'
  | 'module_too_large'
  | 'module_unsupported'
  | 'import_not_allowed';

/** A module refused before it runs: `code` says why, the message names what. */
export class SandboxError extends Error {
  constructor(
    readonly code: RunStatus,
    message: string,
  ) {
    super(message);
    this.name = 'SandboxError';
  }
}

/** Not valid Wasm: the binary format is broken where the reader stands. */
export function invalid(message: string): SandboxError {
  return new SandboxError('module_invalid', message);
}

/** Valid Wasm that uses a feature outside the deterministic subset. */
export function unsupported(feature: string): SandboxError {
  return new SandboxError(
    'module_unsupported',
    `the module uses ${feature}, which the sandbox does not run`,
  );
}
