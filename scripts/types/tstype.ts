/**
 * The handful of TypeScript type forms the generated file uses, and how each is laid out, following
 * prettier's rules for them (so the output matches `supabase gen types typescript` line for line):
 *
 * - an object type `{ a: T; b?: U }` stays on one line when it fits, unless `expanded` (postgres-meta
 *   writes those with a newline after `{`, which prettier keeps); broken, its members go one a line
 *   with no separators;
 * - a union `A | B` that does not fit goes one member a line, each led by `| `; a union of one
 *   object type and `null`s hugs: `{ ... } | null`;
 * - an intersection of an object and a non-object is written inline: `{ ... } & "..."`;
 * - tuples break one element a line with a trailing comma.
 */
import { type Doc, align, group, hardline, ifBreak, indent, join, line, softline } from './doc.ts';

export type TsType =
  | { kind: 'raw'; text: string }
  | { kind: 'string'; value: string }
  | { kind: 'object'; members: Member[]; expanded: boolean }
  /** `{ [_ in never]: never }`, what postgres-meta writes for an empty section. */
  | { kind: 'none' }
  | { kind: 'union'; types: TsType[] }
  | { kind: 'intersection'; types: TsType[] }
  | { kind: 'array'; element: TsType }
  | { kind: 'tuple'; elements: TsType[] };

export interface Member {
  key: string;
  optional?: boolean;
  type: TsType;
}

export const raw = (text: string): TsType => ({ kind: 'raw', text });
export const str = (value: string): TsType => ({ kind: 'string', value });
export const obj = (members: Member[], expanded = true): TsType => ({ kind: 'object', members, expanded });
export const none: TsType = { kind: 'none' };
export const union = (types: TsType[]): TsType => ({
  kind: 'union',
  types: types.flatMap((type) => (type.kind === 'union' ? type.types : [type])),
});
export const intersection = (types: TsType[]): TsType => ({ kind: 'intersection', types });
export const array = (element: TsType): TsType => ({ kind: 'array', element });
export const tuple = (elements: TsType[]): TsType => ({ kind: 'tuple', elements });
export const nullable = (type: TsType, isNullable: boolean): TsType =>
  // `unknown` already includes null, so postgres-meta leaves it alone.
  !isNullable || (type.kind === 'raw' && (type.text === 'unknown' || type.text === 'any'))
    ? type
    : union([type, raw('null')]);

/** A string literal as prettier writes it: double quotes unless the text holds more of them. */
export function quote(value: string): string {
  const doubles = (value.match(/"/g) ?? []).length;
  const singles = (value.match(/'/g) ?? []).length;
  const json = JSON.stringify(value);
  if (doubles <= singles) return json;
  const inner = json.slice(1, -1).replace(/\\"/g, '"').replace(/'/g, "\\'");
  return `'${inner}'`;
}

/** ES5 identifier names may be written unquoted (prettier's `quoteProps: "as-needed"`). */
const identifierName = /^[$A-Z_a-z\u00AA-\uFFFF][$0-9A-Z_a-z\u00AA-\uFFFF]*$/u;
export function propertyKey(key: string): string {
  return identifierName.test(key) && !/[\s\u2028\u2029]/u.test(key) ? key : quote(key);
}

const isObjectType = (type: TsType) => type.kind === 'object' || type.kind === 'none';
const isNull = (type: TsType) => type.kind === 'raw' && type.text === 'null';

function objectDoc(members: Member[], expanded: boolean): Doc {
  if (members.length === 0) return '{}';
  const parts = members.map((member) => memberDoc(member));
  return group(['{', indent([line, join([ifBreak('', ';'), line], parts)]), line, '}'], expanded);
}

function memberDoc(member: Member): Doc {
  return [propertyKey(member.key), member.optional ? '?' : '', ': ', typeDoc(member.type, 'member')];
}

type Context = 'member' | 'tuple' | 'other';

export function typeDoc(type: TsType, context: Context = 'other'): Doc {
  switch (type.kind) {
    case 'raw':
      return type.text;
    case 'string':
      return quote(type.value);
    case 'object':
      return objectDoc(type.members, type.expanded);
    case 'none':
      return group(['{', indent([line, '[_ in never]: never']), line, '}'], true);
    case 'array': {
      const element = type.element;
      const wrap = element.kind === 'union' || element.kind === 'intersection';
      return wrap ? ['(', typeDoc(element), ')[]'] : [typeDoc(element), '[]'];
    }
    case 'tuple':
      if (type.elements.length === 0) return '[]';
      return group([
        '[',
        indent([softline, join([',', line], type.elements.map((element) => typeDoc(element, 'tuple')))]),
        ifBreak(','),
        softline,
        ']',
      ]);
    case 'intersection': {
      const parts: Doc[] = [];
      type.types.forEach((member, i) => {
        const printed = typeDoc(member);
        if (i === 0) parts.push(printed);
        else if (!isObjectType(type.types[i - 1] as TsType) && !isObjectType(member)) {
          parts.push(indent([' &', line, printed]));
        } else parts.push(' & ', i > 1 ? indent(printed) : printed);
      });
      return group(parts);
    }
    case 'union': {
      const nulls = type.types.filter(isNull).length;
      const hug = type.types.length - 1 === nulls && type.types.some(isObjectType);
      if (hug) return join(' | ', type.types.map((member) => typeDoc(member)));
      const printed = type.types.map((member) => align(2, typeDoc(member)));
      const shouldIndent = context !== 'tuple';
      const code = [ifBreak([shouldIndent ? line : '', '| ']), join([line, '| '], printed)];
      if (context === 'tuple') return group([indent([ifBreak(['(', softline]), code]), softline, ifBreak(')')]);
      return group(indent(code));
    }
  }
}

export { hardline };
