/**
 * Where the package is installed. Web pages (HTML, CSS, browser JavaScript) are served from the
 * source folders, src/ui/web and src/apps/forum/web, because the TypeScript build does not copy
 * them; package.json ships those folders. This finds them from the compiled code in dist/ and
 * from an installed package alike.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function packageRoot(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      const name = (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name;
      if (name === 'p2pcloud') return (cached = dir);
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the p2pcloud package root');
    dir = parent;
  }
}

/** A folder of web files under src/, e.g. webDir('ui', 'web'). */
export function webDir(...segments: string[]): string {
  return join(packageRoot(), 'src', ...segments);
}
