/*
 * model_acd.c: the ACD's configuration of each tenant (routing/acd.h),
 * read with the rest of the model in the same snapshot (model.c calls
 * rt_model_load_acd). Every value comes from the database, which the API
 * checked; it is checked again here (names that fit, levels 1..5, known
 * strategies): a row that does not fit is left out and logged, never cut.
 */
#include "acd.h"
#include "acd_rec.h"
#include "cc.h"
#include "log.h"
#include "model.h"
#include "model_acd.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static atomic_uint_least64_t versions;
static atomic_uint_least64_t left_out;   /* rows left out, every load (the loader's thread) */

uint64_t rt_model_acd_left_out(void)
{
	return atomic_load(&left_out);
}

static const char *const default_pause[] = { "break", "lunch", "meeting", "training",
                                             "missed_calls" };

struct acd_tenant_cfg *rt_model_acd(struct rt_tenant *t)
{
	struct acd_tenant_cfg *c;

	if (t->acd)
		return t->acd;
	c = calloc(1, sizeof(*c));
	CC_BUG_ON(!c);
	snprintf(c->tenant, sizeof(c->tenant), "%s", t->id);
	snprintf(c->lang, sizeof(c->lang), "%s", strcmp(t->lang, "en") ? "zh" : "en");
	c->version = atomic_fetch_add(&versions, 1) + 1;
	t->acd = c;
	return c;
}

void rt_model_acd_free(struct acd_tenant_cfg *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_agents; i++)
		free(c->agents[i].queues);
	free(c->agents);
	free(c->queues);
	free(c->vips);
	free(c->pause_reasons);
	free(c);
}

/* "name" fits a fixed field (with its NUL) */
static bool fits(const char *s, size_t max)
{
	return s && strlen(s) < max;
}

/* A skills object {"repair":2} into out; false if it is not one (bad JSON,
 * more than ACD_SKILLS_MAX, a name too long, a level outside 1..5). */
static bool skills_of(const char *text, struct acd_skill *out, size_t *n)
{
	json_t *o = json_loads(text ? text : "{}", JSON_REJECT_DUPLICATES, NULL);
	const char *k;
	json_t *v;
	bool ok = json_is_object(o) && json_object_size(o) <= ACD_SKILLS_MAX;

	*n = 0;
	if (ok) {
		json_object_foreach(o, k, v) {
			if (!fits(k, ACD_NAME_MAX) || !*k || !json_is_integer(v) ||
			    json_integer_value(v) < 1 || json_integer_value(v) > 5) {
				ok = false;
				break;
			}
			snprintf(out[*n].name, ACD_NAME_MAX, "%s", k);
			out[(*n)++].level = (int)json_integer_value(v);
		}
	}
	json_decref(o);
	if (!ok)
		*n = 0;
	return ok;
}

static enum acd_target_type target_type(const char *s)
{
	if (!s || !*s)
		return ACD_TARGET_NONE;
	if (!strcmp(s, "queue"))
		return ACD_TARGET_QUEUE;
	if (!strcmp(s, "agent"))
		return ACD_TARGET_AGENT;
	if (!strcmp(s, "number"))
		return ACD_TARGET_NUMBER;
	if (!strcmp(s, "flow"))
		return ACD_TARGET_FLOW;
	if (!strcmp(s, "hangup"))
		return ACD_TARGET_HANGUP;
	return ACD_TARGET_NONE;
}

static const char *val(PGresult *r, int i, int col)
{
	return PQgetisnull(r, i, col) ? NULL : PQgetvalue(r, i, col);
}

/* index+1 of a queue or an agent by its id (0: none), for the memberships */
static void put_index(struct cc_map *m, const char *id, size_t i)
{
	cc_map_put(m, id, (void *)(uintptr_t)(i + 1));
}

static size_t get_index(const struct cc_map *m, const char *id)
{
	return (size_t)(uintptr_t)cc_map_get(m, id);
}

