/* media.c: see media.h.
 *
 * The loop owns the instances, the calls and the answer cache. The NATS
 * callback copies a heartbeat into `inbox` and wakes the loop; the hang-up
 * thread takes dialog handles from `jobs`, asks Kamailio to end them and
 * hands each one Kamailio ended back through `done`. Each hand-over is a
 * list under its own lock and an event or a condition.
 *
 * Why routingd reports the end itself (rt_media_hung_up): Kamailio 5.6.3's
 * dlg.end_dlg (dlg_bye_all) sends both BYEs, then runs dialog:end with the
 * dialog's state as it is by then; when a worker has already processed
 * the reply to the first BYE (bye_reply_cb: the state is "deleted"), the
 * old and new states are equal and dialog:end does not run: no "ended"
 * reaches routingd (41_flow_e2e, 39_media_route lost about 1 run in 3
 * under load; the same race as the dialog timer's, kamailio.cfg
 * route[DIALOG_TIMEOUT]). */
#include "media.h"
#include "cc.h"
#include "clock.h"
#include "kamrpc.h"
#include "log.h"
#include "map.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

struct inst {
	char id[CC_UUID_LEN];        /* the instance's id (new at each start of mediad) */
	char sip[64];                /* where Kamailio reaches it, host:port */
	int64_t last_ms;             /* its last heartbeat (monotonic) */
	int64_t lost_ms;             /* when it was declared lost, 0 while alive */
	unsigned calls;              /* calls of it followed now */
};

struct mcall {
	struct inst *inst;           /* never freed while a call points at it (see forget_insts) */
	char tenant[CC_UUID_LEN];
	long h_entry, h_id;          /* Kamailio's dialog, once answered */
	bool answered;
	bool leg;                    /* a leg mediad placed (not a call sent to mediad) */
	bool lost;                   /* ended by routingd: its mediad was lost */
	char sip_ci[RT_MEDIA_CI_MAX];  /* the dialog's SIP Call-ID, "" if unknown or too long */
	int64_t hung_up_ms;          /* Kamailio ended its dialog then (monotonic), 0: not yet */
	int64_t hung_up_us;          /* the same, wall clock: the end's time */
};

/* A lost call whose end was reported: a later report of the same end
 * (Kamailio's after routingd's, or a repeat) keeps the reason. In order of
 * expiry. */
struct gone {
	struct gone *next;
	char call[CC_UUID_LEN];
	int64_t expires_ms;
};

/* An answer kept by request id, in arrival order for expiry. */
struct cached {
	struct cached *next;
	char id[72];
	char *text;                  /* the answer, JSON */
	int64_t expires_ms;
};

struct msg {
	struct msg *next;
	char *data;                  /* the request's body, NUL-terminated */
	char *reply;                 /* its reply subject, NULL if none */
};

struct job {
	struct job *next;
	char call[CC_UUID_LEN];
	char tenant[CC_UUID_LEN];
	long h_entry, h_id;
	char sip_ci[RT_MEDIA_CI_MAX];  /* "": no BYE mark (see run) */
	int64_t ended_us;            /* when Kamailio ended the dialog (wall clock) */
};

struct rt_media {
	long dead_ms;
	struct inst *insts[RT_MEDIA_MAX_INSTANCES];
	size_t n_insts;
	struct cc_map calls;         /* call id -> struct mcall */
	struct cc_map cache;         /* request id -> struct cached */
	struct cached *cache_head, **cache_tail;
	struct cc_map gone;          /* call id -> struct gone */
	struct gone *gone_head, **gone_tail;
	int64_t now_ms;              /* the latest time the loop gave (check, heartbeat) */
	rt_media_end_fn *on_end;     /* a lost call's end, reported by routingd */
	void *on_end_arg;
	struct rt_media_stats st;    /* alive and tracked computed when asked */
	void (*lost_cb)(void *arg, const char *instance, int64_t now_ms);
	void *lost_arg;
	struct event *check;         /* RT_MEDIA_CHECK_MS timer */
	int64_t nc_up_since_ms;      /* routingd's own NATS link up since (0: down now) */
	/* NATS -> loop */
	natsConnection *nc;
	natsSubscription *sub;
	pthread_mutex_t in_lock;
	struct msg *inbox, **inbox_tail;
	struct event *in_ev;
	/* loop -> hang-up thread */
	char *fifo, *reply_dir;
	pthread_t thread;
	int running;
	pthread_mutex_t job_lock;
	pthread_cond_t job_wake;
	struct job *jobs, **jobs_tail;
	int stop;
	/* hang-up thread -> loop: the dialogs Kamailio ended */
	struct job *done, **done_tail;   /* under job_lock */
	struct event *done_ev;
};

