/**
 * The query language of record lists, parsed from a query string into bound SQL over the local
 * index. Field names are checked against a strict pattern and JSON paths are bound as
 * parameters, so nothing from the request is ever spliced into SQL text. Pure.
 *
 *   where.<field>=<value>          equality; <value> is a JSON literal (5, true, null, "5")
 *                                  or, if it is not one, a plain string
 *   where.<field>[<op>]=<value>    op: eq ne gt gte lt lte contains exists
 *   author=p2pid1…  key=<record key>
 *   sort=-created_at,data.title    up to 4 keys, "-" for descending
 *   limit=1..500 (default 50)  offset=0..1000000 (default 0)
 */
import { P2PError } from '../errors.js';
import { decodeKeyText } from '../encoding/key-text.js';
import { KEY_RE } from './record.js';

export type Scalar = string | number | boolean | null;
export type Operator = 'eq' | 'ne' | 'gt' | 'gte' | 'lt' | 'lte' | 'contains' | 'exists';

export interface Condition {
  /** JSON path into the record's data, e.g. $.author.name. */
  readonly path: string;
  readonly op: Operator;
  readonly value: Scalar;
}

export interface SortKey {
  /** A column (created_at, updated_at, author, id, key) or a JSON path into data. */
  readonly column?: 'created_at' | 'updated_at' | 'author' | 'id' | 'key';
  readonly path?: string;
  readonly descending: boolean;
}

export interface ListQuery {
  readonly where: readonly Condition[];
  readonly author: string | undefined;
  readonly key: string | undefined;
  readonly sort: readonly SortKey[];
  readonly limit: number;
  readonly offset: number;
}

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 500;
const MAX_OFFSET = 1_000_000;
const MAX_CONDITIONS = 16;
const OPERATORS: readonly Operator[] = ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'contains', 'exists'];
const COLUMNS = ['created_at', 'updated_at', 'author', 'id', 'key'] as const;
const FIELD_RE = /^[A-Za-z_][A-Za-z0-9_]{0,63}(?:\.[A-Za-z_][A-Za-z0-9_]{0,63}){0,7}$/;

function bad(message: string): never {
  throw new P2PError('bad_query', message);
}

/** A dotted field name as a JSON path ($.a.b); refuses anything else. */
export function fieldPath(field: string): string {
  if (!FIELD_RE.test(field)) {
    bad(`field "${field.slice(0, 80)}" must be letters, digits and _ in dotted parts`);
  }
  return `$.${field}`;
}

function parseValue(text: string): Scalar {
  try {
    const value: unknown = JSON.parse(text);
    if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) {
      return value as Scalar;
    }
  } catch {
    return text;
  }
  return bad('filter values must be a string, a number, true, false or null');
}

function parseInteger(name: string, text: string, min: number, max: number): number {
  if (!/^\d{1,7}$/.test(text) || Number(text) < min || Number(text) > max) {
    bad(`${name} must be an integer in ${min}..${max}`);
  }
  return Number(text);
}

function parseSort(text: string): SortKey[] {
  const parts = text.split(',');
  if (parts.length > 4) bad('sort takes at most 4 keys');
  return parts.map((part) => {
    const descending = part.startsWith('-');
    const name = descending ? part.slice(1) : part;
    if ((COLUMNS as readonly string[]).includes(name)) {
      return { column: name as SortKey['column'] & string, descending };
    }
    if (name.startsWith('data.')) return { path: fieldPath(name.slice(5)), descending };
    return bad(`cannot sort by "${name.slice(0, 80)}": use ${COLUMNS.join(', ')} or data.<field>`);
  });
}

