/*
 * queues.c: a tenant's ACD queues (/v1/tenants/{slug}/queues/{name}),
 * docs/ACD.md. Only the configuration lives here (cc.queues, migration
 * 0006); who waits and who is ready is routingd's, which hears of every
 * change on cc.cfg.<tenant> and reloads the tenant.
 *
 * A POST or PATCH is checked in two steps: api.c checks each field's type
 * and range (its 422 names the field), then this file checks the queue as
 * a whole against the tenant: music and prompts are the tenant's current
 * prompts or the platform's defaults, an overflow target exists in this
 * tenant (a queue, an agent's extension, a flow, a +E.164 number, or a
 * hangup), and queue overflows never form a cycle (a queue overflowing to
 * itself, directly or through others: a caller would go round for ever).
 * The cycle check and the write run in one transaction holding the
 * tenant's overflow lock, so two PATCHes cannot close a cycle between them.
 *
 * A PATCH merges: top-level fields replace, "announce", "sticky" and
 * "callback" merge field by field, "overflow" is replaced whole (null: no
 * overflow). The name never changes (flows and numbers name it).
 *
 * DELETE answers 409 while a number targets the queue, a flow's current
 * version has a queue node naming it, or another queue overflows to it.
 */
#include "api.h"
#include "cc.h"
#include "tenantd.h"

#include <stdio.h>
#include <string.h>

static const char *const STRATEGIES[] = {
	"ring_all", "longest_idle", "round_robin", "fewest_calls", "least_talk_time", "random",
	"skills", NULL,
};

#define TN_MAX_LEVELS 32             /* names of a levels object (an agent's queues) */

static const char COLS[] = "id, name, strategy, ring_timeout_s, wrapup_s, max_wait_s, max_size, "
	"overflow_type, overflow_target, overflow_prompt, music, announce_position, announce_wait, "
	"announce_every_s, service_level_s, required_skills::text, sticky_within_days, sticky_ring_s, "
	"callback, callback_retries, callback_interval_s, "
	TN_TS("created_at") ", " TN_TS("updated_at") ", recording, recording_percent";

/* the columns written, in the order of the statements' parameters $3.. */
static const char *const WCOLS[] = {
	"strategy", "ring_timeout_s", "wrapup_s", "max_wait_s", "max_size", "overflow_type",
	"overflow_target", "overflow_prompt", "music", "announce_position", "announce_wait",
	"announce_every_s", "service_level_s", "required_skills", "sticky_within_days",
	"sticky_ring_s", "callback", "callback_retries", "callback_interval_s",
};
#define N_WCOLS ((int)CC_ARRAY_LEN(WCOLS))

static json_t *integer(const PGresult *res, int i, int col)
{
	return json_integer(atoll(PQgetvalue(res, i, col)));
}

static json_t *boolean(const PGresult *res, int i, int col)
{
	return json_boolean(PQgetvalue(res, i, col)[0] == 't');
}

static json_t *overflow_of(const PGresult *res, int i)
{
	const char *type;
	json_t *o;

	if (PQgetisnull(res, i, 7))
		return json_null();
	type = PQgetvalue(res, i, 7);
	o = json_pack("{s:s}", "type", type);
	if (!PQgetisnull(res, i, 8)) {
		const char *key = strcmp(type, "agent") == 0 ? "extension"
		                  : strcmp(type, "number") == 0 ? "number" : "name";

		json_object_set_new(o, key, json_string(PQgetvalue(res, i, 8)));
	}
	if (!PQgetisnull(res, i, 9))
		json_object_set_new(o, "prompt", json_string(PQgetvalue(res, i, 9)));
	return o;
}

