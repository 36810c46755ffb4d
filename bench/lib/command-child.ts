/**
 * A benchmark peer in a child process of its own, driven by JSON lines: the parent writes one
 * command per line on the child's stdin and reads one answer per line from its stdout (`{ok:
 * true, …}` or `{ok: false, error}`). The child exits when its stdin closes, so none outlives
 * the benchmark; `serveCommands` is the child's half.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export type Answer = Record<string, unknown>;

export class CommandChild {
  private readonly child: ChildProcess;
  private readonly waiting: { resolve: (a: Answer) => void; reject: (e: Error) => void }[] = [];
  private exited: Error | undefined;

  constructor(script: string, args: readonly string[], label: string) {
    this.child = spawn(process.execPath, [script, ...args], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.child.stdin!.on('error', () => undefined);
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      const answer = JSON.parse(line) as Answer;
      const next = this.waiting.shift();
      if (!next) return;
      if (answer.ok === true) next.resolve(answer);
      else next.reject(new Error(`${label}: ${String(answer.error)}`));
    });
    this.child.once('exit', (code, signal) => {
      this.exited ??= new Error(`${label} exited (${signal ?? code})`);
      for (const { reject } of this.waiting.splice(0)) reject(this.exited);
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Sends one command; a child that does not answer within `timeoutMs` is killed. */
  async call(command: Answer, timeoutMs: number): Promise<Answer> {
    if (this.exited) throw this.exited;
    const answer = new Promise<Answer>((resolve, reject) => this.waiting.push({ resolve, reject }));
    const timer = setTimeout(() => {
      this.exited ??= new Error(`no answer to ${String(command.op)} in ${timeoutMs} ms`);
      this.child.kill('SIGKILL');
    }, timeoutMs);
    this.child.stdin!.write(`${JSON.stringify(command)}\n`);
    try {
      return await answer;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes stdin (the child then exits on its own) and kills it if it is not gone within `ms`. */
  async stop(ms = 10_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    const timer = setTimeout(() => this.child.kill('SIGKILL'), ms);
    this.child.stdin!.end();
    await gone;
    clearTimeout(timer);
  }
}

/** The child's half: answers each command line with `handle`'s result; exits when stdin ends. */
export async function serveCommands(
  handle: (command: Answer) => Promise<Answer>,
  close: () => Promise<void>,
): Promise<void> {
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    let answer: Answer;
    try {
      answer = { ok: true, ...(await handle(JSON.parse(line) as Answer)) };
    } catch (error) {
      answer = { ok: false, error: error instanceof Error ? error.message : String(error) };
    }
    process.stdout.write(`${JSON.stringify(answer)}\n`);
  }
  await close().catch(() => undefined);
  process.exit(0);
}
