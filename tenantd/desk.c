/*
 * desk.c: the agent desktop's sign-in (docs/DESK.md "Sign-in").
 *
 *   POST   /v1/tenants/{slug}/desk/session  {"extension","password"[,"as"]}  no key: signs in
 *   GET    /v1/tenants/{slug}/desk/session                            the session's agent
 *   DELETE /v1/tenants/{slug}/desk/session                            signs out
 *   GET    /desk/, /desk/<file>, /desk/config.json                   the desktop's page
 *   GET    /desk/wall                                                the supervisors' wallboard
 *
 * An agent signs in with its extension and SIP password (checked against
 * its digest HA1, the one its phones use). The browser gets a session
 * cookie (`cc_desk`: HttpOnly, Secure, SameSite=Strict, CC_DESK_SESSION_S
 * long) and a CSRF token it must send as `X-CSRF-Token` with every request
 * that is not a GET; cc.desk_sessions keeps the cookie's SHA-256, never
 * the cookie. A session acts as the agent's own API key (role agent,
 * tenantd/roles.c): every route an agent's key may use, on the agent's own
 * objects only. Failed sign-ins are limited per extension and address and
 * per address (429 with Retry-After); the counters live in this process.
 *
 * The wallboard signs in "as":"supervisor": allowed when the extension is
 * the agent of a live supervisor key of the tenant (else 403
 * not_a_supervisor); the session then acts as that key (role supervisor):
 * its queues are those the agent supervised at sign-in that it still
 * supervises, and revoking the key ends the session.
 */
#include "api.h"
#include "cc.h"
#include "id.h"
#include "log.h"
#include "map.h"
#include "tenantd.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define DESK_COOKIE "cc_desk"
#define DESK_WINDOW_S 900            /* failures count for 15 minutes */
#define DESK_MAX_PER_AGENT 5         /* per extension and address in the window */
#define DESK_MAX_PER_ADDR 20         /* per address, any extension */
#define DESK_MAX_TRACKED 10000       /* counters kept; the oldest window goes first */

/* ------------------------------------------------- failed sign-ins */

struct failures {
	time_t since;                    /* the window's start */
	int n;
};

static struct cc_map fails;          /* "addr" and "tenant|ext|addr" -> struct failures */

static struct failures *failures_of(const char *key, bool make)
{
	struct failures *f = cc_map_get(&fails, key);
	time_t now = time(NULL);

	if (f && now - f->since >= DESK_WINDOW_S) {
		f->since = now;
		f->n = 0;
	}
	if (f || !make)
		return f;
	if (fails.len >= DESK_MAX_TRACKED) {
		/* full: the windows that have passed go (a flood of addresses
		 * then costs memory bounded by the table); the keys first, as a
		 * deletion moves the slots after it */
		char **gone = calloc(fails.len, sizeof(*gone));
		size_t n = 0;

		CC_BUG_ON(!gone);
		for (size_t i = 0; i < fails.cap; i++) {
			struct cc_map_slot *s = &fails.slots[i];

			if (s->key && now - ((struct failures *)s->value)->since >= DESK_WINDOW_S)
				CC_BUG_ON(!(gone[n++] = strdup(s->key)));
		}
		for (size_t i = 0; i < n; i++) {
			free(cc_map_del(&fails, gone[i]));
			free(gone[i]);
		}
		free(gone);
		if (fails.len >= DESK_MAX_TRACKED)
			return NULL;
	}
	f = calloc(1, sizeof(*f));
	CC_BUG_ON(!f);
	f->since = now;
	cc_map_put(&fails, key, f);
	return f;
}

static void client_addr(struct tn_req *r, char host[NI_MAXHOST])
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn,
	                                                             MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	host[0] = '\0';
	if (ci && ci->client_addr) {
		socklen_t len = ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
		                : sizeof(struct sockaddr_in);

		if (getnameinfo(ci->client_addr, len, host, NI_MAXHOST, NULL, 0, NI_NUMERICHOST) != 0)
			host[0] = '\0';
	}
}

