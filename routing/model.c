/*
 * model.c: routingd's model, loaded from PostgreSQL in one snapshot
 * (REPEATABLE READ) so numbers never point at agents of another snapshot.
 */
#include "model.h"
#include "cc.h"
#include "log.h"
#include "model_acd.h"

#include <stdatomic.h>
#include <string.h>

/* models are made on the loader's thread and read on the loop's */
static atomic_uint_least64_t generations;

struct rt_model *rt_model_new(void)
{
	struct rt_model *m = calloc(1, sizeof(*m));

	CC_BUG_ON(!m);
	m->generation = atomic_fetch_add(&generations, 1) + 1;
	/* keys are the numbers' digits and the tenants' ids: a patch clones
	 * these maps with one memcpy, not a million copies of their keys */
	cc_map_init_borrowed(&m->numbers);
	cc_map_init_borrowed(&m->tenants);
	return m;
}

/* A model lets go of a tenant; the last one frees it and its numbers. */
static void free_tenant(void *p)
{
	struct rt_tenant *t = p;

	if (--t->refs > 0)
		return;
	for (size_t i = 0; i < t->n_nums; i++)
		free(t->nums[i]);
	free(t->nums);
	rt_model_acd_free(t->acd);
	cc_map_free(&t->agents, free);
	cc_map_free(&t->blocked, NULL);
	cc_map_free(&t->blocked_prefix, NULL);
	cc_map_free(&t->refused, NULL);
	free(t->slug);
	free(t->sip_domain);
	free(t->plan);
	free(t);
}

static void free_trunk(void *p)
{
	struct rt_trunk *t = p;

	free(t->name);
	free(t->outbound);
	free(t);
}

void rt_model_free(struct rt_model *m)
{
	if (!m)
		return;
	cc_map_free(&m->numbers, NULL);       /* the tenants own them */
	cc_map_free(&m->tenants, free_tenant);
	cc_map_free(&m->trunks, free_trunk);
	cc_map_free(&m->refused, NULL);
	free(m);
}

struct rt_tenant *rt_model_add_tenant(struct rt_model *m, const char *id, const char *slug,
                                      const char *sip_domain, bool enabled)
{
	struct rt_tenant *t = calloc(1, sizeof(*t));

	CC_BUG_ON(!t);
	snprintf(t->id, sizeof(t->id), "%s", id);
	t->slug = strdup(slug);
	t->sip_domain = strdup(sip_domain);
	t->enabled = enabled;
	t->limits.max_calls = -1;
	t->limits.max_cps = -1;
	t->refs = 1;
	CC_BUG_ON(!t->slug || !t->sip_domain);
	CC_BUG_ON(cc_map_put(&m->tenants, t->id, t) != NULL);
	return t;
}

int rt_model_add_agent(struct rt_tenant *t, const char *extension)
{
	struct rt_agent *a = calloc(1, sizeof(*a));

	CC_BUG_ON(!a);
	snprintf(a->extension, sizeof(a->extension), "%s", extension);
	free(cc_map_put(&t->agents, a->extension, a));
	return CC_OK;
}

int rt_model_add_number(struct rt_model *m, const char *e164, struct rt_tenant *t,
                        const char *extension)
{
	struct rt_number *n = calloc(1, sizeof(*n));

	CC_BUG_ON(!n);
	if (cc_e164_from_sip(e164, strlen(e164), n->digits) != CC_OK) {
		free(n);
		return CC_ERROR;
	}
	n->tenant = t;
	snprintf(n->extension, sizeof(n->extension), "%s", extension);
	if (t->n_nums == t->cap_nums) {
		t->cap_nums = t->cap_nums ? 2 * t->cap_nums : 8;
		t->nums = realloc(t->nums, t->cap_nums * sizeof(*t->nums));
		CC_BUG_ON(!t->nums);
	}
	t->nums[t->n_nums++] = n;
	/* a number twice (not in one snapshot: e164 is unique) keeps the
	 * last; the first stays with its tenant until the tenant is freed */
	cc_map_put(&m->numbers, n->digits, n);
	return CC_OK;
}

