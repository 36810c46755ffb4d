/**
 * Autobase 7 with a Hyperbee view, two writers in two processes: the peer figure for multi-writer
 * convergence. Each writer appends N puts of its own keys while the two are apart; then they are
 * connected over TCP on loopback and the wall time until both views hold all 2N keys in the same
 * order (equal Merkle tree hashes of the view cores) is measured.
 *
 * Run as a child process: `writer DIR [BASE-KEY]` opens a Corestore in DIR and the base (a new one
 * without BASE-KEY), prints `{type: 'ready', key, local}` and then answers one JSON command per
 * stdin line with one JSON line on stdout. The benchmark drives both writers; a writer exits when
 * its stdin closes, so none outlives the benchmark.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import Autobase, { type AutobaseNode, type AutobaseViewStore, type AutobaseHost } from 'autobase';
import Corestore from 'corestore';
import Hyperbee from 'hyperbee';

/** An input op: a put of one key, or (from the first writer) adding the second writer. */
type Op = { readonly key: string; readonly value: string } | { readonly addWriter: string };
type View = Hyperbee<string, string>;

type Command =
  | { readonly op: 'add'; readonly key: string }
  | { readonly op: 'listen' }
  | { readonly op: 'connect'; readonly port: number }
  | { readonly op: 'writable' }
  | { readonly op: 'disconnect' }
  | { readonly op: 'write'; readonly prefix: string; readonly count: number }
  | { readonly op: 'watch'; readonly target: number }
  | { readonly op: 'entries' }
  | { readonly op: 'close' };

/** What a writer's view holds: keys applied and, once it holds them all, its core's tree hash. */
interface ViewState {
  readonly keys: number;
  readonly hash: string | null;
}

type Message =
  | { readonly type: 'ready'; readonly key: string; readonly local: string }
  | { readonly type: 'done'; readonly op: Command['op']; readonly [field: string]: unknown }
  | ({ readonly type: 'state' } & ViewState);

const APPEND_BATCH = 1000;
const VALUE_CHARS = 32;
const WATCH_INTERVAL_MS = 100;

function openView(store: AutobaseViewStore): View {
  return new Hyperbee<string, string>(store.get('view'), {
    keyEncoding: 'utf-8',
    valueEncoding: 'utf-8',
    extension: false,
  });
}

/** Puts each op of a linearized run into the view bee in one Hyperbee batch. */
async function applyOps(nodes: readonly AutobaseNode<Op>[], view: View, host: AutobaseHost) {
  const batch = view.batch({ update: false });
  for (const { value } of nodes) {
    if ('addWriter' in value) await host.addWriter(Buffer.from(value.addWriter, 'hex'));
    else await batch.put(value.key, value.value);
  }
  await batch.flush();
}

