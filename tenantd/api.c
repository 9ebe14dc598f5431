/*
 * api.c: the request pipeline of api.h, from the request line to the
 * handler. libmicrohttpd calls tn_begin_request when a request line has
 * arrived, tn_handle once the headers are in (then every check that needs
 * no body runs, and a refusal is sent before the body is read), again with
 * each piece of the body, and once more when the body has ended; then
 * tn_end_request.
 */
#include "api.h"
#include "cc.h"
#include "clock.h"
#include "e164.h"
#include "flow.h"
#include "log.h"
#include "tenantd.h"

#include <event2/http.h>
#include <sys/queue.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

/* after a refusal made while the body is read, the rest is read and thrown
 * away so the reply can be sent; past this much the connection is closed */
#define TN_MAX_DROPPED (16 * 1024 * 1024)

const struct tn_route *const tn_route_tables[] = {
	tn_tenant_routes, tn_trunk_routes, tn_acd_agent_routes, tn_agent_routes, tn_number_routes,
	tn_blocklist_routes, tn_acd_call_routes, tn_call_routes, tn_tariff_routes, tn_billing_routes,
	tn_statement_routes, tn_dialplan_routes, tn_prompt_routes, tn_flow_routes, tn_queue_routes,
	tn_viplist_routes, tn_list_routes, tn_sse_routes, tn_key_routes, tn_recording_routes,
	tn_evaluation_routes, tn_customer_routes, tn_desk_routes, NULL,
};

/* ------------------------------------------------------------- replies */

/* The request's fingerprint for its Idempotency-Key: method and SHA-256 of
 * the body, stored in the method column ("POST <hex>"). */
static void fingerprint(struct tn_req *r, char *out, size_t n)
{
	snprintf(out, n, "%s %s", r->method, r->idem_hash);
}

static void remember(struct tn_req *r, int status, const char *text)
{
	const char *p[6];
	char st[16], fp[16 + CC_SHA256_HEX];

	/* only what the handler answered: a refusal of the request's form
	 * (bad JSON, a missing field) is not stored, so the corrected request
	 * can be sent again with the same key */
	if (!r->idem_key || !r->in_handler || status >= 500)
		return;
	snprintf(st, sizeof(st), "%d", status);
	fingerprint(r, fp, sizeof(fp));
	p[0] = r->idem_scope; p[1] = r->idem_key; p[2] = fp;
	p[3] = r->path; p[4] = st; p[5] = text;
	if (cc_pg_cmd(&r->d->pg, "INSERT INTO cc.idempotency (scope, key, method, path, status, body) "
	              "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING", 6, p) != CC_OK)
		CC_ERR("idempotency: not stored, a retry of this request would run again: %s",
		       r->d->pg.message);
}

/* Queues a reply; extra holds header name, value, ..., NULL (or is NULL). */
static void queue(struct tn_req *r, int status, const char *content_type, const char *text,
                  size_t len, const char *const *extra)
{
	struct MHD_Response *resp;

	CC_BUG_ON(r->answered);
	r->answered = true;
	resp = MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);
	CC_BUG_ON(!resp);
	if (status != 204)
		MHD_add_response_header(resp, "Content-Type", content_type);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	for (; extra && extra[0]; extra += 2)
		MHD_add_response_header(resp, extra[0], extra[1]);
	if (MHD_queue_response(r->conn, (unsigned)status, resp) != MHD_YES)
		CC_WARN("%s %s: the reply %d could not be queued", r->method, r->path, status);
	MHD_destroy_response(resp);
}

/* A JSON reply. While the body is being read libmicrohttpd can send
 * nothing: the first reply made then is kept and sent when the body has
 * ended, and the rest of the body is thrown away. */
static void send_json(struct tn_req *r, int status, const char *text, const char *const *extra)
{
	char *line = cc_sprintf("%s\n", text);

	CC_BUG_ON(!line);
	if (r->phase_body) {
		if (!r->late_text) {
			r->late_status = status;
			r->late_text = line;
		} else {
			free(line);
		}
		return;
	}
	queue(r, status, "application/json", line, strlen(line), extra);
	free(line);
}

