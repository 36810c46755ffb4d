// Paths of a drive's tree as the page handles them (docs/files.md §5), and the page's routes.
// Pure: no DOM, so that tests run this very file in Node. The gateway has the last word on
// every path; the checks here only spare a round trip for the obvious mistakes.

/** `folder/name`, or `name` at the root. */
export function joinPath(folder, name) {
  return folder ? `${folder}/${name}` : name;
}

/** The folder that holds `path` ('' for the root). */
export function parentOf(path) {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '' : path.slice(0, slash);
}

/** The last segment of a path. */
export function nameOf(path) {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** The folders from the root down to `folder`: [{ name, path }], the root first (name ''). */
export function crumbs(folder) {
  const out = [{ name: '', path: '' }];
  if (!folder) return out;
  let path = '';
  for (const name of folder.split('/')) {
    path = joinPath(path, name);
    out.push({ name, path });
  }
  return out;
}

/** Whether `path` is `folder` itself or lies under it. */
export function isUnder(path, folder) {
  return !folder || path === folder || path.startsWith(`${folder}/`);
}

// C0 and C1 controls and DEL, which no name may hold (docs/files.md §5.1).
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * What is wrong with a name typed by the user (one segment), or null. The same reasons as the
 * gateway gives, for the mistakes a person makes while typing.
 */
export function nameProblem(name) {
  if (name.trim() === '') return 'a name cannot be empty';
  if (name.includes('/')) return 'a name cannot contain "/" (it separates folders)';
  if (name.includes('\\')) return 'a name cannot contain "\\"';
  if (name === '.' || name === '..') return `"${name}" cannot be a name`;
  if (CONTROL.test(name)) return 'a name cannot contain control characters';
  if (new TextEncoder().encode(name.normalize('NFC')).length > 255) {
    return 'a name is at most 255 bytes of UTF-8';
  }
  return null;
}

/** What is wrong with a whole path typed by the user (to move a file), or null. */
export function pathProblem(path) {
  if (path === '') return 'a path cannot be empty';
  if (path.startsWith('/')) return 'a path starts below the drive: no leading "/"';
  for (const segment of path.split('/')) {
    const problem = nameProblem(segment);
    if (problem) return problem;
  }
  return null;
}

const SPACE_ID = /^[0-9a-f]{32}$/;

/**
 * The route of a location hash: `#/d/SPACE/seg/seg` (each segment percent-encoded) is a
 * folder of a drive; anything else is the home route. A segment that does not decode, or a
 * space that is not a group id, is the home route too.
 */
export function parseRoute(hash) {
  const parts = (hash || '').replace(/^#\/?/, '').split('/');
  if (parts[0] !== 'd' || !SPACE_ID.test(parts[1] ?? '')) return { space: null, folder: '' };
  try {
    const segments = parts
      .slice(2)
      .filter((s) => s !== '')
      .map(decodeURIComponent);
    return { space: parts[1], folder: segments.join('/') };
  } catch {
    return { space: parts[1], folder: '' };
  }
}

/** The hash of a folder of a drive (the inverse of parseRoute). */
export function routeHash(space, folder = '') {
  const tail = folder ? `/${folder.split('/').map(encodeURIComponent).join('/')}` : '';
  return `#/d/${space}${tail}`;
}
