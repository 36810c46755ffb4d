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
import { sectionRank, type Body, type ModuleInfo } from './module-reader.js';

export const RESERVED_EXPORT_PREFIX = 'p2pcloud:';
/** The remaining fuel, a mutable i64 global: the host sets it before a run and reads it after. */
export const FUEL_EXPORT = 'p2pcloud:fuel';
/** A mutable i32 global the module sets to STOP_MEMORY_LIMIT before it stops at the memory limit. */
export const STOP_EXPORT = 'p2pcloud:stop';
export const MEMORY_EXPORT = 'p2pcloud:memory';
export const START_EXPORT = 'p2pcloud:start';
export const STOP_MEMORY_LIMIT = 1;
/** Extra fuel per page memory.grow asks for (what filling the page costs by bytes). */
export const FUEL_PER_PAGE = 8192;
/** memory.fill, memory.copy and memory.init cost ⌈n / 8⌉ extra for n bytes. */
export const BYTES_PER_FUEL_SHIFT = 3;

const op = {
  unreachable: 0x00,
  if: 0x04,
  end: 0x0b,
  localGet: 0x20,
  localTee: 0x22,
  globalGet: 0x23,
  globalSet: 0x24,
  memorySize: 0x3f,
  i32Const: 0x41,
  i64Const: 0x42,
  i64LtS: 0x53,
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
  const at: Indices = { fuel: info.globals, stop: info.globals + 1, memoryPages };
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
      case 5:
        section(5, memorySection(info, memoryPages));
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
        section(10, codeSection(info, at));
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

function memorySection(info: ModuleInfo, memoryPages: number): ByteWriter {
  const memory = info.memory!;
  const max = memory.max === undefined ? memoryPages : Math.min(memory.max, memoryPages);
  return new ByteWriter().u32(1).byte(1).u32(memory.min).u32(max);
}

function globalSection(info: ModuleInfo, _at: Indices): ByteWriter {
  const { count, rest } = entries(info, 6);
  return new ByteWriter()
    .u32(count + 2)
    .bytes(rest)
    .bytes(Uint8Array.of(0x7e, 1, op.i64Const, 0, op.end)) // fuel: mut i64 = 0
    .bytes(Uint8Array.of(0x7f, 1, op.i32Const, 0, op.end)); // stop: mut i32 = 0
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

function codeSection(info: ModuleInfo, at: Indices): ByteWriter {
  const w = new ByteWriter().u32(info.bodies.length);
  info.bodies.forEach((body, i) => {
    const params = info.types[info.functions[i]!]?.params.length ?? 0;
    const code = functionBody(info.bytes, body, params + body.locals, at).finish();
    w.u32(code.length).bytes(code);
  });
  return w;
}

/** Fuel of a straight-line segment: charged at its start, checked where loops can start. */
function charge(w: ByteWriter, at: Indices, cost: number): void {
  w.byte(op.globalGet).u32(at.fuel).byte(op.i64Const).s64(BigInt(cost));
  w.byte(op.i64Sub).byte(op.globalSet).u32(at.fuel);
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

function functionBody(bytes: Uint8Array, body: Body, scratch: number, at: Indices): ByteWriter {
  const w = new ByteWriter();
  const r = new ByteReader(bytes, body.start, body.end);
  const groups = r.u32();
  w.u32(groups + 1)
    .bytes(bytes.subarray(r.pos, body.code))
    .u32(1)
    .byte(0x7f);
  r.pos = body.code;
  let segment = new ByteWriter();
  let cost = 0;
  let checked = true; // function entry
  const flush = (): void => {
    if (cost > 0) charge(w, at, cost);
    if (checked) check(w, at);
    w.bytes(segment.finish());
    segment = new ByteWriter();
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
      case Kind.Branch:
        cost++;
        segment.bytes(raw);
        flush();
        break;
      case Kind.Loop:
        cost++;
        segment.bytes(raw);
        flush();
        checked = true;
        break;
      case Kind.Else:
      case Kind.End:
        flush();
        w.bytes(raw);
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
