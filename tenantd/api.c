/*
 * api.c: the request pipeline of api.h, from bytes to handler.
 */
#include "api.h"
#include "cc.h"
#include "clock.h"
#include "e164.h"
#include "log.h"
#include "tenantd.h"

#include <event2/buffer.h>
#include <sys/queue.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>

const struct tn_route *const tn_route_tables[] = {
	tn_tenant_routes, tn_trunk_routes, tn_agent_routes, tn_number_routes,
	tn_blocklist_routes, tn_call_routes, tn_tariff_routes, tn_billing_routes,
	tn_statement_routes, tn_dialplan_routes, NULL,
};

/* ------------------------------------------------------------- replies */

static void remember(struct tn_req *r, int status, const char *text)
{
	const char *p[6];
	char st[16];

	if (!r->idem_key || status >= 500)
		return;
	snprintf(st, sizeof(st), "%d", status);
	p[0] = r->idem_scope; p[1] = r->idem_key; p[2] = r->method;
	p[3] = r->path; p[4] = st; p[5] = text;
	if (cc_pg_cmd(&r->d->pg, "INSERT INTO cc.idempotency (scope, key, method, path, status, body) "
	              "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING", 6, p) != CC_OK)
		CC_WARN("idempotency: %s", r->d->pg.message);
}

static void send_text(struct tn_req *r, int status, const char *text)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
	struct evbuffer *out = evbuffer_new();

	evhttp_add_header(h, "Content-Type", "application/json");
	evhttp_add_header(h, "Cache-Control", "no-store");
	evbuffer_add(out, text, strlen(text));
	evbuffer_add(out, "\n", 1);
	evhttp_send_reply(r->req, status, NULL, out);
	evbuffer_free(out);
}

void tn_reply_raw(struct tn_req *r, int status, const char *content_type, const char *body)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
	struct evbuffer *out = evbuffer_new();

	evhttp_add_header(h, "Content-Type", content_type);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evbuffer_add(out, body, strlen(body));
	evhttp_send_reply(r->req, status, NULL, out);
	evbuffer_free(out);
}

void tn_reply(struct tn_req *r, int status, json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT | JSON_ENSURE_ASCII);

	CC_BUG_ON(!text);
	remember(r, status, text);
	send_text(r, status, text);
	free(text);
	json_decref(body);
}

void tn_no_content(struct tn_req *r)
{
	evhttp_send_reply(r->req, 204, NULL, NULL);
}

void tn_error(struct tn_req *r, int status, const char *code, const char *field,
              const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	json_t *e;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	e = json_pack("{s:s, s:s}", "code", code, "message", msg);
	if (field)
		json_object_set_new(e, "field", json_string(field));
	tn_reply(r, status, json_pack("{s:o}", "error", e));
}

void tn_db_error(struct tn_req *r, const char *what)
{
	switch (r->d->pg.error) {
	case CC_PG_UNAVAILABLE:
		tn_error(r, 503, "unavailable", NULL, "the database is unavailable; retry later");
		break;
	case CC_PG_CONFLICT:
		tn_error(r, 409, "conflict", NULL, "%s already exists", what);
		break;
	case CC_PG_INVALID:
		tn_error(r, 422, "invalid_argument", NULL, "%s: %s", what, r->d->pg.message);
		break;
	default:
		CC_ERR("database: %s", r->d->pg.message);
		tn_error(r, 500, "internal", NULL, "internal error");
	}
}

/* ------------------------------------------------------------- helpers */

int tn_begin(struct tn_req *r)
{
	return cc_pg_cmd(&r->d->pg, "BEGIN", 0, NULL);
}

int tn_commit(struct tn_req *r)
{
	return cc_pg_cmd(&r->d->pg, "COMMIT", 0, NULL);
}

void tn_rollback(struct tn_req *r, const char *what)
{
	enum cc_pg_error e = r->d->pg.error;
	char *msg = r->d->pg.message ? strdup(r->d->pg.message) : NULL;

	if (r->d->pg.conn)
		PQclear(PQexec(r->d->pg.conn, "ROLLBACK"));
	r->d->pg.error = e == CC_PG_OK ? CC_PG_FAILED : e;
	free(r->d->pg.message);
	r->d->pg.message = msg;
	tn_db_error(r, what);
}

