/*
 * keys.c: a tenant's API keys with their roles (docs/RECORDING.md
 * "Roles"), the audit log, the recording policy and the retention.
 *
 * A key is shown once, in the 201 of its POST, and stored as its SHA-256
 * only (as the tenant's first, tenants.c). A supervisor or agent key acts
 * as one agent of the tenant ("agent": its extension). DELETE revokes: the
 * row stays (revoked_at), the token answers 401 from then on.
 */
#include "api.h"
#include "cc.h"
#include "log.h"
#include "reccrypt.h"
#include "tenantd.h"

#include <string.h>

/* ---------------------------------------------------------------- keys */

static int check_role(struct tn_req *r, json_t *v, char **err)
{
	if (!tn_role_bit(json_string_value(v)))
		return cc_fail(err, "must be one of admin, supervisor, agent, records_admin, read_only");
	return CC_OK;
}

static const struct tn_field key_fields[] = {
	{ "role", JSON_STRING, true, check_role, NULL, false },
	{ "agent", JSON_STRING, false, tn_check_extension, NULL, false },
	{ "name", JSON_STRING, false, tn_check_name, NULL, false },
	{ NULL, 0, false, NULL, NULL, false },
};

static const char KEY_COLS[] = "k.id, k.role, a.extension, k.name, " TN_TS("k.created_at") ", "
	TN_TS("k.revoked_at");

static json_t *key_row(const PGresult *res, int i)
{
	return json_pack("{s:s, s:s, s:o, s:o, s:o, s:o}", "id", PQgetvalue(res, i, 0),
	                 "role", PQgetvalue(res, i, 1),
	                 "agent", PQgetisnull(res, i, 2) ? json_null() : json_string(PQgetvalue(res, i, 2)),
	                 "name", PQgetisnull(res, i, 3) ? json_null() : json_string(PQgetvalue(res, i, 3)),
	                 "created_at", tn_time(res, i, 4), "revoked_at", tn_time(res, i, 5));
}

static void key_create(struct tn_req *r)
{
	const char *role = tn_str(r, "role"), *agent = tn_str(r, "agent");
	bool needs_agent = strcmp(role, "supervisor") == 0 || strcmp(role, "agent") == 0;
	char id[CC_UUID_LEN], key[CC_TOKEN_LEN], hash[CC_SHA256_HEX], *sql;
	const char *p[6] = { id, r->tenant.id, hash, role, agent, tn_str(r, "name") };
	PGresult *res;
	json_t *out;

	if (needs_agent != (agent != NULL))
		return tn_error(r, 422, "invalid_argument", "agent", needs_agent ?
		                "a %s key acts as an agent: give its extension" :
		                "only supervisor and agent keys name an agent", role);
	if (tn_new_id(r, id) != CC_OK || tn_new_token(r, key) != CC_OK)
		return;
	cc_sha256_hex(key, strlen(key), hash);
	/* the agent of this tenant only: another tenant's extension is not found */
	res = cc_pg_exec(&r->d->pg, "INSERT INTO cc.api_keys (id, tenant_id, key_hash, role, agent_id, "
	                 "name) SELECT $1, $2, $3, $4, (SELECT id FROM cc.agents WHERE tenant_id = $2 "
	                 "AND extension = $5), $6 WHERE $5::text IS NULL OR EXISTS (SELECT 1 FROM "
	                 "cc.agents WHERE tenant_id = $2 AND extension = $5) RETURNING id", 6, p);
	if (!res)
		return tn_db_error(r, "key");
	if (PQntuples(res) != 1) {
		PQclear(res);
		return tn_error(r, 422, "invalid_argument", "agent", "no agent '%s' in this tenant", agent);
	}
	PQclear(res);
	sql = cc_sprintf("SELECT %s FROM cc.api_keys k LEFT JOIN cc.agents a ON a.id = k.agent_id "
	                 "WHERE k.id = $1", KEY_COLS);
	res = cc_pg_exec(&r->d->pg, sql, 1, p);
	free(sql);
	if (!res || PQntuples(res) != 1) {
		if (res)
			PQclear(res);
		return tn_db_error(r, "key");
	}
	out = key_row(res, 0);
	PQclear(res);
	json_object_set_new(out, "token", json_string(key));
	tn_audit(r, "create_key", "api_key", id, json_pack("{s:s}", "role", role));
	/* the token must not be replayed from the idempotency table in clear */
	free(r->idem_key);
	r->idem_key = NULL;
	tn_reply(r, 201, out);
}