/** Parses a query string (as fastify hands it over: values are strings or string arrays). */
export function parseListQuery(raw: Record<string, unknown>): ListQuery {
  const where: Condition[] = [];
  let author: string | undefined;
  let key: string | undefined;
  let sort: SortKey[] = [{ column: 'created_at', descending: true }];
  let limit = DEFAULT_LIMIT;
  let offset = 0;
  for (const [name, value] of Object.entries(raw)) {
    if (typeof value !== 'string') bad(`parameter ${name.slice(0, 80)} is given more than once`);
    if (name.startsWith('where.')) {
      if (where.length >= MAX_CONDITIONS) bad(`at most ${MAX_CONDITIONS} filters`);
      const match = /^where\.([^[\]]+)(?:\[([a-z]+)\])?$/.exec(name);
      if (!match) bad(`bad filter "${name.slice(0, 80)}"`);
      const op = (match[2] ?? 'eq') as Operator;
      if (!OPERATORS.includes(op)) bad(`unknown operator "${op}": use ${OPERATORS.join(', ')}`);
      const parsed = parseValue(value);
      if (op === 'exists' && typeof parsed !== 'boolean') bad('exists takes true or false');
      if (op === 'contains' && typeof parsed !== 'string') bad('contains takes a string');
      if (
        ['gt', 'gte', 'lt', 'lte'].includes(op) &&
        (parsed === null || typeof parsed === 'boolean')
      ) {
        bad(`${op} takes a number or a string`);
      }
      where.push({ path: fieldPath(match[1]!), op, value: parsed });
      continue;
    }
    switch (name) {
      case 'author':
        try {
          decodeKeyText(value, ['identity']);
        } catch {
          bad('author must be an identity text (p2pid1…)');
        }
        author = value.trim();
        break;
      case 'key':
        if (!KEY_RE.test(value)) bad('key must be 1-128 characters of A-Z a-z 0-9 . _ : -');
        key = value;
        break;
      case 'sort':
        sort = parseSort(value);
        break;
      case 'limit':
        limit = parseInteger('limit', value, 1, MAX_LIMIT);
        break;
      case 'offset':
        offset = parseInteger('offset', value, 0, MAX_OFFSET);
        break;
      default:
        bad(`unknown parameter "${name.slice(0, 80)}"`);
    }
  }
  return { where, author, key, sort, limit, offset };
}

export interface SqlParts {
  /** Conditions to AND to the base query (may be empty), with `?` placeholders. */
  readonly where: string[];
  readonly whereParams: unknown[];
  /** ORDER BY list, ending in id so that pages are stable. */
  readonly orderBy: string;
  readonly orderParams: unknown[];
}

function sqlValue(value: Scalar): unknown {
  return typeof value === 'boolean' ? Number(value) : value;
}

/** Turns a parsed query into SQL over the index's `records` table (columns as named there). */
export function listSql(query: ListQuery): SqlParts {
  const where: string[] = [];
  const whereParams: unknown[] = [];
  for (const condition of query.where) {
    const field = 'json_extract(data, ?)';
    switch (condition.op) {
      case 'exists':
        where.push(`json_type(data, ?) IS ${condition.value ? 'NOT NULL' : 'NULL'}`);
        whereParams.push(condition.path);
        break;
      case 'contains':
        where.push(`${field} LIKE ? ESCAPE '\\'`);
        whereParams.push(
          condition.path,
          `%${String(condition.value).replace(/[\\%_]/g, (c) => `\\${c}`)}%`,
        );
        break;
      case 'eq':
      case 'ne':
        if (condition.value === null) {
          where.push(`${field} IS ${condition.op === 'eq' ? '' : 'NOT '}NULL`);
          whereParams.push(condition.path);
        } else {
          where.push(condition.op === 'eq' ? `${field} = ?` : `${field} IS NOT ?`);
          whereParams.push(condition.path, sqlValue(condition.value));
        }
        break;
      default: {
        const sign = { gt: '>', gte: '>=', lt: '<', lte: '<=' }[condition.op];
        where.push(`${field} ${sign} ?`);
        whereParams.push(condition.path, sqlValue(condition.value));
      }
    }
  }
  if (query.author !== undefined) {
    where.push('author = ?');
    whereParams.push(query.author);
  }
  if (query.key !== undefined) {
    where.push('key = ?');
    whereParams.push(query.key);
  }
  const order: string[] = [];
  const orderParams: unknown[] = [];
  for (const key of query.sort) {
    const direction = key.descending ? 'DESC' : 'ASC';
    if (key.column) order.push(`${key.column} ${direction}`);
    else {
      order.push(`json_extract(data, ?) ${direction}`);
      orderParams.push(key.path);
    }
  }
  order.push('id ASC');
  return { where, whereParams, orderBy: order.join(', '), orderParams };
}
