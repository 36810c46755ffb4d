/** The committed example modules. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths.js';

export const EXAMPLES = ['wordcount', 'thumbnail'] as const;

export function exampleModule(name: (typeof EXAMPLES)[number]): Buffer {
  return readFileSync(join(repoRoot, 'examples', name, 'build', `${name}.wasm`));
}
