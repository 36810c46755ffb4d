/**
 * The functions a module may import (docs/compute-sandbox.md, "WASI subset"), each with the
 * one signature it must be imported with.
 */
import { SandboxError } from './errors.js';
import type { FuncType, ModuleInfo } from './module-reader.js';
import { I32, I64 } from './value-types.js';

const i32 = I32;
const sig = (params: number[], results: number[]): FuncType => ({ params, results });
const two = sig([i32, i32], [i32]);

export const WASI_MODULE = 'wasi_snapshot_preview1';

export const ALLOWED_IMPORTS: ReadonlyMap<string, FuncType> = new Map([
  [`${WASI_MODULE}.args_sizes_get`, two],
  [`${WASI_MODULE}.args_get`, two],
  [`${WASI_MODULE}.environ_sizes_get`, two],
  [`${WASI_MODULE}.environ_get`, two],
  [`${WASI_MODULE}.fd_read`, sig([i32, i32, i32, i32], [i32])],
  [`${WASI_MODULE}.fd_write`, sig([i32, i32, i32, i32], [i32])],
  [`${WASI_MODULE}.fd_close`, sig([i32], [i32])],
  [`${WASI_MODULE}.fd_fdstat_get`, two],
  [`${WASI_MODULE}.fd_filestat_get`, two],
  [`${WASI_MODULE}.fd_prestat_get`, two],
  [`${WASI_MODULE}.fd_prestat_dir_name`, sig([i32, i32, i32], [i32])],
  [`${WASI_MODULE}.fd_seek`, sig([i32, I64, i32, i32], [i32])],
  [`${WASI_MODULE}.proc_exit`, sig([i32], [])],
  [`${WASI_MODULE}.sched_yield`, sig([], [i32])],
  ['env.abort', sig([i32, i32, i32, i32], [])],
]);

const same = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((t, i) => t === b[i]);

const NAMES: Record<number, string> = {
  0x7f: 'i32',
  0x7e: 'i64',
  0x7d: 'f32',
  0x7c: 'f64',
  0x70: 'funcref',
  0x6f: 'externref',
};
const show = (t: FuncType): string =>
  `(${t.params.map((p) => NAMES[p]).join(', ')}) -> (${t.results.map((p) => NAMES[p]).join(', ')})`;

/** Refuses (`import_not_allowed`) an import the sandbox does not offer or with another signature. */
export function checkImports(info: ModuleInfo): void {
  for (const imp of info.imports) {
    const name = `${imp.module}.${imp.name}`;
    const wanted = ALLOWED_IMPORTS.get(name);
    if (!wanted) {
      throw new SandboxError(
        'import_not_allowed',
        `the module imports ${name}, which the sandbox does not offer`,
      );
    }
    const given = info.types[imp.type];
    if (!given || !same(given.params, wanted.params) || !same(given.results, wanted.results)) {
      throw new SandboxError(
        'import_not_allowed',
        `the module imports ${name} as ${given ? show(given) : 'an unknown type'}, but it is ${show(wanted)}`,
      );
    }
  }
}
