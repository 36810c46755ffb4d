#!/usr/bin/env node
// Measures the content-defined chunker (docs/files.md §2.4) on 64 MiB of random bytes, pushed
// whole and in pieces of 1 MiB and 64 KiB, three runs each, using the compiled code in dist/
// (build first: npx tsc -p tsconfig.json). Prints MB/s, the chunk count, the mean chunk size and
// how many chunks were cut at the maximum.
//
//   node scripts/files-chunk-speed.mjs
import { randomBytes } from 'node:crypto';
import { dist } from './lib/vector-file.mjs';

const { Chunker, CHUNK_MAX_BYTES } = await dist('files/chunker.js');
const { gearTable } = await dist('files/gear.js');

const gear = gearTable(randomBytes(32));
const data = randomBytes(64 * 1024 * 1024);
for (const piece of [data.length, 1024 * 1024, 64 * 1024]) {
  for (let run = 0; run < 3; run++) {
    const chunker = new Chunker(gear);
    const started = process.hrtime.bigint();
    let count = 0;
    let atMax = 0;
    const take = (chunks) => {
      for (const chunk of chunks) {
        count += 1;
        if (chunk.bytes.length === CHUNK_MAX_BYTES) atMax += 1;
      }
    };
    for (let at = 0; at < data.length; at += piece)
      take(chunker.push(data.subarray(at, at + piece)));
    take(chunker.end());
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    console.log(
      `pushes of ${piece} B: ${(data.length / 1e6 / seconds).toFixed(0)} MB/s, ${count} chunks, ` +
        `mean ${(data.length / count / 1000).toFixed(1)} KB, ${((100 * atMax) / count).toFixed(1)} % at the maximum`,
    );
  }
}
