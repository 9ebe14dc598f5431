/* loader.c: see loader.h. */
#include "loader.h"
#include "cc.h"
#include "hist.h"
#include "id.h"
#include "log.h"
#include "model.h"
#include "pg.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/* a connection that cannot be made in 5 s, or a statement that runs over
 * 60 s (a lock held on cc.numbers), fails the build: the last model stays */
#define LOADER_PG_URL_OPTIONS "connect_timeout=5&options=-c%20statement_timeout%3D60000"
#define LOADER_PG_KV_OPTIONS "connect_timeout=5 options='-c statement_timeout=60000'"

struct rt_loader {
	pthread_t thread;
	int running;                 /* the thread was started */
	pthread_mutex_t lock;        /* the fields below */
	pthread_cond_t wake;
	int wanted;                  /* a full reload was asked for */
	char tenants[RT_LOADER_MAX_PATCH][CC_UUID_LEN];   /* or these tenants' */
	size_t n_tenants;
	int have_full;               /* a full build worked: patches have a base */
	int in_flight;               /* a bundle is with the loop, its predecessor not back */
	int stop;
	struct rt_bundle *ready;     /* built, waiting for the loop */
	struct rt_bundle *returned;  /* given back by the loop, to free */
	struct rt_bundle *live;      /* what the loop holds now (read by this thread only) */
	/* the thread's own, no lock */
	struct cc_pg pg;
	struct bl_decks cache;       /* every deck version a bundle may point to */
	struct event *ready_ev;      /* on the loop: hands `ready` over */
	rt_loader_cb cb;
	void *arg;
	atomic_uint_least64_t loads, failures, patches;
};

static void bundle_free(struct rt_bundle *b)
{
	if (!b)
		return;
	rt_model_free(b->model);
	cc_map_free(&b->decks, NULL);
	free(b);
}

struct rt_bundle *rt_bundle_empty(void)
{
	struct rt_bundle *b = calloc(1, sizeof(*b));

	CC_BUG_ON(!b);
	b->model = rt_model_new();
	cc_map_init(&b->decks);
	return b;
}

/* The bundle of a fresh model: the deck versions its plans use, loaded
 * into the cache if they are not there yet. */
static struct rt_bundle *bundle_of(struct rt_loader *l, struct rt_model *m, uint64_t t0,
                                   size_t patched)
{
	struct rt_bundle *b = calloc(1, sizeof(*b));

	CC_BUG_ON(!b);
	b->model = m;
	b->patched = patched;
	cc_map_init(&b->decks);
	for (size_t i = 0; i < m->tenants.cap; i++) {
		const struct rt_tenant *t = m->tenants.slots[i].value;

		if (!m->tenants.slots[i].key || !t->plan)
			continue;
		const char *v[2] = { t->plan->in_version, t->plan->out_version };

		for (int k = 0; k < 2; k++) {
			const struct bl_deck *d;

			if (!v[k][0] || cc_map_get(&b->decks, v[k]))
				continue;
			/* a version that does not load leaves its calls 503 until
			 * the next reload, which tries again */
			if ((d = bl_decks_get(&l->cache, &l->pg, v[k])))
				cc_map_put(&b->decks, v[k], (void *)d);
			else
				CC_WARN("deck version %s not loaded: %s", v[k], l->pg.message);
		}
	}
	b->load_s = (double)(cc_mono_ns() - t0) / 1e9;
	atomic_fetch_add(&l->loads, 1);
	return b;
}

struct rt_bundle *rt_loader_build_now(struct rt_loader *l)
{
	char *err = NULL;
	uint64_t t0 = cc_mono_ns();
	struct rt_model *m = rt_model_load(&l->pg, &err);

	if (!m) {
		atomic_fetch_add(&l->failures, 1);
		CC_WARN("model reload failed, keeping the last one: %s", err);
		free(err);
		return NULL;
	}
	l->have_full = 1;
	return bundle_of(l, m, t0, 0);
}

/* The live model with n tenants read again; NULL (logged) on failure: the
 * next full reload brings them in. */
