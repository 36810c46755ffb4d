/**
 * One run: a fresh instance of a compiled, instrumented module, its fuel set, its start
 * function and entry point called, and whatever happened turned into an outcome. Runs in a
 * sandbox worker; never throws for anything the module does.
 */
import type { RunStatus } from './errors.js';
import {
  FUEL_EXPORT,
  MEMORY_EXPORT,
  RESERVED_EXPORT_PREFIX,
  START_EXPORT,
  STOP_EXPORT,
  STOP_MEMORY_LIMIT,
  STOP_STACK,
} from './fuel-pass.js';
import { AbortCall, ExitSignal, OutputLimitSignal, WasiHost } from './wasi-host.js';

export interface RunRequest {
  readonly entry: string;
  readonly args: readonly string[];
  readonly inputs: readonly Uint8Array[];
  readonly fuel: number;
  readonly outputBytes: number;
}

/** An outcome as the worker reports it; the wall time is measured by the pool. */
export interface InstanceOutcome {
  status: RunStatus;
  message?: string;
  exitCode?: number;
  fuel: number;
  bytesRead: number;
  bytesWritten: number;
  output: Uint8Array;
  log: Uint8Array;
}

const EMPTY = new Uint8Array(0);

export function runInstance(module: WebAssembly.Module, request: RunRequest): InstanceOutcome {
  const host = new WasiHost([request.entry, ...request.args], request.inputs, request.outputBytes);
  const finish = (
    status: RunStatus,
    fuel: number,
    message?: string,
    exitCode?: number,
  ): InstanceOutcome => {
    const outcome: InstanceOutcome = {
      status,
      fuel,
      bytesRead: host.bytesRead,
      bytesWritten: host.bytesWritten,
      output: status === 'ok' || status === 'exit' ? host.outputBuffer() : EMPTY,
      log: host.logBuffer(),
    };
    if (message !== undefined) outcome.message = message;
    if (exitCode !== undefined) outcome.exitCode = exitCode;
    return outcome;
  };
  let instance: WebAssembly.Instance;
  try {
    instance = new WebAssembly.Instance(module, host.imports());
  } catch (error) {
    // Data or element segments that do not fit: the module traps before it starts.
    return finish('trap', 0, `the module cannot be instantiated: ${messageOf(error)}`);
  }
  const exports = instance.exports;
  const fuelGlobal = exports[FUEL_EXPORT] as WebAssembly.Global;
  const stopGlobal = exports[STOP_EXPORT] as WebAssembly.Global;
  host.memory = exports[MEMORY_EXPORT] as WebAssembly.Memory | undefined;
  host.fuel = fuelGlobal;
  const entry = request.entry.startsWith(RESERVED_EXPORT_PREFIX)
    ? undefined
    : exports[request.entry];
  if (typeof entry !== 'function') {
    return finish(
      'module_invalid',
      0,
      `the module exports no function ${JSON.stringify(request.entry)}`,
    );
  }
  if (entry.length !== 0) {
    return finish(
      'module_invalid',
      0,
      `the entry point ${request.entry} takes ${entry.length} parameters, not 0`,
    );
  }
  const start = exports[START_EXPORT] as (() => void) | undefined;
  const limit = BigInt(request.fuel);
  fuelGlobal.value = limit;
  let status: RunStatus = 'ok';
  let message: string | undefined;
  let exitCode: number | undefined;
  try {
    start?.();
    (entry as () => unknown)();
  } catch (error) {
    if (error instanceof ExitSignal) {
      if (error.code !== 0) {
        status = 'exit';
        exitCode = error.code;
        message = `the module exited with code ${error.code}`;
      }
    } else if (error instanceof OutputLimitSignal) {
      status = 'output_limit';
      message = `the module wrote more than ${request.outputBytes} bytes of output`;
    } else if (error instanceof AbortCall) {
      status = 'trap';
      message = `the module aborted: ${error.message}`;
    } else if (stopGlobal.value === STOP_MEMORY_LIMIT) {
      status = 'memory_limit';
      message = 'the module asked for more memory than the limit';
    } else if (stopGlobal.value === STOP_STACK) {
      status = 'trap';
      message = 'the module exhausted its stack (calls nested too deep)';
    } else if (error instanceof RangeError && /call stack/i.test(error.message)) {
      status = 'trap';
      message = 'the module exhausted the call stack';
    } else {
      status = 'trap';
      message = `the module trapped: ${messageOf(error)}`;
    }
  }
  const remaining = fuelGlobal.value as bigint;
  if (remaining < 0n) {
    return finish('out_of_fuel', request.fuel, `the module used all ${request.fuel} fuel`);
  }
  return finish(status, Number(limit - remaining), message, exitCode);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