int rt_model_add_flow_number(struct rt_model *m, const char *e164, struct rt_tenant *t,
                             const char *version)
{
	if (rt_model_add_number(m, e164, t, "") != CC_OK)
		return CC_ERROR;
	struct rt_number *n = t->nums[t->n_nums - 1];

	n->to_flow = true;
	/* only an id names a version: anything else is a flow gone */
	if (version && cc_uuid_valid(version))
		snprintf(n->flow, sizeof(n->flow), "%s", version);
	return CC_OK;
}

int rt_model_add_queue_number(struct rt_model *m, const char *e164, struct rt_tenant *t,
                              const char *queue)
{
	if (!queue || strlen(queue) >= sizeof(t->nums[0]->queue) ||
	    rt_model_add_number(m, e164, t, "") != CC_OK)
		return CC_ERROR;
	struct rt_number *n = t->nums[t->n_nums - 1];

	n->to_queue = true;
	snprintf(n->queue, sizeof(n->queue), "%s", queue);
	return CC_OK;
}

/* "+digits" of a canonical number into cli, or CC_ERROR (cli unchanged). */
static int set_cli(char cli[CC_E164_MAX + 1], const char *e164)
{
	char digits[CC_E164_MAX];

	if (!e164 || e164[0] != '+' || cc_e164_from_sip(e164, strlen(e164), digits) != CC_OK)
		return CC_ERROR;
	snprintf(cli, CC_E164_MAX + 1, "+%s", digits);
	return CC_OK;
}

int rt_model_set_cli(struct rt_tenant *t, const char *e164)
{
	return set_cli(t->cli, e164);
}

int rt_model_set_agent_cli(struct rt_tenant *t, const char *extension, const char *e164)
{
	struct rt_agent *a = cc_map_get(&t->agents, extension);

	return a ? set_cli(a->cli, e164) : CC_ERROR;
}

int rt_model_add_refused(struct rt_model *m, struct rt_tenant *t, const char *prefix)
{
	char digits[CC_E164_MAX];

	if (cc_e164_prefix(prefix, digits, NULL) != CC_OK)
		return CC_ERROR;
	cc_map_put(t ? &t->refused : &m->refused, digits, (void *)1);
	return CC_OK;
}

int rt_model_add_block(struct rt_tenant *t, const char *e164, const char *prefix)
{
	char digits[CC_E164_MAX];

	if (e164 && cc_e164_from_sip(e164, strlen(e164), digits) == CC_OK) {
		cc_map_put(&t->blocked, digits, (void *)1);
		return CC_OK;
	}
	if (prefix && cc_e164_prefix(prefix, digits, NULL) == CC_OK) {
		cc_map_put(&t->blocked_prefix, digits, (void *)1);
		return CC_OK;
	}
	return CC_ERROR;
}

int rt_model_add_trunk(struct rt_model *m, const char *id, const char *name,
                       const char *outbound)
{
	struct rt_trunk *t = calloc(1, sizeof(*t));

	CC_BUG_ON(!t);
	snprintf(t->id, sizeof(t->id), "%s", id);
	t->name = strdup(name);
	t->outbound = outbound && *outbound ? strdup(outbound) : NULL;
	struct rt_trunk *old = cc_map_put(&m->trunks, t->id, t);

	if (old) {
		if (m->outbound == old)
			m->outbound = NULL;
		free_trunk(old);
	}
	if (t->outbound && !m->outbound)
		m->outbound = t;
	return CC_OK;
}

/* True if a prefix of digits (the whole of it included) is in map. */
static bool has_prefix(const struct cc_map *map, const char *digits)
{
	char p[CC_E164_MAX];
	size_t n = strlen(digits);

	if (!map->len || n >= sizeof(p))
		return false;
	memcpy(p, digits, n + 1);
	for (; n > 0; n--) {
		p[n] = '\0';
		if (cc_map_get(map, p))
			return true;
	}
	return false;
}

bool rt_tenant_blocks(const struct rt_tenant *t, const char *digits)
{
	return cc_map_get(&t->blocked, digits) || has_prefix(&t->blocked_prefix, digits);
}

bool rt_refuses_destination(const struct rt_model *m, const struct rt_tenant *t,
                            const char *digits)
{
	return has_prefix(&m->refused, digits) || has_prefix(&t->refused, digits);
}

/* ------------------------------------------------------------- loading */