static void key_list(struct tn_req *r)
{
	const char *after, *p[3];
	char lim[8], *sql;
	int limit;
	PGresult *res;

	if (tn_page(r, &limit, &after) != CC_OK)
		return;
	snprintf(lim, sizeof(lim), "%d", limit);
	p[0] = r->tenant.id; p[1] = after && cc_uuid_valid(after) ? after : NULL; p[2] = lim;
	if (after && !p[1])
		return tn_error(r, 400, "invalid_argument", "after", "after is not a cursor of this list");
	sql = cc_sprintf("SELECT %s FROM cc.api_keys k LEFT JOIN cc.agents a ON a.id = k.agent_id "
	                 "WHERE k.tenant_id = $1 AND ($2::uuid IS NULL OR k.id > $2::uuid) "
	                 "ORDER BY k.id LIMIT $3", KEY_COLS);
	res = cc_pg_exec(&r->d->pg, sql, 3, p);
	free(sql);
	if (!res)
		return tn_db_error(r, "keys");
	tn_reply_page(r, res, key_row, limit, 0);
}

static void key_revoke(struct tn_req *r)
{
	const char *p[2] = { r->tenant.id, r->params[1] };
	PGresult *res = cc_pg_exec(&r->d->pg, "UPDATE cc.api_keys SET revoked_at = now() "
	                           "WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL RETURNING id",
	                           2, p);

	if (!res)
		return tn_db_error(r, "key");
	if (PQntuples(res) != 1) {
		PQclear(res);
		return tn_error(r, 404, "not_found", NULL, "no such key");
	}
	PQclear(res);
	tn_audit(r, "revoke_key", "api_key", r->params[1], NULL);
	tn_no_content(r);
}

/* --------------------------------------------------------------- audit */

static json_t *audit_row(const PGresult *res, int i)
{
	json_t *detail = json_loads(PQgetvalue(res, i, 9), 0, NULL);

	return json_pack("{s:I, s:o, s:s, s:o, s:s, s:s, s:s, s:o, s:o}",
	                 "id", (json_int_t)atoll(PQgetvalue(res, i, 0)), "at", tn_time(res, i, 1),
	                 "actor", PQgetvalue(res, i, 2),
	                 "role", PQgetisnull(res, i, 3) ? json_null() : json_string(PQgetvalue(res, i, 3)),
	                 "action", PQgetvalue(res, i, 4), "object_type", PQgetvalue(res, i, 5),
	                 "object_id", PQgetvalue(res, i, 6),
	                 "remote", PQgetisnull(res, i, 7) ? json_null() : json_string(PQgetvalue(res, i, 7)),
	                 "detail", detail ? detail : json_object());
}

static void audit_list(struct tn_req *r)
{
	const char *after, *object = tn_query(r, "object"), *p[4];
	char lim[8];
	int limit;
	PGresult *res;

	if (tn_page(r, &limit, &after) != CC_OK)
		return;
	if (after && (strlen(after) > 18 || strspn(after, "0123456789") != strlen(after) || !after[0]))
		return tn_error(r, 400, "invalid_argument", "after", "after is not a cursor of this list");
	if (object && (strlen(object) > 64 || !object[0]))
		return tn_error(r, 400, "invalid_argument", "object", "object must be 1 to 64 characters");
	snprintf(lim, sizeof(lim), "%d", limit);
	p[0] = r->tenant.id; p[1] = object; p[2] = after; p[3] = lim;
	/* the trailing column (9) is the detail; 8 is unused so the cursor is the id */
	res = cc_pg_exec(&r->d->pg, "SELECT id, " TN_TS("at") ", actor, role, action, object_type, "
	                 "object_id, remote, id, detail::text FROM cc.audit WHERE tenant_id = $1 "
	                 "AND ($2::text IS NULL OR object_id = $2) AND ($3::bigint IS NULL OR id > $3::bigint) "
	                 "ORDER BY id LIMIT $4", 4, p);
	if (!res)
		return tn_db_error(r, "audit");
	tn_reply_page(r, res, audit_row, limit, 0);
}

/* ---------------------------------------------------- recording policy */