void tn_reply_page(struct tn_req *r, PGresult *res, json_t *(*row)(const PGresult *, int),
                   int limit, int cursor_col)
{
	json_t *items = json_array();
	int n = PQntuples(res);

	for (int i = 0; i < n; i++)
		json_array_append_new(items, row(res, i));
	tn_reply(r, 200, tn_list(items, n == limit ? PQgetvalue(res, n - 1, cursor_col) : NULL));
	PQclear(res);
}

void tn_abort(struct tn_req *r)
{
	if (r->d->pg.conn)
		PQclear(PQexec(r->d->pg.conn, "ROLLBACK"));
}

json_t *tn_list(json_t *items, const char *next)
{
	return json_pack("{s:o, s:o}", "items", items, "next", next ? json_string(next) : json_null());
}

const char *tn_query(struct tn_req *r, const char *name)
{
	return evhttp_find_header(&r->query, name);
}

int tn_page(struct tn_req *r, int *limit, const char **after)
{
	const char *l = tn_query(r, "limit");
	char *end;

	*limit = 50;
	*after = tn_query(r, "after");
	if (l) {
		long v = strtol(l, &end, 10);

		if (*end || end == l || v < 1 || v > 500) {
			tn_error(r, 400, "invalid_argument", "limit", "limit must be 1 to 500");
			return CC_ERROR;
		}
		*limit = (int)v;
	}
	if (*after && strlen(*after) > 64) {
		tn_error(r, 400, "invalid_argument", "after", "after is not a cursor of this list");
		return CC_ERROR;
	}
	return CC_OK;
}

const char *tn_str(struct tn_req *r, const char *name)
{
	return json_string_value(json_object_get(r->body, name));
}

json_t *tn_time(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return json_null();
	return json_string(PQgetvalue(res, row, col));
}

int tn_check_e164(struct tn_req *r, json_t *v, char **err)
{
	return cc_e164_valid(json_string_value(v), err);
}

int tn_check_extension(struct tn_req *r, json_t *v, char **err)
{
	const char *s = json_string_value(v);
	size_t n = strlen(s);

	if (n < 2 || n > 8 || strspn(s, "0123456789") != n)
		return cc_fail(err, "must be 2 to 8 digits");
	return CC_OK;
}

int tn_check_name(struct tn_req *r, json_t *v, char **err)
{
	size_t n = strlen(json_string_value(v));

	if (n < 1 || n > 200)
		return cc_fail(err, "must be 1 to 200 characters");
	return CC_OK;
}

/* --------------------------------------------------------- validation */

static int check_fields(struct tn_req *r, json_t *obj, const struct tn_field *fields,
                        bool partial, const char *prefix)
{
	const char *key;
	json_t *v;
	char path[96];

	json_object_foreach(obj, key, v) {
		const struct tn_field *f = fields;

		while (f->name && strcmp(f->name, key) != 0)
			f++;
		snprintf(path, sizeof(path), "%s%s", prefix, key);
		if (!f->name) {
			tn_error(r, 400, "invalid_argument", path, "unknown field '%s'", path);
			return CC_ERROR;
		}
		bool ok = f->type == JSON_TRUE ? json_is_boolean(v) : (int)json_typeof(v) == f->type;
		if (!ok) {
			static const char *names[] = { "an object", "an array", "a string",
			                               "an integer", "a number", "a boolean" };
			tn_error(r, 400, "invalid_argument", path, "'%s' must be %s", path,
			         names[(int)f->type <= JSON_REAL ? (int)f->type : 5]);
			return CC_ERROR;
		}
		if (f->sub) {
			char sub[100];

			snprintf(sub, sizeof(sub), "%s.", path);
			if (check_fields(r, v, f->sub, false, sub) != CC_OK)
				return CC_ERROR;
		}
		if (f->check) {
			char *err = NULL;

			if (f->check(r, v, &err) != CC_OK) {
				tn_error(r, 422, "invalid_argument", path, "'%s' %s", path, err);
				free(err);
				return CC_ERROR;
			}
		}
	}
	for (const struct tn_field *f = fields; f->name && !partial; f++) {
		if (f->required && !json_object_get(obj, f->name)) {
			snprintf(path, sizeof(path), "%s%s", prefix, f->name);
			tn_error(r, 400, "invalid_argument", path, "'%s' is required", path);
			return CC_ERROR;
		}
	}
	return CC_OK;
}

/* ------------------------------------------------------------ routing */

