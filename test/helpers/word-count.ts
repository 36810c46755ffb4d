/**
 * Word counts for compute tests. The word count of examples/wordcount (its built module) and
 * its answer computed here from its definition; and a smaller one written in WebAssembly text
 * and assembled with binaryen, which reads all inputs (fd 0), counts the runs of bytes other
 * than space, tab, CR and LF, and writes the count in decimal and a newline to fd 1
 * (`countWords` is the same count computed here).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import binaryen from 'binaryen';
import { repoRoot } from './paths.js';

const WAT = `
(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (local $n i32) (local $i i32) (local $c i32) (local $in i32) (local $count i32) (local $p i32)
    (block $eof
      (loop $read
        ;; iov at 0: buffer at 1024, 4096 bytes; bytes read at 8
        (i32.store (i32.const 0) (i32.const 1024))
        (i32.store (i32.const 4) (i32.const 4096))
        (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
        (local.set $n (i32.load (i32.const 8)))
        (br_if $eof (i32.eqz (local.get $n)))
        (local.set $i (i32.const 0))
        (block $done
          (loop $scan
            (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
            (local.set $c (i32.load8_u (i32.add (i32.const 1024) (local.get $i))))
            (if (i32.or (i32.or (i32.eq (local.get $c) (i32.const 32)) (i32.eq (local.get $c) (i32.const 10)))
                        (i32.or (i32.eq (local.get $c) (i32.const 9)) (i32.eq (local.get $c) (i32.const 13))))
              (then (local.set $in (i32.const 0)))
              (else
                (if (i32.eqz (local.get $in))
                  (then (local.set $count (i32.add (local.get $count) (i32.const 1)))))
                (local.set $in (i32.const 1))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $scan)))
        (br $read)))
    ;; digits written backwards from 200, then a newline at 200
    (i32.store8 (i32.const 200) (i32.const 10))
    (local.set $p (i32.const 200))
    (loop $digit
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p) (i32.add (i32.const 48) (i32.rem_u (local.get $count) (i32.const 10))))
      (local.set $count (i32.div_u (local.get $count) (i32.const 10)))
      (br_if $digit (i32.ne (local.get $count) (i32.const 0))))
    (i32.store (i32.const 16) (local.get $p))
    (i32.store (i32.const 20) (i32.sub (i32.const 201) (local.get $p)))
    (drop (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24)))))
`;

export function wordCountModule(): Buffer {
  const module = binaryen.parseText(WAT);
  try {
    if (!module.validate()) throw new Error('the word-count module does not validate');
    return Buffer.from(module.emitBinary());
  } finally {
    module.dispose();
  }
}

export function countWords(text: string): number {
  return text.split(/[ \t\r\n]+/).filter((w) => w.length > 0).length;
}

/** The word count of examples/wordcount (its README), computed here from its definition. */
export function exampleWordCount(text: string): string {
  const words = (
    Buffer.from(text, 'utf8')
      .toString('latin1')
      .match(/[A-Za-z0-9\x80-\xff]+/g) ?? []
  ).map((w) => w.toLowerCase());
  const counts = new Map<string, number>();
  for (const w of words) counts.set(w, (counts.get(w) ?? 0) + 1);
  const top = [...counts.entries()]
    .sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0))
    .slice(0, 10)
    .map(([w, n]) => [Buffer.from(w, 'latin1').toString('utf8'), n]);
  const newlines = text.split('\n').length - 1;
  const lines = newlines + (text.length > 0 && !text.endsWith('\n') ? 1 : 0);
  return `${JSON.stringify({ words: words.length, lines, bytes: Buffer.byteLength(text), top })}\n`;
}

export const exampleWordCountModule = (): Buffer =>
  readFileSync(join(repoRoot, 'examples', 'wordcount', 'build', 'wordcount.wasm'));