static void report_due(struct rt_media *m, int64_t now_ms);

/* ----------------------------------------------------------- instances */

static struct inst *inst_find(struct rt_media *m, const char *id)
{
	for (size_t i = 0; i < m->n_insts; i++)
		if (strcmp(m->insts[i]->id, id) == 0)
			return m->insts[i];
	return NULL;
}

static void hangup_push(struct rt_media *m, const char *call, const struct mcall *c)
{
	struct job *j = calloc(1, sizeof(*j));

	CC_BUG_ON(!j);
	snprintf(j->call, sizeof(j->call), "%s", call);
	snprintf(j->tenant, sizeof(j->tenant), "%s", c->tenant);
	j->h_entry = c->h_entry;
	j->h_id = c->h_id;
	memcpy(j->sip_ci, c->sip_ci, sizeof(j->sip_ci));
	pthread_mutex_lock(&m->job_lock);
	*m->jobs_tail = j;
	m->jobs_tail = &j->next;
	pthread_cond_signal(&m->job_wake);
	pthread_mutex_unlock(&m->job_lock);
}

/* The instance is gone: no call goes to it again, and every answered call
 * it holds is ended through Kamailio (caller and legs alike). */
static void inst_lose(struct rt_media *m, struct inst *in, int64_t now_ms, const char *why)
{
	size_t n = 0;

	in->lost_ms = now_ms ? now_ms : 1;
	m->st.lost_instances++;
	for (size_t i = 0; i < m->calls.cap; i++) {
		struct mcall *c = m->calls.slots[i].value;

		if (!m->calls.slots[i].key || c->inst != in || c->lost)
			continue;
		if (!c->answered)
			continue;            /* Kamailio's timers end it (media.h) */
		c->lost = true;
		m->st.lost_calls++;
		n++;
		cc_log(CC_LOG_WARN, 0, c->tenant, m->calls.slots[i].key,
		       "media server %s (%s) lost: ending the call", in->id, in->sip);
		if (m->running)
			hangup_push(m, m->calls.slots[i].key, c);
	}
	CC_WARN("mediad %s at %s lost (%s): %zu call(s) ended", in->id, in->sip, why, n);
	if (m->lost_cb)
		m->lost_cb(m->lost_arg, in->id, now_ms);
}

void rt_media_on_lost(struct rt_media *m, void (*cb)(void *arg, const char *instance, int64_t now_ms),
                      void *arg)
{
	m->lost_cb = cb;
	m->lost_arg = arg;
}

size_t rt_media_alive(const struct rt_media *m, char (*out)[CC_UUID_LEN], size_t max)
{
	size_t n = 0;

	for (size_t i = 0; m && i < m->n_insts && n < max; i++)
		if (!m->insts[i]->lost_ms)
			snprintf(out[n++], CC_UUID_LEN, "%s", m->insts[i]->id);
	return n;
}

bool rt_media_call(const struct rt_media *m, const char *call, char tenant[CC_UUID_LEN],
                   char instance[CC_UUID_LEN])
{
	const struct mcall *c = m ? cc_map_get(&m->calls, call) : NULL;

	if (!c)
		return false;
	snprintf(tenant, CC_UUID_LEN, "%s", c->tenant);
	snprintf(instance, CC_UUID_LEN, "%s", c->inst->id);
	return true;
}

/* Lost instances no call points at any more are forgotten after 10 min
 * (until then a heartbeat from one is refused); the oldest lost one goes
 * first when the table is full. */
static void forget_insts(struct rt_media *m, int64_t now_ms, bool need_room)
{
	for (size_t i = 0; i < m->n_insts;) {
		struct inst *in = m->insts[i];

		if (in->lost_ms && !in->calls && (now_ms - in->lost_ms > 600000 || need_room)) {
			free(in);
			m->insts[i] = m->insts[--m->n_insts];
			need_room = false;
			continue;
		}
		i++;
	}
}

/* ----------------------------------------------------------- heartbeats */

/* host:port with a plain host name or IPv4 address and a port 1-65535:
 * it becomes the Request-URI's host of every call sent there */
