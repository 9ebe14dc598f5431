/*
 * tenants.c: /v1/tenants. The operator creates a tenant with its SIP
 * domain (<slug>.<platform domain>, a row in Kamailio's `domain` with
 * did = tenant id) and its first admin API key, in one transaction; the
 * key is shown once and stored only as a SHA-256 hash. DELETE disables:
 * the domain leaves Kamailio (no registrations, no agent calls) and
 * routingd stops routing the tenant's numbers; the data stays.
 */
#include "api.h"
#include "cc.h"
#include "tenantd.h"

#include <string.h>
#include <sys/stat.h>

static const char COLS[] = "id, slug, name, timezone, sip_domain, enabled, "
	TN_TS("created_at") ", "
	TN_TS("updated_at");

static json_t *row(const PGresult *res, int i)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:o, s:o}",
	                 "id", PQgetvalue(res, i, 0), "slug", PQgetvalue(res, i, 1),
	                 "name", PQgetvalue(res, i, 2), "timezone", PQgetvalue(res, i, 3),
	                 "sip_domain", PQgetvalue(res, i, 4),
	                 "enabled", PQgetvalue(res, i, 5)[0] == 't',
	                 "created_at", tn_time(res, i, 6), "updated_at", tn_time(res, i, 7));
}

static int check_slug(struct tn_req *r, json_t *v, char **err)
{
	const char *s = json_string_value(v);
	size_t n = strlen(s);

	if (n < 3 || n > 32 || s[0] < 'a' || s[0] > 'z' || s[n - 1] == '-' ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") != n)
		return cc_fail(err, "must be 3 to 32 of a-z, 0-9 and '-', starting with a letter");
	return CC_OK;
}

/* IANA names as the system's zoneinfo knows them ("Asia/Shanghai"). */
static int check_timezone(struct tn_req *r, json_t *v, char **err)
{
	const char *s = json_string_value(v);
	size_t n = strlen(s);
	struct stat st;
	char path[256];

	if (n < 1 || n > 64 || s[0] == '/' || strstr(s, "..") ||
	    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+-/") != n)
		return cc_fail(err, "is not an IANA time zone name");
	snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", s);
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return cc_fail(err, "is not a known time zone");
	return CC_OK;
}

static const struct tn_field create_fields[] = {
	{ "slug", JSON_STRING, true, check_slug, NULL },
	{ "name", JSON_STRING, true, tn_check_name, NULL },
	{ "timezone", JSON_STRING, true, check_timezone, NULL },
	{ NULL, 0, false, NULL, NULL },
};

static const struct tn_field patch_fields[] = {
	{ "name", JSON_STRING, false, tn_check_name, NULL },
	{ "timezone", JSON_STRING, false, check_timezone, NULL },
	{ "enabled", JSON_TRUE, false, NULL, NULL },
	{ NULL, 0, false, NULL, NULL },
};

static json_t *select_one(struct tn_req *r, const char *id)
{
	const char *p[1] = { id };
	char *sql = cc_sprintf("SELECT %s FROM cc.tenants WHERE id = $1", COLS);
	PGresult *res = cc_pg_exec(&r->d->pg, sql, 1, p);
	json_t *out = NULL;

	free(sql);
	if (res && PQntuples(res) == 1)
		out = row(res, 0);
	if (res)
		PQclear(res);
	return out;
}

static void create(struct tn_req *r)
{
	struct tenantd *d = r->d;
	char id[CC_UUID_LEN], key_id[CC_UUID_LEN], key[CC_TOKEN_LEN], hash[CC_SHA256_HEX];
	char *domain = cc_sprintf("%s.%s", tn_str(r, "slug"), d->cfg.sip_domain);
	const char *p[5] = { id, tn_str(r, "slug"), tn_str(r, "name"), tn_str(r, "timezone"), domain };
	const char *pd[2] = { domain, id };
	const char *pk[3] = { key_id, id, hash };
	json_t *out;

	if (tn_new_id(r, id) != CC_OK || tn_new_id(r, key_id) != CC_OK || tn_new_token(r, key) != CC_OK)
		return;
	cc_sha256_hex(key, strlen(key), hash);
	if (tn_begin(r) != CC_OK ||
	    cc_pg_cmd(&d->pg, "INSERT INTO cc.tenants (id, slug, name, timezone, sip_domain) "
	              "VALUES ($1, $2, $3, $4, $5)", 5, p) != CC_OK ||
	    cc_pg_cmd(&d->pg, "INSERT INTO kamailio.domain (domain, did, last_modified) "
	              "VALUES ($1, $2, now())", 2, pd) != CC_OK ||
	    cc_pg_cmd(&d->pg, "INSERT INTO cc.api_keys (id, tenant_id, key_hash) "
	              "VALUES ($1, $2, $3)", 3, pk) != CC_OK ||
	    !(out = select_one(r, id)) || tn_commit(r) != CC_OK) {
		tn_rollback(r, "tenant slug");
		free(domain);
		return;
	}
	json_object_set_new(out, "admin_api_key", json_string(key));
	tn_notify(d, id, "tenant", "domain.reload");
	/* the key must not be replayed from the idempotency table in clear */
	free(r->idem_key);
	r->idem_key = NULL;
	tn_reply(r, 201, out);
	free(domain);
}

static void list(struct tn_req *r)
{
	const char *after, *p[2];
	char lim[8], *sql;
	int limit;
	PGresult *res;

	if (tn_page(r, &limit, &after) != CC_OK)
		return;
	snprintf(lim, sizeof(lim), "%d", limit);
	p[0] = after ? after : ""; p[1] = lim;
	sql = cc_sprintf("SELECT %s FROM cc.tenants WHERE slug > $1 ORDER BY slug LIMIT $2", COLS);
	res = cc_pg_exec(&r->d->pg, sql, 2, p);
	free(sql);
	if (!res)
		return tn_db_error(r, "tenants");
	tn_reply_page(r, res, row, limit, 1);
}

static void get(struct tn_req *r)
{
	json_t *out = select_one(r, r->tenant.id);

	if (!out)
		return tn_db_error(r, "tenant");
	tn_reply(r, 200, out);
}

static void patch(struct tn_req *r)
{
	const char *p[4] = { r->tenant.id, tn_str(r, "name"), tn_str(r, "timezone"), NULL };
	json_t *en = json_object_get(r->body, "enabled");
	const char *pd[2] = { r->tenant.sip_domain, r->tenant.id };
	json_t *out;

	if (en)
		p[3] = json_is_true(en) ? "true" : "false";
	if (tn_begin(r) != CC_OK ||
	    cc_pg_cmd(&r->d->pg, "UPDATE cc.tenants SET name = COALESCE($2, name), "
	              "timezone = COALESCE($3, timezone), enabled = COALESCE($4::boolean, enabled), "
	              "updated_at = now() WHERE id = $1", 4, p) != CC_OK ||
	    (en && json_is_false(en) &&
	     cc_pg_cmd(&r->d->pg, "DELETE FROM kamailio.domain WHERE did = $1", 1, p) != CC_OK) ||
	    (en && json_is_true(en) &&
	     cc_pg_cmd(&r->d->pg, "INSERT INTO kamailio.domain (domain, did, last_modified) "
	               "VALUES ($1, $2, now()) ON CONFLICT (domain) DO NOTHING", 2, pd) != CC_OK) ||
	    !(out = select_one(r, r->tenant.id)) || tn_commit(r) != CC_OK)
		return tn_rollback(r, "tenant");
	tn_notify(r->d, r->tenant.id, "tenant", en ? "domain.reload" : NULL);
	tn_reply(r, 200, out);
}

static void disable(struct tn_req *r)
{
	const char *p[1] = { r->tenant.id };

	if (tn_begin(r) != CC_OK ||
	    cc_pg_cmd(&r->d->pg, "UPDATE cc.tenants SET enabled = false, updated_at = now() "
	              "WHERE id = $1", 1, p) != CC_OK ||
	    cc_pg_cmd(&r->d->pg, "DELETE FROM kamailio.domain WHERE did = $1", 1, p) != CC_OK ||
	    tn_commit(r) != CC_OK)
		return tn_rollback(r, "tenant");
	tn_notify(r->d, r->tenant.id, "tenant", "domain.reload");
	tn_no_content(r);
}

const struct tn_route tn_tenant_routes[] = {
	{ "POST", "/v1/tenants", TN_OPERATOR, create_fields, create, false, false },
	{ "GET", "/v1/tenants", TN_OPERATOR, NULL, list, false, false },
	{ "GET", "/v1/tenants/{slug}", TN_TENANT, NULL, get, false, false },
	{ "PATCH", "/v1/tenants/{slug}", TN_OPERATOR_ON_TENANT, patch_fields, patch, true, false },
	{ "DELETE", "/v1/tenants/{slug}", TN_OPERATOR_ON_TENANT, NULL, disable, false, false },
	{ NULL, NULL, 0, NULL, NULL, false, false },
};