/* A query of every tenant's rows (filter NULL) or of some tenants' only:
 * sql's "%s" becomes the filter on its tenant column, with $1 the ids as
 * a PostgreSQL array literal. */
struct filter {
	const char *array;           /* "{id,id}", NULL: every tenant */
};

static PGresult *query(struct cc_pg *pg, const char *sql, const char *col,
                       const struct filter *f, const char *glue, char **err)
{
	char *text = f->array ? cc_sprintf(sql, glue, col, " = ANY($1::uuid[])")
	                      : cc_sprintf(sql, "", "", "");
	const char *params[1] = { f->array };
	PGresult *r;

	CC_BUG_ON(!text);
	r = cc_pg_exec(pg, text, f->array ? 1 : 0, f->array ? params : NULL);
	free(text);
	if (!r)
		cc_fail(err, "%s", pg->message);
	return r;
}

/* model_acd.c's queries, through the same filter */
struct acd_query {
	struct cc_pg *pg;
	const struct filter *f;
};

static PGresult *acd_query(void *ctx, const char *sql, const char *col, char **err)
{
	struct acd_query *a = ctx;

	return query(a->pg, sql, col, a->f, " WHERE ", err);
}

/* Loads the filtered tenants' rows into m (which holds none of them). */
static int load_tenants(struct rt_model *m, struct cc_pg *pg, const struct filter *f, char **err)
{
	PGresult *r;

	/* caller IDs are the tenant's own numbers (foreign keys in 0003) */
	if (!(r = query(pg, "SELECT id, slug, sip_domain, enabled, caller_id, pstn_without_plan, "
	                    "COALESCE(max_concurrent_calls, -1), COALESCE(max_calls_per_second, -1), "
	                    "unparseable_callers = 'allow', language FROM cc.tenants%s%s%s", "id", f, " WHERE ", err)))
		return CC_ERROR;
	for (int i = 0; i < PQntuples(r); i++) {
		struct rt_tenant *t = rt_model_add_tenant(m, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
		                                          PQgetvalue(r, i, 2), PQgetvalue(r, i, 3)[0] == 't');

		if (!PQgetisnull(r, i, 4))
			rt_model_set_cli(t, PQgetvalue(r, i, 4));
		t->pstn_without_plan = PQgetvalue(r, i, 5)[0] == 't';
		t->limits.max_calls = atoi(PQgetvalue(r, i, 6));
		t->limits.max_cps = atoi(PQgetvalue(r, i, 7));
		t->allow_unparseable = PQgetvalue(r, i, 8)[0] == 't';
		/* the column's CHECK allows these two; anything else is the default */
		snprintf(t->lang, sizeof(t->lang), "%s", strcmp(PQgetvalue(r, i, 9), "en") ? "zh" : "en");
	}
	PQclear(r);

	if (!(r = query(pg, "SELECT tenant_id, extension, caller_id FROM cc.agents%s%s%s", "tenant_id",
	                f, " WHERE ", err)))
		return CC_ERROR;
	for (int i = 0; i < PQntuples(r); i++) {
		struct rt_tenant *t = cc_map_get(&m->tenants, PQgetvalue(r, i, 0));

		if (t) {
			rt_model_add_agent(t, PQgetvalue(r, i, 1));
			if (!PQgetisnull(r, i, 2))
				rt_model_set_agent_cli(t, PQgetvalue(r, i, 1), PQgetvalue(r, i, 2));
			m->n_agents++;
		}
	}
	PQclear(r);

	/* the platform's own prefixes (tenant_id NULL) only in a full load */
	if (!(r = query(pg, "SELECT tenant_id, prefix FROM cc.refused_prefixes%s%s%s", "tenant_id", f,
	                " WHERE ", err)))
		return CC_ERROR;
	for (int i = 0; i < PQntuples(r); i++) {
		struct rt_tenant *t = PQgetisnull(r, i, 0) ? NULL
		                      : cc_map_get(&m->tenants, PQgetvalue(r, i, 0));

		if (t || PQgetisnull(r, i, 0))
			rt_model_add_refused(m, t, PQgetvalue(r, i, 1));
	}
	PQclear(r);

	/* only numbers assigned to a tenant and given a target ring anyone; a
	 * flow's target is its version in force (NULL: the flow is gone, the
	 * number answers 404), of the number's own tenant only */
	/* a queue's target is its name, of the number's own tenant (a queue
	 * gone leaves no name: the number answers 404) */
	if (!(r = query(pg, "SELECT n.tenant_id, n.e164, n.target_extension, n.target_flow IS NOT NULL,"
	                    " f.version_id, n.target_queue IS NOT NULL, q.name FROM cc.numbers n"
	                    " LEFT JOIN cc.flows f ON f.id = n.target_flow AND f.tenant_id = n.tenant_id"
	                    " LEFT JOIN cc.queues q ON q.id = n.target_queue AND q.tenant_id = n.tenant_id"
	                    " WHERE n.tenant_id IS NOT NULL AND (n.target_extension IS NOT NULL"
	                    " OR n.target_flow IS NOT NULL OR n.target_queue IS NOT NULL)%s%s%s",
	                "n.tenant_id", f, " AND ", err)))
		return CC_ERROR;
	for (int i = 0; i < PQntuples(r); i++) {
		struct rt_tenant *t = cc_map_get(&m->tenants, PQgetvalue(r, i, 0));

		if (!t)
			continue;
		if (PQgetvalue(r, i, 5)[0] == 't') {
			if (PQgetisnull(r, i, 6) ||
			    rt_model_add_queue_number(m, PQgetvalue(r, i, 1), t, PQgetvalue(r, i, 6)) != CC_OK)
				CC_WARN("number %s of tenant %s: its queue is gone", PQgetvalue(r, i, 1), t->id);
			continue;
		}
		if (PQgetvalue(r, i, 3)[0] == 't')
			rt_model_add_flow_number(m, PQgetvalue(r, i, 1), t,
			                         PQgetisnull(r, i, 4) ? NULL : PQgetvalue(r, i, 4));
		else
			rt_model_add_number(m, PQgetvalue(r, i, 1), t, PQgetvalue(r, i, 2));
	}
	PQclear(r);

	if (!(r = query(pg, "SELECT tenant_id, e164, prefix FROM cc.blocklist%s%s%s", "tenant_id", f,
	                " WHERE ", err)))
		return CC_ERROR;
	for (int i = 0; i < PQntuples(r); i++) {
		struct rt_tenant *t = cc_map_get(&m->tenants, PQgetvalue(r, i, 0));

		if (t)
			rt_model_add_block(t, PQgetisnull(r, i, 1) ? NULL : PQgetvalue(r, i, 1),
			                   PQgetisnull(r, i, 2) ? NULL : PQgetvalue(r, i, 2));
	}
	PQclear(r);

	/* the deck versions in force now and the zone's offset now: both
	 * change with time, so they are refreshed with every reload */
	if (!(r = query(pg, "SELECT p.tenant_id, cur.minor_unit, p.max_call_s, p.no_rate = 'free',"
	                " extract(epoch FROM (now() AT TIME ZONE t.timezone) - (now() AT TIME ZONE 'UTC'))::bigint,"
	                " (SELECT v.id FROM cc.tariff_versions v WHERE v.tariff_id = p.inbound_tariff"
	                "   AND v.effective_from <= now() ORDER BY v.effective_from DESC, v.version DESC LIMIT 1),"
	                " (SELECT v.id FROM cc.tariff_versions v WHERE v.tariff_id = p.outbound_tariff"
	                "   AND v.effective_from <= now() ORDER BY v.effective_from DESC, v.version DESC LIMIT 1)"
	                " FROM cc.billing_plans p JOIN cc.currencies cur ON cur.code = p.currency"
	                " JOIN cc.tenants t ON t.id = p.tenant_id%s%s%s", "p.tenant_id", f, " WHERE ",
	                err)))
		return CC_ERROR;
	for (int i = 0; i < PQntuples(r); i++) {
		struct rt_tenant *t = cc_map_get(&m->tenants, PQgetvalue(r, i, 0));
		struct rt_plan *p;

		if (!t)
			continue;
		p = t->plan = calloc(1, sizeof(*p));
		CC_BUG_ON(!p);
		p->minor = atoi(PQgetvalue(r, i, 1));
		p->max_s = atoll(PQgetvalue(r, i, 2));
		p->no_rate_free = PQgetvalue(r, i, 3)[0] == 't';
		p->utc_offset_s = atoll(PQgetvalue(r, i, 4));
		snprintf(p->in_version, sizeof(p->in_version), "%s", PQgetvalue(r, i, 5));
		snprintf(p->out_version, sizeof(p->out_version), "%s", PQgetvalue(r, i, 6));
	}
	PQclear(r);
	struct acd_query ctx = { pg, f };

	return rt_model_load_acd(m, acd_query, &ctx, err);
}

