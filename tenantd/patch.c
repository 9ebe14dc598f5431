/*
 * patch.c: PATCH bodies whose fields may be null (see tenantd.h):
 * {"tenant": null} or {"caller_id": null} is the API's way to clear a
 * setting; the route tables mark such fields nullable and api.c checks
 * them before the handler runs.
 */
#include "api.h"
#include "cc.h"
#include "tenantd.h"

#include <string.h>

int tn_patch_body(struct tn_req *r, const struct tn_field *fields, const char *const *nullable)
{
	/* the route's field table (with its nullable fields) was checked by
	 * api.c before the handler ran; this only makes sure of it */
	(void)fields;
	(void)nullable;
	if (!r->body || !json_is_object(r->body)) {
		tn_error(r, 400, "invalid_json", NULL, "the body must be a JSON object");
		return CC_ERROR;
	}
	return CC_OK;
}

PGresult *tn_patch_update(struct tn_req *r, const char *table, const char *const *cols,
                          const char *where, int n_where, const char *const *where_params,
                          const char *returning)
{
	const char *params[24];
	char *vals[24] = { NULL };
	char *set = strdup(""), *sql;
	int n = 0;
	PGresult *res;

	CC_BUG_ON(!set);
	for (int i = 0; i < n_where; i++)
		params[n++] = where_params[i];
	for (; *cols; cols++) {
		json_t *v = json_object_get(r->body, *cols);
		char *next;

		if (!v)
			continue;
		CC_BUG_ON(n >= (int)CC_ARRAY_LEN(params));
		if (json_is_string(v))
			vals[n] = strdup(json_string_value(v));
		else if (json_is_boolean(v))
			vals[n] = strdup(json_is_true(v) ? "true" : "false");
		else if (json_is_integer(v))
			vals[n] = cc_sprintf("%lld", (long long)json_integer_value(v));
		params[n] = vals[n]; /* NULL for JSON null: SQL NULL */
		n++;
		next = cc_sprintf("%s%s = $%d, ", set, *cols, n);
		free(set);
		set = next;
	}
	sql = cc_sprintf("UPDATE %s SET %supdated_at = now() WHERE %s%s%s", table, set, where,
	                 returning ? " RETURNING " : "", returning ? returning : "");
	res = cc_pg_exec(&r->d->pg, sql, n, params);
	for (int i = 0; i < n; i++)
		free(vals[i]);
	free(sql);
	free(set);
	return res;
}

int tn_number_of_tenant(struct tn_req *r, const char *tenant_id, const char *e164)
{
	const char *p[2] = { tenant_id, e164 };
	PGresult *res = cc_pg_exec(&r->d->pg, "SELECT 1 FROM cc.numbers WHERE tenant_id = $1 AND e164 = $2",
	                           2, p);
	int n;

	if (!res) {
		tn_db_error(r, "number");
		return CC_ERROR;
	}
	n = PQntuples(res);
	PQclear(res);
	return n ? 1 : 0;
}
