/**
 * HTTP requests to a node on 127.0.0.1 from a chosen loopback source address. Linux routes the
 * whole of 127.0.0.0/8 to the loopback interface, so each role of a measurement (a prober, an
 * attacker, one crafted request) can come from its own address, as separate hosts would, and a
 * node's per-address limits apply to each role separately.
 */
import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';

export interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  /** From sending the request to the last byte of the answer. */
  readonly ms: number;
  /** When the request was sent and when its answer ended (performance.now()). */
  readonly started: number;
  readonly ended: number;
}

export interface SendOptions {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: Buffer | string;
  /** Source address (127.x.y.z); 127.0.0.1 if absent. */
  readonly from?: string;
  readonly timeoutMs?: number;
}

/** Status 0 stands for "no answer" (refused, reset or timed out). */
export const NO_ANSWER = 0;

const agents = new Map<string, Agent>();

function agentFor(from: string): Agent {
  let agent = agents.get(from);
  if (!agent) {
    agent = new Agent({ keepAlive: true, maxSockets: 64, localAddress: from });
    agents.set(from, agent);
  }
  return agent;
}

/** Closes every kept-alive connection, so the process can exit. */
export function closeLoopbackAgents(): void {
  for (const agent of agents.values()) agent.destroy();
  agents.clear();
}

export function send(url: string, options: SendOptions = {}): Promise<Answer> {
  const from = options.from ?? '127.0.0.1';
  const started = performance.now();
  const body = typeof options.body === 'string' ? Buffer.from(options.body) : options.body;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (status: number, headers: IncomingHttpHeaders, data: Buffer): void => {
      if (settled) return;
      settled = true;
      const ended = performance.now();
      resolve({ status, headers, body: data, ms: ended - started, started, ended });
    };
    const req = httpRequest(
      url,
      {
        method: options.method ?? 'GET',
        agent: agentFor(from),
        headers: {
          ...(body ? { 'content-length': String(body.length) } : {}),
          ...options.headers,
        },
        timeout: options.timeoutMs ?? 120_000,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          finish(response.statusCode ?? NO_ANSWER, response.headers, Buffer.concat(chunks)),
        );
        response.on('error', () => finish(NO_ANSWER, {}, Buffer.alloc(0)));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', () => finish(NO_ANSWER, {}, Buffer.alloc(0)));
    req.end(body);
  });
}

/**
 * Distinct loopback source addresses: 127.<base>.x.y, never 127.0.0.1 (which the node treats as
 * its operator) and never an address ending in .0 or .255.
 */
export class LoopbackAddresses {
  private next = 0;
  constructor(private readonly base: number) {}

  take(): string {
    const n = this.next++;
    const x = Math.floor(n / 254) % 256;
    const y = (n % 254) + 1;
    return `127.${this.base}.${x}.${y}`;
  }
}
