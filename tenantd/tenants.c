/*
 * tenants.c: /v1/tenants. The operator creates a tenant with its SIP
 * domain (<slug>.<platform domain>, a row in Kamailio's `domain` with
 * did = tenant id) and its first admin API key, in one transaction; the
 * key is shown once and stored only as a SHA-256 hash. DELETE disables:
 * the domain leaves Kamailio (no registrations, no agent calls) and
 * routingd stops routing the tenant's numbers; the data stays, but every
 * version of the tenant's recording key is destroyed in the same
 * transaction (crypto-shredding: its recordings unreadable for good, 410).
 *
 * Settings of PSTN calls (PATCH): caller_id, the number presented on the
 * tenant's PSTN calls (one of its own numbers, else 422; null clears it,
 * and then PSTN calls are refused), and unparseable_callers ("refuse" or
 * "allow": what the block list does with a caller number it cannot read),
 * which the tenant sets itself; pstn_without_plan (outbound PSTN with no
 * billing plan), max_concurrent_calls and max_calls_per_second (null: no
 * limit), which only the operator sets (a tenant's key gets 403 for them).
 * language ("zh", the default, or "en"), set by the tenant too: the
 * language of the ACD's announcements to its callers (position, wait,
 * callback).
 */
#include "api.h"
#include "cc.h"
#include "reccrypt.h"
#include "tenantd.h"

#include <string.h>
#include <sys/stat.h>

static const char COLS[] = "id, slug, name, timezone, sip_domain, enabled, "
	TN_TS("created_at") ", "
	TN_TS("updated_at") ", "
	"caller_id, pstn_without_plan, max_concurrent_calls, max_calls_per_second, "
	"unparseable_callers, language";

static json_t *text_or_null(const PGresult *res, int i, int col)
{
	return PQgetisnull(res, i, col) ? json_null() : json_string(PQgetvalue(res, i, col));
}

static json_t *int_or_null(const PGresult *res, int i, int col)
{
	return PQgetisnull(res, i, col) ? json_null() : json_integer(atoll(PQgetvalue(res, i, col)));
}

static json_t *row(const PGresult *res, int i)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:o, s:o, s:o, s:b, s:o, s:o, s:s, s:s}",
	                 "id", PQgetvalue(res, i, 0), "slug", PQgetvalue(res, i, 1),
	                 "name", PQgetvalue(res, i, 2), "timezone", PQgetvalue(res, i, 3),
	                 "sip_domain", PQgetvalue(res, i, 4),
	                 "enabled", PQgetvalue(res, i, 5)[0] == 't',
	                 "created_at", tn_time(res, i, 6), "updated_at", tn_time(res, i, 7),
	                 "caller_id", text_or_null(res, i, 8),
	                 "pstn_without_plan", PQgetvalue(res, i, 9)[0] == 't',
	                 "max_concurrent_calls", int_or_null(res, i, 10),
	                 "max_calls_per_second", int_or_null(res, i, 11),
	                 "unparseable_callers", PQgetvalue(res, i, 12),
	                 "language", PQgetvalue(res, i, 13));
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

/* what mediad speaks to the tenant's callers where a prompt exists in both */
static int check_language(struct tn_req *r, json_t *v, char **err)
{
	const char *s = json_string_value(v);

	if (strcmp(s, "zh") != 0 && strcmp(s, "en") != 0)
		return cc_fail(err, "must be \"zh\" or \"en\"");
	return CC_OK;
}

static const struct tn_field create_fields[] = {
	{ "slug", JSON_STRING, true, check_slug, NULL, false },
	{ "name", JSON_STRING, true, tn_check_name, NULL, false },
	{ "timezone", JSON_STRING, true, check_timezone, NULL, false },
	{ "language", JSON_STRING, false, check_language, NULL, false },
	{ NULL, 0, false, NULL, NULL, false },
};

static int check_max_calls(struct tn_req *r, json_t *v, char **err)
{
	json_int_t n = json_integer_value(v);

	if (n < 0 || n > 100000)
		return cc_fail(err, "must be 0 to 100000, or null for no limit");
	return CC_OK;
}

static int check_max_cps(struct tn_req *r, json_t *v, char **err)
{
	json_int_t n = json_integer_value(v);

	if (n < 0 || n > 10000)
		return cc_fail(err, "must be 0 to 10000, or null for no limit");
	return CC_OK;
}

static int check_unparseable(struct tn_req *r, json_t *v, char **err)
{
	const char *s = json_string_value(v);

	if (strcmp(s, "refuse") != 0 && strcmp(s, "allow") != 0)
		return cc_fail(err, "must be \"refuse\" or \"allow\"");
	return CC_OK;
}

static const struct tn_field patch_fields[] = {
	{ "name", JSON_STRING, false, tn_check_name, NULL, false },
	{ "timezone", JSON_STRING, false, check_timezone, NULL, false },
	{ "enabled", JSON_TRUE, false, NULL, NULL, false },
	{ "caller_id", JSON_STRING, false, tn_check_e164, NULL, true },
	{ "unparseable_callers", JSON_STRING, false, check_unparseable, NULL, false },
	{ "language", JSON_STRING, false, check_language, NULL, false },
	{ "pstn_without_plan", JSON_TRUE, false, NULL, NULL, false },
	{ "max_concurrent_calls", JSON_INTEGER, false, check_max_calls, NULL, true },
	{ "max_calls_per_second", JSON_INTEGER, false, check_max_cps, NULL, true },
	{ NULL, 0, false, NULL, NULL, false },
};
static const char *const patch_nullable[] = { "caller_id", "max_concurrent_calls",
                                              "max_calls_per_second", NULL };
