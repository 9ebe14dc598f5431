/*
 * rpc.c: mediad's side of NATS (rpc.h, docs/MEDIA.md).
 *
 * Threads and who owns what:
 *   libre's loop   owns the answer cache, runs the handlers, builds each
 *                  heartbeat (its call count comes from the engine) and
 *                  publishes events (lib/events.h: never waits);
 *   libnats        delivers routingd's requests and tenantd's notices on
 *                  its own threads: each is copied and posted into the loop
 *                  with libre's mqueue;
 *   the heartbeat  a thread of our own sends the heartbeat the loop built
 *   thread         as a request and waits (at most a heartbeat period) for
 *                  routingd's answer, off the loop; one retransmission with
 *                  the same id when none came (routingd answers it from its
 *                  cache: it is no second sign of life). The answer is
 *                  posted into the loop.
 *
 * Requests from routingd (cc.rpc.media.<instance>.calls / .hangup) carry
 * an id; the last answers are kept 60 s by id, so a retransmission gets
 * the same answer and a hang-up is never applied twice.
 *
 * Events: cc.call.<tenant>.<type> through lib/events.h (JetStream,
 * spooled while NATS is away), with the id named by call, type and seq
 * (cc_uuid_named), so a retried event is one event for the stream and for
 * billingd.
 *
 * Not done on purpose: a mediad that routingd declared lost keeps its
 * instance id (its calls were ended; the answer is logged once). Its
 * supervisor restarting it gives it a new one.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <re_types.h>
#include <re_fmt.h>
#include <re_list.h>
#include <re_mem.h>
#include <re_mqueue.h>
#include <re_tmr.h>

#include "rpc.h"
#include "cc.h"
#include "clock.h"
#include "events.h"
#include "id.h"
#include "log.h"
#include "map.h"

#include <errno.h>
#include <stdio.h>
#include <nats/nats.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MD_RPC_CACHE_MS 60000
#define MD_RPC_SUBJECT_HB "cc.rpc.route.media"

enum mq_id {
	MQ_REQUEST = 1,              /* a request from routingd (struct req) */
	MQ_CFG,                      /* a notice: the tenant id, or "" (char *) */
	MQ_HB_ANSWER,                /* routingd's answer to a heartbeat (char *, NULL: none) */
	MQ_ANSWER,                   /* an answer to md_rpc_request (struct req: subject = token) */
};

#define MD_RPC_MAX_PENDING 4096      /* requests to routingd in flight: more are refused */

struct pending {                     /* a request to routingd, on the loop */
	struct le le;
	uint64_t handle;
	char subject[96];
	char *text;                      /* the body with its id */
	int64_t deadline_ms;
	md_rpc_answer_h *h;
	void *arg;                       /* referenced */
};

struct req {
	char *subject;               /* ...calls or ...hangup */
	char *reply;                 /* where the answer goes, NULL if nowhere */
	char *data;
};

struct cached {
	struct cached *next;
	char id[72];
	char *text;                  /* the answer */
	int64_t expires_ms;
};

static struct md_rpc {
	struct md_rpc_cfg cfg;       /* strings copied below */
	char instance[CC_UUID_LEN], sip[64], started[CC_RFC3339_LEN];
	struct md_rpc_handlers h;
	struct cc_events *ev;
	natsConnection *nc;          /* the events' connection (lib/events.h) */
	natsSubscription *sub_req, *sub_cfg;
	struct mqueue *mq;
	struct tmr hb_tmr;
	/* answers by request id (loop) */
	struct cc_map cache;
	struct cached *cache_head, **cache_tail;
	/* heartbeat thread */
	pthread_t hb_thread;
	int hb_running;
	pthread_mutex_t hb_lock;
	pthread_cond_t hb_wake;
	char *hb_next;               /* the heartbeat to send, NULL if none waits */
	int hb_stop;
	bool seen;                   /* routingd has answered ok */
	/* requests to routingd: async, answers to <inbox>.<handle> */
	char inbox[160];
	natsSubscription *sub_ans;
	struct list pending;
	uint64_t next_handle;
	struct tmr retry_tmr;
	int retry_ms;
	bool lost_logged;
	int started_ok;
} R;

