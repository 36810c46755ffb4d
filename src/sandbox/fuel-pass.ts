/**
 * Fuel v1 (docs/compute-sandbox.md, "Fuel v1"): rewrites a module's standard bytecode so that it
 * counts what it executes in a global of its own and stops when that count passes the limit,
 * and so that memory.grow past the memory limit stops the run instead of returning -1.
 *
 * Nothing existing moves: two globals are appended after the module's own (it imports none),
 * one scratch local after each function's own locals, and exports are only added. The start
 * function is exported instead of started, so that the host sets the fuel before it runs.
 */
import { ByteReader } from './byte-reader.js';
import { ByteWriter } from './byte-writer.js';
import { SandboxError } from './errors.js';
import { Kind, readInstruction } from './instructions.js';
import {
  sectionRank,
  type Body,
  type FuncType,
  type Memory,
  type ModuleInfo,
} from './module-reader.js';

export const RESERVED_EXPORT_PREFIX = 'p2pcloud:';
/** The remaining fuel, a mutable i64 global: the host sets it before a run and reads it after. */
export const FUEL_EXPORT = 'p2pcloud:fuel';
/** A mutable i32 global the module sets to STOP_MEMORY_LIMIT before it stops at the memory limit. */
export const STOP_EXPORT = 'p2pcloud:stop';
export const MEMORY_EXPORT = 'p2pcloud:memory';
export const START_EXPORT = 'p2pcloud:start';
export const STOP_MEMORY_LIMIT = 1;
/** The value of the stop global when a call would pass the stack budget. */
export const STOP_STACK = 2;
/**
 * The stack budget of a run, in units: a call takes 4 + parameters + locals + code bytes of its
 * function × max(1, the most results any type has) (a bound on its operand stack), and gives
 * them back when it returns. Deterministic, unlike the engine's own stack overflow, and low
 * enough that the engine's stack (STACK_BYTES) never runs out first.
 */
export const STACK_UNITS = 500_000;
export const STACK_BYTES = 64 * 1024 * 1024;
/**
 * The instrumented module may be at most MAX_GROWTH times the original plus GROWTH_SLACK bytes:
 * compiled code grows by well under 2x, while a module of nothing but the instructions the pass
 * expands most (memory.grow, loops) would grow 20x and cost the node that much memory.
 */
export const MAX_GROWTH = 4;
export const GROWTH_SLACK = 64 * 1024;
/** Extra fuel per page memory.grow asks for (what filling the page costs by bytes). */
export const FUEL_PER_PAGE = 8192;
/** memory.fill, memory.copy and memory.init cost ⌈n / 8⌉ extra for n bytes. */
export const BYTES_PER_FUEL_SHIFT = 3;

const op = {
  unreachable: 0x00,
  block: 0x02,
  if: 0x04,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  return: 0x0f,
  localGet: 0x20,
  localTee: 0x22,
  globalGet: 0x23,
  globalSet: 0x24,
  memorySize: 0x3f,
  i32Const: 0x41,
  i64Const: 0x42,
  i32LtS: 0x48,
  i64LtS: 0x53,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i64GtU: 0x56,
  i64Add: 0x7c,
  i64Sub: 0x7d,
  i64Mul: 0x7e,
  i64ShrU: 0x88,
  i64ExtendI32U: 0xad,
} as const;

interface Indices {
  readonly fuel: number;
  readonly stop: number;
  readonly stack: number;
  readonly memoryPages: number;
}