static int load_trunks(struct rt_model *m, struct cc_pg *pg, char **err)
{
	const struct filter all = { NULL };
	PGresult *r = query(pg, "SELECT id, name, outbound FROM cc.trunks%s%s%s ORDER BY created_at, id",
	                    "", &all, "", err);

	if (!r)
		return CC_ERROR;
	for (int i = 0; i < PQntuples(r); i++)
		rt_model_add_trunk(m, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
		                   PQgetisnull(r, i, 2) ? NULL : PQgetvalue(r, i, 2));
	PQclear(r);
	return CC_OK;
}

static struct rt_model *finish(struct rt_model *m, struct cc_pg *pg, int rc)
{
	if (rc == CC_OK && cc_pg_cmd(pg, "COMMIT", 0, NULL) == CC_OK)
		return m;
	cc_pg_cmd(pg, "ROLLBACK", 0, NULL);
	rt_model_free(m);
	return NULL;
}

struct rt_model *rt_model_load(struct cc_pg *pg, char **err)
{
	struct rt_model *m = rt_model_new();
	const struct filter all = { NULL };

	if (cc_pg_cmd(pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL) != CC_OK) {
		cc_fail(err, "%s", pg->message);
		rt_model_free(m);
		return NULL;
	}
	return finish(m, pg, load_tenants(m, pg, &all, err) == CC_OK ? load_trunks(m, pg, err)
	                                                              : CC_ERROR);
}