/* ------------------------------------------------------------ the cache */

static void cache_expire(int64_t now)
{
	while (R.cache_head && R.cache_head->expires_ms <= now) {
		struct cached *c = R.cache_head;

		R.cache_head = c->next;
		if (!R.cache_head)
			R.cache_tail = &R.cache_head;
		if (cc_map_get(&R.cache, c->id) == c)
			cc_map_del(&R.cache, c->id);
		free(c->text);
		free(c);
	}
}

static void cache_put(const char *id, const char *text)
{
	struct cached *c = calloc(1, sizeof(*c));

	CC_BUG_ON(!c);
	snprintf(c->id, sizeof(c->id), "%s", id);
	c->text = strdup(text);
	CC_BUG_ON(!c->text);
	c->expires_ms = cc_mono_ms() + MD_RPC_CACHE_MS;
	*R.cache_tail = c;
	R.cache_tail = &c->next;
	cc_map_put(&R.cache, c->id, c);
}

/* ------------------------------------------------------- on the loop */

/* The answer to one of routingd's requests (text, malloc'd). */
static char *handle(const char *subject, const json_t *msg, const char *id)
{
	const char *what = strrchr(subject, '.');
	json_t *a;

	if (what && strcmp(what, ".calls") == 0) {
		json_t *calls = R.h.calls ? R.h.calls(R.h.arg) : NULL;

		if (!json_is_array(calls)) {
			json_decref(calls);
			calls = json_array();
		}
		a = json_pack("{s:s, s:o}", "id", id, "calls", calls);
	} else if (what && strcmp(what, ".hangup") == 0) {
		const char *call = json_string_value(json_object_get(msg, "call"));

		if (!call || !cc_uuid_valid(call))
			a = json_pack("{s:s, s:s}", "id", id, "error", "call is not an id");
		else if (!R.h.hangup || R.h.hangup(call, R.h.arg) != 0)
			a = json_pack("{s:s, s:s}", "id", id, "error", "no such call");
		else
			a = json_pack("{s:s, s:b}", "id", id, "ok", 1);
	} else if (what && R.h.acd && (!strcmp(what, ".offer") || !strcmp(what, ".cancel") ||
	                               !strcmp(what, ".route") || !strcmp(what, ".op") ||
	                               !strcmp(what, ".transfer"))) {
		a = R.h.acd(what + 1, msg, R.h.arg);
		if (!json_is_object(a)) {
			json_decref(a);
			a = json_pack("{s:b, s:s}", "ok", 0, "why", "failed");
		}
		json_object_set_new(a, "id", json_string(id));
	} else {
		a = json_pack("{s:s, s:s}", "id", id, "error", "unknown request");
	}
	char *text = json_dumps(a, JSON_COMPACT);

	json_decref(a);
	return text;
}

static void on_request(struct req *q)
{
	json_t *msg = json_loads(q->data, JSON_REJECT_DUPLICATES, NULL);
	const char *id = json_string_value(json_object_get(msg, "id"));
	const struct cached *c;
	char *text = NULL;

	cache_expire(cc_mono_ms());
	if (!json_is_object(msg) || !id || !*id || strlen(id) >= sizeof(c->id)) {
		text = strdup("{\"error\":\"a request needs an id\"}");
	} else if ((c = cc_map_get(&R.cache, id))) {
		text = strdup(c->text);   /* a retransmission: the same answer, not run again */
	} else if ((text = handle(q->subject, msg, id))) {
		cache_put(id, text);
	}
	if (q->reply && text)
		natsConnection_PublishString(R.nc, q->reply, text);
	free(text);
	json_decref(msg);
}

static void on_hb_answer(char *text)
{
	json_t *a = text ? json_loads(text, 0, NULL) : NULL;

	if (json_is_true(json_object_get(a, "ok"))) {
		if (!R.seen)
			CC_INFO("routingd has seen mediad %s at %s", R.instance, R.sip);
		R.seen = true;
		R.lost_logged = false;
	} else if (a && !R.lost_logged) {
		const char *e = json_string_value(json_object_get(a, "error"));

		CC_ERR("routingd refused mediad %s's heartbeat: %s", R.instance, e ? e : "?");
		R.lost_logged = true;
		R.seen = false;
	}
	json_decref(a);
}