async function writer(dir: string, bootstrap: string | undefined): Promise<void> {
  const send = (message: Message): void => {
    process.stdout.write(`${JSON.stringify(message)}\n`);
  };
  const store = new Corestore(dir);
  const base = new Autobase<Op, View>(
    store,
    bootstrap === undefined ? null : Buffer.from(bootstrap, 'hex'),
    { open: openView, apply: applyOps, valueEncoding: 'json' },
  );
  base.on('error', (error) => process.stderr.write(`autobase writer: ${error.message}\n`));
  await base.ready();
  const links = new Set<{ socket: Socket; stream: Duplex }>();
  let server: Server | undefined;
  let watcher: NodeJS.Timeout | undefined;
  const link = (socket: Socket, initiator: boolean): void => {
    const stream = base.replicate(initiator);
    socket.pipe(stream).pipe(socket);
    socket.on('error', () => undefined);
    stream.on('error', () => undefined);
    const pair = { socket, stream };
    links.add(pair);
    socket.once('close', () => links.delete(pair));
  };
  const keysHeld = (): number => Math.max(0, base.view.version - 1);

  async function run(command: Command): Promise<Record<string, unknown>> {
    switch (command.op) {
      case 'add':
        await base.append({ addWriter: command.key });
        return {};
      case 'listen': {
        const listening = createServer((socket) => link(socket, false));
        server = listening;
        await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', resolve));
        const address = listening.address();
        return { port: typeof address === 'object' && address ? address.port : 0 };
      }
      case 'connect': {
        const socket = createConnection(command.port, '127.0.0.1');
        await new Promise<void>((resolve, reject) => {
          socket.once('connect', resolve);
          socket.once('error', reject);
        });
        link(socket, true);
        return {};
      }
      case 'writable':
        while (!base.writable) {
          await new Promise<void>((resolve) => base.once('writable', resolve));
        }
        return {};
      case 'disconnect': {
        for (const { socket, stream } of links) {
          stream.destroy();
          socket.destroy();
        }
        links.clear();
        const closing = server;
        server = undefined;
        if (closing) await new Promise((resolve) => closing.close(resolve));
        return {};
      }
      case 'write': {
        const width = String(command.count).length;
        for (let i = 0; i < command.count; i += APPEND_BATCH) {
          const ops: Op[] = [];
          for (let j = i; j < Math.min(command.count, i + APPEND_BATCH); j++) {
            const key = `${command.prefix}/${String(j).padStart(Math.max(6, width), '0')}`;
            ops.push({
              key,
              value: createHash('sha256').update(key).digest('base64url').slice(0, VALUE_CHARS),
            });
          }
          await base.append(ops);
        }
        await base.update();
        return { keys: keysHeld() };
      }
      case 'watch': {
        let last = '';
        let busy = false;
        watcher = setInterval(() => {
          if (busy) return;
          busy = true;
          const keys = keysHeld();
          const hashing =
            keys >= command.target ? base.view.core.treeHash() : Promise.resolve(null);
          hashing
            .then((hash) => {
              const state = { keys, hash: hash === null ? null : hash.toString('hex') };
              const text = JSON.stringify(state);
              if (text !== last) send({ type: 'state', ...state });
              last = text;
            })
            .catch(() => undefined)
            .finally(() => {
              busy = false;
            });
        }, WATCH_INTERVAL_MS);
        return {};
      }
      case 'entries': {
        const digest = createHash('sha256');
        let count = 0;
        for await (const { key, value } of base.view.createReadStream()) {
          digest.update(`${key.length}:${key}${value.length}:${value}`);
          count++;
        }
        return { count, digest: digest.digest('hex') };
      }
      case 'close':
        clearInterval(watcher);
        await run({ op: 'disconnect' });
        await base.close();
        await store.close();
        return {};
    }
  }

  send({ type: 'ready', key: base.key.toString('hex'), local: base.local.key.toString('hex') });
  const lines = createInterface({ input: process.stdin });
  lines.on('close', () => process.exit(0));
  for await (const line of lines) {
    const command = JSON.parse(line) as Command;
    send({ type: 'done', op: command.op, ...(await run(command)) });
    if (command.op === 'close') process.exit(0);
  }
}

const [role, ...args] = process.argv.slice(2);
if (role === 'writer') await writer(args[0]!, args[1]);

/** One writer process as the benchmark sees it: commands in, answers and view states out. */
class WriterProcess {
  private readonly child: ChildProcess;
  private readonly waiting: { resolve: (m: Message) => void; reject: (e: Error) => void }[] = [];
  private exited: Error | undefined;
  state: ViewState = { keys: 0, hash: null };
  onState: () => void = () => undefined;
  onExit: (error: Error) => void = () => undefined;

  /** `answerMs` bounds the wait for any answer: a writer that takes longer is killed. */
  constructor(
    dir: string,
    bootstrap: string | undefined,
    private readonly answerMs: number,
  ) {
    const self = fileURLToPath(import.meta.url);
    const args = [self, 'writer', dir, ...(bootstrap === undefined ? [] : [bootstrap])];
    this.child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    this.child.stdin!.on('error', () => undefined);
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      const message = JSON.parse(line) as Message;
      if (message.type === 'state') {
        this.state = { keys: message.keys, hash: message.hash };
        this.onState();
      } else this.waiting.shift()?.resolve(message);
    });
    this.child.once('exit', (code, signal) => {
      this.exited ??= new Error(`autobase writer exited (${signal ?? code})`);
      for (const { reject } of this.waiting.splice(0)) reject(this.exited);
      this.onExit(this.exited);
    });
  }

  /** The next answer (the first one is the `ready` line). */
  private async next(what: string): Promise<Message> {
    if (this.exited) throw this.exited;
    const timer = setTimeout(() => {
      this.exited ??= new Error(`autobase writer: no answer to ${what} in ${this.answerMs} ms`);
      this.child.kill('SIGKILL');
    }, this.answerMs);
    try {
      return await new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
    } finally {
      clearTimeout(timer);
    }
  }

  async ready(): Promise<{ key: string; local: string }> {
    const message = await this.next('start');
    if (message.type !== 'ready') throw new Error(`autobase writer: unexpected ${message.type}`);
    return message;
  }

  async run(command: Command): Promise<Record<string, unknown>> {
    const answer = this.next(command.op);
    this.child.stdin!.write(`${JSON.stringify(command)}\n`);
    const message = await answer;
    if (message.type !== 'done' || message.op !== command.op) {
      throw new Error(`autobase writer: expected ${command.op}, got ${JSON.stringify(message)}`);
    }
    return message;
  }

  /** Closes the writer's base and store if it answers within `ms`; kills it in any case. */
  async stop(ms: number): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    const timer = setTimeout(() => this.child.kill('SIGKILL'), ms);
    this.run({ op: 'close' }).catch(() => undefined);
    await gone;
    clearTimeout(timer);
  }
}