/* seconds until the window of key ends when it is over max, else 0 */
static long locked_for(const char *key, int max)
{
	struct failures *f = failures_of(key, false);

	if (!f || f->n < max)
		return 0;
	return DESK_WINDOW_S - (long)(time(NULL) - f->since);
}

static void count_failure(const char *key)
{
	struct failures *f = failures_of(key, true);

	if (f)
		f->n++;
}

/* ------------------------------------------------------------ sign-in */

static int check_ext(struct tn_req *r, json_t *v, char **err)
{
	const char *s = json_string_value(v);

	(void)r;
	if (strlen(s) < 2 || strlen(s) > 8 || strspn(s, "0123456789") != strlen(s))
		return cc_fail(err, "must be an agent's extension (2 to 8 digits)");
	return CC_OK;
}

static int check_password(struct tn_req *r, json_t *v, char **err)
{
	(void)r;
	if (!*json_string_value(v) || strlen(json_string_value(v)) > 128)
		return cc_fail(err, "must be 1 to 128 characters");
	return CC_OK;
}

static int check_as(struct tn_req *r, json_t *v, char **err)
{
	(void)r;
	if (strcmp(json_string_value(v), "agent") != 0 && strcmp(json_string_value(v), "supervisor") != 0)
		return cc_fail(err, "must be \"agent\" or \"supervisor\"");
	return CC_OK;
}

static const struct tn_field signin_fields[] = {
	{ "extension", JSON_STRING, true, check_ext, NULL, false },
	{ "password", JSON_STRING, true, check_password, NULL, false },
	{ "as", JSON_STRING, false, check_as, NULL, false },
	{ NULL, 0, false, NULL, NULL, false },
};

static void too_many(struct tn_req *r, long secs)
{
	char ra[24], *text;
	json_t *e = json_pack("{s:{s:s, s:s}}", "error", "code", "too_many_requests", "message",
	                      "too many failed sign-ins; try again later");

	snprintf(ra, sizeof(ra), "%ld", secs > 0 ? secs : 1);
	text = e ? json_dumps(e, JSON_COMPACT) : NULL;
	CC_BUG_ON(!text);
	char *line = cc_sprintf("%s\n", text);
	CC_BUG_ON(!line);
	tn_reply_raw(r, 429, "application/json", line, "Retry-After", ra, NULL);
	free(line);
	free(text);
	json_decref(e);
}

/* The cookie: the browser sends it back only to this origin, only over
 * HTTPS, never to script, never on a request another site starts. */
static char *cookie(const char *token, long max_age)
{
	return cc_sprintf(DESK_COOKIE "=%s; Path=/; Max-Age=%ld; HttpOnly; Secure; SameSite=Strict",
	                  token, max_age);
}