/* ------------------------------------------------ requests to routingd */

static void pending_free(struct pending *p)
{
	list_unlink(&p->le);
	free(p->text);
	mem_deref(p->arg);
	free(p);
}

static void pending_send(struct pending *p)
{
	char reply[200];

	if (!R.nc)
		return;
	snprintf(reply, sizeof(reply), "%s.%" PRIu64, R.inbox, p->handle);
	(void)natsConnection_PublishRequestString(R.nc, p->subject, reply, p->text);
}

static void pending_done(struct pending *p, const json_t *answer)
{
	md_rpc_answer_h *h = p->h;
	void *arg = p->arg ? mem_ref(p->arg) : NULL;

	pending_free(p);
	if (h)
		h(answer, arg);
	mem_deref(arg);
}

static void on_retry_tmr(void *arg)
{
	int64_t now = cc_mono_ms();
	struct le *le = list_head(&R.pending);

	while (le) {
		struct pending *p = le->data;

		le = le->next;
		if (now >= p->deadline_ms) {
			CC_WARN("no answer to %s in time", p->subject);
			pending_done(p, NULL);
		} else {
			pending_send(p);
		}
	}
	if (!list_isempty(&R.pending))
		tmr_start(&R.retry_tmr, (uint64_t)R.retry_ms, on_retry_tmr, NULL);
}

static void on_answer(const char *token, const char *text)
{
	uint64_t handle = strtoull(token, NULL, 10);
	json_t *a;

	for (struct le *le = list_head(&R.pending); le; le = le->next) {
		struct pending *p = le->data;

		if (p->handle != handle)
			continue;
		a = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
		if (!json_is_object(a)) {
			json_decref(a);
			return;              /* not an answer: the retry goes on */
		}
		pending_done(p, a);
		json_decref(a);
		return;
	}
	/* an answer to a retransmission of a request answered already */
}

uint64_t md_rpc_request(const char *subject, json_t *body, int timeout_ms, md_rpc_answer_h *h,
                        void *arg)
{
	char id[CC_UUID_LEN];
	struct pending *p;

	if (!R.started_ok || !json_is_object(body) || list_count(&R.pending) >= MD_RPC_MAX_PENDING ||
	    cc_uuid(id) != CC_OK || strlen(subject) >= sizeof(p->subject)) {
		json_decref(body);
		return 0;
	}
	json_object_set_new(body, "id", json_string(id));
	p = calloc(1, sizeof(*p));
	CC_BUG_ON(!p);
	p->text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	CC_BUG_ON(!p->text);
	snprintf(p->subject, sizeof(p->subject), "%s", subject);
	p->handle = ++R.next_handle;
	p->deadline_ms = cc_mono_ms() + (timeout_ms > 0 ? timeout_ms : 1);
	p->h = h;
	p->arg = arg ? mem_ref(arg) : NULL;
	list_append(&R.pending, &p->le, p);
	pending_send(p);
	if (!tmr_isrunning(&R.retry_tmr))
		tmr_start(&R.retry_tmr, (uint64_t)R.retry_ms, on_retry_tmr, NULL);
	return p->handle;
}

void md_rpc_forget(uint64_t handle)
{
	for (struct le *le = list_head(&R.pending); handle && le; le = le->next) {
		struct pending *p = le->data;

		if (p->handle == handle) {
			p->h = NULL;
			p->arg = mem_deref(p->arg);
			return;
		}
	}
}

const char *md_rpc_instance(void)
{
	return R.instance;
}

static void on_mqueue(int id, void *data, void *arg)
{
	switch (id) {
	case MQ_REQUEST: {
		struct req *q = data;

		on_request(q);
		free(q->subject);
		free(q->reply);
		free(q->data);
		free(q);
		break;
	}
	case MQ_CFG:
		if (R.h.cfg)
			R.h.cfg(data, R.h.arg);
		free(data);
		break;
	case MQ_HB_ANSWER:
		on_hb_answer(data);
		free(data);
		break;
	case MQ_ANSWER: {
		struct req *q = data;

		on_answer(q->subject, q->data);
		free(q->subject);
		free(q->reply);
		free(q->data);
		free(q);
		break;
	}
	}
}