static bool sip_addr_ok(const char *s)
{
	const char *colon = strrchr(s, ':');
	size_t hl;

	if (!colon || (hl = (size_t)(colon - s)) == 0 || hl > 63 || strlen(colon + 1) == 0 ||
	    strlen(colon + 1) > 5)
		return false;
	for (size_t i = 0; i < hl; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '-')
			return false;
	for (const char *p = colon + 1; *p; p++)
		if (!isdigit((unsigned char)*p))
			return false;
	long port = strtol(colon + 1, NULL, 10);

	return port >= 1 && port <= 65535;
}

static json_t *answer(const char *id, const char *error)
{
	if (error)
		return json_pack("{s:s, s:b, s:s}", "id", id, "ok", 0, "error", error);
	return json_pack("{s:s, s:b}", "id", id, "ok", 1);
}

static void cache_put(struct rt_media *m, const char *id, const json_t *reply, int64_t now_ms)
{
	struct cached *c = calloc(1, sizeof(*c));

	CC_BUG_ON(!c);
	snprintf(c->id, sizeof(c->id), "%s", id);
	c->text = json_dumps(reply, JSON_COMPACT);
	CC_BUG_ON(!c->text);
	c->expires_ms = now_ms + RT_MEDIA_CACHE_MS;
	*m->cache_tail = c;
	m->cache_tail = &c->next;
	cc_map_put(&m->cache, c->id, c);
}

static json_t *apply(struct rt_media *m, const json_t *msg, const char *id, int64_t now_ms)
{
	const char *instance = json_string_value(json_object_get(msg, "instance"));
	const char *sip = json_string_value(json_object_get(msg, "sip"));
	struct inst *in;

	if (!instance || !cc_uuid_valid(instance))
		return answer(id, "instance is not an id");
	if (!sip || !sip_addr_ok(sip))
		return answer(id, "sip is not host:port");
	if ((in = inst_find(m, instance))) {
		if (in->lost_ms)
			return answer(id, "this instance was declared lost: start afresh");
		if (strcmp(in->sip, sip) != 0)
			return answer(id, "an instance does not change its address");
		in->last_ms = now_ms;
		return answer(id, NULL);
	}
	/* a new instance at an address another one holds replaces it (a
	 * mediad restarted faster than its heartbeat deadline) */
	for (size_t i = 0; i < m->n_insts; i++)
		if (!m->insts[i]->lost_ms && strcmp(m->insts[i]->sip, sip) == 0)
			inst_lose(m, m->insts[i], now_ms, "replaced by a new instance");
	if (m->n_insts == RT_MEDIA_MAX_INSTANCES)
		forget_insts(m, now_ms, true);
	if (m->n_insts == RT_MEDIA_MAX_INSTANCES)
		return answer(id, "too many mediad instances");
	in = calloc(1, sizeof(*in));
	CC_BUG_ON(!in);
	snprintf(in->id, sizeof(in->id), "%s", instance);
	snprintf(in->sip, sizeof(in->sip), "%s", sip);
	in->last_ms = now_ms;
	m->insts[m->n_insts++] = in;
	CC_INFO("mediad %s at %s is alive", in->id, in->sip);
	return answer(id, NULL);
}

json_t *rt_media_heartbeat(struct rt_media *m, const json_t *msg, int64_t now_ms)
{
	const char *id = json_string_value(json_object_get(msg, "id"));
	struct cached *c;
	json_t *reply;

	if (!json_is_object(msg) || !id || !*id || strlen(id) >= sizeof(c->id)) {
		m->st.refused++;
		return answer(id && strlen(id) < 72 ? id : "", "a heartbeat needs an id");
	}
	m->now_ms = now_ms;
	/* a retransmission: the same answer, not a second sign of life */
	if ((c = cc_map_get(&m->cache, id)))
		return json_loads(c->text, 0, NULL);
	reply = apply(m, msg, id, now_ms);
	if (json_is_true(json_object_get(reply, "ok")))
		m->st.heartbeats++;
	else
		m->st.refused++;
	cache_put(m, id, reply, now_ms);
	return reply;
}

