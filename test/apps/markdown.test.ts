/**
 * The forum's Markdown subset (src/apps/forum/web/lib/markdown.js, the very file the browser
 * loads): what each construct becomes, that links keep http and https URLs only, that markup
 * and script in any position stay text, and that hostile inputs of the largest allowed size
 * parse quickly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { forumWebDir } from '../../src/apps/forum/plugin.js';
import { BODY_MAX } from '../../src/apps/forum/model.js';

interface Node {
  t: string;
  v?: string;
  c?: Node[];
  href?: string;
  items?: Node[][];
  start?: number;
}

const markdown = (await import(pathToFileURL(join(forumWebDir(), 'lib', 'markdown.js')).href)) as {
  parseMarkdown(text: string): Node[];
  parseInline(text: string): Node[];
  plainText(nodes: Node[]): string;
  safeHref(text: string): string | undefined;
};
const { parseMarkdown, parseInline, plainText, safeHref } = markdown;

const text = (v: string): Node => ({ t: 'text', v });

/** Every node of a tree, depth first. */
function* walk(nodes: Node[]): Generator<Node> {
  for (const node of nodes) {
    yield node;
    if (node.c) yield* walk(node.c);
    for (const item of node.items ?? []) yield* walk(item);
  }
}

test('inline: bold, italic, code and links', () => {
  assert.deepEqual(parseInline('**red** and __blue__'), [
    { t: 'strong', c: [text('red')] },
    text(' and '),
    { t: 'strong', c: [text('blue')] },
  ]);
  assert.deepEqual(parseInline('*soft* _too_'), [
    { t: 'em', c: [text('soft')] },
    text(' '),
    { t: 'em', c: [text('too')] },
  ]);
  assert.deepEqual(parseInline('**bold _and italic_**'), [
    { t: 'strong', c: [text('bold '), { t: 'em', c: [text('and italic')] }] },
  ]);
  assert.deepEqual(parseInline('run `rm -rf *` now'), [
    text('run '),
    { t: 'code', v: 'rm -rf *' },
    text(' now'),
  ]);
  assert.deepEqual(parseInline('see [the docs](https://example.org/a?b=1#c)'), [
    text('see '),
    { t: 'a', href: 'https://example.org/a?b=1#c', c: [text('the docs')] },
  ]);
  assert.deepEqual(parseInline('line one\nline two'), [
    text('line one'),
    { t: 'br' },
    text('line two'),
  ]);
});

test('what is not markup stays as typed', () => {
  for (const plain of [
    'snake_case_name and file_name.txt',
    '2 * 3 * 4',
    'a ** b',
    '**unclosed',
    '`unclosed',
    '[no link]',
    '[empty]()',
    '5 > 3 and 2 < 4',
  ]) {
    assert.equal(plainText(parseMarkdown(plain)), plain, plain);
    assert.deepEqual(parseInline(plain), [text(plain)], plain);
  }
  assert.deepEqual(parseInline('\\*not italic\\*'), [text('*not italic*')]);
});

test('blocks: paragraphs, lists, quotes and code', () => {
  const tree = parseMarkdown(
    'First paragraph\nstill first.\n\n- one\n- **two**\n  continued\n\n3. three\n4) four\n\n> quoted *words*\n> > nested\n\n```\n<b>code</b>\n  kept\n```\nafter',
  );
  assert.deepEqual(
    tree.map((b) => b.t),
    ['p', 'ul', 'ol', 'quote', 'pre', 'p'],
  );
  assert.deepEqual(tree[0]!.c, [text('First paragraph'), { t: 'br' }, text('still first.')]);
  assert.deepEqual(tree[1]!.items, [
    [text('one')],
    [{ t: 'strong', c: [text('two')] }, { t: 'br' }, text('continued')],
  ]);
  assert.equal(tree[2]!.start, 3);
  assert.equal(tree[2]!.items!.length, 2);
  assert.deepEqual(
    tree[3]!.c!.map((b) => b.t),
    ['p', 'quote'],
  );
  assert.deepEqual(tree[4], { t: 'pre', v: '<b>code</b>\n  kept' });
  assert.deepEqual(tree[5]!.c, [text('after')]);
  assert.equal(
    plainText(parseMarkdown('un**believ**able\n\n- a\n- b')),
    'unbelievable a b',
    'excerpts lose the markup, not the words',
  );
});