/* Every heartbeat_ms: the heartbeat, built here (the engine's call count,
 * kept by it: not the calls' JSON built each second to be counted), sent
 * by the heartbeat thread. */
static void on_hb_tmr(void *arg)
{
	char id[CC_UUID_LEN];
	size_t n = R.h.count ? R.h.count(R.h.arg) : 0;

	tmr_start(&R.hb_tmr, (uint64_t)R.cfg.heartbeat_ms, on_hb_tmr, NULL);
	cache_expire(cc_mono_ms());
	if (cc_uuid(id) != CC_OK)
		return;
	json_t *hb = json_pack("{s:s, s:s, s:s, s:I, s:s}", "id", id, "instance", R.instance, "sip",
	                       R.sip, "calls", (json_int_t)n, "started", R.started);
	char *text = json_dumps(hb, JSON_COMPACT);

	json_decref(hb);
	if (!text)
		return;
	pthread_mutex_lock(&R.hb_lock);
	free(R.hb_next);             /* one not yet sent is stale: the newest goes */
	R.hb_next = text;
	pthread_cond_signal(&R.hb_wake);
	pthread_mutex_unlock(&R.hb_lock);
}

/* ------------------------------------------------------- other threads */

static void *hb_run(void *arg)
{
	pthread_mutex_lock(&R.hb_lock);
	for (;;) {
		while (!R.hb_stop && !R.hb_next)
			pthread_cond_wait(&R.hb_wake, &R.hb_lock);
		if (R.hb_stop)
			break;
		char *text = R.hb_next;

		R.hb_next = NULL;
		pthread_mutex_unlock(&R.hb_lock);
		natsMsg *reply = NULL;
		/* half a period each: the answer of the first or of its
		 * retransmission comes before the next heartbeat */
		int64_t wait = R.cfg.heartbeat_ms / 2 > 50 ? R.cfg.heartbeat_ms / 2 : 50;

		for (int i = 0; i < 2 && !reply; i++)
			if (natsConnection_RequestString(&reply, R.nc, MD_RPC_SUBJECT_HB, text, wait) != NATS_OK)
				reply = NULL;
		free(text);
		char *answer = NULL;

		if (reply) {
			answer = strndup(natsMsg_GetData(reply) ? natsMsg_GetData(reply) : "",
			                 (size_t)natsMsg_GetDataLength(reply));
			natsMsg_Destroy(reply);
		}
		if (answer)
			mqueue_push(R.mq, MQ_HB_ANSWER, answer);
		pthread_mutex_lock(&R.hb_lock);
	}
	pthread_mutex_unlock(&R.hb_lock);
	return NULL;
}

/* NATS threads: copied into the loop. */
static void on_nats_req(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *arg)
{
	struct req *q = calloc(1, sizeof(*q));
	const char *reply = natsMsg_GetReply(m);

	CC_BUG_ON(!q);
	q->subject = strdup(natsMsg_GetSubject(m));
	q->reply = reply && *reply ? strdup(reply) : NULL;
	q->data = strndup(natsMsg_GetData(m) ? natsMsg_GetData(m) : "",
	                  (size_t)natsMsg_GetDataLength(m));
	natsMsg_Destroy(m);
	CC_BUG_ON(!q->subject || !q->data);
	if (mqueue_push(R.mq, MQ_REQUEST, q) != 0) {
		free(q->subject);
		free(q->reply);
		free(q->data);
		free(q);
	}
}

static void on_nats_answer(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *arg)
{
	struct req *q = calloc(1, sizeof(*q));
	const char *subject = natsMsg_GetSubject(m), *dot = strrchr(subject, '.');

	CC_BUG_ON(!q);
	q->subject = strdup(dot ? dot + 1 : "");
	q->data = strndup(natsMsg_GetData(m) ? natsMsg_GetData(m) : "",
	                  (size_t)natsMsg_GetDataLength(m));
	natsMsg_Destroy(m);
	CC_BUG_ON(!q->subject || !q->data);
	if (mqueue_push(R.mq, MQ_ANSWER, q) != 0) {
		free(q->subject);
		free(q->data);
		free(q);
	}
}

