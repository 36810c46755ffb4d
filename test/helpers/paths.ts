import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Compiled tests live in dist/test/…; the repository root is three levels up from here. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export const cliPath = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