/** Returns the instrumented module. Throws SandboxError (memory_limit, module_unsupported). */
export function instrument(info: ModuleInfo, memoryPages: number): Uint8Array {
  for (const e of info.exports) {
    if (e.name.startsWith(RESERVED_EXPORT_PREFIX)) {
      throw new SandboxError(
        'module_unsupported',
        `the module exports ${e.name}, a name the sandbox reserves`,
      );
    }
  }
  if (info.memory && info.memory.min > memoryPages) {
    throw new SandboxError(
      'memory_limit',
      `the module starts with ${info.memory.min} memory pages, more than the limit of ${memoryPages}`,
    );
  }
  const at: Indices = {
    fuel: info.globals,
    stop: info.globals + 1,
    stack: info.globals + 2,
    memoryPages,
  };
  const { types, blockTypes } = wrapperTypes(info);
  const budget = MAX_GROWTH * info.bytes.length + GROWTH_SLACK;
  const out = new ByteWriter().bytes(info.bytes.subarray(0, 8));
  let wroteGlobals = false;
  let wroteExports = false;
  const section = (id: number, payload: ByteWriter): void => {
    out.byte(id).u32(payload.length).bytes(payload.finish());
  };
  const globals = (): void => {
    wroteGlobals = true;
    section(6, globalSection(info, at));
  };
  const exports = (): void => {
    wroteExports = true;
    section(7, exportSection(info, at));
  };
  for (const s of info.sections) {
    const rank = sectionRank(s.id);
    if (s.id !== 0 && !wroteGlobals && rank > sectionRank(6)) globals();
    if (s.id !== 0 && !wroteExports && rank > sectionRank(7)) exports();
    switch (s.id) {
      case 1:
        section(1, types);
        break;
      case 5:
        // A memory section may declare no memory at all: then there is nothing to cap.
        if (info.memory) section(5, memorySection(info.memory, memoryPages));
        else
          out
            .byte(5)
            .u32(s.end - s.start)
            .bytes(info.bytes.subarray(s.start, s.end));
        break;
      case 6:
        globals();
        break;
      case 7:
        exports();
        break;
      case 8:
        break; // the host calls the start function, once the fuel is set
      case 10:
        section(10, codeSection(info, at, blockTypes, budget - out.length));
        break;
      default:
        out
          .byte(s.id)
          .u32(s.end - s.start)
          .bytes(info.bytes.subarray(s.start, s.end));
    }
  }
  if (!wroteGlobals) globals();
  if (!wroteExports) exports();
  if (out.length > budget) throw tooLarge(info, out.length);
  return out.finish();
}

/** The entries of a vector section (everything after its count) and the count. */
function entries(info: ModuleInfo, id: number): { count: number; rest: Uint8Array } {
  const s = info.sections.find((x) => x.id === id);
  if (!s) return { count: 0, rest: new Uint8Array(0) };
  const r = new ByteReader(info.bytes, s.start, s.end);
  const count = r.u32();
  return { count, rest: info.bytes.subarray(r.pos, s.end) };
}

function memorySection(memory: Memory, memoryPages: number): ByteWriter {
  const max = memory.max === undefined ? memoryPages : Math.min(memory.max, memoryPages);
  return new ByteWriter().u32(1).byte(1).u32(memory.min).u32(max);
}

function globalSection(info: ModuleInfo, _at: Indices): ByteWriter {
  const { count, rest } = entries(info, 6);
  return new ByteWriter()
    .u32(count + 3)
    .bytes(rest)
    .bytes(Uint8Array.of(0x7e, 1, op.i64Const, 0, op.end)) // fuel: mut i64 = 0
    .bytes(Uint8Array.of(0x7f, 1, op.i32Const, 0, op.end)) // stop: mut i32 = 0
    .byte(0x7f) // stack: mut i32 = STACK_UNITS
    .byte(1)
    .byte(op.i32Const)
    .s64(BigInt(STACK_UNITS))
    .byte(op.end);
}

function exportSection(info: ModuleInfo, at: Indices): ByteWriter {
  const { count, rest } = entries(info, 7);
  const added: [string, number, number][] = [
    [FUEL_EXPORT, 3, at.fuel],
    [STOP_EXPORT, 3, at.stop],
  ];
  if (info.memory) added.push([MEMORY_EXPORT, 2, 0]);
  if (info.start !== undefined) added.push([START_EXPORT, 0, info.start]);
  const w = new ByteWriter().u32(count + added.length).bytes(rest);
  for (const [name, kind, index] of added) w.name(name).byte(kind).u32(index);
  return w;
}

