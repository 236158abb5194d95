/**
 * Postgres type → TypeScript type, with postgres-meta's rules (so the result equals what
 * `supabase gen types typescript` writes):
 *
 * | Postgres                                                        | TypeScript                 |
 * |-----------------------------------------------------------------|----------------------------|
 * | bool                                                            | boolean                    |
 * | int2, int4, int8, float4, float8, numeric                       | number (int8 too)          |
 * | text, varchar, bpchar, citext, uuid, date, time(tz), timestamp(tz), interval, bytea, vector | string |
 * | json, jsonb                                                     | Json                       |
 * | void                                                            | undefined                  |
 * | record                                                          | Record<string, unknown>    |
 * | _T (array of T)                                                 | T[]                        |
 * | an enum                                                         | Database[s]["Enums"][name] (its labels, if its schema is not generated) |
 * | a composite type                                                | Database[s]["CompositeTypes"][name] |
 * | a table's / view's row type                                     | Database[s]["Tables"\|"Views"][name]["Row"] |
 * | anything else (ranges, inet, money, …)                          | unknown                    |
 *
 * Names are looked up by type name alone, preferring the schema being generated, as postgres-meta
 * does; a user type in a schema that is not generated becomes `unknown` (enums: their labels).
 */
import type { PgType, Relation } from './catalog.ts';
import { type TsType, array, raw, str, union } from './tstype.ts';

export interface MappingContext {
  /** The schemas being generated. */
  schemas: string[];
  types: PgType[];
  /** The relations of the generated schemas (row types of foreign tables and materialized views map to `unknown`, as in postgres-meta). */
  relations: Relation[];
}

const numberTypes = new Set(['int2', 'int4', 'int8', 'float4', 'float8', 'numeric']);
const stringTypes = new Set([
  'bytea', 'bpchar', 'varchar', 'date', 'text', 'citext', 'time', 'timetz', 'timestamp', 'timestamptz', 'uuid',
  'vector', 'interval',
]);

const indexed = (...path: string[]) => raw(`Database${path.map((part) => `[${JSON.stringify(part)}]`).join('')}`);

/** `schema` is the schema whose section is being written (its types win a name clash). */
export function pgTypeToTs(schema: string, pgType: string, context: MappingContext): TsType {
  if (pgType === 'bool') return raw('boolean');
  if (numberTypes.has(pgType)) return raw('number');
  if (stringTypes.has(pgType)) return raw('string');
  if (pgType === 'json' || pgType === 'jsonb') return raw('Json');
  if (pgType === 'void') return raw('undefined');
  if (pgType === 'record') return raw('Record<string, unknown>');
  if (pgType.startsWith('_')) return array(pgTypeToTs(schema, pgType.slice(1), context));

  const pick = <T extends { schema: string }>(candidates: T[]): T | undefined =>
    candidates.find((candidate) => candidate.schema === schema) ?? candidates[0];
  const generated = (s: string) => context.schemas.includes(s);

  const enumType = pick(context.types.filter((type) => type.name === pgType && type.enums.length > 0));
  if (enumType) {
    if (generated(enumType.schema)) return indexed(enumType.schema, 'Enums', enumType.name);
    return union(enumType.enums.map((label) => str(label)));
  }
  const compositeType = pick(context.types.filter((type) => type.name === pgType && type.attributes.length > 0));
  if (compositeType) {
    return generated(compositeType.schema) ? indexed(compositeType.schema, 'CompositeTypes', compositeType.name) : raw('unknown');
  }
  const table = pick(context.relations.filter((r) => r.name === pgType && r.kind === 'table'));
  if (table) return generated(table.schema) ? indexed(table.schema, 'Tables', table.name, 'Row') : raw('unknown');
  const view = pick(context.relations.filter((r) => r.name === pgType && r.kind === 'view'));
  if (view) return generated(view.schema) ? indexed(view.schema, 'Views', view.name, 'Row') : raw('unknown');
  return raw('unknown');
}