static void on_nats_cfg(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *arg)
{
	const char *subject = natsMsg_GetSubject(m);
	/* cc.cfg.<tenant id>: that tenant; anything else (_platform): all */
	char *tenant = strdup(strncmp(subject, "cc.cfg.", 7) == 0 && cc_uuid_valid(subject + 7)
	                      ? subject + 7 : "");

	natsMsg_Destroy(m);
	CC_BUG_ON(!tenant);
	if (mqueue_push(R.mq, MQ_CFG, tenant) != 0)
		free(tenant);
}

/* ------------------------------------------------------------- the API */

int md_rpc_start(const struct md_rpc_cfg *cfg, const struct md_rpc_handlers *h)
{
	char *err = NULL, subject[200];
	int e;

	if (R.started_ok)
		return EALREADY;
	if (!cfg || !h || !cfg->nats_url || !cfg->instance || !cc_uuid_valid(cfg->instance) ||
	    !cfg->sip_addr || strlen(cfg->sip_addr) >= sizeof(R.sip) || cfg->heartbeat_ms < 10)
		return EINVAL;
	memset(&R, 0, sizeof(R));
	R.cfg = *cfg;
	R.h = *h;
	snprintf(R.instance, sizeof(R.instance), "%s", cfg->instance);
	snprintf(R.sip, sizeof(R.sip), "%s", cfg->sip_addr);
	cc_rfc3339(cc_now_us(), R.started);
	cc_map_init(&R.cache);
	R.cache_tail = &R.cache_head;
	pthread_mutex_init(&R.hb_lock, NULL);
	pthread_cond_init(&R.hb_wake, NULL);
	tmr_init(&R.hb_tmr);
	tmr_init(&R.retry_tmr);
	list_init(&R.pending);
	{
		const char *ms = getenv("CC_MEDIA_RPC_RETRY_MS");

		R.retry_ms = ms && atoi(ms) >= 10 && atoi(ms) <= 10000 ? atoi(ms) : 500;
	}
	/* answers to our requests: _INBOX.<user>.mq.<instance>.<handle>, the
	 * inboxes the NATS user may subscribe to (ops/stack.sh) */
	{
		char user[128] = "";
		FILE *cf = cfg->nats_creds && *cfg->nats_creds ? fopen(cfg->nats_creds, "r") : NULL;

		if (cf) {
			if (fgets(user, sizeof(user), cf))
				user[strcspn(user, ":\r\n")] = '\0';
			fclose(cf);
		}
		snprintf(R.inbox, sizeof(R.inbox), "_INBOX%s%s.mq.%s", user[0] ? "." : "", user,
		         R.instance);
	}
	/* lib/events.h reads the credentials from the environment */
	if (cfg->nats_creds && *cfg->nats_creds)
		setenv("CC_NATS_CREDS", cfg->nats_creds, 1);
	if ((e = mqueue_alloc(&R.mq, on_mqueue, NULL)) != 0)
		return e;
	if (cc_events_open(&R.ev, cfg->nats_url, cfg->spool_dir ? cfg->spool_dir : "var/spool",
	                   "mediad", &err) != CC_OK) {
		CC_ERR("mediad's events: %s", err);
		free(err);
		R.mq = mem_deref(R.mq);
		return EINVAL;
	}
	R.nc = cc_events_conn(R.ev);
	snprintf(subject, sizeof(subject), "cc.rpc.media.%s.>", R.instance);
	if (!R.nc || natsConnection_Subscribe(&R.sub_req, R.nc, subject, on_nats_req, NULL) != NATS_OK ||
	    natsConnection_Subscribe(&R.sub_cfg, R.nc, "cc.cfg.>", on_nats_cfg, NULL) != NATS_OK) {
		CC_ERR("mediad cannot subscribe to %s and cc.cfg.>", subject);
		md_rpc_stop();
		return EIO;
	}
	snprintf(subject, sizeof(subject), "%s.*", R.inbox);
	if (natsConnection_Subscribe(&R.sub_ans, R.nc, subject, on_nats_answer, NULL) != NATS_OK) {
		CC_ERR("mediad cannot subscribe to %s and cc.cfg.>", subject);
		md_rpc_stop();
		return EIO;
	}
	if (pthread_create(&R.hb_thread, NULL, hb_run, NULL) != 0) {
		md_rpc_stop();
		return EAGAIN;
	}
	R.hb_running = 1;
	R.started_ok = 1;
	/* the first heartbeat at once: routingd sends calls only after it */
	tmr_start(&R.hb_tmr, 0, on_hb_tmr, NULL);
	return 0;
}