void rt_media_check(struct rt_media *m, int64_t now_ms)
{
	/* never lost on doubt: while routingd's own NATS link is down, and for
	 * a whole deadline after it came back, silence proves nothing (the
	 * heartbeats could not reach us); calls still go to the instances
	 * believed alive, and Kamailio's 2 s timer answers for a dead one */
	if (m->nc && natsConnection_Status(m->nc) != NATS_CONN_STATUS_CONNECTED)
		m->nc_up_since_ms = 0;
	else if (!m->nc_up_since_ms)
		m->nc_up_since_ms = now_ms;
	bool sure = !m->nc || (m->nc_up_since_ms && now_ms - m->nc_up_since_ms > m->dead_ms);

	m->now_ms = now_ms;

	for (size_t i = 0; sure && i < m->n_insts; i++) {
		struct inst *in = m->insts[i];

		if (!in->lost_ms && now_ms - in->last_ms > m->dead_ms)
			inst_lose(m, in, now_ms, "no heartbeat");
	}
	report_due(m, now_ms);
	forget_insts(m, now_ms, false);
	while (m->cache_head && m->cache_head->expires_ms <= now_ms) {
		struct cached *c = m->cache_head;

		m->cache_head = c->next;
		if (!m->cache_head)
			m->cache_tail = &m->cache_head;
		if (cc_map_get(&m->cache, c->id) == c)
			cc_map_del(&m->cache, c->id);
		free(c->text);
		free(c);
	}
	while (m->gone_head && m->gone_head->expires_ms <= now_ms) {
		struct gone *g = m->gone_head;

		m->gone_head = g->next;
		if (!m->gone_head)
			m->gone_tail = &m->gone_head;
		cc_map_del(&m->gone, g->call);
		free(g);
	}
}

/* ----------------------------------------------------------- calls */

const char *rt_media_pick(struct rt_media *m, char instance[CC_UUID_LEN])
{
	struct inst *best = NULL;

	if (!m)
		return NULL;
	for (size_t i = 0; i < m->n_insts; i++) {
		struct inst *in = m->insts[i];

		if (!in->lost_ms && (!best || in->calls < best->calls))
			best = in;
	}
	if (!best)
		return NULL;
	snprintf(instance, CC_UUID_LEN, "%s", best->id);
	return best->sip;
}

static void track(struct rt_media *m, const char *call, const char *tenant, struct inst *in,
                  bool leg, const char *sip_ci)
{
	struct mcall *c = calloc(1, sizeof(*c)), *old;

	CC_BUG_ON(!c);
	c->inst = in;
	c->leg = leg;
	if (sip_ci && strlen(sip_ci) < sizeof(c->sip_ci))
		memcpy(c->sip_ci, sip_ci, strlen(sip_ci) + 1);
	snprintf(c->tenant, sizeof(c->tenant), "%s", tenant);
	in->calls++;
	if ((old = cc_map_put(&m->calls, call, c))) {
		old->inst->calls--;          /* a question asked twice: the last wins */
		free(old);
	}
}

void rt_media_sent(struct rt_media *m, const char *call, const char *tenant,
                   const char *instance, const char *sip_call_id)
{
	struct inst *in;

	if (!m || !cc_uuid_valid(call) || !(in = inst_find(m, instance)))
		return;
	track(m, call, tenant, in, false, sip_call_id);
	m->st.sent++;
}

bool rt_media_leg(struct rt_media *m, const char *call, const char *tenant, const char *parent,
                  const char *sip_call_id)
{
	const struct mcall *p;

	if (!m || !cc_uuid_valid(call) || !(p = cc_map_get(&m->calls, parent)) || p->inst->lost_ms)
		return false;
	track(m, call, tenant, p->inst, true, sip_call_id);
	m->st.legs++;
	return true;
}

void rt_media_answered(struct rt_media *m, const char *call, long h_entry, long h_id)
{
	struct mcall *c;

	if (!m || !(c = cc_map_get(&m->calls, call)))
		return;
	c->answered = true;
	c->h_entry = h_entry;
	c->h_id = h_id;
	/* answered after its mediad was lost (the 200 crossed the deadline) */
	if (c->inst->lost_ms && !c->lost) {
		c->lost = true;
		m->st.lost_calls++;
		if (m->running)
			hangup_push(m, call, c);
	}
}