/* Matches path against pattern, filling r->params. */
static bool match(const char *pattern, const char *path, struct tn_req *r)
{
	int n = 0;

	while (*pattern && *path) {
		if (*pattern == '{') {
			const char *end = strchr(path, '/');
			size_t len = end ? (size_t)(end - path) : strlen(path);

			if (!len || n >= 4)
				return false;
			r->params[n++] = strndup(path, len);
			path += len;
			pattern = strchr(pattern, '}') + 1;
			continue;
		}
		if (*pattern++ != *path++)
			return false;
	}
	return !*pattern && !*path;
}

static void free_params(struct tn_req *r)
{
	for (int i = 0; i < 4; i++) {
		free(r->params[i]);
		r->params[i] = NULL;
	}
}

/* Bearer token -> operator or a tenant. CC_ERROR after replying. */
static int authenticate(struct tn_req *r)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(r->req),
	                                   "Authorization");
	char hash[CC_SHA256_HEX];
	const char *p[1] = { hash };
	PGresult *res;

	if (!h || strncasecmp(h, "Bearer ", 7) != 0 || !h[7]) {
		tn_error(r, 401, "unauthenticated", NULL, "missing bearer token");
		return CC_ERROR;
	}
	cc_sha256_hex(h + 7, strlen(h + 7), hash);
	if (cc_secret_eq(hash, r->d->operator_hash)) {
		r->is_operator = true;
		return CC_OK;
	}
	res = cc_pg_exec(&r->d->pg, "SELECT k.tenant_id, t.enabled FROM cc.api_keys k "
	                 "JOIN cc.tenants t ON t.id = k.tenant_id "
	                 "WHERE k.key_hash = $1 AND k.revoked_at IS NULL", 1, p);
	if (!res) {
		tn_db_error(r, "api key");
		return CC_ERROR;
	}
	if (PQntuples(res) != 1 || PQgetvalue(res, 0, 1)[0] != 't') {
		PQclear(res);
		tn_error(r, 401, "unauthenticated", NULL, "invalid token");
		return CC_ERROR;
	}
	snprintf(r->key_tenant, sizeof(r->key_tenant), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return CC_OK;
}

/* For /v1/tenants/{slug}/...: loads the tenant; 404 unless the caller is
 * the operator or holds that tenant's key. */
static int resolve_tenant(struct tn_req *r, const char *slug)
{
	const char *p[1] = { slug };
	PGresult *res = cc_pg_exec(&r->d->pg, "SELECT id, slug, sip_domain, enabled "
	                           "FROM cc.tenants WHERE slug = $1", 1, p);

	if (!res) {
		tn_db_error(r, "tenant");
		return CC_ERROR;
	}
	if (PQntuples(res) != 1 ||
	    (!r->is_operator && strcmp(PQgetvalue(res, 0, 0), r->key_tenant) != 0)) {
		PQclear(res);
		tn_error(r, 404, "not_found", NULL, "no such tenant");
		return CC_ERROR;
	}
	snprintf(r->tenant.id, sizeof(r->tenant.id), "%s", PQgetvalue(res, 0, 0));
	snprintf(r->tenant.slug, sizeof(r->tenant.slug), "%s", PQgetvalue(res, 0, 1));
	snprintf(r->tenant.sip_domain, sizeof(r->tenant.sip_domain), "%s", PQgetvalue(res, 0, 2));
	r->tenant.enabled = PQgetvalue(res, 0, 3)[0] == 't';
	PQclear(res);
	return CC_OK;
}

/* Replays a stored reply for a repeated Idempotency-Key. */
static bool replayed(struct tn_req *r)
{
	const char *p[2] = { r->idem_scope, r->idem_key };
	PGresult *res = cc_pg_exec(&r->d->pg, "SELECT status, body, method, path FROM cc.idempotency "
	                           "WHERE scope = $1 AND key = $2 AND created_at > now() - interval '24 hours'",
	                           2, p);

	if (!res || PQntuples(res) != 1) {
		if (res)
			PQclear(res);
		return false;
	}
	if (strcmp(PQgetvalue(res, 0, 2), r->method) || strcmp(PQgetvalue(res, 0, 3), r->path)) {
		PQclear(res);
		free(r->idem_key);
		r->idem_key = NULL;
		tn_error(r, 422, "invalid_argument", NULL,
		         "Idempotency-Key was used for another request");
		return true;
	}
	evhttp_add_header(evhttp_request_get_output_headers(r->req), "Idempotent-Replayed", "true");
	send_text(r, atoi(PQgetvalue(res, 0, 0)), PQgetvalue(res, 0, 1));
	PQclear(res);
	return true;
}

