/**
 * The compute sandbox (docs/compute-sandbox.md): what fuel metering costs a CPU-bound module
 * against the same module run plainly in the same run, how fast a cached module starts a job,
 * small jobs per second on two workers, whether fuel is exact over repeated runs, and how soon a
 * runaway is stopped after its wall-clock limit.
 */
import { performance } from 'node:perf_hooks';
import binaryen from 'binaryen';
import { Sandbox, type PreparedModule, type SandboxLimits } from '../src/sandbox/index.js';
import type { Report } from './lib/report.js';

function wat(text: string): Uint8Array {
  const module = binaryen.parseText(text);
  try {
    const F = binaryen.Features;
    module.setFeatures(F.MVP | F.SignExt | F.MutableGlobals | F.BulkMemory);
    return module.emitBinary();
  } finally {
    module.dispose();
  }
}

/** Sieve of Eratosthenes up to n: memory-bound loops, the worst case for per-block charges. */
function sieve(n: number): Uint8Array {
  return wat(`(module
    (memory ${Math.ceil((n + 1) / 65536)})
    (global $count (export "count") (mut i32) (i32.const 0))
    (func (export "_start") (local $i i32) (local $j i32)
      (local.set $i (i32.const 2))
      (block $done (loop $outer
        (br_if $done (i32.gt_u (i32.mul (local.get $i) (local.get $i)) (i32.const ${n})))
        (if (i32.eqz (i32.load8_u (local.get $i)))
          (then
            (local.set $j (i32.mul (local.get $i) (local.get $i)))
            (block $end (loop $mark
              (br_if $end (i32.gt_u (local.get $j) (i32.const ${n})))
              (i32.store8 (local.get $j) (i32.const 1))
              (local.set $j (i32.add (local.get $j) (local.get $i)))
              (br $mark)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $outer)))
      (local.set $i (i32.const 2))
      (block $done (loop $count
        (br_if $done (i32.gt_u (local.get $i) (i32.const ${n})))
        (if (i32.eqz (i32.load8_u (local.get $i)))
          (then (global.set $count (i32.add (global.get $count) (i32.const 1)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $count)))))`);
}

/** A 64-bit multiply-xorshift hash loop: arithmetic-bound, with a call per round. */
function hashLoop(rounds: number): Uint8Array {
  return wat(`(module
    (global $h (export "h") (mut i64) (i64.const 0))
    (func $mix (param $x i64) (result i64)
      (local.set $x (i64.mul (i64.xor (local.get $x) (i64.shr_u (local.get $x) (i64.const 33))) (i64.const 0xff51afd7ed558ccd)))
      (i64.xor (local.get $x) (i64.shr_u (local.get $x) (i64.const 29))))
    (func (export "_start") (local $i i32) (local $x i64)
      (local.set $x (i64.const 42))
      (loop $l
        (local.set $x (call $mix (i64.add (local.get $x) (i64.extend_i32_u (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $l (i32.lt_u (local.get $i) (i32.const ${rounds}))))
      (global.set $h (local.get $x))))`);
}

const percentile = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;

