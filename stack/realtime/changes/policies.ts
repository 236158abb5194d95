/**
 * The DELETE check's predicate: "could this role, with its claims, have selected the old row?",
 * built from the table's SELECT policies exactly as Postgres combines them for a query
 * (rowsecurity.c): the USING clauses of the permissive policies that apply to the role are OR'ed
 * (none means default deny), those of the restrictive ones are AND'ed on top. A policy applies when
 * it names PUBLIC or a role the subscriber's role has the privileges of (catalog.ts resolves that).
 *
 * The clause text is `pg_get_expr` output read from pg_policy by catalog.ts, never anything a
 * client sent; it names the table's own columns unqualified or qualified by the table's name, so
 * the query evaluates it over a row built from the old image and aliased as the table
 * (visibility.ts, `deleteVisibilityQuery`).
 */
import type { SelectPolicy, TableInfo } from './catalog.ts';

export const appliesTo = (policy: SelectPolicy, role: string) =>
  policy.roles === 'public' || policy.roles.includes(role);

/** The SQL boolean expression of the policies that apply to `role`; `false` when none permits. */
export function policyPredicate(table: TableInfo, role: string): string {
  const applicable = table.selectPolicies.filter((policy) => appliesTo(policy, role) && policy.qual !== null);
  const permissive = applicable.filter((policy) => policy.permissive).map((policy) => `(${policy.qual})`);
  const restrictive = applicable.filter((policy) => !policy.permissive).map((policy) => `(${policy.qual})`);
  if (permissive.length === 0) return 'false';
  return [`(${permissive.join(' or ')})`, ...restrictive].join(' and ');
}

/**
 * Whether an old image carries every column the table's SELECT policies read, so that the check
 * can be evaluated on it. With REPLICA IDENTITY DEFAULT a DELETE carries only the primary key, and
 * a policy on `user_id` cannot be decided: the caller then falls back to the platform's rule.
 */
export function checkableOn(table: TableInfo, old: Record<string, unknown>): boolean {
  return table.selectPolicies.every((policy) => policy.reads.every((column) => column in old));
}
