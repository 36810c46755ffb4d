/**
 * Writes docs/vectors/spread.json (docs/spread.md §8). Run with `node dist/tools/gen-spread-vectors.js`;
 * a file that exists is not changed unless --force is given: vectors are fixed once published.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { codeVectors, fileVector, layoutVectors } from './spread-vector-data.js';

const path = join(
  resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'),
  'docs',
  'vectors',
  'spread.json',
);
const text = `${JSON.stringify(
  {
    description:
      'Files spread over providers, format version 1 (docs/spread.md): the erasure code, the ' +
      'layout rule and one file spread 3-of-5 from fixed keys. Hex is lowercase.',
    code: await codeVectors(),
    layout: layoutVectors(),
    file: await fileVector(),
  },
  null,
  2,
)}\n`;
if (existsSync(path) && readFileSync(path, 'utf8') !== text && !process.argv.includes('--force')) {
  console.error('docs/vectors/spread.json would change; run with --force if the format changed');
  process.exitCode = 1;
} else {
  writeFileSync(path, text);
  console.log('wrote docs/vectors/spread.json');
}
