/**
 * An HTTP proxy on 127.0.0.1 in front of a node that, once `corrupt` is set, flips one byte in
 * the middle of every `GET /get` answer: a provider that returns damaged entries. Everything
 * else passes unchanged. It counts the answers it damaged.
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import { after } from 'node:test';

export interface CorruptingProxy {
  readonly url: string;
  corrupt: boolean;
  /** Answers damaged so far. */
  readonly damaged: () => number;
  close(): Promise<void>;
}

export async function startCorruptingProxy(target: string): Promise<CorruptingProxy> {
  const to = new URL(target);
  let damaged = 0;
  const state = { corrupt: false };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const tamper = state.corrupt && req.method === 'GET' && url.pathname === '/get';
    const headers = { ...req.headers, host: to.host };
    if (tamper) delete headers['accept-encoding'];
    const upstream = httpRequest(
      { host: to.hostname, port: to.port, path: req.url, method: req.method, headers },
      (answer) => {
        if (!tamper) {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          return;
        }
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () => {
          const body = Buffer.concat(chunks);
          if (answer.statusCode === 200 && body.length > 64) {
            body[body.length >> 1]! ^= 0x5a;
            damaged += 1;
          }
          res.writeHead(answer.statusCode ?? 502, {
            ...answer.headers,
            'content-length': String(body.length),
          });
          res.end(body);
        });
      },
    );
    upstream.on('error', () => {
      res.writeHead(502, { 'content-type': 'application/json' });
      res.end('{"error":{"code":"node_error","message":"node unreachable"}}');
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const close = (): Promise<void> =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  after(close);
  return {
    url: `http://127.0.0.1:${port}`,
    get corrupt() {
      return state.corrupt;
    },
    set corrupt(on: boolean) {
      state.corrupt = on;
    },
    damaged: () => damaged,
    close,
  };
}
