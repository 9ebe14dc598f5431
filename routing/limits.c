/* limits.c: see limits.h. Slots live in a POSIX search tree (tsearch),
 * which, unlike the model's map, supports deletion. */
/* twalk_r and tdestroy are GNU extensions (mk/common.mk defines _GNU_SOURCE) */
#include "limits.h"
#include "cc.h"

#include <search.h>
#include <stdlib.h>
#include <string.h>

struct rt_tenant_live {
	int active;                  /* slots held */
	int64_t window_s;            /* the second attempts are counted in */
	int attempts;                /* calls admitted in that second */
	int64_t swept_ms;            /* last sweep of this tenant's expired slots */
};

struct rt_slot {
	char call[64];               /* the platform's call id */
	struct rt_tenant_live *tenant;
	int64_t deadline_ms;         /* monotonic; see limits.h */
	int64_t max_s;               /* longest talk once answered */
};

static int by_call(const void *a, const void *b)
{
	return strcmp(((const struct rt_slot *)a)->call, ((const struct rt_slot *)b)->call);
}

void rt_limits_init(struct rt_limits *l)
{
	memset(l, 0, sizeof(*l));
}

void rt_limits_free(struct rt_limits *l)
{
	tdestroy(l->slots, free);
	cc_map_free(&l->tenants, free);
	memset(l, 0, sizeof(*l));
}

static struct rt_slot *find(const struct rt_limits *l, const char *call)
{
	struct rt_slot key;
	void *p;

	if (snprintf(key.call, sizeof(key.call), "%s", call) >= (int)sizeof(key.call))
		return NULL;
	p = tfind(&key, &l->slots, by_call);
	return p ? *(struct rt_slot **)p : NULL;
}

static void drop(struct rt_limits *l, struct rt_slot *s)
{
	s->tenant->active--;
	l->active--;
	tdelete(s, &l->slots, by_call);
	free(s);
}

/* ------------------------------------------------------------- sweeping */

struct sweep {
	const struct rt_tenant_live *tenant;
	int64_t now_ms;
	struct rt_slot **dead;
	size_t n, cap;
};

static void collect(const void *node, VISIT v, void *arg)
{
	struct rt_slot *s = *(struct rt_slot *const *)node;
	struct sweep *w = arg;

	if ((v != postorder && v != leaf) || s->tenant != w->tenant || s->deadline_ms > w->now_ms)
		return;
	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 16;
		w->dead = realloc(w->dead, w->cap * sizeof(*w->dead));
		CC_BUG_ON(!w->dead);
	}
	w->dead[w->n++] = s;
}

/* Frees the tenant's slots whose deadline passed (the tree cannot change
 * during the walk, so they are collected first). */
static void sweep(struct rt_limits *l, struct rt_tenant_live *t, int64_t now_ms)
{
	struct sweep w = { .tenant = t, .now_ms = now_ms };

	t->swept_ms = now_ms;
	twalk_r(l->slots, collect, &w);
	for (size_t i = 0; i < w.n; i++)
		drop(l, w.dead[i]);
	l->expired += w.n;
	free(w.dead);
}

/* ------------------------------------------------------------- the API */

enum rt_limit_verdict rt_limits_admit(struct rt_limits *l, const char *tenant_id,
                                      const struct rt_limits_cfg *cfg, const char *call,
                                      int64_t max_s, int64_t now_ms)
{
	struct rt_tenant_live *t = cc_map_get(&l->tenants, tenant_id);
	struct rt_slot *s;
	void *p;

	/* Kamailio's call ids are UUIDs; anything else cannot hold a slot */
	if (!*call || strlen(call) >= sizeof(s->call)) {
		l->refused_calls++;
		return RT_LIMIT_CALLS;
	}
	if (!t) {
		t = calloc(1, sizeof(*t));
		CC_BUG_ON(!t);
		t->window_s = -1;
		cc_map_put(&l->tenants, tenant_id, t);
	}
	if (cfg->max_cps >= 0) {
		if (t->window_s != now_ms / 1000) {
			t->window_s = now_ms / 1000;
			t->attempts = 0;
		}
		if (t->attempts >= cfg->max_cps) {
			l->refused_cps++;
			return RT_LIMIT_CPS;
		}
	}
	if (cfg->max_calls >= 0 && t->active >= cfg->max_calls && now_ms - t->swept_ms >= 1000)
		sweep(l, t, now_ms);
	if (cfg->max_calls >= 0 && t->active >= cfg->max_calls) {
		l->refused_calls++;
		return RT_LIMIT_CALLS;
	}
	t->attempts++;
	if (find(l, call))
		return RT_LIMIT_OK; /* decided twice: one slot */
	s = calloc(1, sizeof(*s));
	CC_BUG_ON(!s);
	snprintf(s->call, sizeof(s->call), "%s", call);
	s->tenant = t;
	s->deadline_ms = now_ms + RT_SLOT_SETUP_S * 1000;
	s->max_s = max_s > 0 ? max_s : RT_SLOT_MAX_S;
	p = tsearch(s, &l->slots, by_call);
	CC_BUG_ON(!p || *(struct rt_slot **)p != s);
	t->active++;
	l->active++;
	return RT_LIMIT_OK;
}

void rt_limits_answered(struct rt_limits *l, const char *call, int64_t now_ms)
{
	struct rt_slot *s = find(l, call);

	if (s)
		s->deadline_ms = now_ms + (s->max_s + RT_SLOT_GRACE_S) * 1000;
}

void rt_limits_release(struct rt_limits *l, const char *call)
{
	struct rt_slot *s = find(l, call);

	if (s)
		drop(l, s);
}

int rt_limits_active(const struct rt_limits *l, const char *tenant_id)
{
	const struct rt_tenant_live *t = cc_map_get(&l->tenants, tenant_id);

	return t ? t->active : 0;
}
