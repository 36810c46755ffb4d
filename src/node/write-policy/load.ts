/**
 * Loads the write-policy module named in the config, once, at start. Anything wrong with it
 * (no such file, not a module, no factory, a factory that throws or does not return a policy)
 * stops the start with one bad_config error naming the module and the fault.
 */
import type { Logger } from 'pino';
import { P2PError } from '../../errors.js';
import { fromHex, toHex } from '../../encoding/bytes.js';
import type { Store } from '../../store/store.js';
import type { WritePolicySettings } from './config.js';
import { loadOperatorModule } from '../operator-module.js';
import { WritePolicyGate } from './gate.js';
import type { WritePolicy, WritePolicyContext, WritePolicyFactory } from './types.js';

/** How long a factory may take to build its policy (it may read the store). */
const FACTORY_DEADLINE_MS = 60_000;

function contextFor(store: Store, log: Logger): WritePolicyContext {
  return {
    async tableStats(tables) {
      const keys = tables?.map((t) => {
        const key = /^[0-9a-f]{64}$/.test(t) ? fromHex(t) : undefined;
        if (!key) throw new P2PError('bad_argument', `tableStats: ${t} is not 64 hex characters`);
        return key;
      });
      const stats = await store.tableStats(keys);
      return stats.map((s) => ({ table: toHex(s.table), entries: s.count, bytes: s.bytes }));
    },
    log,
  };
}

export async function loadWritePolicy(
  settings: WritePolicySettings,
  store: Store,
  log: Logger,
): Promise<WritePolicyGate> {
  const { factory: loadedFactory, fail } = await loadOperatorModule(
    settings.module,
    'write_policy.module',
    '(options, context) => policy',
  );
  const factory = loadedFactory as unknown as WritePolicyFactory;
  const policyLog = log.child({ component: 'write-policy' });
  let timer: NodeJS.Timeout | undefined;
  let policy: WritePolicy;
  try {
    policy = await Promise.race([
      Promise.resolve().then(() => factory(settings.options, contextFor(store, policyLog))),
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no policy after ${FACTORY_DEADLINE_MS / 1000} s`)),
          FACTORY_DEADLINE_MS,
        );
      }),
    ]);
  } catch (error) {
    return fail(`its factory failed: ${(error as Error).message?.split('\n')[0] ?? String(error)}`);
  } finally {
    clearTimeout(timer);
  }
  if (typeof policy !== 'object' || policy === null || typeof policy.check !== 'function') {
    return fail('its factory must return an object with a check(entries) method');
  }
  return new WritePolicyGate(policy, settings.timeout_ms, policyLog);
}