int tn_check_rec_policy(struct tn_req *r, json_t *v, char **err)
{
	const char *s = json_string_value(v);

	if (strcmp(s, "all") != 0 && strcmp(s, "none") != 0 && strcmp(s, "percent") != 0)
		return cc_fail(err, "must be \"all\", \"none\" or \"percent\"");
	return CC_OK;
}

int tn_check_rec_percent(struct tn_req *r, json_t *v, char **err)
{
	json_int_t n = json_integer_value(v);

	if (n < 0 || n > 100)
		return cc_fail(err, "must be 0 to 100");
	return CC_OK;
}

int tn_rec_policy_whole(struct tn_req *r, const char *policy, json_t *percent, const char *field)
{
	bool is_percent = policy && strcmp(policy, "percent") == 0;
	bool has = percent && !json_is_null(percent);

	if (is_percent && !has) {
		tn_error(r, 422, "invalid_argument", field,
		         "the policy \"percent\" needs a percent (0 to 100)");
		return CC_ERROR;
	}
	if (!is_percent && has) {
		tn_error(r, 422, "invalid_argument", field,
		         "a percent goes only with the policy \"percent\"");
		return CC_ERROR;
	}
	return CC_OK;
}

int tn_rec_policy_write(struct tn_req *r, const char *table, const char *id)
{
	json_t *pol = json_object_get(r->body, "recording");
	json_t *pc = json_object_get(r->body, "recording_percent");
	char pct[8], *sql;
	const char *p[3] = { id, json_string_value(pol), NULL };
	int rc;

	if (!pol && !pc)
		return CC_OK;
	if (!pol) {
		tn_error(r, 422, "invalid_argument", "recording_percent",
		         "give \"recording\" with \"recording_percent\"");
		return CC_ERROR;
	}
	if (tn_rec_policy_whole(r, p[1], pc, "recording_percent") != CC_OK)
		return CC_ERROR;
	if (pc && !json_is_null(pc)) {
		snprintf(pct, sizeof(pct), "%lld", (long long)json_integer_value(pc));
		p[2] = pct;
	}
	sql = cc_sprintf("UPDATE %s SET recording = $2, recording_percent = $3::integer WHERE id = $1",
	                 table);
	rc = cc_pg_cmd(&r->d->pg, sql, 3, p);
	free(sql);
	if (rc != CC_OK) {
		tn_db_error(r, "recording policy");
		return CC_ERROR;
	}
	return CC_OK;
}

static const struct tn_field policy_fields[] = {
	{ "policy", JSON_STRING, true, tn_check_rec_policy, NULL, false },
	{ "percent", JSON_INTEGER, false, tn_check_rec_percent, NULL, false },
	{ NULL, 0, false, NULL, NULL, false },
};

static void policy_reply(struct tn_req *r, int status)
{
	const char *p[1] = { r->tenant.id };
	PGresult *res = cc_pg_exec(&r->d->pg, "SELECT recording_policy, recording_percent, "
	                           "retention_days FROM cc.tenants WHERE id = $1", 1, p);

	if (!res || PQntuples(res) != 1) {
		if (res)
			PQclear(res);
		return tn_db_error(r, "tenant");
	}
	tn_reply(r, status, json_pack("{s:s, s:o, s:i}", "policy", PQgetvalue(res, 0, 0),
	                              "percent", PQgetisnull(res, 0, 1) ? json_null()
	                              : json_integer(atoi(PQgetvalue(res, 0, 1))),
	                              "retention_days", atoi(PQgetvalue(res, 0, 2))));
	PQclear(res);
}

static void policy_get(struct tn_req *r)
{
	policy_reply(r, 200);
}

static void policy_put(struct tn_req *r)
{
	const char *pol = tn_str(r, "policy");
	json_t *pc = json_object_get(r->body, "percent");
	char pct[8];
	const char *p[3] = { r->tenant.id, pol, NULL };

	if (tn_rec_policy_whole(r, pol, pc, "percent") != CC_OK)
		return;
	if (pc) {
		snprintf(pct, sizeof(pct), "%lld", (long long)json_integer_value(pc));
		p[2] = pct;
	}
	if (cc_pg_cmd(&r->d->pg, "UPDATE cc.tenants SET recording_policy = $2, recording_percent = "
	              "$3::integer, updated_at = now() WHERE id = $1", 3, p) != CC_OK)
		return tn_db_error(r, "recording policy");
	tn_notify(r->d, r->tenant.id, "recording", NULL);
	policy_reply(r, 200);
}

