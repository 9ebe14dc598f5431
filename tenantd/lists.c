/*
 * lists.c: a tenant's pause reasons (an agent's not_ready reason) and
 * disposition codes (what an agent records after a call), docs/ACD.md.
 * Each is one list, read and replaced whole:
 *
 *   GET /v1/tenants/{slug}/pause_reasons     {"items":[{"code","label"}],"defaults":bool}
 *   PUT /v1/tenants/{slug}/pause_reasons     {"items":[{"code":"lunch","label":"Lunch"}]}
 *
 * (and /disposition_codes). A tenant with no rows uses the platform's
 * defaults (migration 0006): PUT {"items":[]} goes back to them.
 * routingd hears of a change on cc.cfg.<tenant>.
 */
#include "api.h"
#include "cc.h"
#include "tenantd.h"

#include <stdio.h>
#include <string.h>

#define TN_LIST_MAX 100

static const char *const PAUSE_DEFAULTS[] = {
	"break", "lunch", "meeting", "training", "missed_calls", NULL,
};
static const char *const DISPOSITION_DEFAULTS[] = {
	"complaint", "consultation", "suggestion", NULL,
};

static const char *const *defaults_of(const char *table)
{
	return strcmp(table, "cc.pause_reasons") == 0 ? PAUSE_DEFAULTS : DISPOSITION_DEFAULTS;
}

/* The list's table from the route's path. */
static const char *table_of(struct tn_req *r)
{
	return strstr(r->path, "/pause_reasons") ? "cc.pause_reasons" : "cc.disposition_codes";
}

int tn_list_has(struct tn_req *r, const char *table, const char *code)
{
	const char *p[2] = { r->tenant.id, code };
	char *sql = cc_sprintf("SELECT code = $2 FROM %s WHERE tenant_id = $1", table);
	PGresult *res = cc_pg_exec(&r->d->pg, sql, 2, p);
	int n, found = 0;

	free(sql);
	if (!res) {
		tn_db_error(r, "list");
		return CC_ERROR;
	}
	n = PQntuples(res);
	for (int i = 0; i < n; i++)
		found |= PQgetvalue(res, i, 0)[0] == 't';
	PQclear(res);
	if (n)
		return found;
	for (const char *const *d = defaults_of(table); *d; d++)
		if (strcmp(*d, code) == 0)
			return 1;
	return 0;
}

static int check_items(struct tn_req *r, json_t *v, char **err)
{
	size_t i;
	json_t *it, *seen;

	if (json_array_size(v) > TN_LIST_MAX)
		return cc_fail(err, "may hold at most %d codes", TN_LIST_MAX);
	seen = json_object();
	json_array_foreach(v, i, it) {
		const char *k, *code;
		json_t *x;

		if (!json_is_object(it))
			goto bad;
		json_object_foreach(it, k, x)
			if ((strcmp(k, "code") != 0 && strcmp(k, "label") != 0) ||
			    (strcmp(k, "label") == 0 && !json_is_string(x) && !json_is_null(x)))
				goto bad;
		code = json_string_value(json_object_get(it, "code"));
		if (!code || !tn_code_ok(code, 32)) {
			json_decref(seen);
			return cc_fail(err, "%zu: a code must be 1 to 32 of a-z, 0-9, '_' and '-', "
			               "starting with a letter or digit", i);
		}
		if (json_is_string(json_object_get(it, "label")) &&
		    tn_utf8_len(json_string_value(json_object_get(it, "label"))) > 200) {
			json_decref(seen);
			return cc_fail(err, "%zu: a label is at most 200 characters", i);
		}
		if (json_object_get(seen, code)) {
			json_decref(seen);
			return cc_fail(err, "%zu: the code %s comes twice", i, code);
		}
		json_object_set_new(seen, code, json_true());
	}
	json_decref(seen);
	return CC_OK;
bad:
	json_decref(seen);
	return cc_fail(err, "%zu: must be an object {\"code\", \"label\"}", i);
}

static const struct tn_field put_fields[] = {
	{ "items", JSON_ARRAY, true, check_items, NULL, false },
	{ NULL, 0, false, NULL, NULL, false },
};

static void get(struct tn_req *r)
{
	const char *table = table_of(r), *p[1] = { r->tenant.id };
	char *sql = cc_sprintf("SELECT code, label FROM %s WHERE tenant_id = $1 ORDER BY code", table);
	PGresult *res = cc_pg_exec(&r->d->pg, sql, 1, p);
	json_t *items = json_array();
	int n;

	free(sql);
	if (!res) {
		json_decref(items);
		return tn_db_error(r, "list");
	}
	n = PQntuples(res);
	for (int i = 0; i < n; i++)
		json_array_append_new(items, json_pack("{s:s, s:o}", "code", PQgetvalue(res, i, 0),
		                      "label", PQgetisnull(res, i, 1) ? json_null()
		                               : json_string(PQgetvalue(res, i, 1))));
	PQclear(res);
	if (!n)
		for (const char *const *d = defaults_of(table); *d; d++)
			json_array_append_new(items, json_pack("{s:s, s:n}", "code", *d, "label"));
	tn_reply(r, 200, json_pack("{s:o, s:b}", "items", items, "defaults", !n));
}

static void put(struct tn_req *r)
{
	const char *table = table_of(r), *p[3] = { r->tenant.id };
	json_t *items = json_object_get(r->body, "items"), *it;
	char *del = cc_sprintf("DELETE FROM %s WHERE tenant_id = $1", table);
	char *ins = cc_sprintf("INSERT INTO %s (tenant_id, code, label) VALUES ($1, $2, $3)", table);
	size_t i;

	if (tn_begin(r) != CC_OK || cc_pg_cmd(&r->d->pg, del, 1, p) != CC_OK) {
		tn_rollback(r, "list");
		goto done;
	}
	json_array_foreach(items, i, it) {
		p[1] = json_string_value(json_object_get(it, "code"));
		p[2] = json_string_value(json_object_get(it, "label"));
		if (cc_pg_cmd(&r->d->pg, ins, 3, p) != CC_OK) {
			tn_rollback(r, "a code");
			goto done;
		}
	}
	if (tn_commit(r) != CC_OK) {
		tn_rollback(r, "list");
		goto done;
	}
	tn_notify(r->d, r->tenant.id, strstr(table, "pause") ? "pause_reasons" : "disposition_codes",
	          NULL);
	get(r);
done:
	free(del);
	free(ins);
}

const struct tn_route tn_list_routes[] = {
	{ "GET", "/v1/tenants/{slug}/pause_reasons", TN_TENANT, NULL, get, false, false },
	{ "PUT", "/v1/tenants/{slug}/pause_reasons", TN_TENANT, put_fields, put, false, false },
	{ "GET", "/v1/tenants/{slug}/disposition_codes", TN_TENANT, NULL, get, false, false },
	{ "PUT", "/v1/tenants/{slug}/disposition_codes", TN_TENANT, put_fields, put, false, false },
	{ NULL, NULL, 0, NULL, NULL, false, false },
};
