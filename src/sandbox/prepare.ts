/**
 * Checks a module against the sandbox's rules and instruments it (docs/compute-sandbox.md):
 * size first, before anything is parsed; then validity, the subset, the imports, the memory
 * limit; then fuel v1.
 */
import { SandboxError, invalid } from './errors.js';
import { instrument } from './fuel-pass.js';
import { readModule, type ModuleInfo } from './module-reader.js';
import { checkImports } from './wasi-imports.js';

export function checkSize(bytes: Uint8Array, maxModuleBytes: number): void {
  if (bytes.length > maxModuleBytes) {
    throw new SandboxError(
      'module_too_large',
      `the module is ${bytes.length} bytes, more than the limit of ${maxModuleBytes}`,
    );
  }
}

/** The module's structure, or SandboxError: module_invalid, module_unsupported, import_not_allowed. */
export function checkModule(bytes: Uint8Array): ModuleInfo {
  const valid = WebAssembly.validate(bytes);
  let info: ModuleInfo;
  try {
    info = readModule(bytes);
  } catch (error) {
    // The reader names what it found: a feature the engine does not know (memory64, say)
    // fails the engine's validation too, and a broken format is broken in both.
    if (error instanceof SandboxError) throw error;
    throw invalid(`the module cannot be read: ${(error as Error).message}`);
  }
  if (!valid) throw invalid('the bytes are not a valid Wasm module');
  checkImports(info);
  return info;
}

/** The instrumented bytes of a module, checked; throws SandboxError. */
export function prepareBytes(
  bytes: Uint8Array,
  maxModuleBytes: number,
  memoryPages: number,
): Uint8Array {
  checkSize(bytes, maxModuleBytes);
  if (!Number.isInteger(memoryPages) || memoryPages < 0 || memoryPages > 65536) {
    throw new RangeError('memoryPages must be an integer from 0 to 65536');
  }
  const info = checkModule(bytes);
  try {
    return instrument(info, memoryPages);
  } catch (error) {
    // The reader accepted the module, so the pass should too; if it does not, the module is
    // still refused with a reason rather than the error escaping to the node.
    if (error instanceof SandboxError) throw error;
    throw invalid(`the module cannot be instrumented: ${(error as Error).message}`);
  }
}
