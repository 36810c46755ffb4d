/**
 * Every relative link in the repository's Markdown resolves: the file or directory exists, and a
 * #fragment names a heading of the target document, with anchors made the way GitHub makes them.
 * Links to other sites are not fetched (tests stay off the network).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { repoRoot } from '../helpers/paths.js';

/** Installed, built or local-only trees, whose Markdown is not the project's. */
const SKIPPED_DIRS = new Set(['node_modules', 'dist', 'data', 'test-artifacts']);

function markdownFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      return SKIPPED_DIRS.has(name) || name.startsWith('.') ? [] : markdownFiles(path);
    }
    return name.endsWith('.md') ? [path] : [];
  });
}

/** The text with fenced code blocks and inline code blanked: links in code are not links. */
function prose(text: string): string[] {
  let fenced = false;
  return text.split('\n').map((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      return '';
    }
    return fenced ? '' : line.replace(/`[^`]*`/g, '``');
  });
}

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function headingAnchor(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/[*`]/g, '')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/ /g, '-');
}

function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  let fenced = false;
  for (const line of text.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const base = headingAnchor(heading[1]!);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.add(count === 0 ? base : `${base}-${count}`);
  }
  for (const match of text.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) result.add(match[1]!);
  return result;
}

interface Link {
  readonly file: string;
  readonly line: number;
  readonly target: string;
}

function links(file: string): Link[] {
  const found: Link[] = [];
  for (const [i, line] of prose(readFileSync(file, 'utf8')).entries()) {
    for (const match of line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      found.push({ file, line: i + 1, target: match[1]! });
    }
    const definition = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/.exec(line);
    if (definition) found.push({ file, line: i + 1, target: definition[1]! });
  }
  return found;
}

/** Why a link does not resolve, or undefined when it does. */
function brokenReason(link: Link): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(link.target)) return undefined; // http:, mailto: …
  const [pathPart, fragment] = link.target.split('#', 2) as [string, string | undefined];
  const path = pathPart === '' ? link.file : resolve(dirname(link.file), decodeURI(pathPart));
  if (!path.startsWith(repoRoot)) return 'points outside the repository';
  if (!existsSync(path)) return 'no such file';
  if (fragment === undefined || fragment === '') return undefined;
  if (!path.endsWith('.md')) return 'a #fragment on a file that is not Markdown';
  return anchors(readFileSync(path, 'utf8')).has(decodeURIComponent(fragment))
    ? undefined
    : `no heading with anchor #${fragment}`;
}

const files = markdownFiles(repoRoot);

test('the Markdown files are found', () => {
  const names = files.map((f) => relative(repoRoot, f));
  for (const expected of ['README.md', 'docs/protocol.md', 'docs/gateway.md']) {
    assert.ok(names.includes(expected), `${expected} not among ${names.join(', ')}`);
  }
});

test('anchors are made as GitHub makes them', () => {
  assert.equal(headingAnchor('13. Replication'), '13-replication');
  assert.equal(headingAnchor('7.3 GET /index'), '73-get-index');
  assert.equal(headingAnchor('2. Who may call it, and as whom'), '2-who-may-call-it-and-as-whom');
  assert.equal(headingAnchor('The `p2pcloud` command'), 'the-p2pcloud-command');
  assert.equal(
    headingAnchor('Apps: the local gateway and the forum'),
    'apps-the-local-gateway-and-the-forum',
  );
  assert.deepEqual([...anchors('# A\n## A\n```\n# B\n```\n')], ['a', 'a-1']);
});

test('every relative link and #anchor in the Markdown resolves', () => {
  const all = files.flatMap(links);
  assert.ok(
    all.some((l) => l.target.includes('#')),
    'no link with an anchor was found',
  );
  const broken = all.flatMap((link) => {
    const reason = brokenReason(link);
    return reason
      ? [`${relative(repoRoot, link.file)}:${link.line}: ${link.target}: ${reason}`]
      : [];
  });
  assert.deepEqual(broken, []);
});