static void signin(struct tn_req *r)
{
	const char *ext = tn_str(r, "extension"), *pw = tn_str(r, "password"), *as = tn_str(r, "as");
	bool sup = as && strcmp(as, "supervisor") == 0;
	char host[NI_MAXHOST], kext[CC_UUID_LEN + 16 + NI_MAXHOST], ha1[CC_MD5_HEX];
	char id[CC_UUID_LEN], token[CC_TOKEN_LEN], csrf[CC_TOKEN_LEN], hash[CC_SHA256_HEX];
	char ttl[16];
	const char *p[2] = { r->tenant.id, ext };
	PGresult *res;
	long secs;
	bool good;

	/* a session's token must not be kept in the idempotency table */
	free(r->idem_key);
	r->idem_key = NULL;
	client_addr(r, host);
	snprintf(kext, sizeof(kext), "%s|%s|%s", r->tenant.id, ext, host);
	if ((secs = locked_for(host, DESK_MAX_PER_ADDR)) > 0 ||
	    (secs = locked_for(kext, DESK_MAX_PER_AGENT)) > 0)
		return too_many(r, secs);
	res = cc_pg_exec(&r->d->pg, "SELECT a.id, a.name, s.ha1 FROM cc.agents a "
	                 "JOIN cc.tenants t ON t.id = a.tenant_id "
	                 "JOIN kamailio.subscriber s ON s.username = a.extension AND s.domain = t.sip_domain "
	                 "WHERE a.tenant_id = $1 AND a.extension = $2 AND t.enabled", 2, p);
	if (!res)
		return tn_db_error(r, "agent");
	cc_sip_ha1(ext, r->tenant.sip_domain, pw, ha1);
	good = PQntuples(res) == 1 && cc_secret_eq(ha1, PQgetvalue(res, 0, 2));
	if (!good) {
		PQclear(res);
		count_failure(host);
		count_failure(kext);
		CC_INFO("desk sign-in of %s in tenant %s from %s refused", ext, r->tenant.id, host);
		/* the same answer for an unknown extension: nothing says which */
		return tn_error(r, 401, "unauthenticated", NULL, "wrong extension or password");
	}
	/* a good sign-in clears its own extension's failures, not the address's */
	struct failures *f = failures_of(kext, false);
	if (f)
		f->n = 0;
	/* a supervisor's: the agent of a live supervisor key of this tenant
	 * (the password was right: saying it is no supervisor tells nothing) */
	char key[CC_UUID_LEN] = "", *queues = NULL;
	if (sup) {
		PGresult *k = cc_pg_exec(&r->d->pg, "SELECT k.id, COALESCE(a.supervises, '{}')::text "
		                         "FROM cc.api_keys k JOIN cc.agents a ON a.id = k.agent_id "
		                         "AND a.tenant_id = k.tenant_id WHERE k.tenant_id = $1 "
		                         "AND a.extension = $2 AND k.role = 'supervisor' "
		                         "AND k.revoked_at IS NULL ORDER BY k.created_at, k.id LIMIT 1", 2, p);

		if (!k) {
			PQclear(res);
			return tn_db_error(r, "key");
		}
		if (PQntuples(k) != 1) {
			PQclear(k);
			PQclear(res);
			CC_INFO("desk sign-in of %s in tenant %s as supervisor refused: no supervisor key",
			        ext, r->tenant.id);
			return tn_error(r, 403, "not_a_supervisor", "as",
			                "this extension holds no supervisor key of the tenant");
		}
		snprintf(key, sizeof(key), "%s", PQgetvalue(k, 0, 0));
		queues = strdup(PQgetvalue(k, 0, 1));
		CC_BUG_ON(!queues);
		PQclear(k);
	}
	if (tn_new_id(r, id) != CC_OK || tn_new_token(r, token) != CC_OK ||
	    tn_new_token(r, csrf) != CC_OK) {
		PQclear(res);
		free(queues);
		return;
	}
	cc_sha256_hex(token, strlen(token), hash);
	snprintf(ttl, sizeof(ttl), "%ld", r->d->cfg.desk_session_s);
	/* the agent's id outlives its result: the INSERT reads it after PQclear */
	char agent_id[CC_UUID_LEN];
	snprintf(agent_id, sizeof(agent_id), "%s", PQgetvalue(res, 0, 0));
	const char *q[10] = { id, r->tenant.id, agent_id, hash, csrf, host[0] ? host : NULL,
	                      ttl, sup ? "supervisor" : "agent", sup ? key : NULL, queues };
	json_t *agent = json_pack("{s:s, s:s}", "extension", ext, "name", PQgetvalue(res, 0, 1));
	PQclear(res);
	res = cc_pg_exec(&r->d->pg, "INSERT INTO cc.desk_sessions (id, tenant_id, agent_id, token_hash, "
	                 "csrf, remote, expires_at, role, key_id, supervises) VALUES ($1, $2, $3, $4, $5, "
	                 "$6, now() + make_interval(secs => $7::int), $8, $9::uuid, $10::text[]) "
	                 "RETURNING " TN_TS("expires_at") ", array_to_json(COALESCE($10::text[], '{}'))::text",
	                 10, q);
	if (!res) {
		json_decref(agent);
		free(queues);
		return tn_db_error(r, "session");
	}
	json_t *out = json_pack("{s:s, s:o, s:s, s:s, s:s, s:s}", "session", id, "agent", agent, "csrf",
	                        csrf, "expires_at", PQgetvalue(res, 0, 0), "sip_domain",
	                        r->tenant.sip_domain, "role", sup ? "supervisor" : "agent");
	if (sup)
		json_object_set_new(out, "queues", json_loads(PQgetvalue(res, 0, 1), 0, NULL));
	PQclear(res);
	snprintf(r->key_id, sizeof(r->key_id), "%s", id);
	snprintf(r->agent_ext, sizeof(r->agent_ext), "%s", ext);
	r->desk = true;
	r->role = sup ? TN_R_SUP : TN_R_AGENT;
	free(r->supervises);
	r->supervises = queues;
	tn_audit(r, "desk_sign_in", "agent", ext,
	         sup ? json_pack("{s:s, s:s}", "as", "supervisor", "key", key) : NULL);
	char *text = json_dumps(out, JSON_COMPACT), *line = text ? cc_sprintf("%s\n", text) : NULL;
	char *c = cookie(token, r->d->cfg.desk_session_s);
	CC_BUG_ON(!line || !c);
	tn_reply_raw(r, 201, "application/json", line, "Set-Cookie", c, "Cache-Control", "no-store",
	             NULL);
	free(c);
	free(line);
	free(text);
	json_decref(out);
}