static json_t *row(const PGresult *res, int i)
{
	json_t *skills = json_loads(PQgetvalue(res, i, 15), 0, NULL);
	json_t *q = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:s, s:{s:o, s:o, s:o}, s:o, "
	                 "s:o, s:{s:o, s:o}, s:{s:o, s:o, s:o}, s:o, s:o}",
	                 "id", PQgetvalue(res, i, 0), "name", PQgetvalue(res, i, 1),
	                 "strategy", PQgetvalue(res, i, 2), "ring_timeout_s", integer(res, i, 3),
	                 "wrapup_s", integer(res, i, 4), "max_wait_s", integer(res, i, 5),
	                 "max_size", integer(res, i, 6), "overflow", overflow_of(res, i),
	                 "music", PQgetvalue(res, i, 10),
	                 "announce", "position", boolean(res, i, 11), "wait", boolean(res, i, 12),
	                 "every_s", integer(res, i, 13),
	                 "service_level_s", integer(res, i, 14),
	                 "required_skills", skills ? skills : json_object(),
	                 "sticky", "within_days", integer(res, i, 16), "ring_s", integer(res, i, 17),
	                 "callback", "enabled", boolean(res, i, 18), "retries", integer(res, i, 19),
	                 "interval_s", integer(res, i, 20),
	                 "created_at", tn_time(res, i, 21), "updated_at", tn_time(res, i, 22));

	/* docs/RECORDING.md: null inherits the tenant's policy */
	json_object_set_new(q, "recording", PQgetisnull(res, i, 23) ? json_null()
	                    : json_string(PQgetvalue(res, i, 23)));
	json_object_set_new(q, "recording_percent", PQgetisnull(res, i, 24) ? json_null()
	                    : json_integer(atoi(PQgetvalue(res, i, 24))));
	return q;
}

/* ------------------------------------------------------------ checks */

bool tn_code_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	return n >= 1 && n <= max && strchr("abcdefghijklmnopqrstuvwxyz0123456789", s[0]) &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

static int check_name(struct tn_req *r, json_t *v, char **err)
{
	if (!tn_code_ok(json_string_value(v), 63))
		return cc_fail(err, "must be 1 to 63 of a-z, 0-9, '_' and '-', starting with a letter "
		               "or digit");
	return CC_OK;
}

static int check_strategy(struct tn_req *r, json_t *v, char **err)
{
	for (const char *const *s = STRATEGIES; *s; s++)
		if (strcmp(*s, json_string_value(v)) == 0)
			return CC_OK;
	return cc_fail(err, "must be one of ring_all, longest_idle, round_robin, fewest_calls, "
	               "least_talk_time, random, skills");
}

#define RANGE(fn, lo, hi)                                                             \
	static int fn(struct tn_req *r, json_t *v, char **err)                        \
	{                                                                             \
		json_int_t n = json_integer_value(v);                                 \
		if (n < (lo) || n > (hi))                                             \
			return cc_fail(err, "must be %d to %d", (lo), (hi));          \
		return CC_OK;                                                         \
	}
RANGE(check_ring, 5, 120)
RANGE(check_wrapup, 0, 3600)
RANGE(check_max_wait, 0, 86400)
RANGE(check_max_size, 0, 10000)
RANGE(check_every, 10, 600)
RANGE(check_sl, 1, 3600)
RANGE(check_days, 0, 365)
RANGE(check_retries, 0, 10)
RANGE(check_interval, 10, 3600)

static int check_overflow_type(struct tn_req *r, json_t *v, char **err)
{
	static const char *const types[] = { "queue", "agent", "number", "flow", "hangup", NULL };

	for (const char *const *t = types; *t; t++)
		if (strcmp(*t, json_string_value(v)) == 0)
			return CC_OK;
	return cc_fail(err, "must be one of queue, agent, number, flow, hangup");
}

/* {"name": lo..hi}: names of the code form, at most TN_MAX_LEVELS */
int tn_check_levels(json_t *v, int lo, int hi, char **err)
{
	const char *k;
	json_t *lv;

	if (json_object_size(v) > TN_MAX_LEVELS)
		return cc_fail(err, "may name at most %d", TN_MAX_LEVELS);
	json_object_foreach(v, k, lv) {
		if (!tn_code_ok(k, 63))
			return cc_fail(err, "has a name of the wrong form (1 to 63 of a-z, 0-9, '_' "
			               "and '-', starting with a letter or digit)");
		if (!json_is_integer(lv) || json_integer_value(lv) < lo || json_integer_value(lv) > hi)
			return cc_fail(err, "%.63s: must be an integer %d to %d", k, lo, hi);
	}
	return CC_OK;
}

