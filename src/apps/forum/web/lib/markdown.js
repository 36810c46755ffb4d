// The Markdown the forum renders, as a pure parser: text in, a tree of plain objects out. The
// pages build DOM nodes from the tree with textContent and setAttribute only, so nothing
// anyone writes is ever parsed as HTML; links keep http and https URLs only.
//
// The subset: paragraphs (a single newline is a line break), **bold** and __bold__, *italic* and
// _italic_, `code`, ``` fenced code blocks, [text](http://…) links, lists (-, * or + and 1. or 1)),
// and > quotes; a backslash before punctuation keeps it literal. Anything else stays as typed.
//
// Blocks: { t: 'p', c: inlines } | { t: 'ul', items: inlines[] } | { t: 'ol', start, items }
//         | { t: 'quote', c: blocks } | { t: 'pre', v: text }
// Inlines: { t: 'text', v } | { t: 'br' } | { t: 'strong', c } | { t: 'em', c } | { t: 'code', v }
//          | { t: 'a', href, c }
//
// Work is linear in the text's length times a fixed nesting depth: no input can make it slow.

const MAX_DEPTH = 6;
const ESCAPABLE = '\\`*_[]()#+-.!>';

/** The URL of a link if it is an absolute http or https URL, else undefined. */
export function safeHref(raw) {
  const text = raw.trim();
  if (!/^https?:\/\/[^\s<>"]+$/i.test(text)) return undefined;
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : undefined;
  } catch {
    return undefined;
  }
}

function pushText(out, value) {
  if (value === '') return;
  const last = out[out.length - 1];
  if (last && last.t === 'text') last.v += value;
  else out.push({ t: 'text', v: value });
}

const isSpace = (ch) => ch === undefined || /\s/.test(ch);
const isWord = (ch) => ch !== undefined && /[\p{L}\p{N}]/u.test(ch);

/** Inline Markdown of one block's text. */
export function parseInline(text, depth = 0) {
  const out = [];
  // The next occurrence of a delimiter at or after `from`. Searches move forward only (an
  // occurrence found for an earlier `from` is still the next one), so a text full of openers
  // without closers costs one pass per delimiter, not one per opener.
  const found = new Map();
  const closer = (delim, from) => {
    const known = found.get(delim);
    if (known !== undefined && (known < 0 || known >= from)) return known;
    const at = text.indexOf(delim, from);
    found.set(delim, at);
    return at;
  };
  let i = 0;
  let plain = '';
  const flush = () => {
    pushText(out, plain);
    plain = '';
  };
  while (i < text.length) {
    const ch = text[i];
    if (ch === '\\' && i + 1 < text.length && ESCAPABLE.includes(text[i + 1])) {
      plain += text[i + 1];
      i += 2;
      continue;
    }
    if (ch === '\n') {
      flush();
      out.push({ t: 'br' });
      i += 1;
      continue;
    }
    if (ch === '`') {
      let ticks = 1;
      while (text[i + ticks] === '`') ticks += 1;
      const fence = '`'.repeat(ticks);
      const end = closer(fence, i + ticks);
      if (end > i + ticks) {
        flush();
        out.push({ t: 'code', v: text.slice(i + ticks, end) });
        i = end + ticks;
        continue;
      }
      plain += fence;
      i += ticks;
      continue;
    }
    if (depth < MAX_DEPTH && (ch === '*' || ch === '_')) {
      const strong = text[i + 1] === ch;
      const delim = strong ? ch + ch : ch;
      const inner = i + delim.length;
      // `_` only at word edges, so snake_case_names stay as they are.
      const opens =
        !isSpace(text[inner]) && (ch === '*' || !isWord(text[i - 1])) && text[inner] !== ch;
      const end = opens ? closer(delim, inner + 1) : -1;
      if (
        end > inner &&
        !isSpace(text[end - 1]) &&
        (ch === '*' || !isWord(text[end + delim.length])) &&
        !text.slice(inner, end).includes('\n\n')
      ) {
        flush();
        out.push({
          t: strong ? 'strong' : 'em',
          c: parseInline(text.slice(inner, end), depth + 1),
        });
        i = end + delim.length;
        continue;
      }
      plain += delim;
      i += delim.length;
      continue;
    }
    if (ch === '[' && depth < MAX_DEPTH) {
      const close = closer('](', i + 1);
      const end = close > i ? closer(')', close + 2) : -1;
      const label = close > i ? text.slice(i + 1, close) : '';
      const href = end > close ? safeHref(text.slice(close + 2, end)) : undefined;
      if (href && label.trim() !== '' && !label.includes('[') && !label.includes('\n')) {
        flush();
        out.push({
          t: 'a',
          href,
          c: parseInline(label, MAX_DEPTH - 1)
            .map((node) => (node.t === 'a' ? node.c : node))
            .flat(),
        });
        i = end + 1;
        continue;
      }
    }
    plain += ch;
    i += 1;
  }
  flush();
  return out;
}

const LIST_ITEM = /^ {0,3}(?:([-*+])|(\d{1,9})([.)]))[ \t]+(.*)$/;
const QUOTE = /^ {0,3}> ?(.*)$/;
const FENCE = /^ {0,3}```/;

/** Block Markdown of a whole text (a post's or a comment's body). */
export function parseMarkdown(text, depth = 0) {
  const lines = String(text).replace(/\r\n?/g, '\n').split('\n');
  const blocks = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (line.trim() === '') {
      i += 1;
      continue;
    }
    if (FENCE.test(line)) {
      const body = [];
      i += 1;
      while (i < lines.length && !FENCE.test(lines[i])) body.push(lines[i++]);
      i += 1;
      blocks.push({ t: 'pre', v: body.join('\n') });
      continue;
    }
    if (QUOTE.test(line) && depth < MAX_DEPTH) {
      const inner = [];
      while (i < lines.length && QUOTE.test(lines[i])) inner.push(QUOTE.exec(lines[i++])[1]);
      blocks.push({ t: 'quote', c: parseMarkdown(inner.join('\n'), depth + 1) });
      continue;
    }
    const item = LIST_ITEM.exec(line);
    if (item) {
      const ordered = item[2] !== undefined;
      const items = [];
      while (i < lines.length) {
        const next = LIST_ITEM.exec(lines[i]);
        if (next && (next[2] !== undefined) === ordered) {
          items.push(next[4]);
          i += 1;
        } else if (items.length > 0 && lines[i].trim() !== '' && /^\s/.test(lines[i])) {
          // An indented line continues the item above it.
          items[items.length - 1] += `\n${lines[i].trim()}`;
          i += 1;
        } else break;
      }
      const parsed = items.map((source) => parseInline(source, depth));
      blocks.push(
        ordered ? { t: 'ol', start: Number(item[2]), items: parsed } : { t: 'ul', items: parsed },
      );
      continue;
    }
    // The first line is always taken, so that every turn of the loop moves on.
    const paragraph = [lines[i++]];
    while (
      i < lines.length &&
      lines[i].trim() !== '' &&
      !FENCE.test(lines[i]) &&
      !QUOTE.test(lines[i]) &&
      !LIST_ITEM.test(lines[i])
    ) {
      paragraph.push(lines[i++]);
    }
    blocks.push({ t: 'p', c: parseInline(paragraph.join('\n'), depth) });
  }
  return blocks;
}

/** The text a tree shows, without its markup (for excerpts). */
export function plainText(nodes) {
  const text = (node) => {
    if (node.t === 'text' || node.t === 'code') return node.v;
    if (node.t === 'br') return ' ';
    if (node.t === 'pre') return ` ${node.v} `;
    if (node.items) return node.items.map((item) => ` ${item.map(text).join('')} `).join('');
    const inner = node.c.map(text).join('');
    return node.t === 'p' || node.t === 'quote' ? ` ${inner} ` : inner;
  };
  return nodes.map(text).join('').replace(/\s+/g, ' ').trim();
}
