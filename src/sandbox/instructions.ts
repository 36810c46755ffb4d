/**
 * One instruction of a function body or constant expression: its opcode's immediates are read
 * (and skipped) and the instruction is classified for the fuel pass. Opcodes outside the
 * deterministic subset are refused with `module_unsupported` naming their feature; opcodes that
 * exist in no proposal are `module_invalid`.
 */
import type { ByteReader } from './byte-reader.js';
import { invalid, unsupported } from './errors.js';
import { readValueType } from './value-types.js';

/** What the fuel pass must know of an instruction. */
export const enum Kind {
  /** Straight-line: costs 1 and falls through. */
  Plain,
  Block,
  Loop,
  If,
  Else,
  End,
  /** Costs 1 and ends the straight-line segment: br, br_if, br_table, return, unreachable. */
  Branch,
  /** memory.grow: charged per page, stopped past the memory limit. */
  MemoryGrow,
  /** memory.fill/copy/init, table.init/copy/fill/grow: charged by their length operand. */
  BulkBytes,
  BulkElements,
}

function blockType(r: ByteReader): void {
  const b = r.peek();
  if (b === 0x40) {
    r.byte();
    return;
  }
  if (b >= 0x6e && b <= 0x7f) {
    readValueType(r);
    return;
  }
  if (r.s33() < 0) throw invalid(`a block type at byte ${r.pos} is not valid`);
}

function memArg(r: ByteReader): void {
  const align = r.u32();
  if (align & 0x40) throw unsupported('multiple memories (a memory index in a load or store)');
  if (align >= 0x40) throw invalid(`an alignment at byte ${r.pos} is not valid`);
  r.u32();
}

function memoryIndex(r: ByteReader): void {
  if (r.u32() !== 0) throw unsupported('multiple memories (a memory index other than 0)');
}

/** Reads the instruction at the reader's position and returns its kind. */
export function readInstruction(r: ByteReader): Kind {
  const op = r.byte();
  if (op >= 0x45 && op <= 0xc4) return Kind.Plain; // numeric, incl. sign extension
  if (op >= 0x28 && op <= 0x3e) {
    memArg(r);
    return Kind.Plain;
  }
  switch (op) {
    case 0x00:
      return Kind.Branch; // unreachable
    case 0x01:
      return Kind.Plain;
    case 0x02:
      blockType(r);
      return Kind.Block;
    case 0x03:
      blockType(r);
      return Kind.Loop;
    case 0x04:
      blockType(r);
      return Kind.If;
    case 0x05:
      return Kind.Else;
    case 0x0b:
      return Kind.End;
    case 0x0c:
    case 0x0d:
      r.u32();
      return Kind.Branch;
    case 0x0e: {
      const count = r.u32();
      for (let i = 0; i <= count; i++) r.u32();
      return Kind.Branch;
    }
    case 0x0f:
      return Kind.Branch;
    case 0x10:
      r.u32();
      return Kind.Plain;
    case 0x11:
      r.u32();
      r.u32();
      return Kind.Plain;
    case 0x06:
    case 0x07:
    case 0x08:
    case 0x09:
    case 0x0a:
    case 0x18:
    case 0x19:
    case 0x1f:
      throw unsupported('exception handling');
    case 0x12:
    case 0x13:
      throw unsupported('tail calls');
    case 0x14:
    case 0x15:
    case 0xd3:
    case 0xd4:
    case 0xd5:
    case 0xd6:
      throw unsupported('typed function references');
    case 0x1a:
    case 0x1b:
      return Kind.Plain;
    case 0x1c: {
      const count = r.u32();
      for (let i = 0; i < count; i++) readValueType(r);
      return Kind.Plain;
    }
    case 0x20:
    case 0x21:
    case 0x22:
    case 0x23:
    case 0x24:
    case 0x25:
    case 0x26:
      r.u32();
      return Kind.Plain;
    case 0x3f:
      memoryIndex(r);
      return Kind.Plain;
    case 0x40:
      memoryIndex(r);
      return Kind.MemoryGrow;
    case 0x41:
      r.skipSigned(32);
      return Kind.Plain;
    case 0x42:
      r.skipSigned(64);
      return Kind.Plain;
    case 0x43:
      r.skip(4);
      return Kind.Plain;
    case 0x44:
      r.skip(8);
      return Kind.Plain;
    case 0xd0:
      readValueType(r);
      return Kind.Plain;
    case 0xd1:
      return Kind.Plain;
    case 0xd2:
      r.u32();
      return Kind.Plain;
    case 0xfb:
      throw unsupported('garbage collection (0xFB instructions)');
    case 0xfc:
      return prefixed(r);
    case 0xfd:
      throw unsupported('SIMD (0xFD instructions)');
    case 0xfe:
      throw unsupported('threads (atomic 0xFE instructions)');
    default:
      throw invalid(`unknown opcode 0x${op.toString(16)} at byte ${r.pos - 1}`);
  }
}

/** The 0xFC instructions: saturating float-to-int (0–7) and bulk memory and tables (8–17). */
function prefixed(r: ByteReader): Kind {
  const sub = r.u32();
  if (sub <= 7) return Kind.Plain;
  switch (sub) {
    case 8: // memory.init data mem
      r.u32();
      memoryIndex(r);
      return Kind.BulkBytes;
    case 9: // data.drop
      r.u32();
      return Kind.Plain;
    case 10: // memory.copy mem mem
      memoryIndex(r);
      memoryIndex(r);
      return Kind.BulkBytes;
    case 11: // memory.fill mem
      memoryIndex(r);
      return Kind.BulkBytes;
    case 12: // table.init elem table
    case 14: // table.copy table table
      r.u32();
      r.u32();
      return Kind.BulkElements;
    case 13: // elem.drop
    case 16: // table.size
      r.u32();
      return Kind.Plain;
    case 15: // table.grow
    case 17: // table.fill
      r.u32();
      return Kind.BulkElements;
    default:
      throw unsupported(`the 0xFC ${sub} instruction`);
  }
}