int tn_check_skills(json_t *v, char **err)
{
	if (json_object_size(v) > TN_ACD_SKILLS_MAX)
		return cc_fail(err, "may name at most %d skills (the ACD's limit)", TN_ACD_SKILLS_MAX);
	return tn_check_levels(v, 1, 5, err);
}

static int check_skills(struct tn_req *r, json_t *v, char **err)
{
	return tn_check_skills(v, err);
}

/* true / false, or {"enabled"?, "retries"?, "interval_s"?} */
static int check_callback(struct tn_req *r, json_t *v, char **err)
{
	const char *k;
	json_t *x;

	if (json_is_boolean(v))
		return CC_OK;
	if (!json_is_object(v))
		return cc_fail(err, "must be a boolean or an object {\"retries\",\"interval_s\"}");
	json_object_foreach(v, k, x) {
		if (strcmp(k, "enabled") == 0) {
			if (!json_is_boolean(x))
				return cc_fail(err, "enabled: must be a boolean");
		} else if (strcmp(k, "retries") == 0 || strcmp(k, "interval_s") == 0) {
			bool retries = k[0] == 'r';

			if (!json_is_integer(x) ||
			    (retries ? check_retries(r, x, err) : check_interval(r, x, err)) != CC_OK) {
				free(*err);
				*err = NULL;
				return cc_fail(err, "%s: must be an integer %s", k,
				               retries ? "0 to 10" : "10 to 3600");
			}
		} else {
			return cc_fail(err, "has an unknown field '%.40s'", k);
		}
	}
	return CC_OK;
}

static const struct tn_field overflow_fields[] = {
	{ "type", JSON_STRING, true, check_overflow_type, NULL, false },
	{ "name", JSON_STRING, false, check_name, NULL, false },
	{ "extension", JSON_STRING, false, tn_check_extension, NULL, false },
	{ "number", JSON_STRING, false, tn_check_e164, NULL, false },
	{ "prompt", JSON_STRING, false, check_name, NULL, false },
	{ NULL, 0, false, NULL, NULL, false },
};

static const struct tn_field announce_fields[] = {
	{ "position", JSON_TRUE, false, NULL, NULL, false },
	{ "wait", JSON_TRUE, false, NULL, NULL, false },
	{ "every_s", JSON_INTEGER, false, check_every, NULL, false },
	{ NULL, 0, false, NULL, NULL, false },
};

static const struct tn_field sticky_fields[] = {
	{ "within_days", JSON_INTEGER, false, check_days, NULL, false },
	{ "ring_s", JSON_INTEGER, false, check_ring, NULL, false },
	{ NULL, 0, false, NULL, NULL, false },
};

#define QUEUE_FIELDS                                                                       \
	{ "strategy", JSON_STRING, false, check_strategy, NULL, false },                   \
	{ "ring_timeout_s", JSON_INTEGER, false, check_ring, NULL, false },                \
	{ "wrapup_s", JSON_INTEGER, false, check_wrapup, NULL, false },                    \
	{ "max_wait_s", JSON_INTEGER, false, check_max_wait, NULL, false },                \
	{ "max_size", JSON_INTEGER, false, check_max_size, NULL, false },                  \
	{ "overflow", JSON_OBJECT, false, NULL, overflow_fields, true },                   \
	{ "music", JSON_STRING, false, check_name, NULL, false },                          \
	{ "announce", JSON_OBJECT, false, NULL, announce_fields, false },                  \
	{ "service_level_s", JSON_INTEGER, false, check_sl, NULL, false },                 \
	{ "required_skills", JSON_OBJECT, false, check_skills, NULL, false },              \
	{ "sticky", JSON_OBJECT, false, NULL, sticky_fields, false },                      \
	{ "callback", TN_ANY, false, check_callback, NULL, false },                        \
	{ "recording", JSON_STRING, false, tn_check_rec_policy, NULL, true },              \
	{ "recording_percent", JSON_INTEGER, false, tn_check_rec_percent, NULL, true },

static const struct tn_field create_fields[] = {
	{ "name", JSON_STRING, true, check_name, NULL, false },
	QUEUE_FIELDS
	{ NULL, 0, false, NULL, NULL, false },
};

