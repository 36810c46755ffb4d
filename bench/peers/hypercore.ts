/**
 * Hypercore 11 replication of N 500-byte blocks between two processes over TCP on loopback:
 * the peer figure that p2pcloud's full-copy sync is compared with in the same run.
 *
 * Run as a child process: `seed N DIR` appends N blocks and serves them; `fetch KEY PORT N DIR`
 * downloads them all and prints the elapsed time. The benchmark drives both.
 */
import { spawn } from 'node:child_process';
import { createConnection, createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Hypercore from 'hypercore';

const BLOCK_BYTES = 500;

async function seed(count: number, dir: string): Promise<void> {
  const core = new Hypercore(dir);
  await core.ready();
  const batch = 10_000;
  for (let i = 0; i < count; i += batch) {
    const blocks: Buffer[] = [];
    for (let j = i; j < Math.min(count, i + batch); j++) {
      const block = Buffer.alloc(BLOCK_BYTES);
      block.writeUInt32BE(j, 0);
      blocks.push(block);
    }
    await core.append(blocks);
  }
  const server = createServer((socket) => {
    const stream = core.replicate(false);
    socket.pipe(stream).pipe(socket);
    socket.on('error', () => undefined);
    stream.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  process.stdout.write(`${JSON.stringify({ key: core.key.toString('hex'), port })}\n`);
}

async function fetchAll(key: string, port: number, count: number, dir: string): Promise<void> {
  const core = new Hypercore(dir, Buffer.from(key, 'hex'));
  await core.ready();
  const started = performance.now();
  const socket = createConnection(port, '127.0.0.1');
  const stream = core.replicate(true);
  socket.pipe(stream).pipe(socket);
  await core.update({ wait: true });
  const range = core.download({ start: 0, end: count });
  await range.done();
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(`${JSON.stringify({ blocks: core.contiguousLength, seconds })}\n`);
  socket.destroy();
  await core.close();
}

const [command, ...args] = process.argv.slice(2);
if (command === 'seed') await seed(Number(args[0]), args[1]!);
else if (command === 'fetch') await fetchAll(args[0]!, Number(args[1]), Number(args[2]), args[3]!);

function firstLine(child: ReturnType<typeof spawn>): Promise<string> {
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`hypercore ${code}`)));
  });
}

/** Seeds N blocks in one process and downloads them in another; returns blocks per second. */
export async function hypercoreReplication(
  count: number,
  dirs: [string, string],
): Promise<{ rate: number; seconds: number }> {
  const self = fileURLToPath(import.meta.url);
  const seeder = spawn(process.execPath, [self, 'seed', String(count), dirs[0]], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const { key, port } = JSON.parse(await firstLine(seeder)) as { key: string; port: number };
    const fetcher = spawn(
      process.execPath,
      [self, 'fetch', key, String(port), String(count), dirs[1]],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const { blocks, seconds } = JSON.parse(await firstLine(fetcher)) as {
      blocks: number;
      seconds: number;
    };
    if (blocks < count) throw new Error(`hypercore fetched ${blocks} of ${count} blocks`);
    return { rate: blocks / seconds, seconds };
  } finally {
    seeder.kill('SIGTERM');
  }
}