static struct rt_bundle *patch(struct rt_loader *l, char (*tenants)[CC_UUID_LEN], size_t n)
{
	const char *ids[RT_LOADER_MAX_PATCH];
	char *err = NULL;
	uint64_t t0 = cc_mono_ns();
	struct rt_model *m;

	for (size_t i = 0; i < n; i++)
		ids[i] = tenants[i];
	if (!(m = rt_model_patch(l->live->model, &l->pg, ids, n, &err))) {
		atomic_fetch_add(&l->failures, 1);
		CC_WARN("reload of %zu tenant(s) failed, keeping the last model: %s", n, err);
		free(err);
		return NULL;
	}
	atomic_fetch_add(&l->patches, 1);
	return bundle_of(l, m, t0, n);
}

/* After the loop gave back the bundle it replaced: free it, and the deck
 * versions the live bundle does not use. */
static void release(struct rt_loader *l, struct rt_bundle *old)
{
	bundle_free(old);
	if (l->live)
		bl_decks_keep(&l->cache, &l->live->decks);
}

static void *run(void *arg)
{
	struct rt_loader *l = arg;

	/* bulk work: below the loop and Kamailio, whatever the loop's priority
	 * (the thread is started with the normal scheduler: SCHED_RESET_ON_FORK) */
	setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
	pthread_mutex_lock(&l->lock);
	for (;;) {
		while (!l->stop && !l->returned && ((!l->wanted && !l->n_tenants) || l->in_flight))
			pthread_cond_wait(&l->wake, &l->lock);
		if (l->stop)
			break;
		if (l->returned) {
			struct rt_bundle *old = l->returned;

			l->returned = NULL;
			pthread_mutex_unlock(&l->lock);
			release(l, old);
			pthread_mutex_lock(&l->lock);
			continue;
		}
		char tenants[RT_LOADER_MAX_PATCH][CC_UUID_LEN];
		size_t n = l->n_tenants;
		int full = l->wanted || !l->have_full || !l->live;

		memcpy(tenants, l->tenants, n * sizeof(tenants[0]));
		l->wanted = 0;
		l->n_tenants = 0;
		pthread_mutex_unlock(&l->lock);
		/* the live bundle is the thread's to read: only this thread
		 * frees bundles, and only once the loop gave them back */
		struct rt_bundle *b = full ? rt_loader_build_now(l) : patch(l, tenants, n);
		pthread_mutex_lock(&l->lock);
		if (b) {
			l->ready = b;
			l->in_flight = 1;
			event_active(l->ready_ev, 0, 0);
		}
	}
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

/* On the loop: the fresh bundle to the owner. */
static void on_ready(evutil_socket_t fd, short what, void *arg)
{
	struct rt_loader *l = arg;
	struct rt_bundle *b;

	pthread_mutex_lock(&l->lock);
	b = l->ready;
	l->ready = NULL;
	if (b)
		l->live = b;
	pthread_mutex_unlock(&l->lock);
	if (b)
		l->cb(b, l->arg);
}

struct rt_loader *rt_loader_new(const char *pg_url, struct event_base *base, rt_loader_cb cb,
                                void *arg)
{
	struct rt_loader *l = calloc(1, sizeof(*l));
	char *url;

	if (!l)
		return NULL;
	/* CC_PG_URL may be a URL or libpq's key=value form: the timeouts go
	 * in the form it is written in */
	if (!strncmp(pg_url, "postgres://", 11) || !strncmp(pg_url, "postgresql://", 13))
		url = cc_sprintf("%s%s%s", pg_url, strchr(pg_url, '?') ? "&" : "?", LOADER_PG_URL_OPTIONS);
	else
		url = cc_sprintf("%s %s", pg_url, LOADER_PG_KV_OPTIONS);
	if (!url) {
		free(l);
		return NULL;
	}
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->wake, NULL);
	cc_pg_init(&l->pg, url);
	free(url);
	l->cb = cb;
	l->arg = arg;
	l->ready_ev = event_new(base, -1, 0, on_ready, l);
	CC_BUG_ON(!l->ready_ev);
	return l;
}