/* ----------------------------------------------------------- retention */

static int check_days(struct tn_req *r, json_t *v, char **err)
{
	json_int_t n = json_integer_value(v);

	if (n < 1 || n > 3650)
		return cc_fail(err, "must be 1 to 3650");
	return CC_OK;
}

static const struct tn_field retention_fields[] = {
	{ "days", JSON_INTEGER, true, check_days, NULL, false },
	{ NULL, 0, false, NULL, NULL, false },
};

static void retention_reply(struct tn_req *r)
{
	const char *p[1] = { r->tenant.id };
	PGresult *res = cc_pg_exec(&r->d->pg, "SELECT retention_days FROM cc.tenants WHERE id = $1",
	                           1, p);

	if (!res || PQntuples(res) != 1) {
		if (res)
			PQclear(res);
		return tn_db_error(r, "tenant");
	}
	tn_reply(r, 200, json_pack("{s:i}", "days", atoi(PQgetvalue(res, 0, 0))));
	PQclear(res);
}

static void retention_put(struct tn_req *r)
{
	char days[16];
	const char *p[2] = { r->tenant.id, days };

	snprintf(days, sizeof(days), "%lld", (long long)json_integer_value(json_object_get(r->body, "days")));
	if (cc_pg_cmd(&r->d->pg, "UPDATE cc.tenants SET retention_days = $2::integer, updated_at = now() "
	              "WHERE id = $1", 2, p) != CC_OK)
		return tn_db_error(r, "retention");
	tn_audit(r, "retention", "tenant", r->tenant.id, json_pack("{s:i}", "days", atoi(days)));
	retention_reply(r);
}

/* ------------------------------------------------------------ rotation */

/* A new version of the tenant's key; every recording's data key re-wrapped
 * under it and the old versions destroyed, audited, in one transaction
 * (lib/reccrypt.h). The local KMS is memory only: no worker needed. */
static void key_rotate(struct tn_req *r)
{
	struct cc_kms *kms = NULL;
	long rewrapped = 0;
	int version = 0, err;

	if (cc_kms_local_open(r->d->cfg.secrets_dir, &kms) != 0)
		return tn_error(r, 503, "unavailable", NULL, "the key store is unavailable");
	if (tn_begin(r) != CC_OK) {
		kms->close(kms);
		return tn_rollback(r, "tenant key");
	}
	err = cc_tenant_kek_rotate(&r->d->pg, kms, r->tenant.id, &version, &rewrapped);
	kms->close(kms);
	if (err) {
		CC_ERR("tenant %s: key rotation failed: %s", r->tenant.id, cc_rec_strerror(err));
		return tn_rollback(r, "tenant key");
	}
	if (tn_audit(r, "rotate", "tenant_key", r->tenant.id,
	             json_pack("{s:i, s:I}", "kek_version", version, "rewrapped",
	                       (json_int_t)rewrapped)) != CC_OK ||
	    tn_commit(r) != CC_OK)
		return tn_rollback(r, "tenant key");
	tn_reply(r, 200, json_pack("{s:i, s:I}", "kek_version", version, "rewrapped",
	                           (json_int_t)rewrapped));
}

const struct tn_route tn_key_routes[] = {
	{ "POST", "/v1/tenants/{slug}/keys/rotate", TN_TENANT, NULL, key_rotate, false, false },
	{ "POST", "/v1/tenants/{slug}/keys", TN_TENANT, key_fields, key_create, false, false },
	{ "GET", "/v1/tenants/{slug}/keys", TN_TENANT, NULL, key_list, false, false },
	{ "DELETE", "/v1/tenants/{slug}/keys/{id}", TN_TENANT, NULL, key_revoke, false, false },
	{ "GET", "/v1/tenants/{slug}/audit", TN_TENANT, NULL, audit_list, false, false },
	{ "GET", "/v1/tenants/{slug}/recording", TN_TENANT, NULL, policy_get, false, false },
	{ "PUT", "/v1/tenants/{slug}/recording", TN_TENANT, policy_fields, policy_put, false, false },
	{ "GET", "/v1/tenants/{slug}/retention", TN_TENANT, NULL, retention_reply, false, false },
	{ "PUT", "/v1/tenants/{slug}/retention", TN_TENANT, retention_fields, retention_put, false,
	  false },
	{ NULL, NULL, 0, NULL, NULL, false, false },
};
