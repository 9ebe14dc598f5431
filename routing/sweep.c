/* sweep.c: see sweep.h.
 *
 * The thread owns the database connection, the FIFO exchange and the map
 * of when each open call's dialog was last seen; the loop owns the calls.
 * What the thread finds goes to the loop as a list under `lock`, with an
 * event activated from the thread (as loader.c hands over bundles). */
#include "sweep.h"
#include "cc.h"
#include "kamrpc.h"
#include "clock.h"
#include "id.h"
#include "log.h"
#include "map.h"
#include "pg.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define SWEEP_PG_URL_OPTIONS "connect_timeout=5&options=-c%20statement_timeout%3D10000"
#define SWEEP_PG_KV_OPTIONS "connect_timeout=5 options='-c statement_timeout=10000'"
#define DLG_STATE_DELETED 5
#define STR_(x) #x
#define STR(x) STR_(x)          /* Kamailio's dialog states 1-4 are up */

struct swept {
	char call[CC_UUID_LEN];
	char tenant[CC_UUID_LEN];    /* "" when the record has none */
	int64_t end_us;              /* wall clock */
};

struct rt_sweep {
	pthread_t thread;
	pthread_mutex_t lock;        /* stop, link and the hand-over below */
	pthread_cond_t wake;
	int stop;
	int link_up;                 /* evapi is up (the loop says, once a second) */
	int64_t link_since_ms;       /* since when, monotonic */
	struct swept *ready;         /* found, not yet taken by the loop */
	size_t n_ready, cap_ready;
	struct event *ready_ev;      /* on the loop: publishes `ready` */
	struct rt_calls *calls;      /* the loop's */
	/* the thread's own */
	struct cc_pg pg;
	char *fifo;                  /* Kamailio's JSON-RPC FIFO */
	char *reply_dir;             /* where Kamailio opens reply FIFOs */
	long period_s, grace_s;
	struct cc_map seen;          /* call id -> int64_t *: its dialog last seen, us */
	atomic_uint_least64_t runs, failures;
};

/* ------------------------------------------------------------ Kamailio */

/* One JSON-RPC request over Kamailio's FIFO (kamrpc.h). */
static json_t *rpc(struct rt_sweep *s, const char *method, const char *params, char **err)
{
	return rt_kamrpc(s->fifo, s->reply_dir, "sweep", method, params, RT_SWEEP_RPC_MS, err);
}

/* The SIP Call-IDs of Kamailio's live dialogs, into alive (values unused).
 * CC_ERROR with *err unless the answer is a whole list. */
static int live_dialogs(struct rt_sweep *s, struct cc_map *alive, char **err)
{
	json_t *reply = rpc(s, "dlg.briefing", "[\"cs\"]", err), *result, *d;
	size_t i;

	if (!reply)
		return CC_ERROR;
	result = json_object_get(reply, "result");
	/* no dialog at all: jsonrpcs answers an empty list, or no result */
	if (!result && !json_object_get(reply, "error")) {
		json_decref(reply);
		return CC_OK;
	}
	if (!json_is_array(result)) {
		char *text = json_dumps(reply, JSON_COMPACT);

		cc_fail(err, "dlg.briefing answered %.200s", text ? text : "?");
		free(text);
		json_decref(reply);
		return CC_ERROR;
	}
	json_array_foreach(result, i, d) {
		const char *callid = json_string_value(json_object_get(d, "call-id"));
		json_int_t state = json_integer_value(json_object_get(d, "state"));

		if (!callid || !json_is_integer(json_object_get(d, "state"))) {
			cc_fail(err, "dlg.briefing: an entry without call-id or state");
			json_decref(reply);
			return CC_ERROR;
		}
		if (state < DLG_STATE_DELETED)
			cc_map_put(alive, callid, (void *)1);
	}
	json_decref(reply);
	return CC_OK;
}

/* ------------------------------------------------------------- a sweep */

/* Calls billing has answered and not ended, oldest first. */
static const char OPEN_SQL[] =
	"SELECT id::text, COALESCE(tenant_id::text, ''), COALESCE(sip_call_id, ''),"
	" (extract(epoch FROM answered_at) * 1000000)::bigint,"
	" answered_at < now() - $1::int * interval '1 second'"
	" FROM cc.calls WHERE answered_at IS NOT NULL AND ended_at IS NULL"
	" ORDER BY answered_at LIMIT " STR(RT_SWEEP_MAX_CALLS);

static void free_seen(void *p)
{
	free(p);
}

static void hand_over(struct rt_sweep *s, const struct swept *w)
{
	pthread_mutex_lock(&s->lock);
	if (s->n_ready == s->cap_ready) {
		s->cap_ready = s->cap_ready ? s->cap_ready * 2 : 64;
		s->ready = realloc(s->ready, s->cap_ready * sizeof(*s->ready));
		CC_BUG_ON(!s->ready);
	}
	s->ready[s->n_ready++] = *w;
	pthread_mutex_unlock(&s->lock);
}

