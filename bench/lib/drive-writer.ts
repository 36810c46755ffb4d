/**
 * The writing side of the files benchmark: a program that runs a gateway in its own process and
 * writes through the drive's SDK (`startGateway` + `openFiles`, docs/gateway.md §15), in a child
 * process of its own so that its memory is measured apart from the benchmark's.
 *
 * Run as a child: `node drive-writer.js` (bench/lib/command-child.ts). Commands: `start`
 * {nodes, dataDir, keyFile} and `stop` the gateway; `group` makes a group, `add` {member, role}
 * adds a member, `table` answers the files table of the group's current epoch (what a node
 * operator waives proof of work for, docs/protocol.md §8.1), checked against the group's view; `put` {path, seed, length, flip?}
 * streams seeded bytes in (bench/lib/seeded-bytes.ts), `get` {path} hashes a file as it is
 * read, `small` {count, size, concurrency} puts many small files, `settle` waits until the
 * tree's writes have reached the nodes.
 */
import { toHex } from '../../src/encoding/bytes.js';
import { parsePublicKey } from '../../src/encoding/key-text.js';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { openFiles } from '../../src/gateway/files/sdk.js';
import type { Drive, PutAnswer } from '../../src/gateway/files/drive.js';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { startGateway, type RunningGateway } from '../../src/gateway/server.js';
import { CommandChild, serveCommands, type Answer } from './command-child.js';
import { seededStream, streamSha256, seededPieces } from './seeded-bytes.js';

async function child(): Promise<void> {
  let running: RunningGateway | undefined;
  let group: string | undefined;
  let drive: Drive | undefined;

  const api = async (method: string, path: string, body?: unknown): Promise<Answer> => {
    if (!running) throw new Error('no gateway');
    const response = await fetch(`${running.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${running.gateway.apiKey.key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status} ${text}`);
    return text ? (JSON.parse(text) as Answer) : {};
  };
  const open = async (): Promise<Drive> => {
    if (!running || !group) throw new Error('start the gateway and make a group first');
    drive ??= await openFiles(running, group);
    return drive;
  };

  await serveCommands(
    async (command) => {
      const started = performance.now();
      const seconds = (): number => (performance.now() - started) / 1000;
      switch (command.op) {
        case 'start': {
          const config = parseGatewayConfig({
            host: '127.0.0.1',
            port: 0,
            data_dir: command.dataDir,
            key_file: command.keyFile,
            nodes: command.nodes,
            poll_interval_seconds: 1,
            log_level: 'warn',
          });
          running = await startGateway(config, { logger: pino({ level: 'warn' }) });
          drive = undefined;
          return {};
        }
        case 'stop':
          await running?.close();
          running = undefined;
          drive = undefined;
          return {};
        case 'group':
          group = (await api('POST', '/api/groups', { name: 'bench' })).id as string;
          return { id: group };
        case 'add':
          await api('POST', `/api/groups/${group}/members`, {
            member: command.member,
            role: command.role,
          });
          drive = undefined;
          return {};
        case 'table': {
          // The SDK's answer and the group's view (what an operator reads) must agree.
          const table = (await open()).filesTable();
          const view = await api('GET', `/api/groups/${group}`);
          if (view.files_table !== table) {
            throw new Error(
              `files table ${table}, the group's view says ${String(view.files_table)}`,
            );
          }
          // The group's data table too: the tree's key-value entries go there, and an operator
          // who waives their own devices' tables waives both.
          const space = await api('GET', `/api/spaces/${group}`);
          const data = toHex(parsePublicKey(space.table as string, 'table'));
          return { table, data };
        }
        case 'put': {
          const source = seededStream({
            seed: command.seed as string,
            length: command.length as number,
            ...(command.flip === undefined ? {} : { flip: command.flip as number }),
          });
          const answer: PutAnswer = await (await open()).put(command.path as string, source);
          return { ...answer, seconds: seconds() };
        }
        case 'get': {
          const { stream } = await (await open()).read(command.path as string);
          return { ...(await streamSha256(stream)), seconds: seconds() };
        }
        case 'small': {
          const target = await open();
          const count = command.count as number;
          const size = command.size as number;
          let next = 0;
          const worker = async (): Promise<void> => {
            for (let i = next++; i < count; i = next++) {
              const [bytes] = seededPieces({ seed: `small-${i}`, length: size }, size);
              const answer = await target.put(`small/${String(i).padStart(6, '0')}.bin`, bytes!);
              if (answer.file.size !== size)
                throw new Error(`small file ${i}: ${answer.file.size}`);
            }
          };
          await Promise.all(Array.from({ length: command.concurrency as number }, worker));
          return { seconds: seconds() };
        }
        case 'settle': {
          const deadline = Date.now() + (command.timeoutMs as number);
          for (;;) {
            const status = await api('GET', `/api/spaces/${group}/kv/status`);
            if (status.outbox === 0) return { seconds: seconds() };
            if (Date.now() > deadline) throw new Error(`outbox still ${String(status.outbox)}`);
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        }
        default:
          throw new Error(`unknown command ${String(command.op)}`);
      }
    },
    async () => {
      await running?.close();
    },
  );
}

if (process.argv[2] === 'child') await child();

/** The parent's handle on the writer process. */
export class DriveWriter {
  private readonly process: CommandChild;

  constructor() {
    this.process = new CommandChild(fileURLToPath(import.meta.url), ['child'], 'drive writer');
  }

  get pid(): number {
    return this.process.pid;
  }

  call(command: Answer, timeoutMs = 120_000): Promise<Answer> {
    return this.process.call(command, timeoutMs);
  }

  async put(
    path: string,
    bytes: { seed: string; length: number; flip?: number },
    timeoutMs: number,
  ): Promise<PutAnswer & { seconds: number }> {
    return (await this.call({ op: 'put', path, ...bytes }, timeoutMs)) as unknown as PutAnswer & {
      seconds: number;
    };
  }

  stop(): Promise<void> {
    return this.process.stop(30_000);
  }
}