/**
 * The type section with a `[] -> results` type appended for every result list of more than one
 * value that has none (the block around each function body needs one), and the block type of
 * every body's wrapper.
 */
function wrapperTypes(info: ModuleInfo): { types: ByteWriter; blockTypes: Uint8Array[] } {
  const types = [...info.types];
  const added: number[][] = [];
  const key = (results: readonly number[]): string => results.join(',');
  const byResults = new Map<string, number>();
  types.forEach((t, i) => {
    if (t.params.length === 0 && !byResults.has(key(t.results))) byResults.set(key(t.results), i);
  });
  const blockTypes = info.functions.map((typeIndex) => {
    const results = types[typeIndex]?.results ?? [];
    if (results.length === 0) return Uint8Array.of(0x40);
    if (results.length === 1) return Uint8Array.of(results[0]!);
    let index = byResults.get(key(results));
    if (index === undefined) {
      index = types.length + added.length;
      added.push([...results]);
      byResults.set(key(results), index);
    }
    return new ByteWriter().s64(BigInt(index)).finish();
  });
  const { count, rest } = entries(info, 1);
  const w = new ByteWriter().u32(count + added.length).bytes(rest);
  for (const results of added) {
    w.byte(0x60).u32(0).u32(results.length);
    for (const t of results) w.byte(t);
  }
  return { types: w, blockTypes };
}

function tooLarge(info: ModuleInfo, bytes: number): SandboxError {
  return new SandboxError(
    'module_too_large',
    `instrumented, the module of ${info.bytes.length} bytes would grow past ${bytes} bytes, more than ${MAX_GROWTH} × its size + ${GROWTH_SLACK}`,
  );
}

function codeSection(
  info: ModuleInfo,
  at: Indices,
  blockTypes: Uint8Array[],
  budget: number,
): ByteWriter {
  const w = new ByteWriter().u32(info.bodies.length);
  // No instruction pushes more values than the most results of any type (a call, a block's end):
  // one byte of code can add that many to the operand stack, and no fewer than 1.
  const widest = Math.max(1, ...info.types.map((t) => t.results.length));
  info.bodies.forEach((body, i) => {
    const params = info.types[info.functions[i]!]?.params.length ?? 0;
    // Capped where it can no longer be called at all, so that it fits an i32 constant.
    const frame = Math.min(
      STACK_UNITS + 1,
      4 + params + body.locals + (body.end - body.code) * widest,
    );
    const code = functionBody(info.bytes, body, params + body.locals, at, {
      frame,
      blockType: blockTypes[i]!,
      results: info.types[info.functions[i]!]?.results.length ?? 0,
      types: info.types,
    }).finish();
    w.u32(code.length).bytes(code);
    // Stopped as soon as it is too large, so that the pass's own memory stays bounded too.
    if (w.length > budget) throw tooLarge(info, w.length);
  });
  return w;
}

/** Fuel of a straight-line segment: charged at its start, checked where loops can start. */
function charge(w: ByteWriter, at: Indices, cost: number): void {
  w.byte(op.globalGet).u32(at.fuel).byte(op.i64Const).s64(BigInt(cost));
  w.byte(op.i64Sub).byte(op.globalSet).u32(at.fuel);
}

/** Both at once where a loop or a function starts: the new value is kept in an i64 local. */
function chargeAndCheck(w: ByteWriter, at: Indices, cost: number, scratch64: number): void {
  w.byte(op.globalGet).u32(at.fuel).byte(op.i64Const).s64(BigInt(cost)).byte(op.i64Sub);
  w.byte(op.localTee).u32(scratch64).byte(op.globalSet).u32(at.fuel);
  w.byte(op.localGet).u32(scratch64).byte(op.i64Const).s64(0n).byte(op.i64LtS);
  w.byte(op.if).byte(0x40).byte(op.unreachable).byte(op.end);
}