/* m's copy of live's trunks (a handful: copied, not shared). */
static void copy_trunks(struct rt_model *m, const struct rt_model *live)
{
	for (size_t i = 0; i < live->trunks.cap; i++) {
		const struct rt_trunk *t = live->trunks.slots[i].value;

		if (live->trunks.slots[i].key)
			rt_model_add_trunk(m, t->id, t->name, t->outbound);
	}
	/* the first trunk with an outbound address, as the full load chose it */
	m->outbound = live->outbound ? cc_map_get(&m->trunks, live->outbound->id) : NULL;
}

/* Drops tenant t (m's reference) and the numbers that are still its own. */
static void drop_tenant(struct rt_model *m, struct rt_tenant *t)
{
	for (size_t i = 0; i < t->n_nums; i++)
		if (cc_map_get(&m->numbers, t->nums[i]->digits) == t->nums[i])
			cc_map_del(&m->numbers, t->nums[i]->digits);
	m->n_agents -= t->agents.len;
	cc_map_del(&m->tenants, t->id);
	free_tenant(t);
}

struct rt_model *rt_model_patch(const struct rt_model *live, struct cc_pg *pg,
                                const char *const *tenants, size_t n, char **err)
{
	struct rt_model *m = rt_model_new();
	char *array = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	/* the ids as an array literal; only well-formed ids get this far */
	f = open_memstream(&array, &len);
	CC_BUG_ON(!f);
	fputc('{', f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%s", i ? "," : "", tenants[i]);
	fputc('}', f);
	fclose(f);

	cc_map_clone(&m->tenants, &live->tenants);
	for (size_t i = 0; i < m->tenants.cap; i++)
		if (m->tenants.slots[i].key)
			((struct rt_tenant *)m->tenants.slots[i].value)->refs++;
	cc_map_clone(&m->numbers, &live->numbers);
	cc_map_clone(&m->refused, &live->refused);
	copy_trunks(m, live);
	m->n_agents = live->n_agents;
	for (size_t i = 0; i < n; i++) {
		struct rt_tenant *t = cc_map_get(&m->tenants, tenants[i]);

		if (t)
			drop_tenant(m, t);
	}
	if (cc_pg_cmd(pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL) != CC_OK) {
		cc_fail(err, "%s", pg->message);
		free(array);
		rt_model_free(m);
		return NULL;
	}
	const struct filter some = { array };

	rc = load_tenants(m, pg, &some, err);
	free(array);
	return finish(m, pg, rc);
}
