/**
 * Catalog → the text of `database.types.ts`, in the shape and layout `supabase gen types
 * typescript` (postgres-meta's typescript template, formatted by prettier) gives for the same
 * database: the same sections, members, ordering (by name), optionality rules and line breaks.
 */
import type { Catalog, Column, FunctionArg, PgFunction, PgType, Relation, Relationship } from './catalog.ts';
import { type Doc, group, hardline, ifBreak, indent, join, line, print, softline } from './doc.ts';
import { type MappingContext, pgTypeToTs } from './mapping.ts';
import {
  type Member,
  type TsType,
  array,
  intersection,
  none,
  nullable,
  obj,
  propertyKey,
  quote,
  raw,
  str,
  tuple,
  typeDoc,
  union,
} from './tstype.ts';

export interface RenderOptions {
  /** Adds `__InternalSupabase: { PostgrestVersion }` (the CLI's --local/--db-url output has none). */
  postgrestVersion?: string;
  /** `isOneToOne` in relationships; the CLI turns it on for every PostgREST newer than v9. */
  detectOneToOneRelationships?: boolean;
  /** The schema the helper types default to. */
  defaultSchema?: string;
}

/** postgres-meta sorts names with localeCompare; so does this, for the same order. */
const byName = (a: string, b: string) => a.localeCompare(b);

/** Functions PostgREST can call: json, jsonb and text may be a single unnamed argument. */
const unnamedArgTypes = new Set([114, 3802, 25]);
const inputModes = new Set(['in', 'inout', 'variadic']);

interface SchemaContent {
  tables: { relation: Relation; relationships: Relationship[] }[];
  views: { relation: Relation; relationships: Relationship[] }[];
  functions: { fn: PgFunction; inArgs: FunctionArg[] }[];
  enums: PgType[];
  compositeTypes: PgType[];
}