void md_rpc_stop(void)
{
	tmr_cancel(&R.hb_tmr);
	if (R.sub_req) {
		natsSubscription_Unsubscribe(R.sub_req);
		natsSubscription_Destroy(R.sub_req);
	}
	if (R.sub_cfg) {
		natsSubscription_Unsubscribe(R.sub_cfg);
		natsSubscription_Destroy(R.sub_cfg);
	}
	if (R.sub_ans) {
		natsSubscription_Unsubscribe(R.sub_ans);
		natsSubscription_Destroy(R.sub_ans);
	}
	R.sub_req = R.sub_cfg = R.sub_ans = NULL;
	tmr_cancel(&R.retry_tmr);
	while (R.started_ok && !list_isempty(&R.pending))
		pending_done(list_head(&R.pending)->data, NULL);
	if (R.hb_running) {
		pthread_mutex_lock(&R.hb_lock);
		R.hb_stop = 1;
		pthread_cond_signal(&R.hb_wake);
		pthread_mutex_unlock(&R.hb_lock);
		pthread_join(R.hb_thread, NULL);
		R.hb_running = 0;
	}
	free(R.hb_next);
	R.hb_next = NULL;
	if (R.ev)
		cc_events_close(R.ev, 2000);
	R.ev = NULL;
	R.nc = NULL;
	/* messages still queued are freed with the queue (libre's mqueue
	 * drops what it did not deliver) */
	R.mq = mem_deref(R.mq);
	cache_expire(INT64_MAX);
	cc_map_free(&R.cache, NULL);
	if (R.started_ok) {
		pthread_cond_destroy(&R.hb_wake);
		pthread_mutex_destroy(&R.hb_lock);
	}
	R.started_ok = 0;
}

bool md_rpc_seen(void)
{
	return R.seen;
}

int md_rpc_event(enum cc_event_type t, const char *call, const char *tenant, unsigned seq,
                 json_t *fields)
{
	char subject[128], id[CC_UUID_LEN], *name;
	json_t *ev;

	if ((unsigned)t >= CC_EV__COUNT || !call || !cc_uuid_valid(call) || !tenant ||
	    !cc_uuid_valid(tenant) || !R.ev) {
		json_decref(fields);
		return EINVAL;
	}
	if (cc_event_subject(subject, sizeof(subject), t, tenant) != CC_OK ||
	    !(ev = cc_event_new(tenant, cc_event_name(t)))) {
		json_decref(fields);
		return ENOMEM;
	}
	/* named by call, type and seq: a retry is the same event */
	if (!(name = cc_sprintf("%s/%s/%u", call, cc_event_name(t), seq))) {
		json_decref(fields);
		json_decref(ev);
		return ENOMEM;
	}
	cc_uuid_named(name, id);
	free(name);
	if (json_is_object(fields)) {
		/* the type's own fields never replace the envelope */
		const char *k;
		json_t *v;

		json_object_foreach(fields, k, v)
			if (!json_object_get(ev, k))
				json_object_set(ev, k, v);
	}
	json_decref(fields);
	json_object_set_new(ev, "id", json_string(id));
	json_object_set_new(ev, "call", json_string(call));
	json_object_set_new(ev, "seq", json_integer(seq));
	return cc_events_publish(R.ev, subject, ev) == CC_OK ? 0 : ENOSPC;
}
