/**
 * Reading a node's /metrics as Prometheus does: the text exposition format, checked line by
 * line (a line that does not parse fails the test), samples indexed by name and labels.
 */
import assert from 'node:assert/strict';
import { request, type TestRequest } from './http.js';

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Scrape {
  readonly samples: Sample[];
  /** Metric family name → type, from the # TYPE lines. */
  readonly types: Map<string, string>;
  /** The value of the sample with exactly these labels (undefined if there is none). */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** Samples of `name`, whatever their labels. */
  all(name: string): Sample[];
}

// Values are Go floats: NaN and Inf in any case (prom-client writes an empty summary as Nan).
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+-]+|[Nn][Aa][Nn]|[+-]Inf)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/gy;

export function parseMetrics(text: string): Scrape {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# HELP ')) continue;
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      types.set(name!, type!);
      continue;
    }
    const match = SAMPLE.exec(line);
    assert.ok(match, `not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    if (match[2]) {
      LABEL.lastIndex = 0;
      let consumed = 0;
      for (let m = LABEL.exec(match[2]); m; m = LABEL.exec(match[2])) {
        labels[m[1]!] = m[2]!.replace(/\\"/g, '"').replace(/\\n/g, '\n').replace(/\\\\/g, '\\');
        consumed = LABEL.lastIndex;
      }
      assert.equal(consumed, match[2].length, `labels do not parse: ${line}`);
    }
    const text = match[3]!;
    const value = /^nan$/i.test(text)
      ? NaN
      : text.endsWith('Inf')
        ? (text.startsWith('-') ? -1 : 1) * Infinity
        : Number(text);
    samples.push({ name: match[1]!, labels, value });
  }
  const same = (a: Readonly<Record<string, string>>, b: Record<string, string>): boolean =>
    Object.keys(a).length === Object.keys(b).length &&
    Object.entries(b).every(([k, v]) => a[k] === v);
  return {
    samples,
    types,
    value: (name, labels = {}) =>
      samples.find((s) => s.name === name && same(s.labels, labels))?.value,
    all: (name) => samples.filter((s) => s.name === name),
  };
}

/** GET /metrics (asserting 200 and the text format's content type) and parses it. */
export async function scrape(url: string, options: TestRequest = {}): Promise<Scrape> {
  const response = await request(url, '/metrics', options);
  assert.equal(response.status, 200, response.body.toString());
  assert.match(String(response.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  return parseMetrics(response.body.toString('utf8'));
}