/* GET and DELETE answer to a desk session only: another key has no
 * session to show or end (403 from roles.c for other roles; an agent's
 * API key is not a session either). */
static bool is_session(struct tn_req *r)
{
	if (r->desk)
		return true;
	tn_error(r, 404, "not_found", NULL, "no desk session: sign in at /desk/");
	return false;
}

static void whoami(struct tn_req *r)
{
	const char *p[3] = { r->tenant.id, r->key_id, r->supervises };
	PGresult *res;

	if (!is_session(r))
		return;
	res = cc_pg_exec(&r->d->pg, "SELECT a.extension, a.name, "
	                 TN_TS("s.expires_at") ", array_to_json(COALESCE($3::text[], '{}'))::text "
	                 "FROM cc.desk_sessions s JOIN cc.agents a ON a.id = s.agent_id "
	                 "AND a.tenant_id = s.tenant_id WHERE s.tenant_id = $1 AND s.id = $2", 3, p);
	if (!res)
		return tn_db_error(r, "session");
	if (PQntuples(res) != 1) {
		PQclear(res);
		return tn_error(r, 401, "session_expired", NULL, "the session has ended: sign in again");
	}
	json_t *out = json_pack("{s:s, s:{s:s, s:s}, s:s, s:s, s:s}", "session", r->key_id, "agent",
	                        "extension", PQgetvalue(res, 0, 0), "name", PQgetvalue(res, 0, 1),
	                        "expires_at", PQgetvalue(res, 0, 2), "tenant", r->tenant.slug,
	                        "role", tn_is_supervisor(r) ? "supervisor" : "agent");
	/* a supervisor's: the queues it reaches now */
	if (tn_is_supervisor(r))
		json_object_set_new(out, "queues", json_loads(PQgetvalue(res, 0, 3), 0, NULL));
	PQclear(res);
	tn_reply(r, 200, out);
}

static void signout(struct tn_req *r)
{
	const char *p[2] = { r->tenant.id, r->key_id };

	if (!is_session(r))
		return;
	if (cc_pg_cmd(&r->d->pg, "DELETE FROM cc.desk_sessions WHERE tenant_id = $1 AND id = $2", 2,
	              p) != CC_OK)
		return tn_db_error(r, "session");
	tn_audit(r, "desk_sign_out", "agent", r->agent_ext, NULL);
	char *c = cookie("", 0);
	CC_BUG_ON(!c);
	tn_reply_raw(r, 204, "application/json", "", "Set-Cookie", c, NULL);
	free(c);
}

