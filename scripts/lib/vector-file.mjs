// What the vector generators (scripts/*-vectors.mjs) share: loading the compiled code, and
// writing a vectors file once. A file whose content would change is refused unless --force
// is given, because a changed vector means a changed format.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;

/** Imports a module of dist/src (build first: npx tsc -p tsconfig.json). */
export function dist(path) {
  return import(new URL(`../../dist/src/${path}`, import.meta.url).href);
}

export const force = process.argv.includes('--force');

/** Writes docs/vectors/<name>, or checks it against `vectors`; `what` names the formats. */
export function writeVectors(name, what, vectors) {
  const path = join(root, 'docs', 'vectors', name);
  const text = `${JSON.stringify(vectors, null, 2)}\n`;
  const current = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
  if (current === text) {
    console.log(`${path} is up to date`);
    return;
  }
  if (current !== undefined && !force) {
    console.error(
      `${path} would change: the ${what} formats differ from the committed vectors. If the ` +
        'format is really meant to change, run again with --force.',
    );
    process.exit(1);
  }
  writeFileSync(path, text);
  console.log(`wrote ${path}`);
}
