/**
 * The `filter` grammar of postgres_changes bindings (supabase/realtime `realtime.subscription` checks, and supabase-js `RealtimeChannel` `postgres_changes` filters) and its evaluation
 * against a row image, in process.
 *
 *   filter    := condition ("," condition)*          commas at top level mean AND
 *   condition := column "=" ["not."] op "." value
 *   value     := raw | "\"" quoted "\"" | "(" list ")"   (lists only for `in`)
 *
 * A filter narrows what a subscriber asked for; it is never a security boundary. Visibility is
 * decided by RLS afterwards (visibility.ts).
 */

export const operators = [
  'eq',
  'neq',
  'lt',
  'lte',
  'gt',
  'gte',
  'in',
  'like',
  'ilike',
  'match',
  'imatch',
  'is',
  'isdistinct',
] as const;
export type Operator = (typeof operators)[number];

export interface Condition {
  column: string;
  op: Operator;
  negated: boolean;
  /** One value, or the list of an `in`. */
  value: string | string[];
}

export class FilterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FilterError';
  }
}

/** Splits at commas outside double quotes and parentheses. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (char === '\\' && i + 1 < text.length) {
      current += char + text[++i];
      continue;
    }
    if (char === '"') quoted = !quoted;
    else if (!quoted && char === '(') depth++;
    else if (!quoted && char === ')') depth = Math.max(0, depth - 1);
    if (char === ',' && !quoted && depth === 0) {
      parts.push(current);
      current = '';
      continue;
    }
    current += char;
  }
  parts.push(current);
  return parts;
}

/** Removes PostgREST-style double quotes and backslash escapes. */
function unquote(value: string): string {
  const trimmed = value.trim();
  if (!(trimmed.length >= 2 && trimmed.startsWith('"') && trimmed.endsWith('"'))) return value;
  return trimmed.slice(1, -1).replace(/\\(.)/g, '$1');
}

function parseCondition(text: string): Condition {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new FilterError(JSON.stringify([text]));
  const column = text.slice(0, eq).trim();
  let rest = text.slice(eq + 1);
  let negated = false;
  if (rest.startsWith('not.')) {
    negated = true;
    rest = rest.slice(4);
  }
  const dot = rest.indexOf('.');
  const op = (dot < 0 ? rest : rest.slice(0, dot)) as Operator;
  const raw = dot < 0 ? undefined : rest.slice(dot + 1);
  if (!operators.includes(op) || raw === undefined || raw === 'undefined') {
    throw new FilterError(JSON.stringify([column, dot < 0 ? rest : rest.slice(0, dot)]));
  }
  if (op === 'in') {
    const list = raw.trim();
    if (!list.startsWith('(') || !list.endsWith(')')) throw new FilterError(JSON.stringify([column, op, raw]));
    const values = splitTopLevel(list.slice(1, -1)).map(unquote);
    if (values.length > 100) throw new FilterError(`${column}: \`in\` takes at most 100 values`);
    return { column, op, negated, value: values };
  }
  const value = unquote(raw);
  if (op === 'is' && !['null', 'true', 'false', 'unknown'].includes(value.toLowerCase())) {
    throw new FilterError(JSON.stringify([column, op, value]));
  }
  if (op === 'match' || op === 'imatch') {
    try {
      new RegExp(value);
    } catch {
      throw new FilterError(`${column}: invalid regular expression ${JSON.stringify(value)}`);
    }
  }
  return { column, op, negated, value };
}

/** Parses a filter string; empty or blank means no conditions. Throws FilterError. */
export function parseFilter(filter: string | undefined): Condition[] {
  if (filter === undefined || filter.trim() === '') return [];
  return splitTopLevel(filter).map(parseCondition);
}

const numericTypes = new Set(['int2', 'int4', 'int8', 'float4', 'float8', 'numeric', 'oid']);
const timeTypes = new Set(['timestamptz', 'timestamp', 'date']);

/** Turns a row value and a filter value into comparable JS values for the column's type. */
function comparable(type: string, value: unknown): number | string | boolean | null {
  if (value === null || value === undefined) return null;
  if (numericTypes.has(type)) return Number(value);
  if (type === 'bool') return value === true || value === 't' || value === 'true';
  if (timeTypes.has(type)) {
    const time = Date.parse(
      String(value)
        .replace(' ', 'T')
        .replace(/([+-]\d\d)$/, '$1:00'),
    );
    return Number.isNaN(time) ? String(value) : time;
  }
  if (type === 'json' || type === 'jsonb') return typeof value === 'string' ? value : JSON.stringify(value);
  return String(value);
}

/**
 * The string an `eq` on a column of this type compares by, or undefined when the type compares
 * otherwise (numbers, booleans, times, JSON) or the value is null. Equal strings here mean `eq`
 * holds, which lets the dispatcher index `eq` bindings by value.
 */
export function exactKey(type: string, value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (numericTypes.has(type) || type === 'bool' || timeTypes.has(type) || type === 'json' || type === 'jsonb')
    return undefined;
  return String(value);
}

function likeToRegExp(pattern: string, flags: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i]!;
    if (char === '\\' && i + 1 < pattern.length) source += pattern[++i]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    else if (char === '%' || char === '*') source += '.*';
    else if (char === '_') source += '.';
    else source += char.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, `s${flags}`);
}

/** SQL three-valued result of one condition: true, false or null (unknown). */
function evaluate(condition: Condition, type: string, raw: unknown): boolean | null {
  const left = comparable(type, raw);
  const { op, value } = condition;
  if (op === 'is') {
    const target = (value as string).toLowerCase();
    if (target === 'null') return left === null;
    if (target === 'unknown') return left === null;
    return left === (target === 'true');
  }
  if (op === 'isdistinct') {
    const right = (value as string).toLowerCase() === 'null' ? null : comparable(type, value);
    return left !== right;
  }
  if (left === null) return null;
  if (op === 'in') return (value as string[]).some((item) => comparable(type, item) === left);
  const right = comparable(type, value);
  switch (op) {
    case 'eq':
      return left === right;
    case 'neq':
      return left !== right;
    case 'lt':
      return right !== null && left < right;
    case 'lte':
      return right !== null && left <= right;
    case 'gt':
      return right !== null && left > right;
    case 'gte':
      return right !== null && left >= right;
    case 'like':
      return likeToRegExp(value as string, '').test(String(left));
    case 'ilike':
      return likeToRegExp(value as string, 'i').test(String(left));
    case 'match':
      return new RegExp(value as string).test(String(left));
    case 'imatch':
      return new RegExp(value as string, 'i').test(String(left));
  }
}

/**
 * Whether a row image passes every condition. `types` maps column names to Postgres typnames. A
 * condition on a column absent from the image fails, as on the platform.
 */
export function matches(conditions: Condition[], row: Record<string, unknown>, types: Map<string, string>): boolean {
  for (const condition of conditions) {
    if (!(condition.column in row)) return false;
    const result = evaluate(condition, types.get(condition.column) ?? 'text', row[condition.column]);
    // `not.` negates; for is/isdistinct it switches to the IS NOT / IS NOT DISTINCT form, which is
    // the same as negating their two-valued result.
    const passed = condition.negated ? result === false : result === true;
    if (!passed) return false;
  }
  return true;
}
