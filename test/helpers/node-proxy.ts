/**
 * An HTTP proxy on 127.0.0.1 in front of a node, for gateway tests: it records every entry
 * read (`GET /get`, with its query and the bytes answered) and can hide tables from the node's
 * `/index` summary, so that a gateway behind it does not learn of them until they are shown.
 * It offers no live subscriptions (`GET /subscribe` is 404, as from a node without them): a
 * subscription would bring the hidden tables' entries, so a gateway behind it polls. With
 * `holdPuts` set, a `/put` reaches the node but its answer never reaches the gateway (a process
 * killed while a node stores what it sent).
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import { after } from 'node:test';

export interface ProxiedRead {
  readonly at: number;
  readonly query: URLSearchParams;
  bytes: number;
}

export interface NodeProxy {
  readonly url: string;
  /** Every `GET /get` forwarded, oldest first. */
  readonly reads: ProxiedRead[];
  /** Tables (hex) left out of `/index` answers. */
  readonly hidden: Set<string>;
  /** Puts forwarded whose answers are withheld while `holdPuts` is set. */
  readonly heldPuts: number;
  holdPuts: boolean;
  close(): Promise<void>;
}

export async function startNodeProxy(target: string): Promise<NodeProxy> {
  const to = new URL(target);
  const reads: ProxiedRead[] = [];
  const hidden = new Set<string>();
  const held = { on: false, count: 0 };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    if (url.pathname === '/subscribe') {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":{"code":"not_found","message":"no subscriptions behind this proxy"}}');
      return;
    }
    const read: ProxiedRead | undefined =
      req.method === 'GET' && url.pathname === '/get'
        ? { at: Date.now(), query: url.searchParams, bytes: 0 }
        : undefined;
    if (read) reads.push(read);
    const filter = req.method === 'GET' && url.pathname === '/index' && hidden.size > 0;
    const headers = { ...req.headers, host: to.host };
    if (filter) delete headers['accept-encoding'];
    const upstream = httpRequest(
      { host: to.hostname, port: to.port, path: req.url, method: req.method, headers },
      (answer) => {
        if (held.on && req.method === 'POST' && url.pathname === '/put') {
          // The node has stored what it will; the gateway waits for an answer that never comes.
          answer.resume();
          held.count += 1;
          return;
        }
        if (!filter) {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.on('data', (chunk: Buffer) => {
            if (read) read.bytes += chunk.length;
          });
          answer.pipe(res);
          return;
        }
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () => {
          let body = Buffer.concat(chunks);
          try {
            const parsed = JSON.parse(body.toString('utf8')) as { tables?: { table: string }[] };
            if (Array.isArray(parsed.tables)) {
              parsed.tables = parsed.tables.filter((t) => !hidden.has(t.table));
              body = Buffer.from(JSON.stringify(parsed));
            }
          } catch {
            // Not JSON (an error page): passed on as it came.
          }
          const headers = { ...answer.headers, 'content-length': String(body.length) };
          res.writeHead(answer.statusCode ?? 502, headers);
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
    reads,
    hidden,
    get heldPuts() {
      return held.count;
    },
    get holdPuts() {
      return held.on;
    },
    set holdPuts(on: boolean) {
      held.on = on;
    },
    close,
  };
}
