/**
 * Raw subscribers for tests: Server-Sent Events over node:http and WebSockets over `ws`, both
 * collecting the messages of GET /subscribe as parsed JSON, with the SSE event ids.
 */
import http from 'node:http';
import { WebSocket } from 'ws';

export interface SubMessage {
  readonly type: string;
  readonly cursor?: string | null;
  readonly entries?: string[];
  readonly code?: string;
  readonly message?: string;
  /** SSE only: the event's id line, if any. */
  readonly id?: string;
  /** SSE only: the event's name. */
  readonly event?: string;
}

export interface TestSubscriber {
  readonly status: number;
  readonly messages: SubMessage[];
  /** Resolves once a message satisfying `pick` has arrived (searching from index `from`). */
  waitFor(pick: (m: SubMessage) => boolean, timeoutMs?: number, from?: number): Promise<SubMessage>;
  /** The entries (base64url) received so far, in order. */
  entries(): string[];
  /** Resolves when the connection has closed. */
  readonly closed: Promise<void>;
  close(): void;
}

class Collector {
  readonly messages: SubMessage[] = [];
  private waiters: (() => void)[] = [];

  push(message: SubMessage): void {
    this.messages.push(message);
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  async waitFor(
    pick: (m: SubMessage) => boolean,
    timeoutMs = 10_000,
    from = 0,
  ): Promise<SubMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.slice(from).find(pick);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `no such message within ${timeoutMs} ms; got ${JSON.stringify(this.messages.map((m) => m.type))}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  entries(): string[] {
    return this.messages.flatMap((m) => (m.type === 'entries' ? (m.entries ?? []) : []));
  }
}

/** Subscribes over SSE; resolves once the response head arrived (any status). */
export function subscribeSse(
  base: string,
  query: string,
  headers: Record<string, string> = {},
): Promise<TestSubscriber & { body: () => string }> {
  return new Promise((resolve, reject) => {
    const collector = new Collector();
    const request = http.get(
      `${base}/subscribe?${query}`,
      { headers: { accept: 'text/event-stream', ...headers }, agent: false },
      (response) => {
        let pending = '';
        let raw = '';
        const closed = new Promise<void>((done) => response.once('close', () => done()));
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          raw += chunk.length < 10_000 ? chunk : '';
          pending += chunk;
          for (;;) {
            const end = pending.indexOf('\n\n');
            if (end < 0) break;
            const block = pending.slice(0, end);
            pending = pending.slice(end + 2);
            let id: string | undefined;
            let event: string | undefined;
            let data: string | undefined;
            for (const line of block.split('\n')) {
              if (line.startsWith('id: ')) id = line.slice(4);
              else if (line.startsWith('event: ')) event = line.slice(7);
              else if (line.startsWith('data: ')) data = line.slice(6);
            }
            if (data === undefined) continue;
            const parsed = JSON.parse(data) as SubMessage;
            collector.push({
              ...parsed,
              ...(id !== undefined ? { id } : {}),
              ...(event !== undefined ? { event } : {}),
            });
          }
        });
        response.on('error', () => undefined);
        resolve({
          status: response.statusCode ?? 0,
          messages: collector.messages,
          waitFor: (pick, timeoutMs, from) => collector.waitFor(pick, timeoutMs, from),
          entries: () => collector.entries(),
          closed,
          close: () => request.destroy(),
          body: () => raw,
        });
      },
    );
    request.on('error', reject);
  });
}

/** Subscribes over a WebSocket; rejects with the HTTP status if the upgrade is refused. */
export function subscribeWs(base: string, query: string): Promise<TestSubscriber> {
  return new Promise((resolve, reject) => {
    const collector = new Collector();
    const socket = new WebSocket(`${base.replace(/^http/, 'ws')}/subscribe?${query}`);
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    socket.on('message', (data) => collector.push(JSON.parse(String(data)) as SubMessage));
    socket.once('open', () =>
      resolve({
        status: 101,
        messages: collector.messages,
        waitFor: (pick, timeoutMs, from) => collector.waitFor(pick, timeoutMs, from),
        entries: () => collector.entries(),
        closed,
        close: () => socket.terminate(),
      }),
    );
    socket.once('unexpected-response', (_request, response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () =>
        reject(
          Object.assign(new Error(`upgrade refused: ${response.statusCode}`), {
            status: response.statusCode,
            body,
          }),
        ),
      );
    });
    socket.once('error', reject);
  });
}