/* ------------------------------------------------- the session's key */

int tn_desk_authenticate(struct tn_req *r, const char *token)
{
	char hash[CC_SHA256_HEX];
	const char *p[1] = { hash };
	PGresult *res;

	cc_sha256_hex(token, strlen(token), hash);
	/* a supervisor's session lives while its key does, and reaches the
	 * queues of its sign-in the agent still supervises (in their order) */
	res = cc_pg_exec(&r->d->pg, "SELECT s.tenant_id, s.id, a.extension, s.csrf, "
	                 "s.expires_at > now() AND t.enabled AND (s.key_id IS NULL OR "
	                 "(k.id IS NOT NULL AND k.revoked_at IS NULL)), s.role, "
	                 "ARRAY(SELECT u.q FROM unnest(s.supervises) WITH ORDINALITY u(q, i) "
	                 "WHERE u.q = ANY (COALESCE(a.supervises, '{}')) ORDER BY u.i)::text "
	                 "FROM cc.desk_sessions s "
	                 "JOIN cc.tenants t ON t.id = s.tenant_id "
	                 "JOIN cc.agents a ON a.id = s.agent_id AND a.tenant_id = s.tenant_id "
	                 "LEFT JOIN cc.api_keys k ON k.id = s.key_id AND k.tenant_id = s.tenant_id "
	                 "AND k.agent_id = s.agent_id AND k.role = 'supervisor' "
	                 "WHERE s.token_hash = $1", 1, p);
	if (!res) {
		tn_db_error(r, "session");
		return CC_ERROR;
	}
	if (PQntuples(res) != 1 || PQgetvalue(res, 0, 4)[0] != 't') {
		PQclear(res);
		/* the desktop goes back to its sign-in on this code */
		tn_error(r, 401, "session_expired", NULL, "the session has ended: sign in again");
		return CC_ERROR;
	}
	/* what changes something carries the session's CSRF token: a request
	 * another site makes the browser send has the cookie, never the token */
	if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
		const char *t = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-CSRF-Token");

		if (!t || !cc_secret_eq(t, PQgetvalue(res, 0, 3))) {
			PQclear(res);
			tn_error(r, 403, "forbidden", "X-CSRF-Token",
			         "a desk session's request needs its X-CSRF-Token");
			return CC_ERROR;
		}
	}
	snprintf(r->key_tenant, sizeof(r->key_tenant), "%s", PQgetvalue(res, 0, 0));
	snprintf(r->key_id, sizeof(r->key_id), "%s", PQgetvalue(res, 0, 1));
	snprintf(r->agent_ext, sizeof(r->agent_ext), "%s", PQgetvalue(res, 0, 2));
	r->role = strcmp(PQgetvalue(res, 0, 5), "supervisor") == 0 ? TN_R_SUP : TN_R_AGENT;
	if (r->role == TN_R_SUP) {
		free(r->supervises);
		r->supervises = strdup(PQgetvalue(res, 0, 6));
		CC_BUG_ON(!r->supervises);
	}
	PQclear(res);
	r->desk = true;
	return CC_OK;
}

const char *tn_desk_cookie(struct tn_req *r)
{
	return MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, DESK_COOKIE);
}

/* ------------------------------------------------------ the page */

/* What the page may load and talk to: its own files and API, and the SIP
 * WebSocket; no inline script, no frame around it, no other site. */
static char *csp(struct tn_req *r)
{
	return cc_sprintf("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
	                  "connect-src 'self' %s; media-src 'self' blob:; font-src 'self'; "
	                  "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
	                  r->d->cfg.desk_wss);
}