test('links keep http and https only', () => {
  for (const good of ['http://example.org', 'https://example.org/x?y=1', 'HTTPS://EXAMPLE.ORG']) {
    assert.ok(safeHref(good), good);
  }
  for (const bad of [
    'javascript:alert(1)',
    'JaVaScRiPt:alert(1)',
    ' javascript:alert(1)',
    'java\nscript:alert(1)',
    'java\tscript:alert(1)',
    'data:text/html,<script>alert(1)</script>',
    'vbscript:msgbox(1)',
    'file:///etc/passwd',
    '//evil.example/x',
    '/relative',
    'https://exa mple.org',
    'https://example.org/"onmouseover="alert(1)',
    'https://example.org/<script>',
    'http://',
  ]) {
    assert.equal(safeHref(bad), undefined, JSON.stringify(bad));
    const tree = parseMarkdown(`[click](${bad})`);
    assert.ok(![...walk(tree)].some((n) => n.t === 'a'), JSON.stringify(bad));
  }
  // The href is the URL parser's own serialisation, never the raw text.
  assert.equal(safeHref('https://example.org/a b'), undefined);
  assert.equal(safeHref('https://example.org/ä'), 'https://example.org/%C3%A4');
});

test('HTML and script stay text wherever they are written', () => {
  const attacks = [
    '<script>alert(1)</script>',
    '<img src=x onerror=alert(1)>',
    '**<img src=x onerror=alert(1)>**',
    '[<img src=x onerror=alert(1)>](https://example.org)',
    '[x](https://example.org)<svg onload=alert(1)>',
    '`<script>`',
    '> <iframe src="javascript:alert(1)">',
    '- <a href="javascript:alert(1)">x</a>',
    '```\n</code></pre><script>alert(1)</script>\n```',
    '&lt;script&gt;',
    '[x](https://example.org "title"><script>)',
  ];
  for (const attack of attacks) {
    const tree = parseMarkdown(attack);
    const kinds = new Set([...walk(tree)].map((n) => n.t));
    for (const kind of kinds) {
      assert.ok(
        ['p', 'ul', 'ol', 'quote', 'pre', 'text', 'br', 'strong', 'em', 'code', 'a'].includes(kind),
        `${attack}: ${kind}`,
      );
    }
    for (const node of walk(tree)) {
      if (node.t === 'a') assert.match(node.href!, /^https:\/\/example\.org\/$/, attack);
    }
    // Every character of markup survives as text: nothing was dropped or decoded.
    const all = [...walk(tree)].map((n) => n.v ?? '').join('');
    for (const piece of ['script', 'onerror', 'onload', 'iframe', '&lt;']) {
      if (attack.includes(piece)) assert.ok(all.includes(piece), `${attack} lost ${piece}`);
    }
  }
});

test('hostile bodies of the largest size parse in bounded time', () => {
  const size = BODY_MAX;
  const inputs = [
    '[['.repeat(size / 2),
    '['.repeat(size - 10) + '](http://x',
    '*a '.repeat(size / 3),
    '**'.repeat(size / 2),
    '_a'.repeat(size / 2),
    '`'.repeat(size),
    '> '.repeat(size / 2),
    '>'.repeat(size),
    '- '.repeat(size / 2),
    '```\n'.repeat(size / 4),
    '> a\n'.repeat(size / 4),
    '[a](http://x.y) '.repeat(size / 16),
    '***'.repeat(size / 3) + 'x',
  ];
  for (const input of inputs) {
    const started = performance.now();
    const tree = parseMarkdown(input);
    const ms = performance.now() - started;
    assert.ok(ms < 1000, `${JSON.stringify(input.slice(0, 12))}… took ${ms.toFixed(0)} ms`);
    // Nothing is lost: the text that comes out is at most what went in.
    assert.ok(plainText(tree).length <= input.length);
  }
});
