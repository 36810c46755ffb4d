/**
 * What the compute plugin needs of the sandbox (src/sandbox, docs/compute-sandbox.md): prepare
 * a module once, run it with limits, report its load. The plugin is written against this shape.
 */
export interface SandboxLimits {
  memoryPages: number;
  fuel: number;
  wallMs: number;
  outputBytes: number;
}
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
export interface RunOutcome {
  status: RunStatus;
  message?: string;
  exitCode?: number;
  fuel: number;
  wallMs: number;
  bytesRead: number;
  bytesWritten: number;
  output: Buffer;
  log: Buffer;
}
export interface PreparedModule {
  readonly sha256: string;
  readonly size: number;
}
export interface JobSandbox {
  prepare(bytes: Uint8Array, memoryPages: number): Promise<PreparedModule>;
  run(job: {
    module: PreparedModule;
    entry: string;
    args: readonly string[];
    inputs: readonly Uint8Array[];
    limits: SandboxLimits;
  }): Promise<RunOutcome>;
  stats(): { workers: number; busy: number; queued: number };
  close(): Promise<void>;
}
