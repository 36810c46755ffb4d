/**
 * p2pcloud's drive as the files benchmark and the large round-trip test run it: real processes
 * on 127.0.0.1. Node 1 takes the writer's uploads; the writer (DriveWriter: a program running a
 * gateway in its own process and writing through the SDK) knows node 1 only and owns the group
 * whose drive is written. Node 2 starts empty and copies node 1 by sync rounds run on demand (so
 * the copy's time is its own, not a poll interval's); gateway B (`p2pcloud gateway`), another
 * person whom the writer made a reader of the group, knows node 2 only, so what it reads went
 * node 1 → node 2 by sync.
 *
 * Proof of work: with `waiveFilesTable` the nodes keep the default rule (docs/protocol.md §8.1)
 * but waive the group's files table (`pow_tables`), which the writer's SDK names
 * (`Drive.filesTable()`), and its data table: chunks, manifests and the tree's key-value
 * entries go without work, the group's commits pay what the rule asks. Every group operation starts a new epoch with a new files
 * table, so the reader is added before the table is read, and node 1 is restarted with the
 * waiver (the writer's gateway too, so that it reads the new rule).
 */
import { join } from 'node:path';
import { saveIdentity } from '../../src/keys/key-file.js';
import { generateIdentity, identityText } from '../../src/keys/keys.js';
import { manualSyncConfig, runRound, waitReady } from '../sync.js';
import { DriveWriter } from './drive-writer.js';
import type { DriveTarget } from './file-http.js';
import { statFile } from './file-http.js';
import { startBenchGateway, ok, type BenchGateway } from './gateway-process.js';
import { health, startBenchNode, type BenchNode } from './node-process.js';
import { until } from './until.js';

/** The nodes' minimum proof of work when the files table is waived: the default rule. */
const DEFAULT_POW_BITS = 16;

export interface DriveClusterOptions {
  readonly scratch: (prefix: string) => string;
  /**
   * True: nodes with the default proof-of-work rule, the files table waived. False: nodes
   * that require no proof of work of any entry (min_pow_bits 0).
   */
  readonly waiveFilesTable: boolean;
  /** More node configuration (docs/protocol.md §9) for both nodes. */
  readonly nodeConfig?: Record<string, unknown>;
  readonly log: (line: string) => void;
}

export interface Copy {
  /** Entries node 2 held at the end. */
  readonly entries: number;
  readonly seconds: number;
  readonly rounds: number;
}

export class DriveCluster {
  private node2: BenchNode | undefined;
  private readerGateway: BenchGateway | undefined;

  private constructor(
    private readonly options: DriveClusterOptions,
    private readonly nodeConfig: Record<string, unknown>,
    private readonly readerIdentity: ReturnType<typeof generateIdentity>,
    public node1: BenchNode,
    readonly writer: DriveWriter,
    readonly space: string,
    /** The files table waived, hex, if one is. */
    readonly filesTable: string | undefined,
  ) {}

  static async start(options: DriveClusterOptions): Promise<DriveCluster> {
    const minPowBits = options.waiveFilesTable ? DEFAULT_POW_BITS : 0;
    let node1 = await startNode(options, minPowBits, options.nodeConfig ?? {}, []);
    const writer = new DriveWriter();
    try {
      const writerDir = options.scratch('files-writer-');
      const keyFile = join(writerDir, 'identity.json');
      await saveIdentity(keyFile, generateIdentity());
      const start = { op: 'start', nodes: [node1.url], dataDir: join(writerDir, 'data'), keyFile };
      await writer.call(start);
      const space = (await writer.call({ op: 'group' })).id as string;
      const readerIdentity = generateIdentity();
      await writer.call({ op: 'add', member: identityText(readerIdentity), role: 'reader' });
      let nodeConfig: Record<string, unknown> = options.nodeConfig ?? {};
      let filesTable: string | undefined;
      if (options.waiveFilesTable) {
        const tables = await writer.call({ op: 'table' });
        filesTable = tables.table as string;
        nodeConfig = {
          ...nodeConfig,
          pow_tables: { [filesTable]: 0, [tables.data as string]: 0 },
        };
        await writer.call({ op: 'stop' });
        await node1.stop();
        node1 = await startNode(
          options,
          minPowBits,
          nodeConfig,
          ['--port', String(node1.port)],
          node1.dataDir,
        );
        await writer.call(start);
      }
      return new DriveCluster(
        options,
        nodeConfig,
        readerIdentity,
        node1,
        writer,
        space,
        filesTable,
      );
    } catch (error) {
      await writer.stop();
      await node1.stop();
      throw error;
    }
  }