static void send_page(struct tn_req *r, const char *type, const void *body, size_t len)
{
	char *policy = csp(r);
	const char *const extra[] = { "Content-Security-Policy", policy, "X-Content-Type-Options",
	                              "nosniff", "Referrer-Policy", "no-referrer", "X-Frame-Options",
	                              "DENY", "Cache-Control", "no-cache", NULL };

	CC_BUG_ON(!policy);
	tn_reply_bytes_h(r, 200, type, body, len, extra);
	free(policy);
}

static const struct { const char *ext, *type; } types[] = {
	{ ".html", "text/html; charset=utf-8" }, { ".js", "text/javascript; charset=utf-8" },
	{ ".css", "text/css; charset=utf-8" }, { ".svg", "image/svg+xml" }, { ".png", "image/png" },
	{ ".json", "application/json" },
};

/* A file of CC_WEB_DIR (make all's build/web): a plain name only, of a
 * type the page uses; anything else is 404 */
static void page_file(struct tn_req *r, const char *name)
{
	const char *type = NULL, *dot = strrchr(name, '.');
	char *path, *buf = NULL;
	size_t n = 0, cap = 0;
	FILE *f;

	if (!*name || name[0] == '.' || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789._-") !=
	    strlen(name) || strlen(name) > 64)
		return tn_error(r, 404, "not_found", NULL, "no such file");
	for (size_t i = 0; dot && i < CC_ARRAY_LEN(types); i++)
		if (strcmp(dot, types[i].ext) == 0)
			type = types[i].type;
	if (!type)
		return tn_error(r, 404, "not_found", NULL, "no such file");
	path = cc_sprintf("%s/%s", r->d->cfg.web_dir, name);
	CC_BUG_ON(!path);
	f = fopen(path, "rb");
	free(path);
	if (!f)
		return tn_error(r, 404, "not_found", NULL, "no such file");
	for (;;) {
		if (n == cap) {
			char *nb = cap < 4 << 20 ? realloc(buf, cap ? cap * 2 : 65536) : NULL;

			if (!nb) {
				free(buf);
				fclose(f);
				return tn_error(r, 500, "internal", NULL, "the page's file is too big");
			}
			buf = nb;
			cap = cap ? cap * 2 : 65536;
		}
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	fclose(f);
	send_page(r, type, buf, n);
	free(buf);
}

static void page_index(struct tn_req *r) { page_file(r, "index.html"); }

static void page_named(struct tn_req *r)
{
	if (strcmp(r->params[0], "config.json") == 0) {
		/* where the page's SIP stack connects (CC_DESK_WSS) */
		json_t *c = json_pack("{s:s}", "wss", r->d->cfg.desk_wss);
		char *text = json_dumps(c, JSON_COMPACT);

		CC_BUG_ON(!text);
		send_page(r, "application/json", text, strlen(text));
		free(text);
		json_decref(c);
		return;
	}
	page_file(r, r->params[0]);
}

/* the supervisors' wallboard (docs/DESK.md "Wallboard") */
static void page_wall(struct tn_req *r) { page_file(r, "wall.html"); }

static void page_slash(struct tn_req *r)
{
	tn_reply_raw(r, 308, "text/plain", "/desk/\n", "Location", "/desk/", NULL);
}

const struct tn_route tn_desk_routes[] = {
	{ "GET", "/desk", TN_STATIC, NULL, page_slash, false, false },
	{ "GET", "/desk/", TN_STATIC, NULL, page_index, false, false },
	{ "GET", "/desk/wall", TN_STATIC, NULL, page_wall, false, false },
	{ "GET", "/desk/{file}", TN_STATIC, NULL, page_named, false, false },
	{ "POST", "/v1/tenants/{slug}/desk/session", TN_PUBLIC, signin_fields, signin, false, false },
	{ "GET", "/v1/tenants/{slug}/desk/session", TN_TENANT, NULL, whoami, false, false },
	{ "DELETE", "/v1/tenants/{slug}/desk/session", TN_TENANT, NULL, signout, false, false },
	{ NULL, NULL, 0, NULL, NULL, false, false },
};