function check(w: ByteWriter, at: Indices): void {
  w.byte(op.globalGet).u32(at.fuel).byte(op.i64Const).s64(0n).byte(op.i64LtS);
  w.byte(op.if).byte(0x40).byte(op.unreachable).byte(op.end);
}

/** Charges the length operand on top of the stack (kept there), shifted right after rounding up. */
function chargeLength(w: ByteWriter, at: Indices, scratch: number, shift: number): void {
  w.byte(op.localTee).u32(scratch).byte(op.globalGet).u32(at.fuel);
  w.byte(op.localGet).u32(scratch).byte(op.i64ExtendI32U);
  if (shift > 0) {
    w.byte(op.i64Const)
      .s64(BigInt((1 << shift) - 1))
      .byte(op.i64Add);
    w.byte(op.i64Const).s64(BigInt(shift)).byte(op.i64ShrU);
  }
  w.byte(op.i64Sub).byte(op.globalSet).u32(at.fuel);
  check(w, at);
}

/** Before memory.grow: charges the pages asked for and stops past the limit. */
function guardGrow(w: ByteWriter, at: Indices, scratch: number): void {
  w.byte(op.localTee).u32(scratch).byte(op.globalGet).u32(at.fuel);
  w.byte(op.localGet).u32(scratch).byte(op.i64ExtendI32U);
  w.byte(op.i64Const).s64(BigInt(FUEL_PER_PAGE)).byte(op.i64Mul);
  w.byte(op.i64Sub).byte(op.globalSet).u32(at.fuel);
  check(w, at);
  w.byte(op.memorySize).byte(0).byte(op.i64ExtendI32U);
  w.byte(op.localGet).u32(scratch).byte(op.i64ExtendI32U).byte(op.i64Add);
  w.byte(op.i64Const).s64(BigInt(at.memoryPages)).byte(op.i64GtU);
  w.byte(op.if).byte(0x40);
  w.byte(op.i32Const).u32(STOP_MEMORY_LIMIT).byte(op.globalSet).u32(at.stop);
  w.byte(op.unreachable).byte(op.end);
}

/** A br_if to a label that carries no values, merged into the segment around it. */
interface MergedBranch {
  readonly raw: Uint8Array;
  readonly label: number;
  /** The segment's cost up to and including the br_if. */
  readonly costBefore: number;
}

/**
 * A merged br_if: as it is when nothing follows it in its segment, otherwise `if; (give back
 * the cost of the rest of the segment); br label+1; end`.
 */
function giveBackOnBranch(w: ByteWriter, at: Indices, branch: MergedBranch, rest: number): void {
  if (rest === 0) {
    w.bytes(branch.raw);
    return;
  }
  w.byte(op.if).byte(0x40);
  w.byte(op.globalGet).u32(at.fuel).byte(op.i64Const).s64(BigInt(rest)).byte(op.i64Add);
  w.byte(op.globalSet).u32(at.fuel);
  w.byte(op.br)
    .u32(branch.label + 1)
    .byte(op.end);
}

/** Parameter and result counts of a block, loop or if, from its block type. */
function blockArity(
  raw: Uint8Array,
  types: readonly FuncType[],
): { params: number; results: number } {
  const b = raw[1]!;
  if (b === 0x40) return { params: 0, results: 0 };
  if (b >= 0x6e && b <= 0x7f) return { params: 0, results: 1 };
  const type = types[new ByteReader(raw, 1).s33()];
  return { params: type?.params.length ?? 0, results: type?.results.length ?? 0 };
}

/** At function entry: takes the frame's stack units, stops the run if the budget is spent. */
function takeStack(w: ByteWriter, at: Indices, frame: number): void {
  w.byte(op.globalGet).u32(at.stack).byte(op.i32Const).s64(BigInt(frame)).byte(op.i32Sub);
  w.byte(op.globalSet).u32(at.stack);
  w.byte(op.globalGet).u32(at.stack).byte(op.i32Const).s64(0n).byte(op.i32LtS);
  w.byte(op.if).byte(0x40);
  w.byte(op.i32Const).s64(BigInt(STOP_STACK)).byte(op.globalSet).u32(at.stop);
  w.byte(op.unreachable).byte(op.end);
}