  /** The drive as gateway B reads it (after `startReader`). */
  get readerDrive(): DriveTarget {
    if (!this.readerGateway) throw new Error('no reader gateway yet');
    return { url: this.readerGateway.url, apiKey: this.readerGateway.apiKey, space: this.space };
  }

  /** Waits until the writer's tree writes are on node 1. */
  async settle(timeoutMs: number): Promise<void> {
    await this.writer.call({ op: 'settle', timeoutMs }, timeoutMs + 10_000);
  }

  /** Starts node 2, empty, with node 1 as its only peer (once). */
  async startSecond(): Promise<BenchNode> {
    this.node2 ??= await startNode(
      this.options,
      this.options.waiveFilesTable ? DEFAULT_POW_BITS : 0,
      this.nodeConfig,
      ['--peer', this.node1.url],
    );
    await waitReady(this.node2);
    return this.node2;
  }

  /**
   * Runs node 2's sync rounds until one finds nothing of node 1's missing any more: node 2
   * then holds every entry node 1 held. The time is from the first round to the end of that one.
   */
  async copyToSecond(timeoutMs: number): Promise<Copy> {
    const node2 = await this.startSecond();
    const started = performance.now();
    for (let rounds = 1; ; rounds++) {
      const round = await runRound(node2);
      const peer = round.peers[0];
      if (peer?.error) this.options.log(`    copy round ${rounds}: ${peer.outcome} ${peer.error}`);
      if (peer && peer.outcome !== 'failed' && peer.missing === 0 && !peer.limit) {
        const seconds = (performance.now() - started) / 1000;
        const entries = (await health(node2)).entries;
        const source = (await health(this.node1)).entries;
        if (entries < source) throw new Error(`node 2 holds ${entries} entries, node 1 ${source}`);
        return { entries, seconds, rounds };
      }
      if (performance.now() - started > timeoutMs) {
        const have = (await health(node2)).entries;
        throw new Error(
          `node 2 holds ${have} entries after ${rounds} rounds: ${JSON.stringify(peer)}`,
        );
      }
    }
  }

  /**
   * Gateway B, the reader the writer added, knowing node 2 only. Node 2 copies node 1 first
   * (the invitation, and the tree's writes once they are on node 1). Answers once B sees
   * `path` in the group's tree.
   */
  async startReader(path: string, timeoutMs: number): Promise<BenchGateway> {
    await this.settle(timeoutMs);
    await this.copyToSecond(timeoutMs);
    const node2 = await this.startSecond();
    const reader = await startBenchGateway({
      nodes: [node2.url],
      dataDir: this.options.scratch('files-gw-b-'),
      pollIntervalSeconds: 1,
      identity: this.readerIdentity,
    });
    this.readerGateway = reader;
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
    await this.readerGateway?.stop().catch(() => undefined);
    await this.writer.stop().catch(() => undefined);
    for (const node of [this.node2, this.node1]) await node?.stop().catch(() => undefined);
  }
}

async function startNode(
  options: DriveClusterOptions,
  minPowBits: number,
  config: Record<string, unknown>,
  args: readonly string[],
  dataDir = options.scratch('files-node-'),
): Promise<BenchNode> {
  const configDir = options.scratch('files-node-config-');
  return startBenchNode(['--config', manualSyncConfig(configDir, config), ...args], dataDir, {
    minPowBits,
  });
}