long rt_loader_sticky(struct rt_loader *l,
                      void (*cb)(void *arg, const char *tenant, const char *caller,
                                 const char *ext, int64_t answered_ms),
                      void *arg)
{
	/* DISTINCT ON follows calls_sticky_idx (tenant_id, from_number,
	 * answered_at DESC): the newest answered queue call of each caller */
	PGresult *r = cc_pg_exec(&l->pg,
	    "SELECT DISTINCT ON (c.tenant_id, c.from_number) c.tenant_id, c.from_number, c.agent,"
	    " (extract(epoch FROM c.answered_at) * 1000)::bigint FROM cc.calls c"
	    " JOIN (SELECT tenant_id, max(sticky_within_days) AS days FROM cc.queues"
	    "       WHERE sticky_within_days > 0 GROUP BY tenant_id) w ON w.tenant_id = c.tenant_id"
	    " WHERE c.queue IS NOT NULL AND c.answered_at IS NOT NULL AND c.agent IS NOT NULL"
	    " AND c.from_number LIKE '+%' AND c.answered_at > now() - make_interval(days => w.days)"
	    " ORDER BY c.tenant_id, c.from_number, c.answered_at DESC", 0, NULL);
	long n;

	if (!r) {
		CC_WARN("sticky agents not read: %s", l->pg.message);
		return -1;
	}
	n = PQntuples(r);
	for (long i = 0; i < n; i++)
		cb(arg, PQgetvalue(r, (int)i, 0), PQgetvalue(r, (int)i, 1), PQgetvalue(r, (int)i, 2),
		   atoll(PQgetvalue(r, (int)i, 3)));
	PQclear(r);
	return n;
}

int rt_loader_run(struct rt_loader *l, struct rt_bundle *live)
{
	l->live = live;
	if (pthread_create(&l->thread, NULL, run, l) != 0)
		return CC_ERROR;
	l->running = 1;
	return CC_OK;
}

void rt_loader_request(struct rt_loader *l)
{
	pthread_mutex_lock(&l->lock);
	l->wanted = 1;
	pthread_cond_signal(&l->wake);
	pthread_mutex_unlock(&l->lock);
}

void rt_loader_request_tenant(struct rt_loader *l, const char *tenant)
{
	size_t i;

	if (!cc_uuid_valid(tenant)) {
		rt_loader_request(l);
		return;
	}
	pthread_mutex_lock(&l->lock);
	for (i = 0; i < l->n_tenants && strcmp(l->tenants[i], tenant) != 0; i++)
		;
	if (i == l->n_tenants) {
		if (l->n_tenants == RT_LOADER_MAX_PATCH)
			l->wanted = 1;      /* that many changes: one full build */
		else
			snprintf(l->tenants[l->n_tenants++], CC_UUID_LEN, "%s", tenant);
	}
	pthread_cond_signal(&l->wake);
	pthread_mutex_unlock(&l->lock);
}

void rt_loader_done(struct rt_loader *l, struct rt_bundle *old)
{
	pthread_mutex_lock(&l->lock);
	CC_BUG_ON(l->returned);
	l->returned = old;
	l->in_flight = 0;
	pthread_cond_signal(&l->wake);
	pthread_mutex_unlock(&l->lock);
}

void rt_loader_stop(struct rt_loader *l, struct rt_bundle *live)
{
	if (!l)
		return;
	if (l->running) {
		pthread_mutex_lock(&l->lock);
		l->stop = 1;
		pthread_cond_signal(&l->wake);
		pthread_mutex_unlock(&l->lock);
		pthread_join(l->thread, NULL);
	}
	/* a returned bundle not yet freed, a ready one the loop never took */
	bundle_free(l->returned);
	if (l->ready != live)
		bundle_free(l->ready);
	bundle_free(live);
	bl_decks_free(&l->cache);
	event_free(l->ready_ev);
	cc_pg_close(&l->pg);
	pthread_cond_destroy(&l->wake);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

uint64_t rt_loader_loads(const struct rt_loader *l)
{
	return atomic_load(&l->loads);
}

uint64_t rt_loader_failures(const struct rt_loader *l)
{
	return atomic_load(&l->failures);
}

uint64_t rt_loader_patches(const struct rt_loader *l)
{
	return atomic_load(&l->patches);
}