export function render(catalog: Catalog, options: RenderOptions = {}): string {
  const detectOneToOne = options.detectOneToOneRelationships ?? true;
  const defaultSchema = options.defaultSchema ?? 'public';
  const schemas = [...catalog.schemas].sort(byName);
  const context: MappingContext = { schemas, types: catalog.types, relations: catalog.relations };
  const typesById = new Map(catalog.types.map((type) => [type.id, type]));
  const rowTypesById = new Map(catalog.types.filter((type) => type.typeRelationId !== null).map((type) => [type.id, type]));
  const relationsById = new Map(catalog.relations.map((relation) => [relation.id, relation]));

  const columnsByRelation = new Map<number, Column[]>(catalog.relations.map((relation) => [relation.id, []]));
  for (const column of catalog.columns) columnsByRelation.get(column.tableId)?.push(column);
  for (const list of columnsByRelation.values()) list.sort((a, b) => byName(a.name, b.name));
  const columnsOf = (relation: Relation) => columnsByRelation.get(relation.id) ?? [];

  const relationships = [...catalog.relationships].sort(
    (a, b) =>
      byName(a.foreignKeyName, b.foreignKeyName) ||
      byName(a.referencedRelation, b.referencedRelation) ||
      byName(JSON.stringify(a.referencedColumns), JSON.stringify(b.referencedColumns)),
  );
  // A relation's relationships within its own schema (PostgREST embeds only within a schema).
  const relationshipsOf = (relation: Relation) =>
    relationships.filter(
      (r) => r.schema === relation.schema && r.relation === relation.name && r.referencedSchema === relation.schema,
    );

  const content = new Map<string, SchemaContent>(
    schemas.map((schema) => [schema, { tables: [], views: [], functions: [], enums: [], compositeTypes: [] }]),
  );
  for (const type of catalog.types) {
    const bucket = content.get(type.schema);
    if (!bucket) continue;
    if (type.enums.length > 0) bucket.enums.push(type);
    if (type.attributes.length > 0) bucket.compositeTypes.push(type);
  }
  for (const relation of catalog.relations) {
    const bucket = content.get(relation.schema);
    if (!bucket) continue;
    const entry = { relation, relationships: relationshipsOf(relation) };
    if (relation.kind === 'table' || relation.kind === 'foreign table') bucket.tables.push(entry);
    else bucket.views.push(entry);
  }

  /** The name a function's result relation goes by: a table or view, else a row type's name. */
  const resultRelationName = (fn: PgFunction): string | null => {
    if (fn.returnTypeRelationId === null) return null;
    const relation = relationsById.get(fn.returnTypeRelationId);
    if (relation) return relation.name;
    return rowTypesById.get(fn.returnTypeId)?.name ?? null;
  };

  for (const fn of catalog.functions) {
    const bucket = content.get(fn.schema);
    if (!bucket) continue;
    const args = [...fn.args].sort((a, b) => byName(a.name, b.name));
    const sorted = { ...fn, args };
    const inArgs = args.filter((arg) => inputModes.has(arg.mode));
    const first = inArgs[0];
    const callable =
      inArgs.length === 0 ||
      !inArgs.some((arg) => arg.name === '') ||
      inArgs.every((arg) => arg.name !== '' || (arg.hasDefault && unnamedArgTypes.has(arg.typeId))) ||
      (inArgs.length === 1 &&
        first !== undefined &&
        first.name === '' &&
        (unnamedArgTypes.has(first.typeId) || rowTypesById.has(first.typeId)));
    if (callable) bucket.functions.push({ fn: sorted, inArgs });
  }
  for (const bucket of content.values()) {
    bucket.tables.sort((a, b) => byName(a.relation.name, b.relation.name));
    bucket.views.sort((a, b) => byName(a.relation.name, b.relation.name));
    bucket.functions.sort((a, b) => byName(a.fn.name, b.fn.name));
    bucket.enums.sort((a, b) => byName(a.name, b.name));
    bucket.compositeTypes.sort((a, b) => byName(a.name, b.name));
  }

  const tsType = (schema: string, typeId: number): TsType => {
    const type = typesById.get(typeId);
    return type ? pgTypeToTs(schema, type.name, context) : raw('unknown');
  };
  const columnMember = (schema: string, column: Column, isNullable: boolean, optional: boolean): Member => ({
    key: column.name,
    optional,
    type: nullable(pgTypeToTs(schema, column.format, context), isNullable),
  });

  /** What a function returns, before `[]` for sets. */
  const functionResult = (schema: string, fn: PgFunction): TsType => {
    const tableArgs = fn.args.filter((arg) => arg.mode === 'table');
    if (tableArgs.length > 0) {
      return obj(tableArgs.map((arg) => ({ key: arg.name, type: tsType(schema, arg.typeId) })));
    }
    const bucket = content.get(schema);
    const relation =
      bucket?.tables.find((t) => t.relation.id === fn.returnTypeRelationId)?.relation ??
      bucket?.views.find((v) => v.relation.id === fn.returnTypeRelationId)?.relation;
    if (relation) {
      return obj(columnsOf(relation).map((column) => columnMember(schema, column, column.isNullable, false)));
    }
    return tsType(schema, fn.returnTypeId);
  };

  /** `Returns` (with `[]` for a set) and the `SetofOptions` postgrest-js uses to type embedding. */
  const returnsMembers = (fn: PgFunction, result: TsType): Member[] => {
    const target = resultRelationName(fn);
    const setOfTable = fn.isSetReturning && fn.returnTypeRelationId !== null;
    const manyRows = fn.rows !== null && fn.rows > 1;
    let setof: { from: string; to: string; oneToOne: boolean; setofReturn: boolean } | null = null;
    if (target) setof = { from: '*', to: target, oneToOne: !manyRows, setofReturn: fn.isSetReturning };
    const only = fn.args.length === 1 ? fn.args[0] : undefined;
    const source = only ? rowTypesById.get(only.typeId) : undefined;
    if (source && target) {
      setof = setOfTable
        ? { from: source.format, to: target, oneToOne: !manyRows, setofReturn: true }
        : { from: source.format, to: target, oneToOne: true, setofReturn: false };
    }
    const asSet = fn.isSetReturning && !(!manyRows && target !== null);
    let returns = result;
    if (asSet) {
      // postgres-meta appends `[]` to the type's text, which binds to the last part of an intersection.
      returns =
        result.kind === 'intersection'
          ? intersection([...result.types.slice(0, -1), array(result.types[result.types.length - 1] as TsType)])
          : array(result);
    }
    const members: Member[] = [{ key: 'Returns', type: returns }];
    if (setof) {
      members.push({
        key: 'SetofOptions',
        type: obj([
          { key: 'from', type: str(setof.from) },
          { key: 'to', type: str(setof.to) },
          { key: 'isOneToOne', type: raw(String(setof.oneToOne)) },
          { key: 'isSetofReturn', type: raw(String(setof.setofReturn)) },
        ]),
      });
    }
    return members;
  };

  const argsType = (schema: string, inArgs: FunctionArg[]): TsType =>
    inArgs.length === 0
      ? raw('never')
      : obj(
          inArgs.map((arg) => ({ key: arg.name, optional: arg.hasDefault, type: tsType(schema, arg.typeId) })),
          false,
        );

  /** PostgREST cannot pick between some overloads; postgres-meta types those calls as errors. */
  const conflictError = (schema: string, group: SchemaContent['functions'], fn: PgFunction, inArgs: FunctionArg[]): string | null => {
    if (group.length <= 1) return null;
    if (inArgs.length === 0) {
      const other = group.find(
        (o) => o.fn !== fn && o.inArgs.length === 1 && o.inArgs[0]?.name === '' && o.inArgs[0]?.hasDefault,
      );
      if (other) {
        const returnName = typesById.get(other.fn.returnTypeId)?.name ?? 'unknown';
        return `Could not choose the best candidate function between: ${schema}.${fn.name}(), ${schema}.${fn.name}( => ${returnName}). Try renaming the parameters or the function itself in the database so function overloading can be resolved`;
      }
    }
    const only = inArgs.length === 1 ? inArgs[0] : undefined;
    if (only && only.name !== '') {
      const others = group.filter(
        (o) => o.fn !== fn && o.inArgs.length === 1 && o.inArgs[0]?.name === only.name && o.inArgs[0]?.typeId !== only.typeId,
      );
      if (others.length > 0) {
        const list = [{ fn, inArgs }, ...others]
          .sort((a, b) => (a.inArgs[0]?.typeId ?? 0) - (b.inArgs[0]?.typeId ?? 0))
          .map(
            (f) =>
              `${schema}.${fn.name}(${f.inArgs.map((a) => `${a.name || ''} => ${typesById.get(a.typeId)?.name ?? 'unknown'}`).join(', ')})`,
          )
          .join(', ');
        return `Could not choose the best candidate function between: ${list}. Try renaming the parameters or the function itself in the database so function overloading can be resolved`;
      }
    }
    return null;
  };

  const signature = (schema: string, group: SchemaContent['functions'], fn: PgFunction, inArgs: FunctionArg[]): TsType => {
    let result = functionResult(schema, fn);
    const conflict = conflictError(schema, group, fn, inArgs);
    const only = inArgs.length === 1 ? inArgs[0] : undefined;
    const rowArgWithoutEmbedding =
      only !== undefined && only.name === '' && rowTypesById.has(only.typeId) && resultRelationName(fn) === null;
    if (conflict) result = intersection([obj([{ key: 'error', type: raw('true') }], false), str(conflict)]);
    else if (rowArgWithoutEmbedding) {
      result = intersection([
        obj([{ key: 'error', type: raw('true') }], false),
        str(
          `the function ${schema}.${fn.name} with parameter or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache`,
        ),
      ]);
    }
    return obj([{ key: 'Args', type: argsType(schema, inArgs) }, ...returnsMembers(fn, result)], false);
  };

  const relationshipType = (r: Relationship): TsType =>
    obj([
      { key: 'foreignKeyName', type: str(r.foreignKeyName) },
      { key: 'columns', type: tuple(r.columns.map((c) => str(c))) },
      ...(detectOneToOne ? [{ key: 'isOneToOne', type: raw(String(r.isOneToOne)) }] : []),
      { key: 'referencedRelation', type: str(r.referencedRelation) },
      { key: 'referencedColumns', type: tuple(r.referencedColumns.map((c) => str(c))) },
    ]);

  /** Functions taking one unnamed row of this relation are its computed fields. */
  const computedFields = (schema: string, relation: Relation): Member[] =>
    (content.get(schema)?.functions ?? [])
      .filter(({ fn }) => fn.argumentTypes === relation.name)
      .map(({ fn }) => ({ key: fn.name, type: nullable(functionResult(schema, fn), true) }));

  const section = (members: Member[]): TsType => (members.length === 0 ? none : obj(members));

  const schemaType = (schema: string): TsType => {
    const bucket = content.get(schema) as SchemaContent;
    const tables = bucket.tables.map(({ relation, relationships: rels }): Member => {
      const columns = columnsOf(relation);
      const never = (column: Column): Member => ({ key: column.name, optional: true, type: raw('never') });
      return {
        key: relation.name,
        type: obj([
          {
            key: 'Row',
            type: obj([
              ...columns.map((column) => columnMember(schema, column, column.isNullable, false)),
              ...computedFields(schema, relation),
            ]),
          },
          {
            key: 'Insert',
            type: obj(
              columns.map((column) =>
                column.identityGeneration === 'ALWAYS'
                  ? never(column)
                  : columnMember(schema, column, column.isNullable, column.isNullable || column.isIdentity || column.hasDefault),
              ),
            ),
          },
          {
            key: 'Update',
            type: obj(
              columns.map((column) =>
                column.identityGeneration === 'ALWAYS' ? never(column) : columnMember(schema, column, column.isNullable, true),
              ),
            ),
          },
          { key: 'Relationships', type: tuple(rels.map(relationshipType)) },
        ]),
      };
    });
    const views = bucket.views.map(({ relation, relationships: rels }): Member => {
      const columns = columnsOf(relation);
      const writable = (column: Column): Member =>
        column.isUpdatable ? columnMember(schema, column, true, true) : { key: column.name, optional: true, type: raw('never') };
      const members: Member[] = [
        {
          key: 'Row',
          type: obj([
            ...columns.map((column) => columnMember(schema, column, column.isNullable, false)),
            ...computedFields(schema, relation),
          ]),
        },
      ];
      if (relation.isUpdatable) {
        members.push({ key: 'Insert', type: obj(columns.map(writable)) }, { key: 'Update', type: obj(columns.map(writable)) });
      }
      members.push({ key: 'Relationships', type: tuple(rels.map(relationshipType)) });
      return { key: relation.name, type: obj(members) };
    });

    const byFunctionName = new Map<string, SchemaContent['functions']>();
    for (const entry of bucket.functions) {
      const list = byFunctionName.get(entry.fn.name) ?? [];
      list.push(entry);
      byFunctionName.set(entry.fn.name, list);
    }
    const functions = [...byFunctionName.entries()].map(([name, fns]): Member => {
      fns.sort((a, b) => byName(a.fn.argumentTypes, b.fn.argumentTypes) || byName(a.fn.returnType, b.fn.returnType));
      const signatures = fns.map(({ fn, inArgs }) => signature(schema, fns, fn, inArgs));
      return { key: name, type: signatures.length === 1 ? (signatures[0] as TsType) : union(signatures) };
    });

    const enums = bucket.enums.map(
      (type): Member => ({ key: type.name, type: type.enums.length === 1 ? str(type.enums[0] as string) : union(type.enums.map((label) => str(label))) }),
    );
    const composites = bucket.compositeTypes.map(
      (type): Member => ({
        key: type.name,
        type: obj(type.attributes.map((attribute) => ({ key: attribute.name, type: nullable(tsType(schema, attribute.typeId), true) }))),
      }),
    );
    return obj([
      { key: 'Tables', type: section(tables) },
      { key: 'Views', type: section(views) },
      { key: 'Functions', type: section(functions) },
      { key: 'Enums', type: section(enums) },
      { key: 'CompositeTypes', type: section(composites) },
    ]);
  };

  const databaseMembers: Doc[] = [];
  if (options.postgrestVersion !== undefined) {
    databaseMembers.push([
      '// Allows to automatically instantiate createClient with right options',
      hardline,
      "// instead of createClient<Database, { PostgrestVersion: 'XX' }>(URL, KEY)",
      hardline,
      memberLine({ key: '__InternalSupabase', type: obj([{ key: 'PostgrestVersion', type: str(options.postgrestVersion) }]) }),
    ]);
  }
  for (const schema of schemas) databaseMembers.push(memberLine({ key: schema, type: schemaType(schema) }));
  const database: Doc = ['export type Database = ', expandedBlock(databaseMembers)];

  const constants: Doc = [
    'export const Constants = ',
    jsObject(
      schemas.map((schema) => [
        schema,
        jsObject([
          [
            'Enums',
            jsObject(
              (content.get(schema) as SchemaContent).enums.map((type) => [
                type.name,
                group(['[', indent([softline, join([',', line], type.enums.map(quote))]), ifBreak(','), softline, ']']),
              ]),
            ),
          ],
        ]),
      ]),
    ),
    ' as const',
  ];

  return [
    jsonType,
    print(database),
    helperTypes(defaultSchema),
    print(constants),
  ].join('\n\n') + '\n';
}

