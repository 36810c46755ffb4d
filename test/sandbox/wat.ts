/** Test modules written in WAT text, assembled by binaryen (a dev dependency). */
import binaryen from 'binaryen';
import type { RunOutcome, Sandbox, SandboxLimits } from '../../src/sandbox/index.js';

const F = binaryen.Features;
/** The features of the deterministic subset. */
export const SUBSET =
  F.MVP | F.SignExt | F.MutableGlobals | F.NontrappingFPToInt | F.BulkMemory | F.Multivalue;

/** The binary of a module in WAT text, with the subset's features and `extra` enabled. */
export function wat(text: string, extra = 0): Uint8Array {
  const module = binaryen.parseText(text);
  try {
    module.setFeatures(SUBSET | extra);
    return module.emitBinary();
  } finally {
    module.dispose();
  }
}

export const LIMITS: SandboxLimits = {
  memoryPages: 16,
  fuel: 10_000_000,
  wallMs: 5_000,
  outputBytes: 1024,
};

/** Prepares and runs a module once: the outcome, or the error prepare threw. */
export async function runOnce(
  sandbox: Sandbox,
  bytes: Uint8Array,
  options: {
    entry?: string;
    args?: string[];
    inputs?: Uint8Array[];
    limits?: Partial<SandboxLimits>;
  } = {},
): Promise<RunOutcome> {
  const limits = { ...LIMITS, ...options.limits };
  const module = await sandbox.prepare(bytes, limits.memoryPages);
  return sandbox.run({
    module,
    entry: options.entry ?? '_start',
    args: options.args ?? [],
    inputs: options.inputs ?? [],
    limits,
  });
}