function giveStack(w: ByteWriter, at: Indices, frame: number): void {
  w.byte(op.globalGet).u32(at.stack).byte(op.i32Const).s64(BigInt(frame)).byte(op.i32Add);
  w.byte(op.globalSet).u32(at.stack);
}

/**
 * One function body, metered. The original code runs inside a block of the function's result
 * type, so that every way out of the function (its end, `return`, a branch to its label) passes
 * the code that gives back its stack units; `return` becomes a branch to that block.
 */
function functionBody(
  bytes: Uint8Array,
  body: Body,
  scratch: number,
  at: Indices,
  wrap: { frame: number; blockType: Uint8Array; results: number; types: readonly FuncType[] },
): ByteWriter {
  const w = new ByteWriter();
  const r = new ByteReader(bytes, body.start, body.end);
  const groups = r.u32();
  w.u32(groups + 2)
    .bytes(bytes.subarray(r.pos, body.code))
    .u32(1)
    .byte(0x7f)
    .u32(1)
    .byte(0x7e);
  r.pos = body.code;
  takeStack(w, at, wrap.frame);
  w.byte(op.block).bytes(wrap.blockType);
  let depth = 0;
  /** How many values a branch to each open label carries, innermost last. */
  const labels: number[] = [wrap.results];
  let segment = new ByteWriter();
  let pieces: (Uint8Array | MergedBranch)[] = [];
  let cost = 0;
  let checked = true; // function entry
  const flush = (): void => {
    if (cost > 0 && checked) chargeAndCheck(w, at, cost, scratch + 1);
    else if (cost > 0) charge(w, at, cost);
    else if (checked) check(w, at);
    for (const piece of pieces) {
      if (piece instanceof Uint8Array) w.bytes(piece);
      else giveBackOnBranch(w, at, piece, cost - piece.costBefore);
    }
    w.bytes(segment.finish());
    segment = new ByteWriter();
    pieces = [];
    cost = 0;
    checked = false;
  };
  while (r.pos < body.end) {
    const start = r.pos;
    const kind = readInstruction(r);
    const raw = bytes.subarray(start, r.pos);
    switch (kind) {
      case Kind.Plain:
        cost++;
        segment.bytes(raw);
        break;
      case Kind.Block:
      case Kind.If:
        labels.push(blockArity(raw, wrap.types).results);
        depth++;
        cost++;
        segment.bytes(raw);
        flush();
        break;
      case Kind.Branch:
        cost++;
        if (raw[0] === op.brIf) {
          const label = new ByteReader(raw, 1).u32();
          if (labels[labels.length - 1 - label] === 0) {
            // The segment goes on past it; a taken branch gives back what it skips.
            pieces.push(segment.finish(), { raw, label, costBefore: cost });
            segment = new ByteWriter();
            break;
          }
        }
        if (raw[0] === op.return) segment.byte(op.br).u32(depth);
        else segment.bytes(raw);
        flush();
        break;
      case Kind.Loop:
        labels.push(blockArity(raw, wrap.types).params);
        depth++;
        cost++;
        segment.bytes(raw);
        flush();
        checked = true;
        break;
      case Kind.Else:
        flush();
        w.bytes(raw);
        break;
      case Kind.End:
        flush();
        w.bytes(raw);
        if (depth === 0) {
          giveStack(w, at, wrap.frame);
          w.byte(op.end);
        }
        labels.pop();
        depth--;
        break;
      case Kind.MemoryGrow:
        cost++;
        guardGrow(segment, at, scratch);
        segment.bytes(raw);
        break;
      case Kind.BulkBytes:
        cost++;
        chargeLength(segment, at, scratch, BYTES_PER_FUEL_SHIFT);
        segment.bytes(raw);
        break;
      case Kind.BulkElements:
        cost++;
        chargeLength(segment, at, scratch, 0);
        segment.bytes(raw);
        break;
    }
  }
  return w;
}
