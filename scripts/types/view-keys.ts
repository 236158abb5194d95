/**
 * Relationships of views. PostgREST (and so postgres-meta's type generator) lets a view take part
 * in a foreign key's relationship when the view shows every column of that key unchanged: a view
 * showing all of messages' foreign key columns relates to conversations, and a view showing all of
 * conversations' referenced columns is a target messages relate to.
 *
 * Which table column a view column shows is in the view's rewrite rule (pg_rewrite.ev_action, a
 * pg_node_tree): every entry of the query's target list names its origin table and column
 * (resorigtbl, resorigcol). A view over a view is followed down to the tables.
 */
import type { Relationship } from './catalog.ts';

// ---------------------------------------------------------------------------------------------
// pg_node_tree

type NodeValue = string[] | NodeValue[] | TreeNode;
interface TreeNode {
  type: string;
  fields: Record<string, NodeValue>;
}

/** Splits a pg_node_tree like the server's own reader (pg_strtok): `(){}` and backslash escapes. */
export function tokenize(text: string): string[] {
  const tokens: string[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i] as string;
    if (ch === ' ' || ch === '\n' || ch === '\t' || ch === '\r') {
      i++;
      continue;
    }
    if ('(){}'.includes(ch)) {
      tokens.push(ch);
      i++;
      continue;
    }
    let token = '';
    while (i < text.length) {
      const c = text[i] as string;
      if (c === ' ' || c === '\n' || c === '\t' || c === '\r' || '(){}'.includes(c)) break;
      if (c === '\\' && i + 1 < text.length) {
        token += text[i + 1];
        i += 2;
        continue;
      }
      token += c;
      i++;
    }
    tokens.push(token);
  }
  return tokens;
}

const isFieldName = (token: string | undefined) => token !== undefined && /^:[A-Za-z_][A-Za-z0-9_]*$/.test(token);

export function parseNodeTree(text: string): NodeValue {
  const tokens = tokenize(text);
  let position = 0;
  function value(): NodeValue {
    const token = tokens[position];
    if (token === '{') {
      position++;
      const node: TreeNode = { type: tokens[position++] ?? '', fields: {} };
      while (position < tokens.length && tokens[position] !== '}') {
        const name = tokens[position++] as string;
        if (!isFieldName(name)) continue;
        node.fields[name.slice(1)] = fieldValue();
      }
      position++;
      return node;
    }
    if (token === '(') {
      position++;
      const items: NodeValue[] = [];
      while (position < tokens.length && tokens[position] !== ')') {
        const next = tokens[position];
        if (next === '{' || next === '(') items.push(value());
        else items.push([tokens[position++] as string]);
      }
      position++;
      return items;
    }
    position++;
    return [token ?? ''];
  }
  function fieldValue(): NodeValue {
    const next = tokens[position];
    if (next === '{' || next === '(') return value();
    const atoms: string[] = [];
    while (position < tokens.length && !isFieldName(tokens[position]) && !['{', '(', ')', '}'].includes(tokens[position] as string)) {
      atoms.push(tokens[position++] as string);
    }
    return atoms;
  }
  return value();
}

const isNode = (value: unknown): value is TreeNode =>
  value !== undefined && value !== null && !Array.isArray(value) && typeof value === 'object';

/** The target list of a view's `_RETURN` rule: view column number → origin table and column. */
export function targetEntries(definition: string): { resno: number; origTable: number; origColumn: number }[] {
  const tree = parseNodeTree(definition);
  const query: unknown = Array.isArray(tree) ? (tree as unknown[]).find(isNode) : tree;
  if (!isNode(query)) return [];
  const targetList = query.fields.targetList;
  if (!Array.isArray(targetList)) return [];
  const number = (value: NodeValue | undefined) => (Array.isArray(value) && typeof value[0] === 'string' ? Number(value[0]) : 0);
  return (targetList as unknown[]).filter(isNode).map((entry) => ({
    resno: number(entry.fields.resno),
    origTable: number(entry.fields.resorigtbl),
    origColumn: number(entry.fields.resorigcol),
  }));
}

// ---------------------------------------------------------------------------------------------
// Key dependencies

export interface ViewInfo {
  id: number;
  schema: string;
  name: string;
  /** pg_rewrite.ev_action as text. */
  definition: string;
}

export interface KeyInfo {
  name: string;
  /** p: primary key, f: a foreign key's own columns, f_ref: the columns a foreign key references. */
  type: 'p' | 'f' | 'f_ref';
  tableId: number;
  tableSchema: string;
  tableName: string;
  /** Column numbers in key order. */
  columns: number[];
  columnNames: string[];
}

