/**
 * @module Text PostgreSQL cannot store, found before it reaches the database.
 *
 * PostgreSQL's text and jsonb hold neither the NUL character (U+0000) nor half of a UTF-16
 * surrogate pair (a lone `\ud800` in JSON, which no UTF-8 encodes). Such a value in any string or
 * object key of a request (content, titles, context, tags, local_id, metadata keys and values,
 * cursors) used to fail the whole push inside the database, answered 500. Here the first one found
 * is reported with the JSON path of the field, so the function can answer a 400 that says where.
 */

export type UnstorableProblem = 'nul_character' | 'lone_surrogate';

export interface UnstorableText {
  /** Where the value is, as in zod's issues: `['push', 3, 'fields', 'metadata', 'note']`. */
  path: (string | number)[];
  problem: UnstorableProblem;
}

const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function unstorableProblem(text: string): UnstorableProblem | undefined {
  if (text.includes('\u0000')) return 'nul_character';
  if (loneSurrogate.test(text)) return 'lone_surrogate';
  return undefined;
}

/** The first string or object key in `value` PostgreSQL cannot store, depth first, or undefined. */
export function findUnstorableText(value: unknown, path: (string | number)[] = []): UnstorableText | undefined {
  if (typeof value === 'string') {
    const problem = unstorableProblem(value);
    return problem ? { path, problem } : undefined;
  }
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index += 1) {
      const found = findUnstorableText(value[index], [...path, index]);
      if (found) return found;
    }
    return undefined;
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) {
      const problem = unstorableProblem(key);
      if (problem) return { path: [...path, key], problem };
      const found = findUnstorableText(child, [...path, key]);
      if (found) return found;
    }
  }
  return undefined;
}