export interface ConvergenceOptions {
  /** Put ops each writer appends while the two are apart. */
  readonly perWriter: number;
  /** Longest wait for convergence after connecting. */
  readonly capMs: number;
  /** Makes a new empty directory whose name starts with the prefix. */
  readonly scratch: (prefix: string) => string;
}

export interface ConvergenceResult {
  readonly perWriter: number;
  /** From connecting until both views are identical, or the cap if they were not in time. */
  readonly seconds: number;
  readonly converged: boolean;
  /** Keys in the view that held fewer when the measurement ended. */
  readonly keys: number;
}

export async function autobaseConvergence(options: ConvergenceOptions): Promise<ConvergenceResult> {
  const { perWriter, capMs, scratch } = options;
  const target = 2 * perWriter;
  // Setting up and the offline writes are not what is measured, but they must end too.
  const answerMs = Math.max(capMs, 120_000);
  const writers: WriterProcess[] = [];
  try {
    const first = new WriterProcess(scratch('autobase-1-'), undefined, answerMs);
    writers.push(first);
    const { key } = await first.ready();
    const second = new WriterProcess(scratch('autobase-2-'), key, answerMs);
    writers.push(second);
    const { local } = await second.ready();

    // The second writer joins the standard way: the first appends an op that adds it, and the
    // second becomes writable once it has replicated that op. Then they part.
    await first.run({ op: 'add', key: local });
    const setup = (await first.run({ op: 'listen' })).port as number;
    await second.run({ op: 'connect', port: setup });
    await second.run({ op: 'writable' });
    await Promise.all([first.run({ op: 'disconnect' }), second.run({ op: 'disconnect' })]);

    await Promise.all([
      first.run({ op: 'write', prefix: 'a', count: perWriter }),
      second.run({ op: 'write', prefix: 'b', count: perWriter }),
    ]);
    await Promise.all(writers.map((w) => w.run({ op: 'watch', target })));

    const port = (await first.run({ op: 'listen' })).port as number;
    const started = performance.now();
    const converged = await new Promise<boolean>((resolve, reject) => {
      const cap = setTimeout(() => resolve(false), capMs);
      const check = (): void => {
        const [a, b] = [first.state, second.state];
        if (a.keys === target && b.keys === target && a.hash !== null && a.hash === b.hash) {
          clearTimeout(cap);
          resolve(true);
        }
      };
      const fail = (error: Error): void => {
        clearTimeout(cap);
        reject(error);
      };
      for (const w of writers) {
        w.onState = check;
        w.onExit = fail;
      }
      second.run({ op: 'connect', port }).catch(fail);
    });
    const seconds = (performance.now() - started) / 1000;
    const keys = Math.min(first.state.keys, second.state.keys);

    if (converged) {
      // Equal tree hashes mean equal views; the entries themselves are compared all the same.
      const [a, b] = await Promise.all(writers.map((w) => w.run({ op: 'entries' })));
      if (a!.count !== target || b!.count !== target || a!.digest !== b!.digest) {
        throw new Error(
          `autobase views differ after convergence: ${a!.count} ${a!.digest} / ${b!.count} ${b!.digest}`,
        );
      }
    }
    return { perWriter, seconds: converged ? seconds : capMs / 1000, converged, keys };
  } finally {
    await Promise.all(writers.map((w) => w.stop(10_000)));
  }
}
