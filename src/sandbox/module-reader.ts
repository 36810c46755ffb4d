/**
 * Reads the structure of a Wasm module (docs/compute-sandbox.md, "The subset"): every section
 * is walked, every function body decoded instruction by instruction, so that a feature outside
 * the deterministic subset is found wherever it hides. What the fuel pass needs is kept; the
 * rest stays as byte ranges to copy.
 */
import { ByteReader } from './byte-reader.js';
import { invalid, unsupported } from './errors.js';
import { Kind, readInstruction } from './instructions.js';
import { readValueType } from './value-types.js';

export interface FuncType {
  readonly params: readonly number[];
  readonly results: readonly number[];
}
export interface Import {
  readonly module: string;
  readonly name: string;
  /** Index into `types`. */
  readonly type: number;
}
export interface Export {
  readonly name: string;
  readonly kind: number;
  readonly index: number;
}
export interface Memory {
  readonly min: number;
  readonly max: number | undefined;
}
export interface Body {
  /** Bytes of the whole body (locals and code), without its size prefix. */
  readonly start: number;
  readonly end: number;
  /** Where the instructions begin, after the local declarations. */
  readonly code: number;
  /** Declared locals, parameters not counted. */
  readonly locals: number;
}
export interface Section {
  readonly id: number;
  /** The payload, without id and size. */
  readonly start: number;
  readonly end: number;
}
export interface ModuleInfo {
  readonly bytes: Uint8Array;
  readonly sections: readonly Section[];
  readonly types: readonly FuncType[];
  readonly imports: readonly Import[];
  /** Type index of every function defined in the module. */
  readonly functions: readonly number[];
  readonly memory: Memory | undefined;
  readonly globals: number;
  readonly exports: readonly Export[];
  readonly start: number | undefined;
  readonly bodies: readonly Body[];
}

const SECTION_ORDER = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 10, 11];
/** Where a section id stands in the required order (custom sections stand anywhere). */
export function sectionRank(id: number): number {
  return SECTION_ORDER.indexOf(id);
}

export function readModule(bytes: Uint8Array): ModuleInfo {
  const r = new ByteReader(bytes);
  if (
    bytes.length < 8 ||
    bytes[0] !== 0 ||
    bytes[1] !== 0x61 ||
    bytes[2] !== 0x73 ||
    bytes[3] !== 0x6d
  ) {
    throw invalid('not a Wasm module (no \\0asm magic)');
  }
  const version = bytes[4]! | (bytes[5]! << 8) | (bytes[6]! << 16) | (bytes[7]! << 24);
  if (version !== 1) throw unsupported(`binary format version ${version >>> 0}`);
  r.pos = 8;
  const sections: Section[] = [];
  const types: FuncType[] = [];
  const imports: Import[] = [];
  const functions: number[] = [];
  const exports: Export[] = [];
  const bodies: Body[] = [];
  let memory: Memory | undefined;
  let memories = 0;
  let globals = 0;
  let start: number | undefined;
  let lastRank = 0;
  while (!r.done) {
    const id = r.byte();
    const size = r.u32();
    const s = new ByteReader(bytes, r.pos, r.pos + size);
    r.skip(size);
    if (id === 13) throw unsupported('exception handling (a tag section)');
    const rank = sectionRank(id);
    if (rank < 0) throw invalid(`unknown section id ${id}`);
    if (id !== 0) {
      if (rank <= lastRank) throw invalid(`section ${id} is out of order or repeated`);
      lastRank = rank;
    }
    sections.push({ id, start: s.pos, end: s.end });
    switch (id) {
      case 1:
        for (let n = s.u32(), i = 0; i < n; i++) types.push(funcType(s));
        break;
      case 2:
        for (let n = s.u32(), i = 0; i < n; i++) {
          const module = s.name();
          const name = s.name();
          const kind = s.byte();
          if (kind === 0) imports.push({ module, name, type: s.u32() });
          else if (kind === 1) throw unsupported(`an imported table (${module}.${name})`);
          else if (kind === 2) throw unsupported(`an imported memory (${module}.${name})`);
          else if (kind === 3) throw unsupported(`an imported global (${module}.${name})`);
          else if (kind === 4)
            throw unsupported(`exception handling (imported tag ${module}.${name})`);
          else throw invalid(`unknown import kind ${kind}`);
        }
        break;
      case 3:
        for (let n = s.u32(), i = 0; i < n; i++) functions.push(s.u32());
        break;
      case 4:
        for (let n = s.u32(), i = 0; i < n; i++) {
          if (s.peek() === 0x40) throw unsupported('table initialiser expressions');
          readValueType(s);
          limits(s, 'table');
        }
        break;
      case 5:
        for (let n = s.u32(), i = 0; i < n; i++) {
          memories++;
          if (memories > 1) throw unsupported('multiple memories');
          memory = limits(s, 'memory');
        }
        break;
      case 6:
        for (let n = s.u32(), i = 0; i < n; i++) {
          readValueType(s);
          const mutability = s.byte();
          if (mutability > 1) throw invalid(`a global's mutability ${mutability} is not valid`);
          constantExpression(s);
          globals++;
        }
        break;
      case 7:
        for (let n = s.u32(), i = 0; i < n; i++) {
          const name = s.name();
          const kind = s.byte();
          if (kind > 3) throw unsupported(`exception handling (exported tag ${name})`);
          exports.push({ name, kind, index: s.u32() });
        }
        break;
      case 8:
        start = s.u32();
        break;
      case 10:
        for (let n = s.u32(), i = 0; i < n; i++) bodies.push(body(s));
        break;
      default:
        // custom, element, data count and data: copied as they are. Their constant
        // expressions are checked by the engine's validation; the subset needs nothing of them.
        s.pos = s.end;
    }
    if (s.pos !== s.end) throw invalid(`section ${id} has ${s.end - s.pos} bytes left over`);
  }
  if (bodies.length !== functions.length) {
    throw invalid(`${functions.length} functions are declared but ${bodies.length} bodies given`);
  }
  return { bytes, sections, types, imports, functions, memory, globals, exports, start, bodies };
}