/* A lost call's end was reported: remembered for RT_MEDIA_GONE_MS. */
static void gone_put(struct rt_media *m, const char *call)
{
	struct gone *g;

	if (cc_map_get(&m->gone, call))
		return;
	g = calloc(1, sizeof(*g));
	CC_BUG_ON(!g);
	snprintf(g->call, sizeof(g->call), "%s", call);
	g->expires_ms = m->now_ms + RT_MEDIA_GONE_MS;
	*m->gone_tail = g;
	m->gone_tail = &g->next;
	cc_map_put(&m->gone, g->call, g);
}

bool rt_media_ended(struct rt_media *m, const char *call)
{
	struct mcall *c;
	bool lost;

	if (!m)
		return false;
	if (!(c = cc_map_del(&m->calls, call)))
		return cc_map_get(&m->gone, call) != NULL;
	lost = c->lost;
	if (lost)
		gone_put(m, call);
	c->inst->calls--;
	free(c);
	return lost;
}

void rt_media_on_end(struct rt_media *m, rt_media_end_fn *fn, void *arg)
{
	m->on_end = fn;
	m->on_end_arg = arg;
}

bool rt_media_hung_up(struct rt_media *m, const char *call, int64_t ended_us, int64_t now_ms)
{
	struct mcall *c;

	if (!m || !(c = cc_map_get(&m->calls, call)) || !c->lost || c->hung_up_ms)
		return false;                /* its end was reported already */
	c->hung_up_ms = now_ms ? now_ms : 1;
	c->hung_up_us = ended_us;
	return true;
}

/* A lost call whose dialog Kamailio ended RT_MEDIA_REPORT_WAIT_MS ago
 * without its report of the end coming: reported by the on_end hook. */
struct due {
	char call[CC_UUID_LEN];
	char tenant[CC_UUID_LEN];
	bool mediad;
	int64_t ended_us;
};

static void report_due(struct rt_media *m, int64_t now_ms)
{
	struct due *due = NULL;
	size_t n = 0, cap = 0;

	/* collected first: the hook forgets each call (the map changes) */
	for (size_t i = 0; i < m->calls.cap; i++) {
		const struct mcall *c = m->calls.slots[i].value;

		if (!m->calls.slots[i].key || !c->hung_up_ms ||
		    now_ms - c->hung_up_ms < RT_MEDIA_REPORT_WAIT_MS)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			due = realloc(due, cap * sizeof(*due));
			CC_BUG_ON(!due);
		}
		snprintf(due[n].call, sizeof(due[n].call), "%s", m->calls.slots[i].key);
		snprintf(due[n].tenant, sizeof(due[n].tenant), "%s", c->tenant);
		due[n].mediad = !c->leg;
		due[n].ended_us = c->hung_up_us;
		n++;
	}
	for (size_t i = 0; i < n; i++) {
		if (m->on_end)
			m->on_end(m->on_end_arg, due[i].call, due[i].tenant, due[i].mediad, due[i].ended_us);
		rt_media_ended(m, due[i].call);      /* forgotten, if the hook did not */
	}
	free(due);
}

void rt_media_stats(const struct rt_media *m, struct rt_media_stats *st)
{
	*st = m->st;
	st->alive = 0;
	for (size_t i = 0; i < m->n_insts; i++)
		st->alive += !m->insts[i]->lost_ms;
	st->tracked = m->calls.len;
}

/* ------------------------------------------------------------- threads */

/* NATS thread: the request to the loop, copied. */
static void on_nats(natsConnection *nc, natsSubscription *sub, natsMsg *nm, void *arg)
{
	struct rt_media *m = arg;
	struct msg *q = calloc(1, sizeof(*q));
	int len = natsMsg_GetDataLength(nm);
	const char *reply = natsMsg_GetReply(nm);

	CC_BUG_ON(!q);
	q->data = strndup(natsMsg_GetData(nm) ? natsMsg_GetData(nm) : "", len > 0 ? (size_t)len : 0);
	q->reply = reply && *reply ? strdup(reply) : NULL;
	CC_BUG_ON(!q->data || (reply && *reply && !q->reply));
	natsMsg_Destroy(nm);
	pthread_mutex_lock(&m->in_lock);
	*m->inbox_tail = q;
	m->inbox_tail = &q->next;
	pthread_mutex_unlock(&m->in_lock);
	event_active(m->in_ev, 0, 0);
}