static const char *method_name(enum evhttp_cmd_type t)
{
	switch (t) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_PATCH: return "PATCH";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_HEAD: return "HEAD";
	default: return "OTHER";
	}
}

static void dispatch(struct tn_req *r)
{
	const struct tn_route *route = NULL;
	bool path_known = false;
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
	size_t len = evbuffer_get_length(in);

	for (const struct tn_route *const *t = tn_route_tables; *t && !route; t++)
		for (const struct tn_route *rt = *t; rt->method && !route; rt++) {
			free_params(r);
			if (!match(rt->pattern, r->path, r))
				continue;
			path_known = true;
			if (strcmp(rt->method, r->method) == 0)
				route = rt;
		}
	size_t max = route && route->csv ? TN_MAX_CSV : TN_MAX_BODY;

	if (len > max) {
		tn_error(r, 413, "payload_too_large", NULL, "the body is over %zu bytes", max);
		return;
	}
	if (authenticate(r) != CC_OK)
		return;
	if (!route) {
		if (path_known)
			tn_error(r, 405, "method_not_allowed", NULL, "%s is not allowed here", r->method);
		else
			tn_error(r, 404, "not_found", NULL, "no such resource");
		return;
	}
	if (route->scope != TN_TENANT && !r->is_operator) {
		tn_error(r, r->key_tenant[0] ? 403 : 401, "forbidden", NULL,
		         "this needs the operator token");
		return;
	}
	if (route->scope != TN_OPERATOR && resolve_tenant(r, r->params[0]) != CC_OK)
		return;
	if (route->csv) {
		const char *ct = evhttp_find_header(evhttp_request_get_input_headers(r->req),
		                                    "Content-Type");

		if (!ct || strncasecmp(ct, "text/csv", 8) != 0) {
			tn_error(r, 415, "unsupported_media_type", NULL, "send the body as text/csv");
			return;
		}
		r->raw_len = len;
		r->raw_body = len ? (const char *)evbuffer_pullup(in, -1) : "";
	}
	if (route->fields) {
		const char *ct = evhttp_find_header(evhttp_request_get_input_headers(r->req),
		                                    "Content-Type");
		json_error_t jerr;

		if (!ct || strncasecmp(ct, "application/json", 16) != 0) {
			tn_error(r, 415, "unsupported_media_type", NULL,
			         "send the body as application/json");
			return;
		}
		r->body = json_loadb((const char *)evbuffer_pullup(in, -1), len, 0, &jerr);
		if (!r->body) {
			tn_error(r, 400, "invalid_json", NULL, "malformed JSON at line %d column %d: %s",
			         jerr.line, jerr.column, jerr.text);
			return;
		}
		if (!json_is_object(r->body)) {
			tn_error(r, 400, "invalid_json", NULL, "the body must be a JSON object");
			return;
		}
		if (check_fields(r, r->body, route->fields, route->partial, "") != CC_OK)
			return;
	}
	if (strcmp(r->method, "POST") == 0) {
		const char *k = evhttp_find_header(evhttp_request_get_input_headers(r->req),
		                                   "Idempotency-Key");
		if (k && (strlen(k) < 1 || strlen(k) > 200)) {
			tn_error(r, 400, "invalid_argument", "Idempotency-Key", "must be 1 to 200 characters");
			return;
		}
		if (k) {
			r->idem_key = strdup(k);
			snprintf(r->idem_scope, sizeof(r->idem_scope), "%s",
			         r->is_operator ? "operator" : r->key_tenant);
			if (replayed(r))
				return;
		}
	}
	route->handler(r);
}

void tn_handle(struct evhttp_request *req, void *arg)
{
	struct tn_req r = { .d = arg, .req = req };
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *q = evhttp_uri_get_query(uri);
	int64_t t0 = cc_mono_ms();

	TAILQ_INIT(&r.query);
	r.method = method_name(evhttp_request_get_command(req));
	r.path = evhttp_uridecode(evhttp_uri_get_path(uri), 0, NULL);
	if (!r.path || (q && evhttp_parse_query_str(q, &r.query) != 0))
		tn_error(&r, 400, "invalid_argument", NULL, "malformed URL");
	else
		dispatch(&r);
	CC_DEBUG("%s %s %dms", r.method, r.path ? r.path : "?", (int)(cc_mono_ms() - t0));
	free_params(&r);
	evhttp_clear_headers(&r.query);
	json_decref(r.body);
	free(r.path);
	free(r.idem_key);
}