void tn_reply_raw(struct tn_req *r, int status, const char *content_type, const char *body, ...)
{
	const char *extra[17];
	size_t n = 0;
	va_list ap;

	va_start(ap, body);
	for (const char *h; n < 16 && (h = va_arg(ap, const char *));)
		extra[n++] = h;
	va_end(ap);
	CC_BUG_ON(n % 2);
	extra[n] = NULL;
	queue(r, status, content_type, body, strlen(body), extra);
}

void tn_reply(struct tn_req *r, int status, json_t *body)
{
	/* 15 digits: a score of two decimals (numeric 72.43) is sent as 72.43,
	 * not as its nearest double's 72.430000000000007 */
	char *text = json_dumps(body, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(15));

	CC_BUG_ON(!text);
	if (!r->phase_body)
		remember(r, status, text);
	send_json(r, status, text, NULL);
	free(text);
	json_decref(body);
}

void tn_defer(struct tn_req *r)
{
	r->deferred = true;
	if (!r->suspended) {
		MHD_suspend_connection(r->conn);
		r->suspended = true;
	}
}

void tn_resume(struct tn_req *r)
{
	CC_BUG_ON(!r->answered);
	r->deferred = false;
	if (r->suspended) {
		r->suspended = false;
		MHD_resume_connection(r->conn);
	}
}

void tn_reply_stream(struct tn_req *r, MHD_ContentReaderCallback read, void *cls,
                     MHD_ContentReaderFreeCallback release)
{
	struct MHD_Response *resp;

	CC_BUG_ON(r->answered || r->phase_body);
	r->answered = true;
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, read, cls, release);
	CC_BUG_ON(!resp);
	MHD_add_response_header(resp, "Content-Type", "text/event-stream");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	if (MHD_queue_response(r->conn, 200, resp) != MHD_YES)
		CC_WARN("%s %s: the stream could not be queued", r->method, r->path);
	MHD_destroy_response(resp);
}

void tn_reply_bytes(struct tn_req *r, int status, const char *content_type, const void *body,
                    size_t len)
{
	queue(r, status, content_type, body, len, NULL);
}

void tn_reply_bytes_h(struct tn_req *r, int status, const char *content_type, const void *body,
                      size_t len, const char *const *extra)
{
	queue(r, status, content_type, body, len, extra);
}

void tn_no_content(struct tn_req *r)
{
	remember(r, 204, "");
	queue(r, 204, "application/json", "", 0, NULL);
}

/* Replaces in s, in place, each byte that does not start a whole UTF-8
 * character by '?': an error message quotes the request (jansson's text
 * near a bad token, a field's name cut to fit) and JSON holds only
 * UTF-8 (fuzz_api_body: a body with a bad escape before invalid UTF-8
 * made the reply NULL and tenantd abort). */
static void clean_utf8(char *s)
{
	while (*s) {
		unsigned char c = (unsigned char)*s;
		size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 :
		           (c & 0xf8) == 0xf0 ? 4 : 0;
		json_t *j = NULL;

		if (n > 1 && strnlen(s, n) == n)
			j = json_stringn(s, n);      /* jansson's own test of the character */
		if (n == 1 || j) {
			json_decref(j);
			s += n;
		} else {
			*s++ = '?';
		}
	}
}

