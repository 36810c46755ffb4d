/**
 * An HTTP proxy on 127.0.0.1 that passes every request to its target unchanged and records
 * each exchange's bodies: the test then knows exactly what went over the wire between a
 * command and a server it cannot see into (e.g. the blinded messages of a ticket purchase).
 * It asks the target for uncompressed answers so that what it records is readable. Bodies past
 * `maxBytes` in all are refused with 413, so a runaway client cannot fill the test's memory.
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import { after } from 'node:test';

export interface RecordedExchange {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly request: Buffer;
  readonly response: Buffer;
}

export interface RecordingProxy {
  readonly url: string;
  /** Every exchange completed, oldest first. */
  readonly exchanges: RecordedExchange[];
  close(): Promise<void>;
}

export async function startRecordingProxy(
  target: string,
  maxBytes = 16 * 1024 * 1024,
): Promise<RecordingProxy> {
  const to = new URL(target);
  const exchanges: RecordedExchange[] = [];
  let recorded = 0;
  const server: Server = createServer((req, res) => {
    const sent: Buffer[] = [];
    req.on('data', (chunk: Buffer) => sent.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(sent);
      recorded += body.length;
      if (recorded > maxBytes) {
        res.writeHead(413).end();
        return;
      }
      const headers = { ...req.headers, host: to.host };
      delete headers['accept-encoding'];
      const upstream = httpRequest(
        { host: to.hostname, port: to.port, path: req.url, method: req.method, headers },
        (answer) => {
          const got: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => got.push(chunk));
          answer.on('end', () => {
            const response = Buffer.concat(got);
            recorded += response.length;
            exchanges.push({
              method: req.method ?? '',
              path: req.url ?? '',
              status: answer.statusCode ?? 0,
              request: body,
              response,
            });
            res.writeHead(answer.statusCode ?? 502, answer.headers).end(response);
          });
        },
      );
      upstream.on('error', () => res.writeHead(502).end());
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no proxy address');
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  after(close);
  return { url: `http://127.0.0.1:${address.port}`, exchanges, close };
}
