// Post and comment bodies as DOM nodes, from the tree of markdown.js. Elements are made by
// name and text goes in as text nodes: what people write can add no element, attribute or
// script beyond the few listed here, and links are http or https (checked by the parser).

import { h } from './dom.js';
import { parseMarkdown, plainText } from './markdown.js';

function inline(nodes) {
  return nodes.map((node) => {
    switch (node.t) {
      case 'text':
        return node.v;
      case 'br':
        return h('br');
      case 'strong':
        return h('strong', {}, inline(node.c));
      case 'em':
        return h('em', {}, inline(node.c));
      case 'code':
        return h('code', {}, node.v);
      case 'a':
        return h(
          'a',
          { href: node.href, rel: 'nofollow noopener noreferrer', target: '_blank' },
          inline(node.c),
        );
      default:
        return null;
    }
  });
}

function block(node) {
  switch (node.t) {
    case 'p':
      return h('p', {}, inline(node.c));
    case 'ul':
      return h(
        'ul',
        {},
        node.items.map((item) => h('li', {}, inline(item))),
      );
    case 'ol':
      return h(
        'ol',
        { start: node.start === 1 ? undefined : String(node.start) },
        node.items.map((item) => h('li', {}, inline(item))),
      );
    case 'quote':
      return h('blockquote', {}, node.c.map(block));
    case 'pre':
      return h('pre', {}, h('code', {}, node.v));
    default:
      return null;
  }
}

/** A body rendered: `tag` (with its classes) holding the blocks. */
export function richText(tag, attributes, text) {
  return h(tag, attributes, parseMarkdown(text).map(block));
}

/** The first words of a body, without its markup. */
export function excerptOf(text, max = 280) {
  const plain = plainText(parseMarkdown(text.slice(0, max * 4)));
  return plain.length > max ? `${plain.slice(0, max - 1)}…` : plain;
}