static const struct tn_field patch_fields[] = {
	QUEUE_FIELDS
	{ NULL, 0, false, NULL, NULL, false },
};

int tn_prompt_exists(struct tn_req *r, const char *name)
{
	const char *p[2] = { r->tenant.id, name };
	PGresult *res;
	int n;

	if (tn_prompt_is_default(name))
		return 1;
	res = cc_pg_exec(&r->d->pg, "SELECT 1 FROM cc.prompts WHERE tenant_id = $1 AND name = $2 "
	                 "AND current", 2, p);
	if (!res) {
		tn_db_error(r, "prompt");
		return CC_ERROR;
	}
	n = PQntuples(res);
	PQclear(res);
	return n ? 1 : 0;
}

int tn_queue_id(struct tn_req *r, const char *name, char *id, bool lock)
{
	const char *p[2] = { r->tenant.id, name };
	PGresult *res;
	int n;

	if (!tn_code_ok(name, 63))
		return 0;
	res = cc_pg_exec(&r->d->pg, lock ? "SELECT id FROM cc.queues WHERE tenant_id = $1 AND name = $2 "
	                 "FOR SHARE" : "SELECT id FROM cc.queues WHERE tenant_id = $1 AND name = $2", 2, p);
	if (!res) {
		tn_db_error(r, "queue");
		return CC_ERROR;
	}
	n = PQntuples(res);
	if (n && id)
		snprintf(id, CC_UUID_LEN, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return n ? 1 : 0;
}

/* 1 if sql ($1 tenant, $2 key) finds a row, 0 if not, CC_ERROR after answering. */
static int exists(struct tn_req *r, const char *sql, const char *key, const char *what)
{
	const char *p[2] = { r->tenant.id, key };
	PGresult *res = cc_pg_exec(&r->d->pg, sql, 2, p);
	int n;

	if (!res) {
		tn_db_error(r, what);
		return CC_ERROR;
	}
	n = PQntuples(res);
	PQclear(res);
	return n ? 1 : 0;
}

/* ---------------------------------------------------------- the whole */

/* The queue as stored for a POST: the defaults of migration 0006. */
static json_t *defaults(void)
{
	return json_pack("{s:s, s:i, s:i, s:i, s:i, s:n, s:s, s:{s:b, s:b, s:i}, s:i, s:{}, "
	                 "s:{s:i, s:i}, s:{s:b, s:i, s:i}}",
	                 "strategy", "longest_idle", "ring_timeout_s", 15, "wrapup_s", 10,
	                 "max_wait_s", 300, "max_size", 50, "overflow", "music", "hold_music",
	                 "announce", "position", 1, "wait", 1, "every_s", 30, "service_level_s", 20,
	                 "required_skills", "sticky", "within_days", 0, "ring_s", 15,
	                 "callback", "enabled", 0, "retries", 2, "interval_s", 60);
}

/* body's fields over q (see the head of the file for how). */
static void merge(json_t *q, json_t *body)
{
	const char *k;
	json_t *v;

	json_object_foreach(body, k, v) {
		if (strcmp(k, "callback") == 0 && json_is_boolean(v)) {
			json_object_set(json_object_get(q, "callback"), "enabled", v);
		} else if (strcmp(k, "callback") == 0) {
			json_t *cb = json_object_get(q, "callback");

			/* an object without "enabled" turns callbacks on */
			json_object_set_new(cb, "enabled", json_true());
			json_object_update(cb, v);
		} else if (strcmp(k, "announce") == 0 || strcmp(k, "sticky") == 0) {
			json_object_update(json_object_get(q, k), v);
		} else {
			json_object_set(q, k, v);
		}
	}
}

/* The overflow target against the tenant; into type/target/prompt the
 * columns (NULL when none). CC_ERROR after answering. */
static int check_overflow(struct tn_req *r, json_t *ov, const char *self, const char **type,
                          const char **target, const char **prompt)
{
	const char *t, *key, *keys[] = { "name", "extension", "number" };
	int rc;

	*type = *target = *prompt = NULL;
	if (!json_is_object(ov))
		return CC_OK;
	t = json_string_value(json_object_get(ov, "type"));
	key = strcmp(t, "agent") == 0 ? "extension" : strcmp(t, "number") == 0 ? "number"
	      : strcmp(t, "hangup") == 0 ? NULL : "name";
	for (size_t i = 0; i < CC_ARRAY_LEN(keys); i++) {
		char field[40];

		snprintf(field, sizeof(field), "overflow.%s", keys[i]);
		if (json_object_get(ov, keys[i]) && (!key || strcmp(key, keys[i]) != 0)) {
			tn_error(r, 422, "invalid_argument", field, "an overflow of type %s has no '%s'",
			         t, keys[i]);
			return CC_ERROR;
		}
	}
	if (key && !json_object_get(ov, key)) {
		char field[40];

		snprintf(field, sizeof(field), "overflow.%s", key);
		tn_error(r, 422, "invalid_argument", field, "an overflow of type %s needs '%s'", t, key);
		return CC_ERROR;
	}
	*type = t;
	*target = key ? json_string_value(json_object_get(ov, key)) : NULL;
	*prompt = json_string_value(json_object_get(ov, "prompt"));
	if (*prompt && (rc = tn_prompt_exists(r, *prompt)) != 1) {
		if (rc == 0)
			tn_error(r, 422, "invalid_argument", "overflow.prompt", "no prompt '%s'", *prompt);
		return CC_ERROR;
	}
	if (strcmp(t, "agent") == 0) {
		rc = exists(r, "SELECT 1 FROM cc.agents WHERE tenant_id = $1 AND extension = $2",
		            *target, "agent");
		if (rc == 0)
			tn_error(r, 422, "invalid_argument", "overflow.extension",
			         "no agent with extension %s", *target);
		return rc == 1 ? CC_OK : CC_ERROR;
	}
	if (strcmp(t, "flow") == 0) {
		rc = exists(r, "SELECT 1 FROM cc.flows WHERE tenant_id = $1 AND name = $2", *target,
		            "flow");
		if (rc == 0)
			tn_error(r, 422, "invalid_argument", "overflow.name", "no flow '%s'", *target);
		return rc == 1 ? CC_OK : CC_ERROR;
	}
	if (strcmp(t, "queue") != 0)
		return CC_OK;
	if (strcmp(*target, self) == 0) {
		tn_error(r, 422, "invalid_argument", "overflow.name",
		         "a queue cannot overflow to itself");
		return CC_ERROR;
	}
	rc = tn_queue_id(r, *target, NULL, true);
	if (rc == 0)
		tn_error(r, 422, "invalid_argument", "overflow.name", "no queue '%s' (create it first)",
		         *target);
	if (rc != 1)
		return CC_ERROR;
	{
		/* the overflows from the target on: the stored graph has no cycle
		 * (every write checks it under the tenant's lock), so the walk ends */
		const char *p[3] = { r->tenant.id, *target, self };
		PGresult *res = cc_pg_exec(&r->d->pg,
			"WITH RECURSIVE chain(name, path, depth) AS ("
			" SELECT $2::text, ARRAY[$2::text], 0"
			" UNION ALL"
			" SELECT q.overflow_target, c.path || q.overflow_target, c.depth + 1"
			" FROM chain c JOIN cc.queues q ON q.tenant_id = $1 AND q.name = c.name"
			" AND q.overflow_type = 'queue' WHERE c.name <> $3 AND c.depth < 10000)"
			" SELECT array_to_string(path, ' -> ') FROM chain WHERE name = $3 LIMIT 1", 3, p);

		if (!res) {
			tn_db_error(r, "queue");
			return CC_ERROR;
		}
		if (PQntuples(res)) {
			tn_error(r, 422, "invalid_argument", "overflow.name",
			         "the overflows would go round in a cycle: %s -> %s", self,
			         PQgetvalue(res, 0, 0));
			PQclear(res);
			return CC_ERROR;
		}
		PQclear(res);
	}
	return CC_OK;
}

static json_t *select_one(struct tn_req *r, const char *name)
{
	const char *p[2] = { r->tenant.id, name };
	char *sql = cc_sprintf("SELECT %s FROM cc.queues WHERE tenant_id = $1 AND name = $2", COLS);
	PGresult *res = cc_pg_exec(&r->d->pg, sql, 2, p);
	json_t *out = NULL;

	free(sql);
	if (res && PQntuples(res) == 1)
		out = row(res, 0);
	if (res)
		PQclear(res);
	return out;
}

static char *int_text(json_t *o, const char *k)
{
	return cc_sprintf("%lld", (long long)json_integer_value(json_object_get(o, k)));
}

/* Checks q as a whole and writes it (INSERT when id is new, else UPDATE),
 * in the open transaction. CC_ERROR after answering (the caller rolls
 * back without answering). */
static int write_queue(struct tn_req *r, json_t *q, const char *id, const char *name, bool insert)
{
	const char *p[3 + N_WCOLS], *ot, *otarget, *oprompt, *music;
	char *own[N_WCOLS] = { NULL };
	json_t *an = json_object_get(q, "announce"), *st = json_object_get(q, "sticky"),
	       *cb = json_object_get(q, "callback");
	char *sql;
	int rc, k = 0;

	music = json_string_value(json_object_get(q, "music"));
	if ((rc = tn_prompt_exists(r, music)) != 1) {
		if (rc == 0)
			tn_error(r, 422, "invalid_argument", "music", "no prompt '%s' (upload it first, or "
			         "use a default: hold_music, please_hold)", music);
		return CC_ERROR;
	}
	if (check_overflow(r, json_object_get(q, "overflow"), name, &ot, &otarget, &oprompt) != CC_OK)
		return CC_ERROR;
	p[0] = id;
	p[1] = r->tenant.id;
	p[2 + k++] = json_string_value(json_object_get(q, "strategy"));
	p[2 + k] = own[k] = int_text(q, "ring_timeout_s"); k++;
	p[2 + k] = own[k] = int_text(q, "wrapup_s"); k++;
	p[2 + k] = own[k] = int_text(q, "max_wait_s"); k++;
	p[2 + k] = own[k] = int_text(q, "max_size"); k++;
	p[2 + k++] = ot;
	p[2 + k++] = otarget;
	p[2 + k++] = oprompt;
	p[2 + k++] = music;
	p[2 + k++] = json_is_true(json_object_get(an, "position")) ? "true" : "false";
	p[2 + k++] = json_is_true(json_object_get(an, "wait")) ? "true" : "false";
	p[2 + k] = own[k] = int_text(an, "every_s"); k++;
	p[2 + k] = own[k] = int_text(q, "service_level_s"); k++;
	p[2 + k] = own[k] = json_dumps(json_object_get(q, "required_skills"), JSON_COMPACT); k++;
	p[2 + k] = own[k] = int_text(st, "within_days"); k++;
	p[2 + k] = own[k] = int_text(st, "ring_s"); k++;
	p[2 + k++] = json_is_true(json_object_get(cb, "enabled")) ? "true" : "false";
	p[2 + k] = own[k] = int_text(cb, "retries"); k++;
	p[2 + k] = own[k] = int_text(cb, "interval_s"); k++;
	CC_BUG_ON(k != N_WCOLS);
	if (insert) {
		char cols[512] = "", vals[256] = "";

		for (int i = 0; i < N_WCOLS; i++) {
			snprintf(cols + strlen(cols), sizeof(cols) - strlen(cols), ", %s", WCOLS[i]);
			snprintf(vals + strlen(vals), sizeof(vals) - strlen(vals), ", $%d%s", i + 3,
			         strcmp(WCOLS[i], "required_skills") == 0 ? "::jsonb" : "");
		}
		sql = cc_sprintf("INSERT INTO cc.queues (id, tenant_id, name%s) VALUES ($1, $2, $%d%s)",
		                 cols, 3 + N_WCOLS, vals);
	} else {
		char set[768] = "";

		for (int i = 0; i < N_WCOLS; i++)
			snprintf(set + strlen(set), sizeof(set) - strlen(set), "%s = $%d%s, ", WCOLS[i],
			         i + 3, strcmp(WCOLS[i], "required_skills") == 0 ? "::jsonb" : "");
		sql = cc_sprintf("UPDATE cc.queues SET %supdated_at = now() WHERE id = $1 AND "
		                 "tenant_id = $2", set);
	}
	p[2 + N_WCOLS] = name;
	rc = cc_pg_cmd(&r->d->pg, sql, insert ? 3 + N_WCOLS : 2 + N_WCOLS, p);
	free(sql);
	for (int i = 0; i < N_WCOLS; i++)
		free(own[i]);
	if (rc != CC_OK) {
		tn_db_error(r, "a queue with this name");
		return CC_ERROR;
	}
	return CC_OK;
}

/* The tenant's lock on its queues' overflow graph, for this transaction. */
static int lock_graph(struct tn_req *r)
{
	const char *p[1] = { r->tenant.id };

	if (cc_pg_cmd(&r->d->pg, "SELECT pg_advisory_xact_lock(hashtext('cc.queues:' || $1))", 1,
	              p) != CC_OK) {
		tn_db_error(r, "queue");
		return CC_ERROR;
	}
	return CC_OK;
}

/* ----------------------------------------------------------- handlers */

static void create(struct tn_req *r)
{
	const char *name = tn_str(r, "name");
	char id[CC_UUID_LEN];
	json_t *q, *body = json_deep_copy(r->body), *out;

	json_object_del(body, "name");
	q = defaults();
	merge(q, body);
	json_decref(body);
	if (tn_new_id(r, id) != CC_OK)
		goto done;
	if (tn_begin(r) != CC_OK) {
		tn_rollback(r, "queue");
		goto done;
	}
	if (lock_graph(r) != CC_OK || write_queue(r, q, id, name, true) != CC_OK ||
	    tn_rec_policy_write(r, "cc.queues", id) != CC_OK) {
		tn_abort(r);
		goto done;
	}
	if (tn_commit(r) != CC_OK) {
		tn_rollback(r, "a queue with this name");
		goto done;
	}
	tn_notify(r->d, r->tenant.id, "queue", NULL);
	if (!(out = select_one(r, name)))
		tn_db_error(r, "queue");
	else
		tn_reply(r, 201, out);
done:
	json_decref(q);
}

static void list(struct tn_req *r)
{
	tn_list_page(r, cc_sprintf("SELECT %s FROM cc.queues WHERE tenant_id = $1 AND name > $2 "
	                           "ORDER BY name LIMIT $3", COLS),
	             "queues", row, 1);
}

static void get(struct tn_req *r)
{
	json_t *out = tn_code_ok(r->params[1], 63) ? select_one(r, r->params[1]) : NULL;

	if (!out && r->d->pg.error == CC_PG_OK)
		return tn_error(r, 404, "not_found", NULL, "no such queue");
	if (!out)
		return tn_db_error(r, "queue");
	tn_reply(r, 200, out);
}

static void patch(struct tn_req *r)
{
	const char *name = r->params[1];
	char id[CC_UUID_LEN];
	json_t *q = NULL, *out;
	int rc;

	if (tn_patch_body(r, patch_fields, NULL) != CC_OK)
		return;
	if (tn_begin(r) != CC_OK)
		return tn_rollback(r, "queue");
	if (lock_graph(r) != CC_OK || (rc = tn_queue_id(r, name, id, true)) < 0) {
		tn_abort(r);
		return;
	}
	if (rc == 0) {
		tn_abort(r);
		return tn_error(r, 404, "not_found", NULL, "no such queue");
	}
	if (!(q = select_one(r, name))) {
		tn_rollback(r, "queue");
		return;
	}
	merge(q, r->body);
	if (write_queue(r, q, id, name, false) != CC_OK ||
	    tn_rec_policy_write(r, "cc.queues", id) != CC_OK) {
		tn_abort(r);
		json_decref(q);
		return;
	}
	json_decref(q);
	if (tn_commit(r) != CC_OK)
		return tn_rollback(r, "queue");
	tn_notify(r->d, r->tenant.id, "queue", NULL);
	if (!(out = select_one(r, name)))
		return tn_db_error(r, "queue");
	tn_reply(r, 200, out);
}

/* A 409 listing up to 5 of what res found (column 0), or CC_OK if none. */
static int in_use(struct tn_req *r, PGresult *res, const char *what)
{
	char names[256] = "";

	if (!PQntuples(res))
		return CC_OK;
	for (int i = 0; i < PQntuples(res) && i < 5; i++)
		snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", i ? ", " : "",
		         PQgetvalue(res, i, 0));
	tn_abort(r);
	tn_error(r, 409, "conflict", NULL, "the queue is in use: %s %s%s", what, names,
	         PQntuples(res) > 5 ? ", ..." : "");
	return CC_ERROR;
}