void tn_error(struct tn_req *r, int status, const char *code, const char *field,
              const char *fmt, ...)
{
	char msg[512], name[128];
	va_list ap;
	json_t *e;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	clean_utf8(msg);
	e = json_pack("{s:s, s:s}", "code", code, "message", msg);
	CC_BUG_ON(!e);
	if (field) {
		snprintf(name, sizeof(name), "%s", field);
		clean_utf8(name);
		json_object_set_new(e, "field", json_string(name));
	}
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
		/* the data broke a rule of the database: permanent, but its text
		 * (table, column, value) is for the log, not the client */
		CC_WARN("%s %s: database refused %s: %s", r->method, r->path, what, r->d->pg.message);
		tn_error(r, 422, "invalid_argument", NULL, "%s: a value is not valid", what);
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

void tn_list_page(struct tn_req *r, char *sql, const char *what,
                  json_t *(*row)(const PGresult *, int), int cursor_col)
{
	const char *after, *p[3];
	char lim[8];
	int limit;
	PGresult *res;

	if (tn_page(r, &limit, &after) != CC_OK) {
		free(sql);
		return;
	}
	snprintf(lim, sizeof(lim), "%d", limit);
	p[0] = r->tenant.id; p[1] = after ? after : ""; p[2] = lim;
	res = cc_pg_exec(&r->d->pg, sql, 3, p);
	free(sql);
	if (!res)
		return tn_db_error(r, what);
	tn_reply_page(r, res, row, limit, cursor_col);
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

int tn_new_id(struct tn_req *r, char out[CC_UUID_LEN])
{
	if (cc_uuid(out) == CC_OK)
		return CC_OK;
	CC_ERR("the random number generator failed");
	tn_error(r, 503, "unavailable", NULL, "no randomness for a new id; retry later");
	return CC_ERROR;
}

int tn_new_token(struct tn_req *r, char out[CC_TOKEN_LEN])
{
	if (cc_token(out) == CC_OK)
		return CC_OK;
	CC_ERR("the random number generator failed");
	tn_error(r, 503, "unavailable", NULL, "no randomness for a new key; retry later");
	return CC_ERROR;
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

size_t tn_utf8_len(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;   /* count all but continuation bytes */
	return n;
}

int tn_check_name(struct tn_req *r, json_t *v, char **err)
{
	size_t n = tn_utf8_len(json_string_value(v));

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
		if (json_is_null(v) && f->nullable)
			continue;
		bool ok = f->type == TN_ANY ? true : f->type == JSON_TRUE ? json_is_boolean(v)
		          : (int)json_typeof(v) == f->type;
		if (!ok) {
			static const char *names[] = { "an object", "an array", "a string",
			                               "an integer", "a number", "a boolean" };
			tn_error(r, 400, "invalid_argument", path, "'%s' must be %s%s", path,
			         names[(int)f->type <= JSON_REAL ? (int)f->type : 5],
			         f->nullable ? " or null" : "");
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

const struct tn_field tn_whole_json[] = { { NULL, 0, false, NULL, NULL, false } };

int tn_check_body(struct tn_req *r)
{
	json_error_t jerr;

	r->body = json_loadb(r->buf ? r->buf : "", r->len, JSON_REJECT_DUPLICATES, &jerr);
	if (!r->body) {
		tn_error(r, 400, "invalid_json", NULL, "malformed JSON at line %d column %d: %s",
		         jerr.line, jerr.column, jerr.text);
		return CC_ERROR;
	}
	if (!json_is_object(r->body)) {
		tn_error(r, 400, "invalid_json", NULL, "the body must be a JSON object");
		return CC_ERROR;
	}
	if (r->route->fields == tn_whole_json)
		return CC_OK;                 /* the handler checks the document */
	return check_fields(r, r->body, r->route->fields, r->route->partial, "");
}

/* The most a JSON body of this route may be. */
static size_t json_limit(const struct tn_route *route)
{
	return route->fields == tn_whole_json ? CC_FLOW_MAX_BYTES : TN_MAX_BODY;
}

/* ------------------------------------------------------------ routing */

/* Matches path against pattern, filling r->params. A placeholder takes
 * one non-empty segment; {id} only a UUID, so no handler or query sees
 * another id (fuzz_api_path). */
static bool match(const char *pattern, const char *path, struct tn_req *r)
{
	int n = 0;

	while (*pattern && *path) {
		if (*pattern == '{') {
			const char *end = strchr(path, '/');
			size_t len = end ? (size_t)(end - path) : strlen(path);

			if (!len || n >= 4)
				return false;
			r->params[n] = strndup(path, len);
			CC_BUG_ON(!r->params[n]);
			if (strncmp(pattern, "{id}", 4) == 0 && !cc_uuid_valid(r->params[n]))
				return false;
			n++;
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
	const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");
	char hash[CC_SHA256_HEX];
	const char *p[1] = { hash };
	PGresult *res;

	if (!h && tn_desk_cookie(r) && *tn_desk_cookie(r))
		return tn_desk_authenticate(r, tn_desk_cookie(r));
	if (!h || strncasecmp(h, "Bearer ", 7) != 0 || !h[7]) {
		tn_error(r, 401, "unauthenticated", NULL, "missing bearer token");
		return CC_ERROR;
	}
	cc_sha256_hex(h + 7, strlen(h + 7), hash);
	if (cc_secret_eq(hash, r->d->operator_hash)) {
		r->is_operator = true;
		return CC_OK;
	}
	res = cc_pg_exec(&r->d->pg, "SELECT k.tenant_id, t.enabled, k.id, k.role, a.extension, "
	                 "a.supervises::text FROM cc.api_keys k "
	                 "JOIN cc.tenants t ON t.id = k.tenant_id "
	                 "LEFT JOIN cc.agents a ON a.id = k.agent_id AND a.tenant_id = k.tenant_id "
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
	snprintf(r->key_id, sizeof(r->key_id), "%s", PQgetvalue(res, 0, 2));
	r->role = tn_role_bit(PQgetvalue(res, 0, 3));
	snprintf(r->agent_ext, sizeof(r->agent_ext), "%s", PQgetvalue(res, 0, 4));
	if (!PQgetisnull(res, 0, 5))
		r->supervises = strdup(PQgetvalue(res, 0, 5));
	PQclear(res);
	/* a role this build does not know, or an agent's key whose agent is
	 * gone (the row cascades, but a read may race it), may do nothing */
	if (!r->role || ((r->role & (TN_R_SUP | TN_R_AGENT)) && !r->agent_ext[0])) {
		tn_error(r, 401, "unauthenticated", NULL, "invalid token");
		return CC_ERROR;
	}
	return CC_OK;
}

/* For /v1/tenants/{slug}/...: loads the tenant; 404 unless the caller is
 * the operator or holds that tenant's key. */
static int resolve_tenant(struct tn_req *r, const char *slug, bool any)
{
	const char *p[1] = { slug };
	PGresult *res = cc_pg_exec(&r->d->pg, "SELECT id, slug, sip_domain, enabled "
	                           "FROM cc.tenants WHERE slug = $1", 1, p);

	if (!res) {
		tn_db_error(r, "tenant");
		return CC_ERROR;
	}
	if (PQntuples(res) != 1 ||
	    (!any && !r->is_operator && strcmp(PQgetvalue(res, 0, 0), r->key_tenant) != 0)) {
		PQclear(res);
		tn_error(r, 404, "not_found", NULL, "no such tenant");
		return CC_ERROR;
	}
	snprintf(r->tenant.id, sizeof(r->tenant.id), "%s", PQgetvalue(res, 0, 0));
	snprintf(r->tenant.slug, sizeof(r->tenant.slug), "%s", PQgetvalue(res, 0, 1));
	/* a realm cut short would store HA1s and subscribers under another name */
	if (snprintf(r->tenant.sip_domain, sizeof(r->tenant.sip_domain), "%s", PQgetvalue(res, 0, 2)) >=
	    (int)sizeof(r->tenant.sip_domain)) {
		PQclear(res);
		CC_ERR("tenant %s: SIP domain longer than %zu bytes", r->tenant.id,
		       sizeof(r->tenant.sip_domain) - 1);
		tn_error(r, 500, "internal", NULL, "this tenant's SIP domain is too long");
		return CC_ERROR;
	}
	r->tenant.enabled = PQgetvalue(res, 0, 3)[0] == 't';
	PQclear(res);
	return CC_OK;
}

/* Replays a stored reply for a repeated Idempotency-Key: the same key
 * with another request (path, method or body) is refused. */
static bool replayed(struct tn_req *r)
{
	const char *p[2] = { r->idem_scope, r->idem_key };
	char fp[16 + CC_SHA256_HEX];
	PGresult *res = cc_pg_exec(&r->d->pg, "SELECT status, body, method, path FROM cc.idempotency "
	                           "WHERE scope = $1 AND key = $2 AND created_at > now() - interval '24 hours'",
	                           2, p);

	if (!res) {
		tn_db_error(r, "Idempotency-Key");
		return true;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		return false;
	}
	fingerprint(r, fp, sizeof(fp));
	if (strcmp(PQgetvalue(res, 0, 3), r->path) != 0 || strcmp(PQgetvalue(res, 0, 2), fp) != 0) {
		bool same_target = strcmp(PQgetvalue(res, 0, 3), r->path) == 0 &&
		                   strncmp(PQgetvalue(res, 0, 2), fp, strlen(r->method) + 1) == 0;

		PQclear(res);
		free(r->idem_key);
		r->idem_key = NULL;
		if (same_target)
			tn_error(r, 422, "invalid_argument", "Idempotency-Key",
			         "Idempotency-Key was used for this request with another body");
		else
			tn_error(r, 422, "invalid_argument", "Idempotency-Key",
			         "Idempotency-Key was used for another request");
		return true;
	}
	int status = atoi(PQgetvalue(res, 0, 0));
	static const char *const replay[] = { "Idempotent-Replayed", "true", NULL };

	if (status == 204)
		queue(r, 204, "application/json", "", 0, replay);
	else
		send_json(r, status, PQgetvalue(res, 0, 1), replay);
	PQclear(res);
	return true;
}

/* ------------------------------------------------------ header checks */

/* True if the decoded text s[0..n) holds no control byte (NUL included)
 * and is valid UTF-8. */
static bool clean_text(const char *s, size_t n)
{
	json_t *j;

	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	j = json_stringn(s, n);          /* jansson refuses invalid UTF-8 */
	json_decref(j);
	return j != NULL;
}

/* The query string: each name and value, decoded, must be clean text. */
static bool clean_query(const char *q)
{
	while (q && *q) {
		size_t n = strcspn(q, "&");
		char *part = strndup(q, n), *dec;
		size_t len = 0;

		CC_BUG_ON(!part);
		for (char *c = part; *c; c++)
			if (*c == '+')
				*c = ' ';
		dec = evhttp_uridecode(part, 0, &len);
		free(part);
		bool ok = dec && clean_text(dec, len);
		free(dec);
		if (!ok)
			return false;
		q += n + (q[n] == '&');
	}
	return true;
}

/* Headers that must come at most once: framing and credentials. A second
 * copy is how a request is smuggled past one reader to another. */
static const char *const single[] = {
	"Authorization", "Content-Length", "Transfer-Encoding", "Content-Type", "Idempotency-Key",
	"Host", NULL,
};

struct header_count {
	int n[8];
};

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
	struct header_count *c = cls;

	for (int i = 0; single[i]; i++)
		if (strcasecmp(key, single[i]) == 0)
			c->n[i]++;
	return MHD_YES;
}

/* A media type matched exactly ("application/json", any case), with
 * optional parameters; a charset parameter must say UTF-8. */
static bool media_type_is(const char *ct, const char *want)
{
	size_t n = strlen(want);

	if (!ct || strncasecmp(ct, want, n) != 0)
		return false;
	ct += n;
	ct += strspn(ct, " \t");
	while (*ct == ';') {
		ct++;
		ct += strspn(ct, " \t");
		size_t name = strcspn(ct, "=; \t");
		const char *v = ct + name;

		if (*v != '=')
			return false;
		v++;
		size_t vlen = strcspn(v, "; \t");
		bool quoted = vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"';
		const char *val = quoted ? v + 1 : v;
		size_t len = quoted ? vlen - 2 : vlen;

		if (name == 7 && strncasecmp(ct, "charset", 7) == 0 &&
		    !((len == 5 && strncasecmp(val, "utf-8", 5) == 0) ||
		      (len == 4 && strncasecmp(val, "utf8", 4) == 0)))
			return false;
		ct = v + vlen;
		ct += strspn(ct, " \t");
	}
	return *ct == '\0';
}

/* Idempotency-Key: 1 to TN_MAX_IDEM_KEY printable ASCII characters. */
static bool valid_idem_key(const char *k)
{
	size_t n = strlen(k);

	if (n < 1 || n > TN_MAX_IDEM_KEY)
		return false;
	for (size_t i = 0; i < n; i++)
		if (k[i] < 0x20 || k[i] > 0x7e)
			return false;
	return true;
}

static bool is_post(struct tn_req *r)
{
	return strcmp(r->method, "POST") == 0;
}

int tn_parse_target(struct tn_req *r)
{
	struct evhttp_uri *uri;
	size_t len = 0;

	/* the path, decoded: a NUL or other control byte would cut or bend it */
	uri = evhttp_uri_parse_with_flags(r->uri, EVHTTP_URI_NONCONFORMANT);
	if (!uri || !evhttp_uri_get_path(uri)) {
		if (uri)                         /* libevent's free takes no NULL */
			evhttp_uri_free(uri);
		tn_error(r, 400, "invalid_argument", NULL, "malformed URL");
		return CC_ERROR;
	}
	const char *q = evhttp_uri_get_query(uri);
	r->path = evhttp_uridecode(evhttp_uri_get_path(uri), 0, &len);
	bool ok = r->path && clean_text(r->path, len) && clean_query(q) &&
	          (!q || evhttp_parse_query_str(q, &r->query) == 0);
	evhttp_uri_free(uri);
	if (!ok) {
		if (!r->path)
			r->path = strdup("?");
		tn_error(r, 400, "invalid_argument", NULL,
		         "the URL holds a control character, invalid UTF-8 or a bad query");
		return CC_ERROR;
	}
	return CC_OK;
}

const struct tn_route *tn_find_route(struct tn_req *r, bool *path_known)
{
	*path_known = false;
	for (const struct tn_route *const *t = tn_route_tables; *t; t++)
		for (const struct tn_route *rt = *t; rt->method; rt++) {
			free_params(r);
			if (!match(rt->pattern, r->path, r))
				continue;
			*path_known = true;
			if (strcmp(rt->method, r->method) == 0)
				return rt;
		}
	free_params(r);
	return NULL;
}

static bool is_media(const struct tn_route *route)
{
	for (int i = 0; route && tn_media_handlers[i]; i++)
		if (route->handler == tn_media_handlers[i])
			return true;
	return false;
}

/* Everything decided from the request line and headers. CC_ERROR after
 * answering (the body is then never read). */
static int check_headers(struct tn_req *r)
{
	struct MHD_Connection *c = r->conn;
	struct header_count count = { { 0 } };
	const struct tn_route *route = NULL;
	bool path_known = false;
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
	const char *te = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding");
	const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");

	static const char *const methods[] = { "GET", "POST", "PUT", "PATCH", "DELETE", NULL };
	bool known_method = false;
	for (int i = 0; methods[i]; i++)
		known_method |= strcmp(r->method, methods[i]) == 0;
	if (!known_method) {
		tn_error(r, 501, "not_implemented", NULL, "%.16s is not a method of this API", r->method);
		return CC_ERROR;
	}

	MHD_get_connection_values(c, MHD_HEADER_KIND, count_header, &count);
	for (int i = 0; single[i]; i++)
		if (count.n[i] > 1) {
			tn_error(r, 400, "invalid_argument", single[i], "header %s given more than once",
			         single[i]);
			return CC_ERROR;
		}
	if (te && (cl || strcasecmp(te, "chunked") != 0)) {
		tn_error(r, 400, "invalid_argument", "Transfer-Encoding",
		         "Transfer-Encoding must be chunked, and without Content-Length");
		return CC_ERROR;
	}

	if (tn_parse_target(r) != CC_OK)
		return CC_ERROR;
	route = tn_find_route(r, &path_known);
	/* a whole document's own limit is answered 422 below, after the checks */
	size_t max = route && route->csv ? TN_MAX_CSV : is_media(route) ? TN_MAX_MEDIA
	             : route && route->fields == tn_whole_json ? SIZE_MAX : TN_MAX_BODY;
	unsigned long long declared = 0;
	if (cl) {
		char *end;
		unsigned long long n = strtoull(cl, &end, 10);

		declared = n;
		if (*end || end == cl || cl[0] == '-' || n > max) {
			tn_error(r, *end || end == cl || cl[0] == '-' ? 400 : 413,
			         *end || end == cl || cl[0] == '-' ? "invalid_argument" : "payload_too_large",
			         NULL, "the body is over %zu bytes", max);
			return CC_ERROR;
		}
	}
	/* a public route (the desk's sign-in) answers to no key: its handler
	 * authenticates what it gets */
	if (!(route && (route->scope == TN_PUBLIC || route->scope == TN_STATIC)) &&
	    authenticate(r) != CC_OK)
		return CC_ERROR;
	if (!route) {
		if (path_known)
			tn_error(r, 405, "method_not_allowed", NULL, "%s is not allowed here", r->method);
		else
			tn_error(r, 404, "not_found", NULL, "no such resource");
		return CC_ERROR;
	}
	r->route = route;
	if (route->scope == TN_STATIC)
		return CC_OK;                /* a page's file: no key, no tenant, no body */
	if (route->scope != TN_TENANT && route->scope != TN_PUBLIC && !r->is_operator) {
		tn_error(r, r->key_tenant[0] ? 403 : 401, "forbidden", NULL,
		         "this needs the operator token");
		return CC_ERROR;
	}
	if (route->scope != TN_OPERATOR &&
	    resolve_tenant(r, r->params[0], route->scope == TN_PUBLIC) != CC_OK)
		return CC_ERROR;
	if (route->scope != TN_OPERATOR && route->scope != TN_PUBLIC && tn_authorize(r) != CC_OK)
		return CC_ERROR;
	if (route->csv && !media_type_is(ct, "text/csv")) {
		tn_error(r, 415, "unsupported_media_type", NULL, "send the body as text/csv (UTF-8)");
		return CC_ERROR;
	}
	if (route->fields && !media_type_is(ct, "application/json")) {
		tn_error(r, 415, "unsupported_media_type", NULL,
		         "send the body as application/json (UTF-8)");
		return CC_ERROR;
	}
	if (route->fields == tn_whole_json && declared > CC_FLOW_MAX_BYTES) {
		tn_error(r, 422, "invalid_argument", "body", "the body is %llu bytes; at most %d",
		         declared, CC_FLOW_MAX_BYTES);
		return CC_ERROR;
	}
	if (is_post(r)) {
		const char *k = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Idempotency-Key");

		if (k && !valid_idem_key(k)) {
			tn_error(r, 400, "invalid_argument", "Idempotency-Key",
			         "must be 1 to %d printable ASCII characters", TN_MAX_IDEM_KEY);
			return CC_ERROR;
		}
		if (k && route->csv) {
			tn_error(r, 400, "invalid_argument", "Idempotency-Key",
			         "a streamed upload takes no Idempotency-Key (each import is a new version)");
			return CC_ERROR;
		}
		if (k) {
			r->idem_key = strdup(k);
			snprintf(r->idem_scope, sizeof(r->idem_scope), "%s",
			         r->is_operator ? "operator" : r->key_tenant);
		}
	}
	return CC_OK;
}

/* The body is in (JSON routes) or there is none: parse, check, replay or
 * run the handler. */
static void run(struct tn_req *r)
{
	const struct tn_route *route = r->route;

	if (route->fields && tn_check_body(r) != CC_OK)
		return;
	if (r->idem_key) {
		cc_sha256_hex(r->buf ? r->buf : "", r->len, r->idem_hash);
		if (replayed(r))
			return;
	}
	r->in_handler = true;
	route->handler(r);
}

/* ------------------------------------------------- libmicrohttpd hooks */

void *tn_begin_request(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct tn_req *r = calloc(1, sizeof(*r));

	CC_BUG_ON(!r);
	r->d = cls;
	r->conn = conn;
	r->uri = strdup(uri);
	r->method = "?";
	r->t0 = cc_mono_ms();
	TAILQ_INIT(&r->query);
	return r;
}

enum MHD_Result tn_handle(void *cls, struct MHD_Connection *conn, const char *url,
                          const char *method, const char *version, const char *data,
                          size_t *size, void **con_cls)
{
	struct tn_req *r = *con_cls;

	if (!r)
		return MHD_NO;
	if (!r->started) {
		r->started = true;
		r->method = method;
		tn_conn_busy(conn, true);     /* the headers are in: their deadline is met */
		if (check_headers(r) != CC_OK)
			return MHD_YES;
		/* no body to wait for: answer now (a body sent anyway is never read) */
		bool streamed = r->route->csv || is_media(r->route);

		if (!r->route->fields && !streamed)
			run(r);
		else if (streamed)
			r->route->handler(r);
		if (streamed && !r->answered && !r->upload_ops && !r->deferred) {
			CC_ERR("%s %s: the handler neither answered nor took the body", r->method, r->path);
			tn_error(r, 500, "internal", NULL, "internal error");
		}
		return MHD_YES;
	}
	if (*size) {
		size_t n = *size;

		*size = 0;
		if (r->answered)
			return MHD_YES;
		if (r->late_text) {
			r->dropped += n;
			return r->dropped > TN_MAX_DROPPED ? MHD_NO : MHD_YES;
		}
		r->phase_body = true;
		if (r->upload_ops) {
			r->upload_ops->data(r, data, n);
		} else if (r->len + n > json_limit(r->route) && r->route->fields == tn_whole_json) {
			tn_error(r, 422, "invalid_argument", "body", "the body is over %d bytes",
			         CC_FLOW_MAX_BYTES);
		} else if (r->len + n > TN_MAX_BODY) {
			tn_error(r, 413, "payload_too_large", NULL, "the body is over %d bytes", TN_MAX_BODY);
		} else {
			if (r->len + n > r->cap) {
				r->cap = (r->len + n) * 2;
				r->buf = realloc(r->buf, r->cap);
				CC_BUG_ON(!r->buf);
			}
			memcpy(r->buf + r->len, data, n);
			r->len += n;
		}
		r->phase_body = false;
		return MHD_YES;
	}
	/* the body has ended */
	if (r->answered || r->deferred)
		return MHD_YES;
	if (r->late_text) {
		queue(r, r->late_status, "application/json", r->late_text, strlen(r->late_text), NULL);
		return MHD_YES;
	}
	if (r->upload_ops)
		r->upload_ops->end(r);
	else
		run(r);
	if (!r->answered && !r->deferred) {
		CC_ERR("%s %s: no reply", r->method, r->path);
		tn_error(r, 500, "internal", NULL, "internal error");
	}
	return MHD_YES;
}

void tn_end_request(void *cls, struct MHD_Connection *conn, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
	struct tn_req *r = *con_cls;

	tn_conn_busy(conn, false);
	if (!r)
		return;
	tn_forward_detach(r);         /* a reply from billingd still to come finds no one */
	if (r->upload_ops)
		r->upload_ops->release(r);
	CC_DEBUG("%s %s %dms%s", r->method, r->path ? r->path : "?", (int)(cc_mono_ms() - r->t0),
	         toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (not completed)");
	free_params(r);
	evhttp_clear_headers(&r->query);
	json_decref(r->body);
	free(r->buf);
	free(r->late_text);
	free(r->uri);
	free(r->path);
	free(r->idem_key);
	free(r->supervises);
	free(r);
	*con_cls = NULL;
}

json_t *tn_col_text(const PGresult *res, int i, int col)
{
	return PQgetisnull(res, i, col) ? json_null() : json_string(PQgetvalue(res, i, col));
}

json_t *tn_col_int(const PGresult *res, int i, int col)
{
	return PQgetisnull(res, i, col) ? json_null() : json_integer(atoll(PQgetvalue(res, i, col)));
}

bool tn_rfc3339(const char *s)
{
	size_t n = strlen(s);

	return n >= 20 && n <= 35 && s[4] == '-' && s[7] == '-' && (s[10] == 'T' || s[10] == 't') &&
	       s[13] == ':' && s[16] == ':' && strspn(s, "0123456789-:.TtZz+") == n;
}
