/** Value types of the Wasm binary format, refusing those outside the deterministic subset. */
import type { ByteReader } from './byte-reader.js';
import { invalid, unsupported } from './errors.js';

export const I32 = 0x7f;
export const I64 = 0x7e;
export const F32 = 0x7d;
export const F64 = 0x7c;

/** Reads one value type byte: numbers and funcref/externref; v128 and GC types are refused. */
export function readValueType(r: ByteReader): number {
  const t = r.byte();
  switch (t) {
    case 0x7f:
    case 0x7e:
    case 0x7d:
    case 0x7c:
    case 0x70:
    case 0x6f:
      return t;
    case 0x7b:
      throw unsupported('SIMD (the v128 type)');
    case 0x69:
    case 0x68:
      throw unsupported('exception handling (exnref)');
    case 0x64:
    case 0x63:
    case 0x6e:
    case 0x6d:
    case 0x6c:
    case 0x6b:
    case 0x6a:
    case 0x71:
    case 0x72:
    case 0x73:
    case 0x74:
      throw unsupported('garbage collection or typed references (a reference type)');
    default:
      throw invalid(`unknown value type 0x${t.toString(16)} at byte ${r.pos - 1}`);
  }
}
