/**
 * A plain HTTP server on 127.0.0.1 that reads each request's whole body before handing it to
 * `answer`: the shape every fake peer in tools/ and test/ needs. An answer that throws ends
 * the connection rather than the process, as a peer's failure would look to a node.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type BufferedAnswer = (
  req: http.IncomingMessage,
  body: Buffer,
  res: http.ServerResponse,
) => void;

/** Listens on `port` (0: a free one) and resolves with the server and its base URL. */
export async function listenBuffered(
  answer: BufferedAnswer,
  port = 0,
): Promise<{ server: http.Server; url: string }> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      try {
        answer(req, Buffer.concat(chunks), res);
      } catch (error) {
        res.destroy(error as Error);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}