function memberLine(member: Member): Doc {
  return [propertyKey(member.key), member.optional ? '?' : '', ': ', typeDoc(member.type, 'member')];
}

/** A type literal written with a newline after `{`, which prettier keeps expanded. */
function expandedBlock(members: Doc[]): Doc {
  if (members.length === 0) return '{}';
  return group(['{', indent([line, join(line, members)]), line, '}'], true);
}

/** An object literal (the Constants), expanded like the template writes it. */
function jsObject(entries: [string, Doc][]): Doc {
  if (entries.length === 0) return '{}';
  const props = entries.map(([key, value]) => [propertyKey(key), ': ', value]);
  return group(['{', indent([line, join([',', line], props)]), ifBreak(','), line, '}'], true);
}

const jsonType = `export type Json =
  | string
  | number
  | boolean
  | null
  | { [key: string]: Json | undefined }
  | Json[]`;

/** The generic helpers postgres-meta appends; they depend only on the default schema's name. */
function helperTypes(defaultSchema: string): string {
  return `type DatabaseWithoutInternals = Omit<Database, "__InternalSupabase">

type DefaultSchema = DatabaseWithoutInternals[Extract<keyof Database, ${quote(defaultSchema)}>]

export type Tables<
  DefaultSchemaTableNameOrOptions extends
    | keyof (DefaultSchema["Tables"] & DefaultSchema["Views"])
    | { schema: keyof DatabaseWithoutInternals },
  TableName extends DefaultSchemaTableNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof (DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"] &
        DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Views"])
    : never = never,
> = DefaultSchemaTableNameOrOptions extends {
  schema: keyof DatabaseWithoutInternals
}
  ? (DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"] &
      DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Views"])[TableName] extends {
      Row: infer R
    }
    ? R
    : never
  : DefaultSchemaTableNameOrOptions extends keyof (DefaultSchema["Tables"] &
        DefaultSchema["Views"])
    ? (DefaultSchema["Tables"] &
        DefaultSchema["Views"])[DefaultSchemaTableNameOrOptions] extends {
        Row: infer R
      }
      ? R
      : never
    : never

export type TablesInsert<
  DefaultSchemaTableNameOrOptions extends
    | keyof DefaultSchema["Tables"]
    | { schema: keyof DatabaseWithoutInternals },
  TableName extends DefaultSchemaTableNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"]
    : never = never,
> = DefaultSchemaTableNameOrOptions extends {
  schema: keyof DatabaseWithoutInternals
}
  ? DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"][TableName] extends {
      Insert: infer I
    }
    ? I
    : never
  : DefaultSchemaTableNameOrOptions extends keyof DefaultSchema["Tables"]
    ? DefaultSchema["Tables"][DefaultSchemaTableNameOrOptions] extends {
        Insert: infer I
      }
      ? I
      : never
    : never

export type TablesUpdate<
  DefaultSchemaTableNameOrOptions extends
    | keyof DefaultSchema["Tables"]
    | { schema: keyof DatabaseWithoutInternals },
  TableName extends DefaultSchemaTableNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"]
    : never = never,
> = DefaultSchemaTableNameOrOptions extends {
  schema: keyof DatabaseWithoutInternals
}
  ? DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"][TableName] extends {
      Update: infer U
    }
    ? U
    : never
  : DefaultSchemaTableNameOrOptions extends keyof DefaultSchema["Tables"]
    ? DefaultSchema["Tables"][DefaultSchemaTableNameOrOptions] extends {
        Update: infer U
      }
      ? U
      : never
    : never

export type Enums<
  DefaultSchemaEnumNameOrOptions extends
    | keyof DefaultSchema["Enums"]
    | { schema: keyof DatabaseWithoutInternals },
  EnumName extends DefaultSchemaEnumNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof DatabaseWithoutInternals[DefaultSchemaEnumNameOrOptions["schema"]]["Enums"]
    : never = never,
> = DefaultSchemaEnumNameOrOptions extends {
  schema: keyof DatabaseWithoutInternals
}
  ? DatabaseWithoutInternals[DefaultSchemaEnumNameOrOptions["schema"]]["Enums"][EnumName]
  : DefaultSchemaEnumNameOrOptions extends keyof DefaultSchema["Enums"]
    ? DefaultSchema["Enums"][DefaultSchemaEnumNameOrOptions]
    : never

export type CompositeTypes<
  PublicCompositeTypeNameOrOptions extends
    | keyof DefaultSchema["CompositeTypes"]
    | { schema: keyof DatabaseWithoutInternals },
  CompositeTypeName extends PublicCompositeTypeNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals
  }
    ? keyof DatabaseWithoutInternals[PublicCompositeTypeNameOrOptions["schema"]]["CompositeTypes"]
    : never = never,
> = PublicCompositeTypeNameOrOptions extends {
  schema: keyof DatabaseWithoutInternals
}
  ? DatabaseWithoutInternals[PublicCompositeTypeNameOrOptions["schema"]]["CompositeTypes"][CompositeTypeName]
  : PublicCompositeTypeNameOrOptions extends keyof DefaultSchema["CompositeTypes"]
    ? DefaultSchema["CompositeTypes"][PublicCompositeTypeNameOrOptions]
    : never`;
}
