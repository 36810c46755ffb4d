/**
 * Loads a module an operator names in the config (a write policy, an attester) and returns its
 * default export, which must be a factory function. Loading happens once, at start: anything
 * wrong stops the start with one bad_config error naming the setting, the module and the fault.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { P2PError } from '../errors.js';

export interface OperatorModule {
  /** The module's absolute path, for messages. */
  readonly path: string;
  readonly factory: (...args: never[]) => unknown;
  /** Throws the bad_config error of this setting and module. */
  fail(why: string): never;
}

/** `setting` names where the module came from (e.g. "write_policy.module"); `shape` the factory expected. */
export async function loadOperatorModule(
  modulePath: string,
  setting: string,
  shape: string,
): Promise<OperatorModule> {
  const path = resolve(modulePath);
  const fail = (why: string): never => {
    throw new P2PError('bad_config', `${setting} ${path}: ${why}`);
  };
  let loaded: { default?: unknown };
  try {
    loaded = (await import(pathToFileURL(path).href)) as { default?: unknown };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return fail(
      code === 'ERR_MODULE_NOT_FOUND'
        ? 'no such module'
        : `cannot be loaded: ${(error as Error).message.split('\n')[0]}`,
    );
  }
  if (typeof loaded.default !== 'function') {
    return fail(`its default export must be a function ${shape}`);
  }
  return { path, factory: loaded.default as (...args: never[]) => unknown, fail };
}