/* what a tenant's own key may change; the rest is the operator's */
static const char *const tenant_settable[] = { "caller_id", "unparseable_callers", "language",
                                               NULL };
static const char *const patch_cols[] = { "name", "timezone", "enabled", "caller_id",
                                          "unparseable_callers", "language", "pstn_without_plan",
                                          "max_concurrent_calls", "max_calls_per_second", NULL };

static bool listed(const char *const *names, const char *name)
{
	for (; *names; names++)
		if (strcmp(*names, name) == 0)
			return true;
	return false;
}

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
	const char *lang = tn_str(r, "language");
	const char *p[6] = { id, tn_str(r, "slug"), tn_str(r, "name"), tn_str(r, "timezone"), domain,
	                     lang ? lang : "zh" };
	const char *pd[2] = { domain, id };
	const char *pk[3] = { key_id, id, hash };
	json_t *out;

	if (tn_new_id(r, id) != CC_OK || tn_new_id(r, key_id) != CC_OK || tn_new_token(r, key) != CC_OK)
		return;
	cc_sha256_hex(key, strlen(key), hash);
	if (tn_begin(r) != CC_OK ||
	    cc_pg_cmd(&d->pg, "INSERT INTO cc.tenants (id, slug, name, timezone, sip_domain, language) "
	              "VALUES ($1, $2, $3, $4, $5, $6)", 6, p) != CC_OK ||
	    cc_pg_cmd(&d->pg, "INSERT INTO kamailio.domain (domain, did, last_modified) "
	              "VALUES ($1, $2, now())", 2, pd) != CC_OK ||
	    cc_pg_cmd(&d->pg, "INSERT INTO cc.api_keys (id, tenant_id, key_hash) "
	              "VALUES ($1, $2, $3)", 3, pk) != CC_OK ||
	    !(out = select_one(r, id))) {
		tn_rollback(r, "tenant slug");
		free(domain);
		return;
	}
	if (tn_commit(r) != CC_OK) {
		json_decref(out);
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
	const char *p[1] = { r->tenant.id }, *cli, *key;
	json_t *en, *v, *out;
	const char *pd[2] = { r->tenant.sip_domain, r->tenant.id };
	PGresult *res;

	if (tn_patch_body(r, patch_fields, patch_nullable) != CC_OK)
		return;
	json_object_foreach(r->body, key, v) {
		if (!r->is_operator && !listed(tenant_settable, key))
			return tn_error(r, 403, "forbidden", key, "'%s' is set by the operator", key);
	}
	/* one of this tenant's own numbers: the same 422 for anyone else's */
	if ((cli = tn_str(r, "caller_id"))) {
		int mine = tn_number_of_tenant(r, r->tenant.id, cli);

		if (mine < 0)
			return;
		if (!mine)
			return tn_error(r, 422, "invalid_argument", "caller_id",
			                "'caller_id' must be one of this tenant's numbers");
	}
	en = json_object_get(r->body, "enabled");
	if (tn_begin(r) != CC_OK)
		return tn_rollback(r, "tenant");
	res = tn_patch_update(r, "cc.tenants", patch_cols, "id = $1", 1, p, NULL);
	if (!res)
		return tn_rollback(r, "tenant");
	PQclear(res);
	if ((en && json_is_false(en) &&
	     cc_pg_cmd(&r->d->pg, "DELETE FROM kamailio.domain WHERE did = $1", 1, p) != CC_OK) ||
	    (en && json_is_true(en) &&
	     cc_pg_cmd(&r->d->pg, "INSERT INTO kamailio.domain (domain, did, last_modified) "
	               "VALUES ($1, $2, now()) ON CONFLICT (domain) DO NOTHING", 2, pd) != CC_OK) ||
	    !(out = select_one(r, r->tenant.id)))
		return tn_rollback(r, "tenant");
	if (tn_commit(r) != CC_OK) {
		json_decref(out);
		return tn_rollback(r, "tenant");
	}
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
	    cc_tenant_kek_destroy(&r->d->pg, r->tenant.id) != CC_REC_OK ||
	    tn_commit(r) != CC_OK)
		return tn_rollback(r, "tenant");
	tn_notify(r->d, r->tenant.id, "tenant", "domain.reload");
	tn_no_content(r);
}

const struct tn_route tn_tenant_routes[] = {
	{ "POST", "/v1/tenants", TN_OPERATOR, create_fields, create, false, false },
	{ "GET", "/v1/tenants", TN_OPERATOR, NULL, list, false, false },
	{ "GET", "/v1/tenants/{slug}", TN_TENANT, NULL, get, false, false },
	/* fields checked by the handler: some may be null, some are the operator's */
	{ "PATCH", "/v1/tenants/{slug}", TN_TENANT, patch_fields, patch, true, false },
	{ "DELETE", "/v1/tenants/{slug}", TN_OPERATOR_ON_TENANT, NULL, disable, false, false },
	{ NULL, NULL, 0, NULL, NULL, false, false },
};
