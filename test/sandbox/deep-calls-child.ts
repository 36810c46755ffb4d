/**
 * Run by deep-calls.test.ts in a process of its own (so that V8 flags such as --no-liftoff
 * apply): a module whose calls each push 1,000 results recurses until something stops it, and
 * the outcomes of four runs are printed as JSON.
 */
import { Sandbox } from '../../src/sandbox/index.js';

const u32 = (n: number): number[] => {
  const out: number[] = [];
  do {
    const b = n & 0x7f;
    n >>>= 7;
    out.push(n ? b | 0x80 : b);
  } while (n);
  return out;
};
const section = (id: number, payload: number[]): number[] => [
  id,
  ...u32(payload.length),
  ...payload,
];
const vector = (items: number[][]): number[] => [...u32(items.length), ...items.flat()];

/** Type 1 returns `results` i32s; function 0 (of type 1) makes them; function 1 calls 0 `calls` times, then itself. */
export function deepModule(results: number, calls: number): Uint8Array {
  const types = vector([
    [0x60, 0, 0],
    [0x60, 0, ...u32(results), ...new Array<number>(results).fill(0x7f)],
  ]);
  const make = [0, ...new Array<number[]>(results).fill([0x41, 0]).flat(), 0x0b];
  const recurse = [
    0,
    0x02,
    0x40,
    ...new Array<number[]>(calls).fill([0x10, 0]).flat(),
    0x10,
    1,
    0x0c,
    0,
    0x0b,
    0x0b,
  ];
  const name = [...u32(6), ...Buffer.from('_start')];
  return Uint8Array.from([
    ...[0, 0x61, 0x73, 0x6d, 1, 0, 0, 0],
    ...section(1, types),
    ...section(3, vector([[1], [0]])),
    ...section(7, vector([[...name, 0, 1]])),
    ...section(
      10,
      vector([
        [...u32(make.length), ...make],
        [...u32(recurse.length), ...recurse],
      ]),
    ),
  ]);
}

const sandbox = new Sandbox({ workers: 1, maxModuleBytes: 1 << 20 });
const module = await sandbox.prepare(deepModule(1000, 100), 0);
const outcomes = [];
for (let i = 0; i < 4; i++) {
  const o = await sandbox.run({
    module,
    entry: '_start',
    args: [],
    inputs: [],
    limits: { memoryPages: 0, fuel: 1e12, wallMs: 30_000, outputBytes: 0 },
  });
  outcomes.push({ status: o.status, message: o.message, fuel: o.fuel });
}
await sandbox.close();
process.stdout.write(JSON.stringify(outcomes));
