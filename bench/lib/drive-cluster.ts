/**
 * p2pcloud's drive as the files benchmark and the large round-trip test run it: real processes
 * on 127.0.0.1. Node 1 takes the writer's uploads; gateway A (a person's device, `p2pcloud
 * gateway`) knows node 1 only and owns the group whose drive is written. Node 2 starts empty
 * and copies node 1 by sync rounds run on demand (so the copy's time is its own, not a poll
 * interval's); gateway B, another person made a reader of the group, knows node 2 only, so
 * what it reads went node 1 → node 2 by sync.
 *
 * Proof of work: both nodes get the `nodeConfig` given (e.g. `pow_tables` waiving the drive's
 * tables, docs/protocol.md §8.1) and `minPowBits`; the gateways stamp what the nodes' published
 * rules require.
 */
import { startBenchGateway, ok, type BenchGateway } from './gateway-process.js';
import { health, startBenchNode, type BenchNode } from './node-process.js';
import { manualSyncConfig, runRound, waitReady } from '../sync.js';
import type { DriveTarget } from './file-http.js';
import { statFile } from './file-http.js';
import { until } from './until.js';

export interface DriveClusterOptions {
  readonly scratch: (prefix: string) => string;
  /** The nodes' minimum proof of work (0: none for any table). */
  readonly minPowBits: number;
  /** Extra node configuration (docs/protocol.md §9), e.g. `{pow_tables: {…}}`. */
  readonly nodeConfig?: Record<string, unknown>;
  readonly log: (line: string) => void;
}

export interface Copy {
  /** Entries node 2 held at the end, and node 1's count it had to reach. */
  readonly entries: number;
  readonly seconds: number;
  readonly rounds: number;
}

export class DriveCluster {
  private node2: BenchNode | undefined;
  private readerGateway: BenchGateway | undefined;

  private constructor(
    private readonly options: DriveClusterOptions,
    readonly node1: BenchNode,
    readonly writer: BenchGateway,
    readonly space: string,
  ) {}

  static async start(options: DriveClusterOptions): Promise<DriveCluster> {
    const node1 = await startNode(options, []);
    try {
      const writer = await startBenchGateway({
        nodes: [node1.url],
        dataDir: options.scratch('files-gw-a-'),
        pollIntervalSeconds: 1,
      });
      try {
        const group = await ok(writer.api('POST', '/api/groups', { name: 'bench' }), 'group');
        return new DriveCluster(options, node1, writer, group.id as string);
      } catch (error) {
        await writer.stop();
        throw error;
      }
    } catch (error) {
      await node1.stop();
      throw error;
    }
  }

  /** The drive as gateway A writes it. */
  get writerDrive(): DriveTarget {
    return { url: this.writer.url, apiKey: this.writer.apiKey, space: this.space };
  }

  get second(): BenchNode | undefined {
    return this.node2;
  }

  get reader(): BenchGateway | undefined {
    return this.readerGateway;
  }

  /** The drive as gateway B reads it (after `startReader`). */
  get readerDrive(): DriveTarget {
    if (!this.readerGateway) throw new Error('no reader gateway yet');
    return { url: this.readerGateway.url, apiKey: this.readerGateway.apiKey, space: this.space };
  }

  /** Starts node 2, empty, with node 1 as its only peer (once). */
  async startSecond(): Promise<BenchNode> {
    this.node2 ??= await startNode(this.options, ['--peer', this.node1.url]);
    await waitReady(this.node2);
    return this.node2;
  }

  /**
   * Runs node 2's sync rounds until it holds at least as many entries as node 1 has now; the
   * time is from the first round.
   */
  async copyToSecond(timeoutMs: number): Promise<Copy> {
    const node2 = await this.startSecond();
    const want = (await health(this.node1)).entries;
    const started = performance.now();
    let rounds = 0;
    let have = (await health(node2)).entries;
    while (have < want) {
      if (performance.now() - started > timeoutMs) {
        throw new Error(`node 2 holds ${have} of ${want} entries after ${rounds} rounds`);
      }
      const round = await runRound(node2);
      rounds += 1;
      const peer = round.peers[0];
      if (peer?.error) this.options.log(`    copy round ${rounds}: ${peer.outcome} ${peer.error}`);
      have = (await health(node2)).entries;
    }
    return { entries: have, seconds: (performance.now() - started) / 1000, rounds };
  }

  /**
   * Gateway B: a new person, made a reader of the group by gateway A, who knows node 2 only.
   * The membership is copied to node 2 here (with whatever else node 1 holds by then).
   * Answers once B sees `path` in the group's tree.
   */
  async startReader(path: string, timeoutMs: number): Promise<BenchGateway> {
    const node2 = await this.startSecond();
    const reader = await startBenchGateway({
      nodes: [node2.url],
      dataDir: this.options.scratch('files-gw-b-'),
      pollIntervalSeconds: 1,
    });
    this.readerGateway = reader;
    await ok(
      this.writer.api('POST', `/api/groups/${this.space}/members`, {
        member: reader.identity,
        role: 'reader',
      }),
      'add the reader',
    );
    await this.copyToSecond(timeoutMs);
    const invitation = await until(
      'the invitation on node 2',
      async () => {
        await reader.api('POST', '/api/refresh', {});
        const list = await ok(reader.api('GET', '/api/invitations'), 'invitations');
        return (list.invitations as { id: string; space: string }[]).find(
          (i) => i.space === this.space,
        );
      },
      timeoutMs,
      250,
    );
    await ok(reader.api('POST', `/api/invitations/${invitation.id}/accept`, {}), 'accept');
    await until(
      `${path} in the reader's tree`,
      async () => {
        await reader.api('POST', '/api/refresh', {});
        return (await statFile(this.readerDrive, path)).status === 200 ? true : undefined;
      },
      timeoutMs,
      250,
    );
    return reader;
  }

  async stop(): Promise<void> {
    for (const gateway of [this.readerGateway, this.writer]) {
      await gateway?.stop().catch(() => undefined);
    }
    for (const node of [this.node2, this.node1]) await node?.stop().catch(() => undefined);
  }
}

async function startNode(options: DriveClusterOptions, args: readonly string[]) {
  const configDir = options.scratch('files-node-config-');
  return startBenchNode(
    ['--config', manualSyncConfig(configDir, options.nodeConfig ?? {}), ...args],
    options.scratch('files-node-'),
    { minPowBits: options.minPowBits },
  );
}