static void remove_queue(struct tn_req *r)
{
	const char *name = r->params[1];
	char id[CC_UUID_LEN];
	/* $1 the tenant, $2 the queue's id or name */
	static const struct {
		const char *sql, *what;
		bool by_id;
	} users[] = {
		{ "SELECT e164 FROM cc.numbers WHERE tenant_id = $1 AND target_queue = $2::uuid "
		  "ORDER BY e164 LIMIT 6", "numbers point at it:", true },
		{ "SELECT f.name FROM cc.flows f JOIN cc.flow_versions v ON v.id = f.version_id "
		  "WHERE f.tenant_id = $1 AND $2 = ANY (v.queues) ORDER BY f.name LIMIT 6",
		  "flows send callers to it:", false },
		{ "SELECT name FROM cc.queues WHERE tenant_id = $1 AND overflow_type = 'queue' AND "
		  "overflow_target = $2 ORDER BY name LIMIT 6", "queues overflow to it:", false },
	};
	PGresult *res;
	int rc;

	if (tn_begin(r) != CC_OK)
		return tn_rollback(r, "queue");
	if (lock_graph(r) != CC_OK) {
		tn_abort(r);
		return;
	}
	{
		const char *p[2] = { r->tenant.id, name };

		if (!tn_code_ok(name, 63)) {
			tn_abort(r);
			return tn_error(r, 404, "not_found", NULL, "no such queue");
		}
		if (!(res = cc_pg_exec(&r->d->pg, "SELECT id FROM cc.queues WHERE tenant_id = $1 AND "
		                       "name = $2 FOR UPDATE", 2, p)))
			return tn_rollback(r, "queue");
		if (PQntuples(res) != 1) {
			PQclear(res);
			tn_abort(r);
			return tn_error(r, 404, "not_found", NULL, "no such queue");
		}
		snprintf(id, sizeof(id), "%s", PQgetvalue(res, 0, 0));
		PQclear(res);
	}
	for (size_t i = 0; i < CC_ARRAY_LEN(users); i++) {
		const char *p[2] = { r->tenant.id, users[i].by_id ? id : name };

		if (!(res = cc_pg_exec(&r->d->pg, users[i].sql, 2, p)))
			return tn_rollback(r, "queue");
		rc = in_use(r, res, users[i].what);
		PQclear(res);
		if (rc != CC_OK)
			return;
	}
	{
		const char *p[2] = { r->tenant.id, id };

		if (cc_pg_cmd(&r->d->pg, "DELETE FROM cc.queues WHERE tenant_id = $1 AND id = $2", 2,
		              p) != CC_OK || tn_commit(r) != CC_OK)
			return tn_rollback(r, "queue");
	}
	tn_notify(r->d, r->tenant.id, "queue", NULL);
	tn_no_content(r);
}

const struct tn_route tn_queue_routes[] = {
	{ "POST", "/v1/tenants/{slug}/queues", TN_TENANT, create_fields, create, false, false },
	{ "GET", "/v1/tenants/{slug}/queues", TN_TENANT, NULL, list, false, false },
	{ "GET", "/v1/tenants/{slug}/queues/{name}", TN_TENANT, NULL, get, false, false },
	{ "PATCH", "/v1/tenants/{slug}/queues/{name}", TN_TENANT, patch_fields, patch, true, false },
	{ "DELETE", "/v1/tenants/{slug}/queues/{name}", TN_TENANT, NULL, remove_queue, false, false },
	{ NULL, NULL, 0, NULL, NULL, false, false },
};
