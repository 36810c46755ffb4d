/**
 * An HTTP proxy on 127.0.0.1 in front of a node that passes every request through and may
 * rewrite chosen answers: `rewriterFor` looks at each request and returns a function that gets
 * the whole answer body (and status) and returns the body to send, or undefined to pass the
 * answer on as it streams. The base of the tampering proxies of the tests.
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { after } from 'node:test';

export type Rewrite = (status: number, body: Buffer) => Buffer;

export interface RewritingProxy {
  readonly url: string;
  close(): Promise<void>;
}

export async function startRewritingProxy(
  target: string,
  rewriterFor: (req: IncomingMessage, url: URL) => Rewrite | undefined,
): Promise<RewritingProxy> {
  const to = new URL(target);
  const server: Server = createServer((req, res) => {
    const rewrite = rewriterFor(req, new URL(req.url ?? '/', 'http://proxy'));
    const headers = { ...req.headers, host: to.host };
    // A rewritten answer is read whole as plain bytes.
    if (rewrite) delete headers['accept-encoding'];
    const upstream = httpRequest(
      { host: to.hostname, port: to.port, path: req.url, method: req.method, headers },
      (answer) => {
        if (!rewrite) {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          return;
        }
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () => {
          const body = rewrite(answer.statusCode ?? 502, Buffer.concat(chunks));
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
  return { url: `http://127.0.0.1:${port}`, close };
}
