/*
 * patch.c: PATCH bodies whose fields may be null (see tenantd.h). The
 * route table's checks (api.c) take a field's JSON type strictly, so
 * {"tenant": null} or {"caller_id": null}, the API's way to clear a
 * setting, would be a 400 there.
 */
#include "api.h"
#include "cc.h"
#include "tenantd.h"

#include <event2/buffer.h>
#include <string.h>
#include <strings.h>

static bool listed(const char *const *names, const char *name)
{
	for (; names && *names; names++)
		if (strcmp(*names, name) == 0)
			return true;
	return false;
}

int tn_patch_body(struct tn_req *r, const struct tn_field *fields, const char *const *nullable)
{
	static const char *names[] = { "an object", "an array", "a string",
	                               "an integer", "a number", "a boolean" };
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
	const char *ct = evhttp_find_header(evhttp_request_get_input_headers(r->req), "Content-Type");
	size_t len = evbuffer_get_length(in);
	json_error_t jerr;
	const char *key;
	json_t *v;

	if (!ct || strncasecmp(ct, "application/json", 16) != 0) {
		tn_error(r, 415, "unsupported_media_type", NULL, "send the body as application/json");
		return CC_ERROR;
	}
	r->body = json_loadb((const char *)evbuffer_pullup(in, -1), len, 0, &jerr);
	if (!r->body) {
		tn_error(r, 400, "invalid_json", NULL, "malformed JSON at line %d column %d: %s",
		         jerr.line, jerr.column, jerr.text);
		return CC_ERROR;
	}
	if (!json_is_object(r->body)) {
		tn_error(r, 400, "invalid_json", NULL, "the body must be a JSON object");
		return CC_ERROR;
	}
	json_object_foreach(r->body, key, v) {
		const struct tn_field *f = fields;
		char *err = NULL;

		while (f->name && strcmp(f->name, key) != 0)
			f++;
		if (!f->name) {
			tn_error(r, 400, "invalid_argument", key, "unknown field '%s'", key);
			return CC_ERROR;
		}
		if (json_is_null(v) && listed(nullable, key))
			continue;
		if (f->type == JSON_TRUE ? !json_is_boolean(v) : (int)json_typeof(v) != f->type) {
			tn_error(r, 400, "invalid_argument", key, "'%s' must be %s%s", key,
			         names[(int)f->type <= JSON_REAL ? (int)f->type : 5],
			         listed(nullable, key) ? " or null" : "");
			return CC_ERROR;
		}
		if (f->check && f->check(r, v, &err) != CC_OK) {
			tn_error(r, 422, "invalid_argument", key, "'%s' %s", key, err);
			free(err);
			return CC_ERROR;
		}
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
