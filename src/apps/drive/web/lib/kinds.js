// What kind of file a file is, for the page: how to preview it and how to show its size.
// Pure: no DOM, so that tests run this very file in Node.

/** How much of a text file a preview shows (one Range request). */
export const TEXT_PREVIEW_BYTES = 64 * 1024;

// Raster images only: an SVG is a document that can carry script, and opened on its own in a
// tab it would run in the gateway's origin.
const IMAGE_TYPES = new Set([
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/webp',
  'image/avif',
  'image/bmp',
]);

const TEXT_TYPES = new Set([
  'application/json',
  'application/xml',
  'application/javascript',
  'application/x-sh',
  'application/toml',
  'application/yaml',
  'image/svg+xml',
]);

const TEXT_EXTENSIONS = new Set(
  'txt md markdown csv tsv log json xml yaml yml toml ini cfg conf js mjs cjs ts py rb go rs c h cpp java sh css html htm svg sql'.split(
    ' ',
  ),
);

const IMAGE_EXTENSIONS = new Map([
  ['png', 'image/png'],
  ['jpg', 'image/jpeg'],
  ['jpeg', 'image/jpeg'],
  ['gif', 'image/gif'],
  ['webp', 'image/webp'],
]);

function extensionOf(name) {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : '';
}

/** The media type without parameters, lower case; '' if none. */
function essence(mediaType) {
  return (mediaType ?? '').split(';')[0].trim().toLowerCase();
}

/**
 * How the page previews a file: 'image' (an <img> of the content route), 'text' (the first
 * TEXT_PREVIEW_BYTES through a Range request, shown as text) or 'none'. Files without a media
 * type are judged by their name's extension; files of an unknown type are tried as text (the
 * preview says so if the bytes are not text).
 */
export function previewKind(file) {
  const type = essence(file.media_type);
  if (IMAGE_TYPES.has(type)) return 'image';
  if (type.startsWith('text/') || TEXT_TYPES.has(type) || type.endsWith('+json')) return 'text';
  const ext = extensionOf(file.name);
  if (type === '' || type === 'application/octet-stream') {
    if (IMAGE_EXTENSIONS.has(ext)) return 'image';
    if (TEXT_EXTENSIONS.has(ext) || ext === '') return 'text';
    return 'none';
  }
  return 'none';
}

// docs/files.md §4.1: `type/subtype` in lower case, then parameters.
const MEDIA_TYPE =
  /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}(?:; ?[a-z0-9!#$&^_.+-]+=(?:[A-Za-z0-9!#$&^_.+-]+|"[\x20\x21\x23-\x5b\x5d-\x7e]*"))*$/;

/**
 * The media type to store for a file the browser picked: its type as the browser guessed it
 * (lower-cased), or from the name for a few image types the browser may leave blank; null when
 * neither gives one the format accepts.
 */
export function uploadMediaType(browserType, name) {
  const type = (browserType ?? '').trim().toLowerCase();
  if (type && type.length <= 255 && MEDIA_TYPE.test(type)) return type;
  return IMAGE_EXTENSIONS.get(extensionOf(name)) ?? null;
}

/** Decoded text of a preview, and whether the bytes look like text at all. */
export function previewText(bytes, complete) {
  if (bytes.includes(0)) return { text: '', binary: true };
  // `stream` keeps a character cut at the end of a partial read out instead of mangling it.
  const decoder = new TextDecoder('utf-8', { fatal: false });
  const text = decoder.decode(bytes, { stream: !complete });
  const replaced = (text.match(/\uFFFD/g) ?? []).length;
  return { text, binary: replaced > 8 && replaced * 20 > text.length };
}

const UNITS = ['bytes', 'KB', 'MB', 'GB', 'TB'];

/** A size for people: "512 bytes", "1.5 MB" (powers of 1000, as file managers show them). */
export function formatBytes(n) {
  if (n === 1) return '1 byte';
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  if (unit === 0) return `${n} bytes`;
  return `${value >= 100 ? Math.round(value) : value.toFixed(1)} ${UNITS[unit]}`;
}

/** A percentage (0–100, whole) of `done` out of `total`; 100 for an empty total. */
export function percent(done, total) {
  if (!(total > 0)) return 100;
  return Math.max(0, Math.min(100, Math.floor((done / total) * 100)));
}