int rt_model_load_acd(struct rt_model *m, PGresult *(*q)(void *ctx, const char *sql, const char *col, char **err),
                      void *ctx, char **err)
{
	struct cc_map qidx, aidx;   /* queue/agent id -> index + 1 in its tenant's cfg */
	PGresult *r;
	int rc = CC_ERROR;

	cc_map_init(&qidx);
	cc_map_init(&aidx);
	/* every tenant loaded gets a cfg, even with no queue (agents' states) */
	for (size_t i = 0; i < m->tenants.cap; i++)
		if (m->tenants.slots[i].key && !((struct rt_tenant *)m->tenants.slots[i].value)->acd)
			rt_model_acd(m->tenants.slots[i].value);

	/* the tenants' recording policies (a row that does not fit: 'none') */
	if (!(r = q(ctx, "SELECT id, recording_policy, recording_percent FROM cc.tenants%s%s%s",
	            "id", err)))
		goto out;
	for (int i = 0; i < PQntuples(r); i++) {
		struct rt_tenant *t = cc_map_get(&m->tenants, PQgetvalue(r, i, 0));
		struct acd_tenant_cfg *c = t ? rt_model_acd(t) : NULL;

		if (c && (!acd_rec_parse(val(r, i, 1), val(r, i, 2), &c->rec) ||
		          c->rec.mode == ACD_REC_INHERIT)) {
			CC_WARN("tenant %s's recording policy does not fit: none", t->id);
			c->rec.mode = ACD_REC_NONE;
		}
	}
	PQclear(r);

	if (!(r = q(ctx, "SELECT tenant_id, id, name, strategy, ring_timeout_s, wrapup_s, max_wait_s,"
	                 " max_size, overflow_type, overflow_target, overflow_prompt, music,"
	                 " announce_position, announce_wait, announce_every_s, service_level_s,"
	                 " required_skills::text, sticky_within_days, sticky_ring_s, callback,"
	                 " callback_retries, callback_interval_s, recording, recording_percent"
	                 " FROM cc.queues%s%s%s ORDER BY name",
	            "tenant_id", err)))
		goto out;
	for (int i = 0; i < PQntuples(r); i++) {
		struct rt_tenant *t = cc_map_get(&m->tenants, PQgetvalue(r, i, 0));
		struct acd_queue_cfg qc = { 0 };
		enum acd_strategy st;

		if (!t)
			continue;
		if (!fits(PQgetvalue(r, i, 2), ACD_NAME_MAX) ||
		    acd_strategy_parse(PQgetvalue(r, i, 3), &st) != 0 ||
		    !fits(val(r, i, 9) ? val(r, i, 9) : "", ACD_NAME_MAX) ||
		    !fits(val(r, i, 10) ? val(r, i, 10) : "", ACD_NAME_MAX) ||
		    !fits(PQgetvalue(r, i, 11), ACD_NAME_MAX) ||
		    !skills_of(PQgetvalue(r, i, 16), qc.required, &qc.n_required) ||
		    !acd_rec_parse(val(r, i, 22), val(r, i, 23), &qc.rec)) {
			CC_WARN("queue %s of tenant %s does not fit the ACD (a name, a strategy, or more "
			        "than %d required skills of levels 1..5): left out", PQgetvalue(r, i, 1),
			        t->id, ACD_SKILLS_MAX);
			atomic_fetch_add(&left_out, 1);
			continue;
		}
		snprintf(qc.id, sizeof(qc.id), "%s", PQgetvalue(r, i, 1));
		snprintf(qc.name, sizeof(qc.name), "%s", PQgetvalue(r, i, 2));
		qc.strategy = st;
		qc.ring_timeout_s = atoi(PQgetvalue(r, i, 4));
		qc.wrapup_s = atoi(PQgetvalue(r, i, 5));
		qc.max_wait_s = atoi(PQgetvalue(r, i, 6));
		qc.max_size = atoi(PQgetvalue(r, i, 7));
		qc.overflow.type = target_type(val(r, i, 8));
		snprintf(qc.overflow.name, sizeof(qc.overflow.name), "%s", val(r, i, 9) ? val(r, i, 9) : "");
		snprintf(qc.overflow.prompt, sizeof(qc.overflow.prompt), "%s",
		         val(r, i, 10) ? val(r, i, 10) : "");
		snprintf(qc.music, sizeof(qc.music), "%s", PQgetvalue(r, i, 11));
		qc.announce_position = PQgetvalue(r, i, 12)[0] == 't';
		qc.announce_wait = PQgetvalue(r, i, 13)[0] == 't';
		qc.announce_every_s = atoi(PQgetvalue(r, i, 14));
		qc.service_level_s = atoi(PQgetvalue(r, i, 15));
		qc.sticky_within_days = atoi(PQgetvalue(r, i, 17));
		qc.sticky_ring_s = atoi(PQgetvalue(r, i, 18));
		qc.callback = PQgetvalue(r, i, 19)[0] == 't';
		qc.callback_retries = atoi(PQgetvalue(r, i, 20));
		qc.callback_interval_s = atoi(PQgetvalue(r, i, 21));

		struct acd_tenant_cfg *c = rt_model_acd(t);

		c->queues = realloc(c->queues, (c->n_queues + 1) * sizeof(*c->queues));
		CC_BUG_ON(!c->queues);
		c->queues[c->n_queues] = qc;
		put_index(&qidx, qc.id, c->n_queues++);
	}
	PQclear(r);

	if (!(r = q(ctx, "SELECT tenant_id, id, extension, skills::text, team, recording,"
	                 " recording_percent FROM cc.agents%s%s%s"
	                 " ORDER BY extension", "tenant_id", err)))
		goto out;
	for (int i = 0; i < PQntuples(r); i++) {
		struct rt_tenant *t = cc_map_get(&m->tenants, PQgetvalue(r, i, 0));
		struct acd_agent_cfg ac = { 0 };

		if (!t)
			continue;
		if (!fits(PQgetvalue(r, i, 2), ACD_EXT_MAX) ||
		    !fits(val(r, i, 4) ? val(r, i, 4) : "", ACD_NAME_MAX) ||
		    !skills_of(PQgetvalue(r, i, 3), ac.skills, &ac.n_skills) ||
		    !acd_rec_parse(val(r, i, 5), val(r, i, 6), &ac.rec)) {
			CC_WARN("agent %s of tenant %s does not fit the ACD (its extension, team, or more "
			        "than %d skills of levels 1..5): left out", PQgetvalue(r, i, 1), t->id,
			        ACD_SKILLS_MAX);
			atomic_fetch_add(&left_out, 1);
			continue;
		}
		snprintf(ac.id, sizeof(ac.id), "%s", PQgetvalue(r, i, 1));
		snprintf(ac.ext, sizeof(ac.ext), "%s", PQgetvalue(r, i, 2));
		snprintf(ac.team, sizeof(ac.team), "%s", val(r, i, 4) ? val(r, i, 4) : "");

		struct acd_tenant_cfg *c = rt_model_acd(t);

		c->agents = realloc(c->agents, (c->n_agents + 1) * sizeof(*c->agents));
		CC_BUG_ON(!c->agents);
		c->agents[c->n_agents] = ac;
		put_index(&aidx, ac.id, c->n_agents++);
	}
	PQclear(r);

	/* memberships of the tenant's own queues only (the foreign keys say so;
	 * checked again: an index of another tenant's cfg would be a lie) */
	if (!(r = q(ctx, "SELECT tenant_id, queue_id, agent_id, priority FROM cc.queue_members%s%s%s"
	                 " ORDER BY priority, queue_id", "tenant_id", err)))
		goto out;
	for (int i = 0; i < PQntuples(r); i++) {
		struct rt_tenant *t = cc_map_get(&m->tenants, PQgetvalue(r, i, 0));
		size_t qi = get_index(&qidx, PQgetvalue(r, i, 1)), ai = get_index(&aidx, PQgetvalue(r, i, 2));

		if (!t || !qi || !ai)
			continue;
		struct acd_tenant_cfg *c = rt_model_acd(t);

		if (qi > c->n_queues || ai > c->n_agents || strcmp(c->queues[qi - 1].id, PQgetvalue(r, i, 1)) ||
		    strcmp(c->agents[ai - 1].id, PQgetvalue(r, i, 2)))
			continue;
		struct acd_agent_cfg *ac = &c->agents[ai - 1];

		ac->queues = realloc(ac->queues, (ac->n_queues + 1) * sizeof(*ac->queues));
		CC_BUG_ON(!ac->queues);
		ac->queues[ac->n_queues].queue = qi - 1;
		ac->queues[ac->n_queues++].priority = atoi(PQgetvalue(r, i, 3));
	}
	PQclear(r);

	/* the VIP list, and the numbers of the tenant's vip customers (the
	 * CRM, docs/CRM.md) at the list's default priority, without agent or
	 * queue; a number on the list keeps its entry */
	if (!(r = q(ctx, "SELECT x.tenant_id, x.e164, x.priority, x.extension, x.queue FROM ("
	                 "SELECT v.tenant_id, v.e164, v.priority, a.extension, qq.name AS queue"
	                 " FROM cc.viplist v LEFT JOIN cc.agents a ON a.id = v.agent_id"
	                 " AND a.tenant_id = v.tenant_id LEFT JOIN cc.queues qq ON qq.id = v.queue_id"
	                 " AND qq.tenant_id = v.tenant_id"
	                 " UNION ALL SELECT DISTINCT c.tenant_id, p.phone, 10, NULL, NULL"
	                 " FROM cc.customers c JOIN cc.customer_phones p ON p.tenant_id = c.tenant_id"
	                 " AND p.customer_id = c.id WHERE c.tier = 'vip' AND NOT EXISTS (SELECT 1"
	                 " FROM cc.viplist w WHERE w.tenant_id = c.tenant_id AND w.e164 = p.phone)"
	                 ") x%s%s%s ORDER BY x.e164", "x.tenant_id", err)))
		goto out;
	for (int i = 0; i < PQntuples(r); i++) {
		struct rt_tenant *t = cc_map_get(&m->tenants, PQgetvalue(r, i, 0));
		struct acd_vip v = { 0 };

		if (!t)
			continue;
		if (!fits(PQgetvalue(r, i, 1), sizeof(v.e164)) ||
		    !fits(val(r, i, 3) ? val(r, i, 3) : "", ACD_EXT_MAX) ||
		    !fits(val(r, i, 4) ? val(r, i, 4) : "", ACD_NAME_MAX)) {
			CC_WARN("VIP %.32s of tenant %s does not fit the ACD: left out",
			        PQgetvalue(r, i, 1), t->id);
			atomic_fetch_add(&left_out, 1);
			continue;
		}
		snprintf(v.e164, sizeof(v.e164), "%s", PQgetvalue(r, i, 1));
		v.priority = atoi(PQgetvalue(r, i, 2));
		snprintf(v.agent, sizeof(v.agent), "%s", val(r, i, 3) ? val(r, i, 3) : "");
		snprintf(v.queue, sizeof(v.queue), "%s", val(r, i, 4) ? val(r, i, 4) : "");

		struct acd_tenant_cfg *c = rt_model_acd(t);

		c->vips = realloc(c->vips, (c->n_vips + 1) * sizeof(*c->vips));
		CC_BUG_ON(!c->vips);
		c->vips[c->n_vips++] = v;
	}
	PQclear(r);

	if (!(r = q(ctx, "SELECT tenant_id, code FROM cc.pause_reasons%s%s%s ORDER BY code", "tenant_id", err)))
		goto out;
	for (int i = 0; i < PQntuples(r); i++) {
		struct rt_tenant *t = cc_map_get(&m->tenants, PQgetvalue(r, i, 0));

		if (!t)
			continue;
		if (!fits(PQgetvalue(r, i, 1), ACD_NAME_MAX)) {
			CC_WARN("pause reason %.64s... of tenant %s does not fit the ACD: left out",
			        PQgetvalue(r, i, 1), t->id);
			atomic_fetch_add(&left_out, 1);
			continue;
		}
		struct acd_tenant_cfg *c = rt_model_acd(t);

		c->pause_reasons = realloc(c->pause_reasons, (c->n_pause_reasons + 1) * ACD_NAME_MAX);
		CC_BUG_ON(!c->pause_reasons);
		snprintf(c->pause_reasons[c->n_pause_reasons++], ACD_NAME_MAX, "%s", PQgetvalue(r, i, 1));
	}
	PQclear(r);
	/* a tenant with no list of its own has the defaults (0006) */
	for (size_t i = 0; i < m->tenants.cap; i++) {
		struct rt_tenant *t = m->tenants.slots[i].value;

		if (!m->tenants.slots[i].key || !t->acd || t->acd->n_pause_reasons)
			continue;
		t->acd->pause_reasons = calloc(CC_ARRAY_LEN(default_pause), ACD_NAME_MAX);
		CC_BUG_ON(!t->acd->pause_reasons);
		for (size_t k = 0; k < CC_ARRAY_LEN(default_pause); k++)
			snprintf(t->acd->pause_reasons[k], ACD_NAME_MAX, "%s", default_pause[k]);
		t->acd->n_pause_reasons = CC_ARRAY_LEN(default_pause);
	}
	rc = CC_OK;
out:
	cc_map_free(&qidx, NULL);
	cc_map_free(&aidx, NULL);
	return rc;
}