function funcType(r: ByteReader): FuncType {
  const form = r.byte();
  if (form === 0x4e || form === 0x4f || form === 0x50 || form === 0x5e || form === 0x5f) {
    throw unsupported('garbage collection (a struct, array or recursive type)');
  }
  if (form !== 0x60) throw invalid(`type form 0x${form.toString(16)} is not a function type`);
  const params: number[] = [];
  const results: number[] = [];
  for (let n = r.u32(), i = 0; i < n; i++) params.push(readValueType(r));
  for (let n = r.u32(), i = 0; i < n; i++) results.push(readValueType(r));
  return { params, results };
}

function limits(r: ByteReader, what: 'memory' | 'table'): Memory {
  const flags = r.byte();
  if (flags === 2 || flags === 3) throw unsupported(`shared ${what} (threads)`);
  if (flags >= 4 && flags <= 7) throw unsupported(`${what}64`);
  if (flags > 1) throw invalid(`${what} limits flags 0x${flags.toString(16)} are not valid`);
  const min = r.u32();
  const max = flags === 1 ? r.u32() : undefined;
  return { min, max };
}

function constantExpression(r: ByteReader): void {
  while (readInstruction(r) !== Kind.End) {
    // A constant expression is a few instructions; the engine validates which.
  }
}

function body(r: ByteReader): Body {
  const size = r.u32();
  const start = r.pos;
  const b = new ByteReader(r.bytes, start, start + size);
  r.skip(size);
  let locals = 0;
  for (let n = b.u32(), i = 0; i < n; i++) {
    locals += b.u32();
    readValueType(b);
  }
  if (locals > 50_000) throw invalid(`a function declares ${locals} locals`);
  const code = b.pos;
  let depth = 1;
  while (depth > 0) {
    const kind = readInstruction(b);
    if (kind === Kind.Block || kind === Kind.Loop || kind === Kind.If) depth++;
    else if (kind === Kind.End) depth--;
  }
  if (!b.done) throw invalid(`a function body has bytes after its end at ${b.pos}`);
  return { start, end: b.end, code, locals };
}
