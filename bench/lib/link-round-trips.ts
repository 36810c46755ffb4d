/**
 * Linking a device, counted on the wire: a root gateway hands out a code, a second gateway
 * (its own identity, soon a device) accepts it. The second gateway reaches the node only
 * through a counting proxy and polls rarely, so the requests seen there during
 * POST /api/devices/accept are the accept's own.
 */
import { startBenchGateway, ok, type BenchGateway } from './gateway-process.js';
import { startCountingProxy, type CountingProxy } from './counting-proxy.js';
import { startBenchNode, type BenchNode } from './node-process.js';

export interface LinkRun {
  /** What the accepting gateway reported (`requests` of its answer). */
  readonly reported: number;
  /** Requests the proxy forwarded to the node during the accept, and which. */
  readonly counted: number;
  readonly seen: string[];
  /** Wall ms of POST /api/devices/accept. */
  readonly ms: number;
}

export async function linkRoundTrips(options: {
  runs: number;
  pollIntervalSeconds: number;
  powBits: number;
  scratch: (prefix: string) => string;
  log: (line: string) => void;
}): Promise<LinkRun[]> {
  const node: BenchNode = await startBenchNode([], options.scratch('link-node-'), {
    minPowBits: options.powBits,
  });
  const started: { stop(): Promise<void> }[] = [];
  const proxies: CountingProxy[] = [];
  try {
    const out: LinkRun[] = [];
    for (let run = 0; run < options.runs; run++) {
      const root: BenchGateway = await startBenchGateway({
        nodes: [node.url],
        dataDir: options.scratch('link-root-'),
        pollIntervalSeconds: options.pollIntervalSeconds,
      });
      started.push(root);
      const proxy = await startCountingProxy(node.url);
      proxies.push(proxy);
      const device = await startBenchGateway({
        nodes: [proxy.url],
        dataDir: options.scratch('link-device-'),
        // Its own polls would be counted too: after its first round, none during the accept.
        pollIntervalSeconds: 3600,
      });
      started.push(device);
      await ok(device.api('GET', '/api/health'), 'device health');
      let quiet = proxy.requests.length;
      for (let i = 0; i < 100; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        if (proxy.requests.length === quiet && i >= 5) break;
        quiet = proxy.requests.length;
      }
      const link = await ok(root.api('POST', '/api/devices/link', {}), 'link code');
      proxy.reset();
      const t0 = performance.now();
      const accepted = await ok(
        device.api('POST', '/api/devices/accept', { code: link.code, name: `device ${run + 1}` }),
        'accept',
      );
      const ms = performance.now() - t0;
      out.push({
        reported: accepted.requests as number,
        counted: proxy.requests.length,
        seen: [...proxy.requests],
        ms,
      });
      options.log(
        `  link ${run + 1}: ${proxy.requests.length} requests to the node (${proxy.requests.join(', ')}), ${ms.toFixed(0)} ms`,
      );
      await device.stop();
      await root.stop();
    }
    return out;
  } finally {
    for (const gateway of started) await gateway.stop().catch(() => undefined);
    for (const proxy of proxies) await proxy.close().catch(() => undefined);
    await node.stop().catch(() => undefined);
  }
}
