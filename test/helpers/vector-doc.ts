/**
 * A vectors file of docs/vectors/ as the vector tests read it: values by dotted path, each
 * read remembered, so that a last test can check that no value of the file went unread and a
 * vector cannot silently stop being checked.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths.js';

export class VectorDoc {
  readonly doc: unknown;
  private readonly read = new Set<string>();

  constructor(file: string) {
    this.doc = JSON.parse(readFileSync(join(repoRoot, 'docs', 'vectors', file), 'utf8'));
  }

  private node(path: string): unknown {
    let node: unknown = this.doc;
    for (const part of path.split('.')) {
      assert.ok(typeof node === 'object' && node !== null, `no ${path} in the vectors`);
      node = (node as Record<string, unknown>)[part];
    }
    return node;
  }

  /** A leaf value, marked read. */
  value(path: string): unknown {
    const node = this.node(path);
    assert.notEqual(node, undefined, `no ${path} in the vectors`);
    this.read.add(path);
    return node;
  }

  str(path: string): string {
    const v = this.value(path);
    assert.equal(typeof v, 'string', path);
    return v as string;
  }

  num(path: string): number {
    const v = this.value(path);
    assert.equal(typeof v, 'number', path);
    return v as number;
  }

  /** A hex value, which must be lowercase and whole bytes. */
  bytes(path: string): Buffer {
    const text = this.str(path);
    assert.match(text, /^(?:[0-9a-f]{2})+$/, `${path} is lowercase hex`);
    return Buffer.from(text, 'hex');
  }

  /** The length of an array (not a value: its elements are). */
  length(path: string): number {
    const node = this.node(path);
    assert.ok(Array.isArray(node), path);
    return node.length;
  }

  /** The member names of an object (not a value: its members are). */
  keysOf(path: string): string[] {
    const node = this.node(path);
    assert.ok(typeof node === 'object' && node !== null, path);
    return Object.keys(node);
  }

  /** Checks that every leaf but `description` was read, and at least `least` of them. */
  assertAllRead(least: number): void {
    const unread: string[] = [];
    const walk = (node: unknown, path: string): void => {
      if (typeof node === 'object' && node !== null) {
        for (const [key, child] of Object.entries(node)) walk(child, path ? `${path}.${key}` : key);
        return;
      }
      if (path !== 'description' && !this.read.has(path)) unread.push(path);
    };
    walk(this.doc, '');
    assert.deepEqual(unread, []);
    assert.ok(this.read.size >= least, `${this.read.size} values read`);
  }
}
