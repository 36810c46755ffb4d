/**
 * An HTTP proxy on 127.0.0.1 in front of a node that, once `corrupt` is set, flips one byte in
 * the middle of every `GET /get` answer: a provider that returns damaged entries. Everything
 * else passes unchanged. It counts the answers it damaged.
 */
import { startRewritingProxy } from './rewriting-proxy.js';

export interface CorruptingProxy {
  readonly url: string;
  corrupt: boolean;
  /** Answers damaged so far. */
  readonly damaged: () => number;
  close(): Promise<void>;
}

export async function startCorruptingProxy(target: string): Promise<CorruptingProxy> {
  let damaged = 0;
  const state = { corrupt: false };
  const proxy = await startRewritingProxy(target, (req, url) =>
    state.corrupt && req.method === 'GET' && url.pathname === '/get'
      ? (status, body) => {
          if (status === 200 && body.length > 64) {
            body[body.length >> 1]! ^= 0x5a;
            damaged += 1;
          }
          return body;
        }
      : undefined,
  );
  return {
    url: proxy.url,
    get corrupt() {
      return state.corrupt;
    },
    set corrupt(on: boolean) {
      state.corrupt = on;
    },
    damaged: () => damaged,
    close: proxy.close,
  };
}