export interface ViewKeyDependency {
  tableSchema: string;
  tableName: string;
  viewSchema: string;
  viewName: string;
  constraintName: string;
  constraintType: KeyInfo['type'];
  /** In key order: each key column and the view columns showing it. */
  columns: { tableColumn: string; viewColumns: string[] }[];
}

/** Which view columns show which key columns, for keys a view shows in full. */
export function viewColumnOrigins(
  views: ViewInfo[],
  viewColumns: { viewId: number; attnum: number; name: string }[],
  keys: KeyInfo[],
): ViewKeyDependency[] {
  const entriesByView = new Map<number, Map<number, { origTable: number; origColumn: number }>>();
  for (const view of views) {
    const entries = new Map<number, { origTable: number; origColumn: number }>();
    for (const entry of targetEntries(view.definition)) entries.set(entry.resno, entry);
    entriesByView.set(view.id, entries);
  }
  const columnName = new Map(viewColumns.map((column) => [`${column.viewId}.${column.attnum}`, column.name]));

  const dependencies: ViewKeyDependency[] = [];
  for (const view of views) {
    // (origin table, origin column) → the view's columns that show it, at any depth of views.
    const shown = new Map<string, string[]>();
    for (const [resno, entry] of entriesByView.get(view.id) ?? []) {
      const name = columnName.get(`${view.id}.${resno}`);
      if (name === undefined) continue;
      const seen = new Set<number>();
      let origin: { origTable: number; origColumn: number } | undefined = entry;
      while (origin && origin.origTable !== 0 && !seen.has(origin.origTable)) {
        seen.add(origin.origTable);
        const key = `${origin.origTable}.${origin.origColumn}`;
        const list = shown.get(key) ?? [];
        if (!list.includes(name)) list.push(name);
        shown.set(key, list);
        origin = entriesByView.get(origin.origTable)?.get(origin.origColumn);
      }
    }
    for (const key of keys) {
      const columns = key.columns.map((column, i) => ({
        tableColumn: key.columnNames[i] as string,
        viewColumns: shown.get(`${key.tableId}.${column}`),
      }));
      if (columns.length === 0 || columns.some((column) => column.viewColumns === undefined)) continue;
      dependencies.push({
        tableSchema: key.tableSchema,
        tableName: key.tableName,
        viewSchema: view.schema,
        viewName: view.name,
        constraintName: key.name,
        constraintType: key.type,
        columns: columns as ViewKeyDependency['columns'],
      });
    }
  }
  return dependencies;
}

/** Every choice of one view column per key column (a view may show a column twice). */
function choices(columns: ViewKeyDependency['columns']): string[][] {
  return columns.reduce<string[][]>(
    (acc, column) => acc.flatMap((prefix) => column.viewColumns.map((name) => [...prefix, name])),
    [[]],
  );
}

/** The relationships views take over from the foreign keys between tables. */
export function viewRelationships(tableRelationships: Relationship[], dependencies: ViewKeyDependency[]): Relationship[] {
  return tableRelationships.flatMap((r) => {
    const fromViews = dependencies.filter(
      (d) => d.tableSchema === r.schema && d.tableName === r.relation && d.constraintName === r.foreignKeyName && d.constraintType === 'f',
    );
    const toViews = dependencies.filter(
      (d) =>
        d.tableSchema === r.referencedSchema &&
        d.tableName === r.referencedRelation &&
        d.constraintName === r.foreignKeyName &&
        d.constraintType === 'f_ref',
    );
    const viewToTable = fromViews.flatMap((d) =>
      choices(d.columns).map((columns) => ({ ...r, schema: d.viewSchema, relation: d.viewName, columns })),
    );
    const tableToView = toViews.flatMap((d) =>
      choices(d.columns).map((referencedColumns) => ({
        ...r,
        referencedSchema: d.viewSchema,
        referencedRelation: d.viewName,
        referencedColumns,
      })),
    );
    const viewToView = fromViews.flatMap((from) =>
      choices(from.columns).flatMap((columns) =>
        toViews.flatMap((to) =>
          choices(to.columns).map((referencedColumns) => ({
            ...r,
            schema: from.viewSchema,
            relation: from.viewName,
            columns,
            referencedSchema: to.viewSchema,
            referencedRelation: to.viewName,
            referencedColumns,
          })),
        ),
      ),
    );
    return [...viewToTable, ...tableToView, ...viewToView];
  });
}