/* On the loop: the heartbeats that came, answered in order. */
static void on_inbox(evutil_socket_t fd, short what, void *arg)
{
	struct rt_media *m = arg;
	struct msg *q, *next;

	pthread_mutex_lock(&m->in_lock);
	q = m->inbox;
	m->inbox = NULL;
	m->inbox_tail = &m->inbox;
	pthread_mutex_unlock(&m->in_lock);
	for (; q; q = next) {
		json_t *msg = json_loads(q->data, JSON_REJECT_DUPLICATES, NULL);
		json_t *reply = rt_media_heartbeat(m, msg, cc_mono_ms());
		char *text = json_dumps(reply, JSON_COMPACT);

		if (q->reply && text)
			natsConnection_PublishString(m->nc, q->reply, text);
		free(text);
		json_decref(reply);
		json_decref(msg);
		next = q->next;
		free(q->data);
		free(q->reply);
		free(q);
	}
}

/* On the loop: the dialogs Kamailio ended for the hang-up thread (their
 * ends are reported by rt_media_check unless Kamailio's reports come). */
static void on_done(evutil_socket_t fd, short what, void *arg)
{
	struct rt_media *m = arg;
	struct job *j, *next;

	pthread_mutex_lock(&m->job_lock);
	j = m->done;
	m->done = NULL;
	m->done_tail = &m->done;
	pthread_mutex_unlock(&m->job_lock);
	for (; j; j = next) {
		next = j->next;
		rt_media_hung_up(m, j->call, j->ended_us, cc_mono_ms());
		free(j);
	}
}

static void on_check(evutil_socket_t fd, short what, void *arg)
{
	rt_media_check(arg, cc_mono_ms());
}

/* Hang-up thread: $sht(byeing=>Call-ID) set in Kamailio (autoexpire 10 s). */
static void mark_byeing(struct rt_media *m, const struct job *j)
{
	json_t *p = json_pack("[s, s, i]", "byeing", j->sip_ci, 1), *r = NULL;
	char *params = p ? json_dumps(p, JSON_COMPACT) : NULL, *err = NULL;

	if (params && !(r = rt_kamrpc(m->fifo, m->reply_dir, "media", "htable.seti", params,
	                              RT_MEDIA_RPC_MS, &err))) {
		cc_log(CC_LOG_WARN, 0, j->tenant, j->call, "cannot mark the dialog's BYEs: %s", err);
		free(err);
	} else if (r && json_object_get(r, "error")) {
		cc_log(CC_LOG_WARN, 0, j->tenant, j->call, "htable.seti byeing: refused");
	}
	json_decref(r);
	free(params);
	json_decref(p);
}

/* The hang-up thread: each lost call's dialog ended through Kamailio. */
static void *run(void *arg)
{
	struct rt_media *m = arg;

	setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
	pthread_mutex_lock(&m->job_lock);
	for (;;) {
		while (!m->stop && !m->jobs)
			pthread_cond_wait(&m->job_wake, &m->job_lock);
		if (m->stop)
			break;
		struct job *j = m->jobs;

		m->jobs = j->next;
		if (!m->jobs)
			m->jobs_tail = &m->jobs;
		pthread_mutex_unlock(&m->job_lock);
		char params[64], *err = NULL;
		json_t *r;
		bool ended = false;

		/* the same mark as the dialog timer's (kamailio.cfg, reply_route):
		 * the reply to the first BYE waits until dlg.end_dlg has sent the
		 * second one and run dialog:end, so the far end gets its BYE and
		 * Kamailio reports the end (without it, a reply handled first left
		 * the dialog "deleted": the second BYE was refused, "terminating
		 * non-confirmed dialogs not supported", and dialog:end did not run) */
		if (j->sip_ci[0])
			mark_byeing(m, j);
		snprintf(params, sizeof(params), "[%ld,%ld]", j->h_entry, j->h_id);
		if (!(r = rt_kamrpc(m->fifo, m->reply_dir, "media", "dlg.end_dlg", params,
		                    RT_MEDIA_RPC_MS, &err))) {
			cc_log(CC_LOG_WARN, 0, j->tenant, j->call, "cannot end the dialog: %s", err);
			free(err);
		} else if (json_object_get(r, "error")) {
			json_t *code = json_object_get(json_object_get(r, "error"), "code");
			char *text = json_dumps(r, JSON_COMPACT);

			/* 404: the dialog is gone already (its end came or is coming) */
			ended = json_integer_value(code) == 404;
			cc_log(ended ? CC_LOG_INFO : CC_LOG_WARN, 0, j->tenant, j->call, "dlg.end_dlg %s: %.200s",
			       params, text ? text : "?");
			free(text);
		} else {
			ended = true;            /* the BYEs are out */
		}
		json_decref(r);
		pthread_mutex_lock(&m->job_lock);
		if (ended && m->done_ev) {
			/* the loop reports the end unless Kamailio's own report came */
			j->next = NULL;
			j->ended_us = cc_now_us();
			*m->done_tail = j;
			m->done_tail = &j->next;
			event_active(m->done_ev, 0, 0);
		} else {
			free(j);
		}
	}
	pthread_mutex_unlock(&m->job_lock);
	return NULL;
}