export async function computeFigures(
  report: Report,
  options: { quick: boolean; log: (line: string) => void },
): Promise<void> {
  const section = 'compute';
  const sandbox = new Sandbox({ workers: 2, maxModuleBytes: 16 * 1024 * 1024 });
  const limits: SandboxLimits = {
    memoryPages: 1024,
    fuel: Number.MAX_SAFE_INTEGER,
    wallMs: 60_000,
    outputBytes: 1024,
  };
  try {
    // (a) metered against plain, best of several alternating runs of each.
    const rounds = options.quick ? 3 : 7;
    for (const [name, bytes] of [
      [`sieve to ${options.quick ? '5M' : '20M'}`, sieve(options.quick ? 5_000_000 : 20_000_000)],
      [
        `hash loop, ${options.quick ? '20M' : '100M'} rounds`,
        hashLoop(options.quick ? 20_000_000 : 100_000_000),
      ],
    ] as const) {
      options.log(`compute: ${name}, metered and plain`);
      const prepared = await sandbox.prepare(bytes, limits.memoryPages);
      const plainModule = new WebAssembly.Module(bytes);
      let metered = Infinity;
      let plain = Infinity;
      // The first two rounds of each are not counted: the engine compiles hot functions again
      // in the background, and a call uses the better code from the next call on.
      for (let i = -2; i < rounds; i++) {
        const outcome = await sandbox.run({
          module: prepared,
          entry: '_start',
          args: [],
          inputs: [],
          limits,
        });
        if (outcome.status !== 'ok')
          throw new Error(`${name}: ${outcome.status} ${outcome.message}`);
        const start = performance.now();
        const instance = new WebAssembly.Instance(plainModule, {});
        (instance.exports._start as () => void)();
        if (i < 0) continue;
        plain = Math.min(plain, performance.now() - start);
        metered = Math.min(metered, outcome.wallMs);
      }
      report.add({
        section,
        figure: `metered run, ${name}`,
        value: metered,
        unit: 'ms',
        goal: '≥ 0.6× plain',
        met: plain / metered >= 0.6,
        ratio: { value: plain / metered, to: 'the same module unmetered, same run' },
      });
    }

    // (b) job start on a cached module: the round trip of an empty job.
    const empty = await sandbox.prepare(wat('(module (func (export "_start")))'), 1);
    const small = (module: PreparedModule): Promise<unknown> =>
      sandbox.run({
        module,
        entry: '_start',
        args: [],
        inputs: [],
        limits: { ...limits, memoryPages: 1 },
      });
    for (let i = 0; i < 200; i++) await small(empty);
    const latencies: number[] = [];
    for (let i = 0; i < (options.quick ? 1000 : 5000); i++) {
      const start = performance.now();
      await small(empty);
      latencies.push(performance.now() - start);
    }
    latencies.sort((a, b) => a - b);
    for (const p of [50, 99]) {
      report.add({
        section,
        figure: `cached job start to finish of an empty job, p${p}`,
        value: percentile(latencies, p),
        unit: 'ms',
        goal: '≤ 2',
        met: percentile(latencies, p) <= 2,
      });
    }

    // (c) small jobs per second on two workers, 64 in flight.
    const tiny = await sandbox.prepare(hashLoop(1000), 1);
    const jobs = options.quick ? 5_000 : 20_000;
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next++ < jobs) await small(tiny);
      }),
    );
    const perSecond = jobs / ((performance.now() - started) / 1000);
    report.add({
      section,
      figure: 'small jobs (1,000 hash rounds) with 2 workers',
      value: perSecond,
      unit: 'jobs/s',
      goal: '≥ 1000',
      met: perSecond >= 1000,
    });

    // (d) fuel exactness over repeated runs, on both workers.
    const exactRuns = options.quick ? 10 : 40;
    const kernel = await sandbox.prepare(sieve(1_000_000), limits.memoryPages);
    const fuels = new Set<number>();
    await Promise.all(
      Array.from({ length: exactRuns }, async () => {
        const o = await sandbox.run({
          module: kernel,
          entry: '_start',
          args: [],
          inputs: [],
          limits,
        });
        fuels.add(o.fuel);
      }),
    );
    report.add({
      section,
      figure: `fuel of a 1M sieve, same over ${exactRuns} runs (1 = yes)`,
      value: fuels.size === 1 ? 1 : 0,
      unit: '',
      goal: '1',
      met: fuels.size === 1,
    });
    report.note(`compute: fuel of the 1M sieve: ${[...fuels].join(', ')}`);

    // (e) runaway stop latency: time past the wall-clock limit until the outcome.
    const forever = await sandbox.prepare(
      wat('(module (func (export "_start") (loop $l (br $l))))'),
      1,
    );
    const wallMs = 200;
    const late: number[] = [];
    for (let i = 0; i < (options.quick ? 5 : 20); i++) {
      const o = await sandbox.run({
        module: forever,
        entry: '_start',
        args: [],
        inputs: [],
        limits: { ...limits, memoryPages: 1, wallMs },
      });
      if (o.status !== 'wall_limit') throw new Error(`runaway ended ${o.status}`);
      late.push(o.wallMs - wallMs);
      await small(empty); // the replacement worker is up and serving
    }
    late.sort((a, b) => a - b);
    for (const [name, value] of [
      ['p50', percentile(late, 50)],
      ['max', late[late.length - 1]!],
    ] as const) {
      report.add({
        section,
        figure: `runaway stopped after its wall-clock limit, ${name}`,
        value,
        unit: 'ms',
        goal: '≤ 100',
        met: value <= 100,
      });
    }
  } finally {
    await sandbox.close();
  }
}
