/*
 * safeupdate: refuses UPDATE and DELETE statements that have no WHERE clause.
 *
 * The platform loads a module of this name for the Data API's login role
 * (`alter role authenticator set session_preload_libraries = 'safeupdate'`, supabase/postgres
 * migrations), so that `supabase.from(t).update(...)` without a filter fails instead of changing
 * every row the caller may see. This is our own implementation of the behaviour documented by
 * github.com/eradman/pg-safeupdate: the same module name, the same SQLSTATE (21000) and messages,
 * and the same switch `safeupdate.enabled` (default on).
 */
#include "postgres.h"

#include "fmgr.h"
#include "nodes/nodes.h"
#include "nodes/parsenodes.h"
#include "parser/analyze.h"
#include "utils/guc.h"

PG_MODULE_MAGIC;

void _PG_init(void);

static bool safeupdate_enabled = true;
static post_parse_analyze_hook_type previous_hook = NULL;

/* Whether a statement changes every row: an UPDATE or DELETE whose join tree carries no condition. */
static bool
lacks_where(Query *query)
{
	if (query->commandType != CMD_UPDATE && query->commandType != CMD_DELETE)
		return false;
	return query->jointree == NULL || query->jointree->quals == NULL;
}

static void
check_query(Query *query)
{
	ListCell   *cell;

	if (lacks_where(query))
		ereport(ERROR,
				(errcode(ERRCODE_CARDINALITY_VIOLATION),
				 errmsg("%s requires a WHERE clause",
						query->commandType == CMD_UPDATE ? "UPDATE" : "DELETE")));
	/* Data-modifying statements inside WITH are statements of their own. */
	foreach(cell, query->cteList)
	{
		CommonTableExpr *cte = lfirst_node(CommonTableExpr, cell);

		if (IsA(cte->ctequery, Query))
			check_query((Query *) cte->ctequery);
	}
}

static void
safeupdate_post_parse_analyze(ParseState *pstate, Query *query, JumbleState *jstate)
{
	if (previous_hook)
		previous_hook(pstate, query, jstate);
	if (safeupdate_enabled)
		check_query(query);
}

void
_PG_init(void)
{
	DefineCustomBoolVariable("safeupdate.enabled",
							 "Refuse UPDATE and DELETE statements without a WHERE clause.",
							 NULL,
							 &safeupdate_enabled,
							 true,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
	previous_hook = post_parse_analyze_hook;
	post_parse_analyze_hook = safeupdate_post_parse_analyze;
}
