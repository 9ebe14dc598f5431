/*
 * acd_harness.h: what the ACD's tests and benchmark need around
 * routing/acd.h: a recorder of everything it sends (offers, cancels, routes,
 * events, the journal as JetStream keeps it: the latest record per subject,
 * in the order of their last write) and a builder of tenant configurations.
 */
#ifndef CC_ACD_HARNESS_H
#define CC_ACD_HARNESS_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acd.h"

struct h_offer {
	char tenant[CC_UUID_LEN], call[CC_UUID_LEN], offer[CC_UUID_LEN], instance[ACD_NAME_MAX];
	char agents[ACD_RING_ALL_MAX][ACD_EXT_MAX];
	uint64_t epochs[ACD_RING_ALL_MAX];
	size_t n;
	int ring_s;
	char callback[24];
};

struct h_rec {
	struct h_offer *offers;
	size_t n_offers, cap_offers;
	size_t n_cancels, n_routes;
	char last_route_call[CC_UUID_LEN];
	struct acd_target last_route;
	json_t *events;              /* [[subject, event], ...] */
	json_t *journal;             /* [[subject, record], ...]: latest per subject, in write order */
	bool keep_events;            /* false: count them only (benchmark) */
	size_t n_events;
};

static void h_offer_cb(void *arg, const struct acd_offer *o)
{
	struct h_rec *r = arg;
	struct h_offer *h;

	if (r->n_offers == r->cap_offers) {
		r->cap_offers = r->cap_offers ? 2 * r->cap_offers : 64;
		r->offers = realloc(r->offers, r->cap_offers * sizeof(*r->offers));
	}
	h = &r->offers[r->n_offers++];
	memset(h, 0, sizeof(*h));
	snprintf(h->tenant, sizeof(h->tenant), "%s", o->tenant);
	snprintf(h->call, sizeof(h->call), "%s", o->call);
	snprintf(h->offer, sizeof(h->offer), "%s", o->offer);
	snprintf(h->instance, sizeof(h->instance), "%s", o->instance);
	h->n = o->n_agents;
	for (size_t i = 0; i < o->n_agents; i++) {
		snprintf(h->agents[i], sizeof(h->agents[i]), "%s", o->agents[i].agent);
		h->epochs[i] = o->agents[i].epoch;
	}
	h->ring_s = o->ring_s;
	snprintf(h->callback, sizeof(h->callback), "%s", o->callback ? o->callback : "");
}

static void h_cancel_cb(void *arg, const char *instance, const char *call, const char *offer)
{
	((struct h_rec *)arg)->n_cancels++;
}

static void h_route_cb(void *arg, const char *instance, const char *call, const struct acd_target *t)
{
	struct h_rec *r = arg;

	r->n_routes++;
	snprintf(r->last_route_call, sizeof(r->last_route_call), "%s", call);
	r->last_route = *t;
}

static void h_event_cb(void *arg, const char *subject, json_t *ev)
{
	struct h_rec *r = arg;

	r->n_events++;
	if (r->keep_events)
		json_array_append_new(r->events, json_pack("[s, o]", subject, ev));
	else
		json_decref(ev);
}

static void h_journal_cb(void *arg, const char *subject, json_t *rec)
{
	struct h_rec *r = arg;
	size_t i;
	json_t *row;

	if (!r->journal) {
		json_decref(rec);
		return;
	}
	json_array_foreach(r->journal, i, row)
		if (strcmp(json_string_value(json_array_get(row, 0)), subject) == 0) {
			json_array_remove(r->journal, i);
			break;
		}
	json_array_append_new(r->journal, json_pack("[s, o]", subject, rec));
}

static inline struct acd_out h_out(struct h_rec *r)
{
	struct acd_out o = { h_offer_cb, h_cancel_cb, h_route_cb, h_event_cb, h_journal_cb, r };

	memset(r, 0, sizeof(*r));
	r->events = json_array();
	r->journal = json_array();
	r->keep_events = true;
	return o;
}

static inline void h_free(struct h_rec *r)
{
	free(r->offers);
	json_decref(r->events);
	json_decref(r->journal);
}

/* ---- configurations ---- */

#define H_QUEUES 16
#define H_AGENTS 32

struct h_cfg {
	struct acd_tenant_cfg t;
	struct acd_queue_cfg q[H_QUEUES];
	struct acd_agent_cfg ag[H_AGENTS];
	struct acd_membership m[H_AGENTS][H_QUEUES];
	struct acd_vip v[8];
	char reasons[4][ACD_NAME_MAX];
};

static inline void h_cfg_init(struct h_cfg *c, const char *tenant)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->t.tenant, sizeof(c->t.tenant), "%s", tenant);
	strcpy(c->t.lang, "en");
	c->t.queues = c->q;
	c->t.agents = c->ag;
	c->t.vips = c->v;
	c->t.pause_reasons = c->reasons;
}

static inline struct acd_queue_cfg *h_queue(struct h_cfg *c, const char *name, enum acd_strategy s)
{
	struct acd_queue_cfg *q = &c->q[c->t.n_queues];

	memset(q, 0, sizeof(*q));
	char tn[8];
	size_t tl = strlen(c->t.tenant);

	memcpy(tn, c->t.tenant + (tl > 4 ? tl - 4 : 0), 5);
	snprintf(q->id, sizeof(q->id), "q-%s-%s", tn, name);
	snprintf(q->name, sizeof(q->name), "%s", name);
	q->strategy = s;
	q->ring_timeout_s = 15;
	q->service_level_s = 20;
	q->callback_retries = 2;
	q->callback_interval_s = 60;
	c->t.n_queues++;
	return q;
}

static inline size_t h_qidx(struct h_cfg *c, const char *name)
{
	for (size_t i = 0; i < c->t.n_queues; i++)
		if (strcmp(c->q[i].name, name) == 0)
			return i;
	abort();
}

/* queues "repair:1,general:2", skills "repair:3,mandarin:5" */
static inline struct acd_agent_cfg *h_agent(struct h_cfg *c, const char *ext, const char *queues,
                                            const char *skills)
{
	size_t i = c->t.n_agents++;
	struct acd_agent_cfg *a = &c->ag[i];
	char buf[256], *tok, *save;

	memset(a, 0, sizeof(*a));
	char tn[8];
	size_t tl = strlen(c->t.tenant);

	memcpy(tn, c->t.tenant + (tl > 4 ? tl - 4 : 0), 5);
	snprintf(a->id, sizeof(a->id), "a-%s-%s", tn, ext);
	snprintf(a->ext, sizeof(a->ext), "%s", ext);
	a->queues = c->m[i];
	snprintf(buf, sizeof(buf), "%s", queues ? queues : "");
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(tok, ':');

		if (colon)
			*colon = 0;
		c->m[i][a->n_queues].queue = h_qidx(c, tok);
		c->m[i][a->n_queues++].priority = colon ? atoi(colon + 1) : 1;
	}
	snprintf(buf, sizeof(buf), "%s", skills ? skills : "");
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(tok, ':');

		*colon = 0;
		snprintf(a->skills[a->n_skills].name, ACD_NAME_MAX, "%s", tok);
		a->skills[a->n_skills++].level = atoi(colon + 1);
	}
	return a;
}

#endif