struct rt_media *rt_media_new(struct event_base *base, natsConnection *nc, const char *fifo,
                              long dead_ms)
{
	struct rt_media *m = calloc(1, sizeof(*m));
	struct timeval every = { 0, RT_MEDIA_CHECK_MS * 1000 };

	CC_BUG_ON(!m);
	m->dead_ms = dead_ms;
	cc_map_init(&m->calls);
	cc_map_init(&m->cache);
	cc_map_init(&m->gone);
	m->cache_tail = &m->cache_head;
	m->gone_tail = &m->gone_head;
	m->done_tail = &m->done;
	m->inbox_tail = &m->inbox;
	m->jobs_tail = &m->jobs;
	pthread_mutex_init(&m->in_lock, NULL);
	pthread_mutex_init(&m->job_lock, NULL);
	pthread_cond_init(&m->job_wake, NULL);
	if (base) {
		m->in_ev = event_new(base, -1, 0, on_inbox, m);
		m->check = event_new(base, -1, EV_PERSIST, on_check, m);
		m->done_ev = event_new(base, -1, 0, on_done, m);
		CC_BUG_ON(!m->in_ev || !m->check || !m->done_ev);
		event_add(m->check, &every);
	}
	if (fifo) {
		const char *slash = strrchr(fifo, '/');

		m->fifo = strdup(fifo);
		m->reply_dir = slash ? strndup(fifo, (size_t)(slash - fifo)) : strdup(".");
		CC_BUG_ON(!m->fifo || !m->reply_dir);
		if (pthread_create(&m->thread, NULL, run, m) != 0) {
			rt_media_free(m);
			return NULL;
		}
		m->running = 1;
	}
	if (nc && base) {
		m->nc = nc;
		if (natsConnection_Subscribe(&m->sub, nc, RT_MEDIA_SUBJECT, on_nats, m) != NATS_OK) {
			rt_media_free(m);
			return NULL;
		}
	}
	return m;
}

static void free_call(void *p)
{
	free(p);
}

void rt_media_free(struct rt_media *m)
{
	if (!m)
		return;
	if (m->sub) {
		natsSubscription_Unsubscribe(m->sub);
		natsSubscription_Destroy(m->sub);
	}
	if (m->running) {
		pthread_mutex_lock(&m->job_lock);
		m->stop = 1;
		pthread_cond_signal(&m->job_wake);
		pthread_mutex_unlock(&m->job_lock);
		pthread_join(m->thread, NULL);
	}
	for (struct job *j = m->jobs, *n; j; j = n) {
		n = j->next;
		free(j);
	}
	for (struct job *j = m->done, *n; j; j = n) {
		n = j->next;
		free(j);
	}
	for (struct gone *g = m->gone_head, *n; g; g = n) {
		n = g->next;
		free(g);
	}
	cc_map_free(&m->gone, NULL);
	for (struct msg *q = m->inbox, *n; q; q = n) {
		n = q->next;
		free(q->data);
		free(q->reply);
		free(q);
	}
	for (struct cached *c = m->cache_head, *n; c; c = n) {
		n = c->next;
		free(c->text);
		free(c);
	}
	cc_map_free(&m->cache, NULL);
	cc_map_free(&m->calls, free_call);
	for (size_t i = 0; i < m->n_insts; i++)
		free(m->insts[i]);
	if (m->in_ev)
		event_free(m->in_ev);
	if (m->check)
		event_free(m->check);
	if (m->done_ev)
		event_free(m->done_ev);
	pthread_cond_destroy(&m->job_wake);
	pthread_mutex_destroy(&m->job_lock);
	pthread_mutex_destroy(&m->in_lock);
	free(m->fifo);
	free(m->reply_dir);
	free(m);
}