static void sweep_once(struct rt_sweep *s)
{
	struct cc_map alive, seen;
	char *err = NULL, grace[24];
	const char *p[1] = { grace };
	PGresult *res;
	int64_t now;
	size_t n = 0;

	cc_map_init(&alive);
	/* the dialogs first: a call whose dialog is gone from this list was
	 * ended before the query below reads the calls */
	if (live_dialogs(s, &alive, &err) != CC_OK) {
		CC_WARN("sweep skipped: %s", err);
		free(err);
		cc_map_free(&alive, NULL);
		atomic_fetch_add(&s->failures, 1);
		return;
	}
	now = cc_now_us();
	snprintf(grace, sizeof(grace), "%ld", s->grace_s);
	if (!(res = cc_pg_exec(&s->pg, OPEN_SQL, 1, p))) {
		CC_WARN("sweep skipped: open calls not read: %s", s->pg.message);
		cc_map_free(&alive, NULL);
		atomic_fetch_add(&s->failures, 1);
		return;
	}
	cc_map_init(&seen);
	for (int r = 0; r < PQntuples(res); r++) {
		const char *call = PQgetvalue(res, r, 0), *tenant = PQgetvalue(res, r, 1);
		const char *callid = PQgetvalue(res, r, 2);
		int64_t answered = atoll(PQgetvalue(res, r, 3)), *last = cc_map_get(&s->seen, call);
		bool old = PQgetvalue(res, r, 4)[0] == 't';

		if (!*callid || !cc_uuid_valid(call) || (*tenant && !cc_uuid_valid(tenant)))
			continue;  /* nothing to match it with: never swept on doubt */
		if (cc_map_get(&alive, callid)) {
			int64_t *t = malloc(sizeof(*t));

			CC_BUG_ON(!t);
			*t = now;
			cc_map_put(&seen, call, t);
			continue;
		}
		if (!old) {
			if (last) {
				int64_t *t = malloc(sizeof(*t));

				CC_BUG_ON(!t);
				*t = *last;
				cc_map_put(&seen, call, t);
			}
			continue;
		}
		struct swept w = { .end_us = last && *last > answered ? *last : answered };

		snprintf(w.call, sizeof(w.call), "%s", call);
		snprintf(w.tenant, sizeof(w.tenant), "%s", tenant);
		cc_log(CC_LOG_WARN, 0, tenant, call, "no dialog for answered call (SIP Call-ID %.80s): "
		       "ended by the sweep, %.0f s after its answer", callid,
		       (double)(w.end_us - answered) / 1e6);
		hand_over(s, &w);
		n++;
	}
	PQclear(res);
	cc_map_free(&alive, NULL);
	cc_map_free(&s->seen, free_seen);
	s->seen = seen;
	atomic_fetch_add(&s->runs, 1);
	if (n)
		event_active(s->ready_ev, 0, 0);
}

/* ------------------------------------------------------------- threads */

static void *run(void *arg)
{
	struct rt_sweep *s = arg;

	setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
	pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		struct timespec until;

		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += s->period_s;
		while (!s->stop && pthread_cond_timedwait(&s->wake, &s->lock, &until) != ETIMEDOUT)
			;
		if (s->stop)
			break;
		if (!s->link_up || cc_mono_ms() - s->link_since_ms < RT_SWEEP_SETTLE_S * 1000) {
			CC_DEBUG("sweep skipped: the evapi link is %s", s->link_up ? "new" : "down");
			continue;
		}
		pthread_mutex_unlock(&s->lock);
		sweep_once(s);
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* On the loop: the ends the thread found. */
static void on_ready(evutil_socket_t fd, short what, void *arg)
{
	struct rt_sweep *s = arg;
	struct swept *v;
	size_t n;

	pthread_mutex_lock(&s->lock);
	v = s->ready;
	n = s->n_ready;
	s->ready = NULL;
	s->n_ready = s->cap_ready = 0;
	pthread_mutex_unlock(&s->lock);
	for (size_t i = 0; i < n; i++)
		rt_calls_swept(s->calls, v[i].call, v[i].tenant, v[i].end_us);
	rt_calls_flush(s->calls);
	free(v);
}

struct rt_sweep *rt_sweep_new(struct event_base *base, const char *pg_url, const char *fifo,
                              long period_s, long grace_s, struct rt_calls *calls)
{
	struct rt_sweep *s = calloc(1, sizeof(*s));
	pthread_condattr_t ca;
	const char *slash = strrchr(fifo, '/');
	char *url;

	if (!s)
		return NULL;
	if (!strncmp(pg_url, "postgres://", 11) || !strncmp(pg_url, "postgresql://", 13))
		url = cc_sprintf("%s%s%s", pg_url, strchr(pg_url, '?') ? "&" : "?", SWEEP_PG_URL_OPTIONS);
	else
		url = cc_sprintf("%s %s", pg_url, SWEEP_PG_KV_OPTIONS);
	s->fifo = strdup(fifo);
	s->reply_dir = slash ? strndup(fifo, (size_t)(slash - fifo)) : strdup(".");
	CC_BUG_ON(!url || !s->fifo || !s->reply_dir);
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->wake, &ca);
	pthread_condattr_destroy(&ca);
	cc_pg_init(&s->pg, url);
	free(url);
	cc_map_init(&s->seen);
	s->period_s = period_s;
	s->grace_s = grace_s;
	s->calls = calls;
	s->ready_ev = event_new(base, -1, 0, on_ready, s);
	CC_BUG_ON(!s->ready_ev);
	if (pthread_create(&s->thread, NULL, run, s) != 0) {
		s->stop = 1;
		rt_sweep_free(s);
		return NULL;
	}
	return s;
}

void rt_sweep_link(struct rt_sweep *s, int up)
{
	pthread_mutex_lock(&s->lock);
	if (up && !s->link_up)
		s->link_since_ms = cc_mono_ms();
	s->link_up = up;
	pthread_mutex_unlock(&s->lock);
}

void rt_sweep_free(struct rt_sweep *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	int started = !s->stop;

	s->stop = 1;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	if (started)
		pthread_join(s->thread, NULL);
	free(s->ready);
	event_free(s->ready_ev);
	cc_map_free(&s->seen, free_seen);
	cc_pg_close(&s->pg);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	free(s->fifo);
	free(s->reply_dir);
	free(s);
}

uint64_t rt_sweep_runs(const struct rt_sweep *s)
{
	return atomic_load(&s->runs);
}

uint64_t rt_sweep_failures(const struct rt_sweep *s)
{
	return atomic_load(&s->failures);
}
