/* acdrpc.c: see acdrpc.h.
 *
 * The loop owns the ACD, the answer cache and the requests in flight. The
 * NATS callbacks (requests in, answers to our requests) copy the message
 * into `inbox` under its lock and wake the loop. */
#include "acdrpc.h"
#include "acd_rec.h"
#include "cc.h"
#include "clock.h"
#include "e164.h"
#include "id.h"
#include "log.h"
#include "map.h"
#include "media.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_INSTANCES 64

struct msg {
	struct msg *next;
	char *subject;
	char *data;
	char *reply;                 /* NULL: none */
};

struct cached {
	struct cached *next;
	char *key;                   /* "<subject>|<id>" */
	char *text;
	int64_t expires_ms;
};

enum out_kind { OUT_PLAIN, OUT_OFFER, OUT_CALLS, OUT_FORWARD };

/* a request of ours to mediad, until answered or given up */
struct out_req {
	char id[CC_UUID_LEN];
	char *subject, *text;
	enum out_kind kind;
	char instance[CC_UUID_LEN];  /* OUT_CALLS: whose calls */
	char *fwd_reply;             /* OUT_FORWARD: tenantd's reply subject */
	char fwd_id[72];             /* and its request id */
	char tenant[CC_UUID_LEN], call[CC_UUID_LEN], offer[CC_UUID_LEN]; /* OUT_OFFER */
	int tries;
	int64_t next_ms;
	int refusals;                /* OUT_OFFER: "not waiting" answers so far */
	bool deferred;               /* made while a request is handled: sent after its answer */
};

struct tenant_seen {
	uint64_t version;
	const struct acd_tenant_cfg *cfg;
};

struct rt_acdrpc {
	struct event_base *base;
	natsConnection *nc;
	jsCtx *js;
	struct cc_events *events;
	struct rt_media *media;
	long reconcile_ms;
	struct acd *acd;
	struct cc_map tenants;       /* tenant id -> struct tenant_seen */
	struct cc_map cache;         /* key -> struct cached */
	struct cached *cache_head, **cache_tail; /* oldest first: expiry and eviction order */
	size_t n_cache;              /* answers in the list (at most RT_ACD_CACHE_MAX) */
	struct cc_map out;           /* request id -> struct out_req */
	char inbox[128];             /* answers to our requests: <inbox>.x */
	natsSubscription *sub, *reply_sub;
	pthread_mutex_t in_lock;
	struct msg *in, **in_tail;
	struct event *in_ev, *deadline_ev, *retry_ev, *reconcile_ev;
	struct rt_acdrpc_stats st;
	bool handling;               /* a request is being handled: requests made now wait */
	bool not_yet;                /* the request handled gets no answer now (call_ok) */
};

static int64_t now_ms(void)
{
	return cc_now_us() / 1000;
}

/* -------------------------------------------------------------- helpers */

static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

int64_t rt_acd_time_ms(const char *s)
{
	struct tm tm = { 0 };
	int ms = 0, off = 0;
	const char *p;

	if (!s || strlen(s) < 20)
		return -1;
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -1;
	if (*p == '.') {
		int digits = 0;

		for (p++; *p >= '0' && *p <= '9'; p++, digits++)
			if (digits < 3)
				ms = ms * 10 + (*p - '0');
		if (!digits)
			return -1;
		for (; digits < 3; digits++)
			ms *= 10;
	}
	if (*p == 'Z' && !p[1]) {
		off = 0;
	} else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
		int h = (p[1] - '0') * 10 + (p[2] - '0'), m = (p[4] - '0') * 10 + (p[5] - '0');

		if (h > 23 || m > 59 || strspn(p + 1, "0123456789:") != 5)
			return -1;
		off = (h * 60 + m) * 60 * (*p == '+' ? 1 : -1);
	} else {
		return -1;
	}
	time_t t = timegm(&tm);

	if (t == (time_t)-1)
		return -1;
	return ((int64_t)t - off) * 1000 + ms;
}

static json_t *time_json(int64_t ms)
{
	char ts[CC_RFC3339_LEN];

	if (ms <= 0)
		return json_null();
	cc_rfc3339(ms * 1000, ts);
	return json_string(ts);
}

/* an id of a request: any short printable string (mediad's and tenantd's
 * uuids); it only keys the cache */
static bool id_ok(const char *id)
{
	size_t n = strlen(id);

	if (!n || n >= 72)
		return false;
	for (size_t i = 0; i < n; i++)
		if (id[i] <= ' ' || id[i] == 0x7f || id[i] == '|')
			return false;
	return true;
}

static json_t *fail(const char *id, const char *why)
{
	return json_pack("{s:s, s:b, s:s}", "id", id, "ok", 0, "why", why);
}

static json_t *fail_status(const char *id, int status, const char *message)
{
	return json_pack("{s:s, s:b, s:i, s:s}", "id", id, "ok", 0, "status", status, "message",
	                 message);
}

static json_t *ok(const char *id)
{
	return json_pack("{s:s, s:b}", "id", id, "ok", 1);
}

static const struct acd_tenant_cfg *cfg_of(const struct rt_acdrpc *r, const char *tenant)
{
	const struct tenant_seen *t = cc_uuid_valid(tenant) ? cc_map_get(&r->tenants, tenant) : NULL;

	return t ? t->cfg : NULL;
}

static const char *target_type(enum acd_target_type t)
{
	switch (t) {
	case ACD_TARGET_QUEUE: return "queue";
	case ACD_TARGET_AGENT: return "agent";
	case ACD_TARGET_NUMBER: return "number";
	case ACD_TARGET_FLOW: return "flow";
	case ACD_TARGET_HANGUP: return "hangup";
	case ACD_TARGET_NONE: break;
	}
	return "hangup";
}

static json_t *target_json(const struct acd_target *t)
{
	json_t *o = json_pack("{s:s, s:s}", "type", target_type(t->type), "name", t->name);

	if (t->type == ACD_TARGET_HANGUP || t->type == ACD_TARGET_NONE)
		json_object_set_new(o, "prompt", json_string(t->prompt[0] ? t->prompt : "goodbye"));
	return o;
}

/* tenantd's target {"type","name"} (a transfer); false if malformed */
static bool target_parse(const json_t *o, struct acd_target *t)
{
	const char *type = str(o, "type"), *name = str(o, "name");

	memset(t, 0, sizeof(*t));
	if (!strcmp(type, "queue"))
		t->type = ACD_TARGET_QUEUE;
	else if (!strcmp(type, "agent"))
		t->type = ACD_TARGET_AGENT;
	else if (!strcmp(type, "number"))
		t->type = ACD_TARGET_NUMBER;
	else
		return false;
	if (!*name || strlen(name) >= sizeof(t->name))
		return false;
	snprintf(t->name, sizeof(t->name), "%s", name);
	return true;
}

/* ----------------------------------------------------- requests to mediad */

static void arm_retry(struct rt_acdrpc *r)
{
	struct timeval tv = { 0, RT_ACD_RETRY_MS * 1000 };

	if (r->retry_ev && !evtimer_pending(r->retry_ev, NULL))
		evtimer_add(r->retry_ev, &tv);
}

static void out_send(struct rt_acdrpc *r, struct out_req *o)
{
	char reply[sizeof(((struct rt_acdrpc *)0)->inbox) + CC_UUID_LEN + 1];

	snprintf(reply, sizeof(reply), "%s.%s", r->inbox, o->id);
	if (o->tries++)
		r->st.resent++;
	o->next_ms = cc_mono_ms() + RT_ACD_RETRY_MS;
	if (r->nc && natsConnection_PublishRequestString(r->nc, o->subject, reply, o->text) != NATS_OK)
		CC_WARN("acd: cannot send %s (kept, retried)", o->subject);
	arm_retry(r);
}

static void out_free(struct out_req *o)
{
	free(o->subject);
	free(o->text);
	free(o->fwd_reply);
	free(o);
}

/* A request to instance's `what`, body (taken over) gets an id. */
static struct out_req *request(struct rt_acdrpc *r, const char *instance, const char *what,
                               json_t *body, enum out_kind kind)
{
	struct out_req *o;

	if (!cc_uuid_valid(instance)) {
		json_decref(body);
		return NULL;          /* never a subject bent by a name */
	}
	o = calloc(1, sizeof(*o));
	CC_BUG_ON(!o || cc_uuid(o->id) != CC_OK);
	json_object_set_new(body, "id", json_string(o->id));
	o->subject = cc_sprintf("cc.rpc.media.%s.%s", instance, what);
	o->text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	CC_BUG_ON(!o->subject || !o->text);
	o->kind = kind;
	snprintf(o->instance, sizeof(o->instance), "%s", instance);
	cc_map_put(&r->out, o->id, o);
	r->st.sent++;
	/* an offer made while mediad's enqueue is handled must reach mediad
	 * after the enqueue's answer (mediad takes offers for waiting callers) */
	if (r->handling)
		o->deferred = true;
	else
		out_send(r, o);
	return o;
}

static void forward_answer(struct rt_acdrpc *r, struct out_req *o, json_t *ans)
{
	json_t *rep;
	char *text;

	json_int_t st = json_integer_value(json_object_get(ans, "status"));

	/* mediad's refusal may name its status (a monitor's: 404 for a call
	 * of a queue the supervisor does not supervise, 422); else 409 */
	if (st != 404 && st != 409 && st != 422 && st != 503)
		st = 409;
	if (json_is_true(json_object_get(ans, "ok"))) {
		rep = ok(o->fwd_id);
		/* the recording op's answer: which recording, in which state */
		if (json_is_object(json_object_get(ans, "recording")))
			json_object_set(rep, "recording", json_object_get(ans, "recording"));
	} else if (ans)
		rep = fail_status(o->fwd_id, (int)st, str(ans, "why")[0] ? str(ans, "why") : "refused by mediad");
	else
		rep = fail_status(o->fwd_id, 503, "mediad did not answer");
	text = json_dumps(rep, JSON_COMPACT);
	if (text && o->fwd_reply)
		natsConnection_PublishString(r->nc, o->fwd_reply, text);
	free(text);
	json_decref(rep);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct rt_acdrpc *r = arg;
	int64_t now = cc_mono_ms();
	bool more = false;

	for (size_t i = 0; i < r->out.cap; i++) {
		struct out_req *o = r->out.slots[i].value;

		if (!r->out.slots[i].key)
			continue;
		if (o->deferred || o->next_ms > now) {
			more = true;
			continue;
		}
		if (o->tries >= RT_ACD_TRIES) {
			r->st.unanswered++;
			CC_WARN("acd: %s not answered after %d tries: given up", o->subject, o->tries);
			if (o->kind == OUT_FORWARD)
				forward_answer(r, o, NULL);
			cc_map_del(&r->out, o->id);
			out_free(o);
			i--;                 /* deletion shifts the probe chain back */
			continue;
		}
		out_send(r, o);
		more = true;
	}
	if (more)
		arm_retry(r);
}

/* ------------------------------------------------------ the ACD's outputs */

static void out_offer(void *arg, const struct acd_offer *of)
{
	struct rt_acdrpc *r = arg;
	const struct acd_tenant_cfg *cfg = cfg_of(r, of->tenant);
	json_t *agents = json_array();

	/* the recording policy per agent: the most specific (the agent's)
	 * may differ between the agents one offer rings (docs/RECORDING.md) */
	for (size_t i = 0; i < of->n_agents; i++)
		json_array_append_new(agents, json_pack("{s:s, s:I, s:b}", "agent", of->agents[i].agent,
		                                        "epoch", (json_int_t)of->agents[i].epoch,
		                                        "record", acd_rec_decide(cfg, of->queue,
		                                                                 of->agents[i].agent,
		                                                                 of->call)));
	json_t *b = json_pack("{s:s, s:s, s:s, s:s, s:i, s:o}", "call", of->call, "tenant", of->tenant,
	                      "offer", of->offer, "queue", of->queue ? of->queue : "", "ring_s",
	                      of->ring_s, "agents", agents);

	if (of->callback)
		json_object_set_new(b, "callback", json_string(of->callback));
	struct out_req *o = request(r, of->instance, "offer", b, OUT_OFFER);

	/* mediad's answer turns the reservation into a ring (acd_offer_taken) */
	if (o) {
		snprintf(o->tenant, sizeof(o->tenant), "%s", of->tenant);
		snprintf(o->call, sizeof(o->call), "%s", of->call);
		snprintf(o->offer, sizeof(o->offer), "%s", of->offer);
	}
}

static void out_cancel(void *arg, const char *instance, const char *call, const char *offer)
{
	request(arg, instance, "cancel", json_pack("{s:s, s:s}", "call", call, "offer", offer),
	        OUT_PLAIN);
}

static void out_route(void *arg, const char *instance, const char *call, const struct acd_target *t)
{
	request(arg, instance, "route", json_pack("{s:s, s:o}", "call", call, "target", target_json(t)),
	        OUT_PLAIN);
}

static void out_event(void *arg, const char *subject, json_t *ev)
{
	struct rt_acdrpc *r = arg;

	if (!r->events) {
		json_decref(ev);             /* the unit test's: no publisher */
		return;
	}
	if (cc_events_publish(r->events, subject, ev) != CC_OK)
		CC_WARN("acd: event %s neither published nor spooled", subject);
}

static void out_journal(void *arg, const char *subject, json_t *rec)
{
	struct rt_acdrpc *r = arg;
	char *text = json_dumps(rec, JSON_COMPACT);

	json_decref(rec);
	if (!text)
		return;
	/* acknowledged asynchronously; a record JetStream lost is repaired by
	 * the next change of the same subject (one message per subject) and,
	 * after a restart, by the reconcile against mediad */
	if (!r->js || js_PublishAsync(r->js, subject, text, (int)strlen(text), NULL) != NATS_OK)
		r->st.journal_failed++;
	else
		r->st.journaled++;
	free(text);
}

/* ------------------------------------------------------------ deadlines */

static void arm_deadline(struct rt_acdrpc *r)
{
	int64_t next = acd_next_deadline(r->acd), now = now_ms();
	struct timeval tv = { 60, 0 };

	if (!r->deadline_ev)
		return;
	if (next != INT64_MAX) {
		int64_t d = next - now;

		if (d < 0)
			d = 0;
		if (d < 60000) {
			tv.tv_sec = (time_t)(d / 1000);
			tv.tv_usec = (suseconds_t)((d % 1000) * 1000);
		}
	}
	evtimer_add(r->deadline_ev, &tv);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct rt_acdrpc *r = arg;

	acd_tick(r->acd, now_ms());
	arm_deadline(r);
}

static void on_reconcile(evutil_socket_t fd, short what, void *arg)
{
	struct rt_acdrpc *r = arg;
	char ids[MAX_INSTANCES][CC_UUID_LEN];
	size_t n = rt_media_alive(r->media, ids, MAX_INSTANCES);

	for (size_t i = 0; i < n; i++)
		request(r, ids[i], "calls", json_object(), OUT_CALLS);
}

/* ------------------------------------------------------- mediad's requests */

static bool alive(const struct rt_acdrpc *r, const char *instance)
{
	char ids[MAX_INSTANCES][CC_UUID_LEN];
	size_t n = rt_media_alive(r->media, ids, MAX_INSTANCES);

	for (size_t i = 0; i < n; i++)
		if (!strcmp(ids[i], instance))
			return true;
	return false;
}

/* A call named by mediad: if routingd follows it, it must be that
 * instance's (when named), of that tenant. One routingd does not follow
 * (it restarted since it sent it, or nobody sent it: an invented call)
 * must name an instance alive now and be held by the ACD for that tenant
 * and instance (rebuilt from the journal; an enqueue: its entry, an
 * answered call's agent is no caller): anything else would let any
 * holder of mediad's credentials put callers in any tenant's queue. */
static bool call_ok(struct rt_acdrpc *r, const char *call, const char *tenant,
                    const char *instance, bool enqueue)
{
	char t[CC_UUID_LEN], in[CC_UUID_LEN];

	if (!cc_uuid_valid(call) || !cc_uuid_valid(tenant) || (instance && !cc_uuid_valid(instance)))
		return false;
	if (rt_media_call(r->media, call, t, in))
		return strcmp(t, tenant) == 0 && (!instance || strcmp(in, instance) == 0);
	if (instance && acd_holds(r->acd, tenant, call, instance, !enqueue)) {
		if (alive(r, instance))
			return true;
		/* held for an instance not heard from (yet): just after a
		 * restart its first heartbeat may not have come; no answer now,
		 * mediad's retry (same id, every 500 ms) gets one */
		r->not_yet = true;
		return false;
	}
	r->st.untracked++;
	return false;
}

/* the instance a request names: "" and absent are none (position and
 * callback of an older mediad); anything else must be a uuid */
static const char *instance_of(const json_t *q)
{
	const json_t *v = json_object_get(q, "instance");

	if (!v || (json_is_string(v) && !*json_string_value(v)))
		return NULL;
	return json_is_string(v) ? json_string_value(v) : "-";
}

static json_t *do_enqueue(struct rt_acdrpc *r, const json_t *q, const char *id)
{
	const char *tenant = str(q, "tenant"), *call = str(q, "call"), *instance = str(q, "instance");
	const char *queue = str(q, "queue"), *caller = str(q, "caller");
	const json_t *sk = json_object_get(q, "skills"), *pr = json_object_get(q, "priority");
	struct acd_skill skills[ACD_SKILLS_MAX];
	size_t n_skills = 0;
	const struct acd_tenant_cfg *cfg = cfg_of(r, tenant);
	int64_t arrived = rt_acd_time_ms(str(q, "arrived"));
	const char *k;
	json_t *v;

	if (!cc_uuid_valid(instance) || !call_ok(r, call, tenant, instance, true) || !cfg)
		return NULL;
	if (!*queue || strlen(queue) >= ACD_NAME_MAX)
		return fail(id, "no such queue");
	if (*caller && (caller[0] != '+' || strlen(caller) > CC_E164_MAX + 1 ||
	                strspn(caller + 1, "0123456789") != strlen(caller + 1)))
		caller = "";             /* not a number: withheld, never a VIP by accident */
	if (sk && (!json_is_object(sk) || json_object_size(sk) > ACD_SKILLS_MAX))
		return NULL;
	json_object_foreach((json_t *)sk, k, v) {
		if (!*k || strlen(k) >= ACD_NAME_MAX || !json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > 5)
			return NULL;
		snprintf(skills[n_skills].name, ACD_NAME_MAX, "%s", k);
		skills[n_skills++].level = (int)json_integer_value(v);
	}
	if (pr && (!json_is_integer(pr) || json_integer_value(pr) < 0 || json_integer_value(pr) > 100))
		return NULL;
	int64_t now = now_ms();

	if (arrived <= 0 || arrived > now + 5000)
		arrived = now;
	struct acd_enqueue e = {
		.tenant = tenant, .call = call, .instance = instance, .queue = queue, .caller = caller,
		.skills = skills, .n_skills = n_skills, .priority = pr ? (int)json_integer_value(pr) : 0,
		.arrived_ms = arrived,
	};
	struct acd_enqueue_ans a = { 0 };

	acd_enqueue(r->acd, &e, now, &a);
	if (!a.ok) {
		json_t *rep = fail(id, a.why ? a.why : "refused");

		if (a.route.type != ACD_TARGET_NONE)
			json_object_set_new(rep, "route", target_json(&a.route));
		return rep;
	}
	json_t *rep = json_pack("{s:s, s:b, s:i}", "id", id, "ok", 1, "position", a.position);

	json_object_set_new(rep, "expected_wait_s",
	                    a.expected_wait_s < 0 ? json_null() : json_integer(a.expected_wait_s));
	if (a.queue) {
		json_object_set_new(rep, "music", json_string(a.queue->music));
		json_object_set_new(rep, "announce",
		                    json_pack("{s:b, s:b, s:i}", "position", a.queue->announce_position,
		                              "wait", a.queue->announce_wait, "every_s",
		                              a.queue->announce_every_s));
		json_object_set_new(rep, "callback", json_boolean(a.queue->callback));
	}
	json_object_set_new(rep, "lang", json_string(cfg->lang));
	return rep;
}

static json_t *do_position(struct rt_acdrpc *r, const json_t *q, const char *id)
{
	const char *tenant = str(q, "tenant"), *call = str(q, "call");
	struct acd_position p;

	if (!call_ok(r, call, tenant, instance_of(q), false))
		return NULL;
	if (acd_position(r->acd, tenant, call, &p) != 0)
		return fail(id, "not queued");
	json_t *rep = json_pack("{s:s, s:b, s:i}", "id", id, "ok", 1, "position", p.position);

	json_object_set_new(rep, "expected_wait_s",
	                    p.expected_wait_s < 0 ? json_null() : json_integer(p.expected_wait_s));
	return rep;
}

static json_t *do_result(struct rt_acdrpc *r, const json_t *q, const char *id)
{
	const char *tenant = str(q, "tenant"), *call = str(q, "call"), *kind = str(q, "result");
	const json_t *ep = json_object_get(q, "epoch");
	struct acd_result res = {
		.tenant = tenant, .call = call, .offer = str(q, "offer"), .agent = str(q, "agent"),
		.code = (int)json_integer_value(json_object_get(q, "code")),
		.reason = str(q, "reason"), .leg = str(q, "leg"),
	};

	if (!call_ok(r, call, tenant, instance_of(q), false))
		return NULL;
	if (!strcmp(kind, "answered"))
		res.kind = ACD_ANSWERED;
	else if (!strcmp(kind, "failed"))
		res.kind = ACD_FAILED;
	else if (!strcmp(kind, "abandoned"))
		res.kind = ACD_ABANDONED;
	else if (!strcmp(kind, "ended"))
		res.kind = ACD_ENDED;
	else if (!strcmp(kind, "callback_failed"))
		res.kind = ACD_CALLBACK_FAILED;
	else
		return NULL;
	if (ep && !json_is_null(ep) && (!json_is_integer(ep) || json_integer_value(ep) < 0))
		return NULL;
	if (strlen(res.agent) >= ACD_EXT_MAX ||
	    strlen(res.offer) >= CC_UUID_LEN || strlen(res.leg) >= CC_UUID_LEN + 8)
		return NULL;
	res.epoch = ep && json_is_integer(ep) ? (uint64_t)json_integer_value(ep) : 0;
	if (acd_result(r->acd, &res, now_ms()) == ESTALE)
		return fail(id, "stale");
	return ok(id);
}

static json_t *do_callback(struct rt_acdrpc *r, const json_t *q, const char *id)
{
	const char *tenant = str(q, "tenant"), *call = str(q, "call"), *number = str(q, "number");
	char digits[CC_E164_MAX];

	if (!call_ok(r, call, tenant, instance_of(q), false))
		return NULL;
	if (number[0] != '+' || cc_e164_from_sip(number, strlen(number), digits) != CC_OK)
		return fail(id, "not a number");
	char canon[CC_E164_MAX + 2];

	snprintf(canon, sizeof(canon), "+%s", digits);
	switch (acd_callback(r->acd, tenant, call, canon, now_ms())) {
	case 0: return ok(id);
	case EPERM: return fail(id, "the queue takes no callback");
	default: return fail(id, "not queued");
	}
}

/* ------------------------------------------------------ tenantd's requests */

/* The agent's state as its desktop shows it: with the wrap-up's end, and
 * how many callers wait in each of its queues (counts only: an agent's key
 * reads no caller's number from here). */
static json_t *agent_json(const struct acd *acd, const char *tenant,
                          const struct acd_tenant_cfg *cfg, const struct acd_agent_view *v)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:I}", "extension", v->ext, "state",
	                      acd_state_name(v->state), "reason", v->reason, "since",
	                      time_json(v->since_ms), "seq", (json_int_t)v->seq);
	json_t *queues = json_array(), *waiting = json_object();

	if (v->has_pending)
		json_object_set_new(o, "pending", json_pack("{s:s, s:s}", "state",
		                                            acd_state_name(v->pending), "reason",
		                                            v->pending_reason));
	if (v->call[0])
		json_object_set_new(o, "call", json_string(v->call));
	if (v->until_ms > 0)
		json_object_set_new(o, "until", time_json(v->until_ms));
	for (size_t i = 0; cfg && i < cfg->n_agents; i++) {
		if (strcmp(cfg->agents[i].ext, v->ext) != 0)
			continue;
		for (size_t k = 0; k < cfg->agents[i].n_queues; k++) {
			const char *name;
			int n;

			if (cfg->agents[i].queues[k].queue >= cfg->n_queues)
				continue;
			name = cfg->queues[cfg->agents[i].queues[k].queue].name;
			json_array_append_new(queues, json_string(name));
			if ((n = acd_queue_waiting(acd, tenant, name)) >= 0)
				json_object_set_new(waiting, name, json_integer(n));
		}
	}
	json_object_set_new(o, "queues", queues);
	json_object_set_new(o, "waiting", waiting);
	return o;
}

static json_t *do_agent(struct rt_acdrpc *r, const json_t *q, const char *id)
{
	const char *tenant = str(q, "tenant"), *ext = str(q, "extension");
	const json_t *state = json_object_get(q, "state");
	const struct acd_tenant_cfg *cfg = cfg_of(r, tenant);
	struct acd_agent_view v;
	enum acd_state want;
	int rc;

	if (!cfg || !*ext || strlen(ext) >= ACD_EXT_MAX)
		return fail_status(id, 404, "no such agent");
	if (!state) {
		rc = acd_agent_get(r->acd, tenant, ext, &v);
	} else {
		const char *reason = str(q, "reason");

		if (!json_is_string(state) || acd_state_parse(json_string_value(state), &want) != 0 ||
		    (want != ACD_READY && want != ACD_NOT_READY && want != ACD_LOGGED_OUT))
			return fail_status(id, 422, "state is ready, not_ready or logged_out");
		if (strlen(reason) >= ACD_NAME_MAX)
			return fail_status(id, 422, "reason is not a pause reason of the tenant");
		rc = acd_agent_set(r->acd, tenant, ext, want, *reason ? reason : NULL, now_ms(), &v);
		if (rc == EINVAL)
			return fail_status(id, 422, "reason is not a pause reason of the tenant");
	}
	if (rc == ENOENT)
		return fail_status(id, 404, "no such agent");
	if (rc != 0)
		return fail_status(id, 409, "the agent's state cannot change now");
	return json_pack("{s:s, s:b, s:o}", "id", id, "ok", 1, "agent", agent_json(r->acd, tenant, cfg, &v));
}

static json_t *do_live(struct rt_acdrpc *r, const json_t *q, const char *id)
{
	const char *tenant = str(q, "tenant"), *queue = str(q, "queue");
	json_t *view;

	if (!cfg_of(r, tenant))
		return fail_status(id, 404, "no such tenant");
	if (json_is_true(json_object_get(q, "agents")))
		view = acd_live_agents(r->acd, tenant, now_ms());
	else if (*queue && strlen(queue) < ACD_NAME_MAX)
		view = acd_live_queue(r->acd, tenant, queue, now_ms());
	else
		view = NULL;
	if (!view)
		return fail_status(id, 404, "no such queue");
	if (json_is_object(view)) {
		json_object_set_new(view, "id", json_string(id));
		json_object_set_new(view, "ok", json_true());
	}
	return view;
}

/* hold / unhold / transfer (blind or consult) / complete / cancel /
 * monitor / recording of a call: mediad's, asked on tenantd's behalf;
 * answered when mediad answers (NULL: the answer comes later) */
static json_t *do_call(struct rt_acdrpc *r, const json_t *q, const char *id, const char *reply,
                       bool *later)
{
	const char *tenant = str(q, "tenant"), *call = str(q, "call"), *op = str(q, "op");
	char t[CC_UUID_LEN], instance[CC_UUID_LEN];
	struct out_req *o;
	json_t *body;

	if (!cfg_of(r, tenant) || !cc_uuid_valid(call) || !rt_media_call(r->media, call, t, instance) ||
	    strcmp(t, tenant) != 0)
		return fail_status(id, 404, "no such call on a media server");
	/* an agent's key (its desktop) acts on the call it is on, never on a
	 * colleague's: tenantd names the agent, the ACD says which call is its.
	 * Only on_call: in wrapup the view names the call the agent left (after
	 * a transfer it goes on with someone else) */
	if (strcmp(op, "recording") != 0 && *str(q, "agent")) {
		struct acd_agent_view v;

		if (acd_agent_get(r->acd, tenant, str(q, "agent"), &v) != 0 || v.state != ACD_ON_CALL ||
		    strcmp(v.call, call) != 0)
			return fail_status(id, 404, "no such call");
	}
	if (!strcmp(op, "hold") || !strcmp(op, "unhold") || !strcmp(op, "complete") ||
	    !strcmp(op, "cancel")) {
		body = json_pack("{s:s, s:s}", "call", call, "op", op);
		o = request(r, instance, "op", body, OUT_FORWARD);
	} else if (!strcmp(op, "transfer")) {
		const char *mode = str(q, "mode");
		struct acd_target tg;

		if (!target_parse(json_object_get(q, "target"), &tg))
			return fail_status(id, 422, "target is {\"type\":\"agent\"|\"queue\"|\"number\",\"name\"}");
		if (*mode && strcmp(mode, "blind") != 0 && strcmp(mode, "consult") != 0)
			return fail_status(id, 422, "mode is blind or consult");
		/* mediad ends the agent's leg itself (its `ended`: wrap-up) and
		 * takes the caller on; a queue target comes back as its enqueue */
		body = json_pack("{s:s, s:o, s:s}", "call", call, "target", target_json(&tg), "mode",
		                 *mode ? mode : "blind");
		o = request(r, instance, "transfer", body, OUT_FORWARD);
	} else if (!strcmp(op, "monitor") || !strcmp(op, "monitor_mode") ||
	           !strcmp(op, "monitor_end")) {
		/* supervision: mediad checks the call's queue against the
		 * supervisor's (tenantd read them from the tenant's agent) */
		const char *sup = str(q, "supervisor"), *mode = str(q, "mode");
		const json_t *qs = json_object_get(q, "queues");

		if (!*sup || strlen(sup) > 8 || strspn(sup, "0123456789") != strlen(sup))
			return fail_status(id, 422, "supervisor is an extension");
		if (!json_is_array(qs) || json_array_size(qs) > 256)
			return fail_status(id, 422, "queues is an array of names");
		body = json_pack("{s:s, s:s, s:s, s:s, s:O}", "call", call, "op", op, "supervisor", sup,
		                 "mode", mode, "queues", qs);
		o = request(r, instance, "op", body, OUT_FORWARD);
	} else if (!strcmp(op, "recording")) {
		/* mediad checks a supervisor's queues / an agent's own call */
		const char *action = str(q, "action"), *agent = str(q, "agent");
		const json_t *qs = json_object_get(q, "queues");

		if (strcmp(action, "start") && strcmp(action, "stop") && strcmp(action, "pause") &&
		    strcmp(action, "resume"))
			return fail_status(id, 422, "action is start, stop, pause or resume");
		if (strlen(agent) > 8 || strspn(agent, "0123456789") != strlen(agent))
			return fail_status(id, 422, "agent is an extension");
		if (qs && (!json_is_array(qs) || json_array_size(qs) > 256))
			return fail_status(id, 422, "queues is an array of names");
		body = json_pack("{s:s, s:s, s:s}", "call", call, "op", op, "action", action);
		if (*agent)
			json_object_set_new(body, "agent", json_string(agent));
		if (qs)
			json_object_set(body, "queues", (json_t *)qs);
		o = request(r, instance, "op", body, OUT_FORWARD);
	} else {
		return fail_status(id, 422, "op is hold, unhold, transfer, complete, cancel, monitor "
		                   "or recording");
	}
	if (!o)
		return fail_status(id, 404, "no such call on a media server");
	snprintf(o->fwd_id, sizeof(o->fwd_id), "%s", id);
	o->fwd_reply = reply ? strdup(reply) : NULL;
	*later = true;
	return NULL;
}

/* ------------------------------------------------------------ the inbox */

/* the oldest answer kept goes */
static void cache_drop_oldest(struct rt_acdrpc *r)
{
	struct cached *c = r->cache_head;

	r->cache_head = c->next;
	if (!r->cache_head)
		r->cache_tail = &r->cache_head;
	if (cc_map_get(&r->cache, c->key) == c)
		cc_map_del(&r->cache, c->key);
	r->n_cache--;
	free(c->key);
	free(c->text);
	free(c);
}

/* Kept RT_ACD_CACHE_MS, and at most RT_ACD_CACHE_MAX answers: a flood of
 * distinct ids (a mediad gone wrong, or a holder of its credentials)
 * evicts the oldest first instead of growing without end; a retry of an
 * evicted one is applied again (the ACD's inputs are idempotent by call). */
static void cache_put(struct rt_acdrpc *r, const char *key, const json_t *rep)
{
	struct cached *c = calloc(1, sizeof(*c));

	CC_BUG_ON(!c);
	c->key = strdup(key);
	c->text = json_dumps(rep, JSON_COMPACT);
	CC_BUG_ON(!c->key || !c->text);
	c->expires_ms = cc_mono_ms() + RT_ACD_CACHE_MS;
	while (r->n_cache >= RT_ACD_CACHE_MAX) {
		cache_drop_oldest(r);
		r->st.cache_evicted++;
	}
	*r->cache_tail = c;
	r->cache_tail = &c->next;
	r->n_cache++;
	cc_map_put(&r->cache, c->key, c);
}

static void cache_expire(struct rt_acdrpc *r)
{
	int64_t now = cc_mono_ms();

	while (r->cache_head && r->cache_head->expires_ms <= now)
		cache_drop_oldest(r);
}

/* an answer to one of our requests */
static void on_answer(struct rt_acdrpc *r, const json_t *ans)
{
	const char *id = str(ans, "id");
	struct out_req *o = *id ? cc_map_del(&r->out, id) : NULL;

	if (!o)
		return;                      /* late, or a second answer */
	if (o->kind == OUT_CALLS) {
		const json_t *calls = json_object_get(ans, "calls");

		if (json_is_array(calls)) {
			acd_reconcile(r->acd, o->instance, calls, now_ms());
			r->st.reconciles++;
		}
	} else if (o->kind == OUT_FORWARD) {
		forward_answer(r, o, (json_t *)ans);
	} else if (o->kind == OUT_OFFER) {
		bool taken = json_is_true(json_object_get(ans, "ok"));

		/* only a call mediad no longer has ends the entry; another refusal
		 * (it is ringing another offer, it is being bridged) leaves the
		 * reservation to its deadline, which cancels and offers again */
		if (taken || !strcmp(str(ans, "why"), "no such call")) {
			acd_offer_taken(r->acd, o->tenant, o->call, o->offer, taken, now_ms());
		} else if (!strcmp(str(ans, "why"), "not waiting") && o->refusals < 4) {
			/* the caller's enqueue answer still on its way to mediad's
			 * loop: the same offer again, as a new request (mediad keeps
			 * answers by request id), within the reservation's time */
			struct out_req *again = calloc(1, sizeof(*again));

			CC_BUG_ON(!again || cc_uuid(again->id) != CC_OK);
			*again = *o;
			CC_BUG_ON(cc_uuid(again->id) != CC_OK);
			json_t *b = json_loads(o->text, 0, NULL);

			json_object_set_new(b, "id", json_string(again->id));
			again->text = json_dumps(b, JSON_COMPACT);
			json_decref(b);
			again->subject = strdup(o->subject);
			again->fwd_reply = NULL;
			again->tries = 0;
			again->refusals = o->refusals + 1;
			again->deferred = false;
			CC_BUG_ON(!again->text || !again->subject);
			/* sent by the retry timer after RT_ACD_RETRY_MS / 2 */
			again->tries = 1;
			again->next_ms = cc_mono_ms() + RT_ACD_RETRY_MS / 2;
			cc_map_put(&r->out, again->id, again);
			arm_retry(r);
		} else {
			CC_INFO("acd: offer %s of call %s refused: %.100s", o->offer, o->call, str(ans, "why"));
		}
	} else if (!json_is_true(json_object_get(ans, "ok"))) {
		CC_INFO("acd: %s refused: %.100s", o->subject, str(ans, "why"));
	}
	out_free(o);
}

/* keep: the answer too, for the unit test (NULL: not kept) */
static void handle(struct rt_acdrpc *r, const struct msg *m, json_t **keep)
{
	json_t *q = json_loads(m->data, JSON_REJECT_DUPLICATES, NULL), *rep = NULL;
	const char *what, *id = str(q, "id");
	bool later = false;
	char *key = NULL;

	if (*r->inbox && strncmp(m->subject, r->inbox, strlen(r->inbox)) == 0) {
		if (json_is_object(q))
			on_answer(r, q);
		json_decref(q);
		return;
	}
	what = m->subject + strlen(RT_ACD_PREFIX);
	if (!json_is_object(q) || !id_ok(id)) {
		r->st.refused++;
		rep = fail(json_is_object(q) && strlen(id) < 72 ? id : "", "a request needs an id");
		goto answer;
	}
	key = cc_sprintf("%s|%s", what, id);
	CC_BUG_ON(!key);
	struct cached *c = cc_map_get(&r->cache, key);

	if (c) {
		r->st.retries_in++;
		rep = json_loads(c->text, 0, NULL);
		goto answer;
	}
	r->st.requests++;
	if (!strcmp(what, "enqueue"))
		rep = do_enqueue(r, q, id);
	else if (!strcmp(what, "position"))
		rep = do_position(r, q, id);
	else if (!strcmp(what, "result"))
		rep = do_result(r, q, id);
	else if (!strcmp(what, "callback"))
		rep = do_callback(r, q, id);
	else if (!strcmp(what, "agent"))
		rep = do_agent(r, q, id);
	else if (!strcmp(what, "live"))
		rep = do_live(r, q, id);
	else if (!strcmp(what, "call"))
		rep = do_call(r, q, id, m->reply, &later);
	else
		rep = fail(id, "unknown request");
	if (later)
		goto out;
	if (r->not_yet) {
		r->not_yet = false;      /* asked again by mediad: nothing cached */
		goto out;
	}
	if (!rep) {
		r->st.refused++;
		rep = fail(id, "malformed, or not a call of this media server and tenant");
	}
	/* live views are read again each time; everything else once */
	if (strcmp(what, "live") != 0 && strcmp(what, "agent") != 0)
		cache_put(r, key, rep);
	else if (json_object_get(q, "state"))
		cache_put(r, key, rep);
answer:
	if (keep)
		*keep = json_incref(rep);
	if (m->reply) {
		char *text = json_dumps(rep, JSON_COMPACT);

		if (text)
			natsConnection_PublishString(r->nc, m->reply, text);
		free(text);
	}
out:
	json_decref(rep);
	json_decref(q);
	free(key);
}

static void send_deferred(struct rt_acdrpc *r)
{
	for (size_t i = 0; i < r->out.cap; i++) {
		struct out_req *o = r->out.slots[i].value;

		if (r->out.slots[i].key && o->deferred) {
			o->deferred = false;
			out_send(r, o);
		}
	}
}

static void on_inbox(evutil_socket_t fd, short what, void *arg)
{
	struct rt_acdrpc *r = arg;
	struct msg *m, *next;

	pthread_mutex_lock(&r->in_lock);
	m = r->in;
	r->in = NULL;
	r->in_tail = &r->in;
	pthread_mutex_unlock(&r->in_lock);
	cache_expire(r);
	for (; m; m = next) {
		next = m->next;
		r->handling = true;
		handle(r, m, NULL);
		r->handling = false;
		send_deferred(r);
		free(m->subject);
		free(m->data);
		free(m->reply);
		free(m);
	}
	arm_deadline(r);
}

json_t *rt_acdrpc_apply(struct rt_acdrpc *r, const char *subject, const char *text)
{
	struct msg m = { .subject = (char *)subject, .data = (char *)text };
	json_t *ans = NULL;

	cache_expire(r);
	r->handling = true;
	handle(r, &m, &ans);
	r->handling = false;
	send_deferred(r);
	return ans;
}

/* NATS thread: copied to the loop */
static void on_nats(natsConnection *nc, natsSubscription *sub, natsMsg *nm, void *arg)
{
	struct rt_acdrpc *r = arg;
	struct msg *m = calloc(1, sizeof(*m));
	int len = natsMsg_GetDataLength(nm);
	const char *reply = natsMsg_GetReply(nm);

	CC_BUG_ON(!m);
	m->subject = strdup(natsMsg_GetSubject(nm));
	m->data = strndup(natsMsg_GetData(nm) ? natsMsg_GetData(nm) : "", len > 0 ? (size_t)len : 0);
	m->reply = reply && *reply ? strdup(reply) : NULL;
	CC_BUG_ON(!m->subject || !m->data || (reply && *reply && !m->reply));
	natsMsg_Destroy(nm);
	pthread_mutex_lock(&r->in_lock);
	*r->in_tail = m;
	r->in_tail = &m->next;
	pthread_mutex_unlock(&r->in_lock);
	event_active(r->in_ev, 0, 0);
}

/* ----------------------------------------------------------- the model */

void rt_acdrpc_model(struct rt_acdrpc *r, const struct rt_model *m)
{
	int64_t now = now_ms();

	for (size_t i = 0; i < m->tenants.cap; i++) {
		const struct rt_tenant *t = m->tenants.slots[i].value;
		struct tenant_seen *s;

		if (!m->tenants.slots[i].key || !t->enabled || !t->acd)
			continue;
		s = cc_map_get(&r->tenants, t->id);
		if (s && s->cfg == t->acd && s->version == t->acd->version)
			continue;
		if (!s) {
			s = calloc(1, sizeof(*s));
			CC_BUG_ON(!s);
			cc_map_put(&r->tenants, t->id, s);
		}
		s->cfg = t->acd;
		s->version = t->acd->version;
		acd_configure(r->acd, t->acd, now);
	}
	/* gone or disabled: forgotten (its callers hang up) */
	for (size_t i = 0; i < r->tenants.cap; i++) {
		const char *id = r->tenants.slots[i].key;
		const struct rt_tenant *t;

		if (!id)
			continue;
		t = cc_map_get(&m->tenants, id);
		if (t && t->enabled && t->acd)
			continue;
		char tid[CC_UUID_LEN];

		snprintf(tid, sizeof(tid), "%s", id);
		acd_forget(r->acd, tid, now);
		free(cc_map_del(&r->tenants, tid));
		i--;
	}
	arm_deadline(r);
}

void rt_acdrpc_busy(void *arg, const char *tenant, const char *ext, const char *call, bool busy)
{
	struct rt_acdrpc *r = arg;

	if (!cfg_of(r, tenant))
		return;
	acd_agent_busy(r->acd, tenant, ext, call, busy, now_ms());
	arm_deadline(r);
}

void rt_acdrpc_registered(void *arg, const char *tenant, const char *ext, bool registered)
{
	struct rt_acdrpc *r = arg;

	if (!cfg_of(r, tenant))
		return;
	r->st.registrations++;
	acd_agent_registered(r->acd, tenant, ext, registered, now_ms());
	arm_deadline(r);
}

void rt_acdrpc_lost(void *arg, const char *instance, int64_t mono_ms)
{
	struct rt_acdrpc *r = arg;

	(void)mono_ms;
	acd_instance_lost(r->acd, instance, now_ms());
	/* its requests will not be answered */
	for (size_t i = 0; i < r->out.cap; i++) {
		struct out_req *o = r->out.slots[i].value;

		if (!r->out.slots[i].key || strcmp(o->instance, instance) != 0)
			continue;
		if (o->kind == OUT_FORWARD)
			forward_answer(r, o, NULL);
		cc_map_del(&r->out, o->id);
		out_free(o);
		i--;
	}
	arm_deadline(r);
}

void rt_acdrpc_sticky(void *arg, const char *tenant, const char *caller, const char *ext,
                      int64_t answered_ms)
{
	struct rt_acdrpc *r = arg;

	acd_sticky_seed(r->acd, tenant, caller, ext, answered_ms);
}

/* ------------------------------------------------------------ the journal */

static int ensure_stream(struct rt_acdrpc *r, char **err)
{
	static const char *subjects[] = { "cc.acd.>" };
	jsStreamInfo *si = NULL;
	jsStreamConfig sc;
	jsErrCode jerr = 0;
	natsStatus s;

	if (js_GetStreamInfo(&si, r->js, RT_ACD_STREAM, NULL, &jerr) == NATS_OK) {
		jsStreamInfo_Destroy(si);
		return CC_OK;
	}
	jsStreamConfig_Init(&sc);
	sc.Name = RT_ACD_STREAM;
	sc.Subjects = subjects;
	sc.SubjectsLen = 1;
	sc.Storage = js_FileStorage;
	sc.MaxMsgsPerSubject = 1;
	s = js_AddStream(&si, r->js, &sc, NULL, &jerr);
	if (s != NATS_OK && jerr != JSStreamNameExistErr)
		return cc_fail(err, "cannot create stream %s: %s (%d)", RT_ACD_STREAM,
		               natsStatus_GetText(s), (int)jerr);
	jsStreamInfo_Destroy(si);
	return CC_OK;
}

int rt_acdrpc_restore(struct rt_acdrpc *r, int timeout_ms)
{
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	jsSubOptions so;
	natsSubscription *sub = NULL;
	char *err = NULL;
	uint64_t want;
	int64_t deadline = cc_mono_ms() + timeout_ms, now = now_ms();

	if (ensure_stream(r, &err) != CC_OK) {
		CC_WARN("acd: %s: the ACD starts empty", err);
		free(err);
		return CC_ERROR;
	}
	if (js_GetStreamInfo(&si, r->js, RT_ACD_STREAM, NULL, &jerr) != NATS_OK) {
		CC_WARN("acd: cannot read %s's state: the ACD starts empty", RT_ACD_STREAM);
		return CC_ERROR;
	}
	want = si->State.Msgs;
	jsStreamInfo_Destroy(si);
	if (!want)
		return CC_OK;
	jsSubOptions_Init(&so);
	so.Stream = RT_ACD_STREAM;
	so.Ordered = true;
	so.Config.DeliverPolicy = js_DeliverLastPerSubject;
	if (js_SubscribeSync(&sub, r->js, "cc.acd.>", NULL, &so, &jerr) != NATS_OK) {
		CC_WARN("acd: cannot read %s (%d): the ACD starts empty", RT_ACD_STREAM, (int)jerr);
		return CC_ERROR;
	}
	for (uint64_t got = 0; got < want;) {
		natsMsg *m = NULL;
		int64_t left = deadline - cc_mono_ms();
		jsMsgMetaData *meta = NULL;

		if (left <= 0 || natsSubscription_NextMsg(&m, sub, left) != NATS_OK)
			break;
		int len = natsMsg_GetDataLength(m);
		char *text = strndup(natsMsg_GetData(m) ? natsMsg_GetData(m) : "", len > 0 ? (size_t)len : 0);
		json_t *rec = text ? json_loads(text, JSON_REJECT_DUPLICATES, NULL) : NULL;

		if (rec && acd_restore(r->acd, natsMsg_GetSubject(m), rec, now) == 0)
			r->st.restored++;
		json_decref(rec);
		free(text);
		got++;
		bool last = natsMsg_GetMetaData(&meta, m) == NATS_OK && meta->NumPending == 0;

		jsMsgMetaData_Destroy(meta);
		natsMsg_Destroy(m);
		if (last)
			break;
	}
	natsSubscription_Unsubscribe(sub);
	natsSubscription_Destroy(sub);
	CC_INFO("acd: %llu journal record(s) read back from %s",
	        (unsigned long long)r->st.restored, RT_ACD_STREAM);
	return CC_OK;
}

/* ----------------------------------------------------------- life cycle */

struct rt_acdrpc *rt_acdrpc_new(struct event_base *base, natsConnection *nc,
                                struct cc_events *events, struct rt_media *media,
                                long reconcile_ms, char **err)
{
	struct rt_acdrpc *r = calloc(1, sizeof(*r));
	struct acd_out out = {
		.offer = out_offer, .cancel = out_cancel, .route = out_route, .event = out_event,
		.journal = out_journal, .arg = r,
	};
	natsInbox *inbox = NULL;

	CC_BUG_ON(!r);
	r->base = base;
	r->nc = nc;
	r->events = events;
	r->media = media;
	r->reconcile_ms = reconcile_ms;
	cc_map_init(&r->tenants);
	cc_map_init(&r->cache);
	cc_map_init(&r->out);
	r->cache_tail = &r->cache_head;
	r->in_tail = &r->in;
	pthread_mutex_init(&r->in_lock, NULL);
	r->acd = acd_new(&out, (uint64_t)cc_now_us());
	CC_BUG_ON(!r->acd);
	if (nc) {
		if (natsConnection_JetStream(&r->js, nc, NULL) != NATS_OK) {
			cc_fail(err, "no JetStream context");
			rt_acdrpc_free(r);
			return NULL;
		}
		/* answers to our requests: _INBOX.<user>.acd.<nuid>.<id>, under the
		 * only inboxes the NATS user may subscribe to (lib/events.c,
		 * ops/stack.sh); the user is CC_NATS_CREDS's first field */
		char user[64] = "";
		const char *creds = getenv("CC_NATS_CREDS");
		FILE *cf = creds && *creds ? fopen(creds, "r") : NULL;

		if (cf) {
			if (fgets(user, sizeof(user), cf))
				user[strcspn(user, ":\r\n")] = '\0';
			fclose(cf);
		}
		if (strspn(user, "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(user) ||
		    natsInbox_Create(&inbox) != NATS_OK) {
			cc_fail(err, "no inbox");
			rt_acdrpc_free(r);
			return NULL;
		}
		/* the nuid after the last dot of "_INBOX.<nuid>" */
		snprintf(r->inbox, sizeof(r->inbox), "_INBOX%s%s.acd.%s", *user ? "." : "", user,
		         strrchr(inbox, '.') ? strrchr(inbox, '.') + 1 : inbox);
		natsInbox_Destroy(inbox);
	}
	if (base) {
		r->in_ev = event_new(base, -1, 0, on_inbox, r);
		r->deadline_ev = evtimer_new(base, on_deadline, r);
		r->retry_ev = evtimer_new(base, on_retry, r);
		r->reconcile_ev = event_new(base, -1, EV_PERSIST, on_reconcile, r);
		CC_BUG_ON(!r->in_ev || !r->deadline_ev || !r->retry_ev || !r->reconcile_ev);
	}
	return r;
}

int rt_acdrpc_start(struct rt_acdrpc *r, char **err)
{
	struct timeval every = { r->reconcile_ms / 1000, (r->reconcile_ms % 1000) * 1000 };
	char sub[sizeof(r->inbox) + 3];

	if (r->nc) {
		snprintf(sub, sizeof(sub), "%s.*", r->inbox);
		if (natsConnection_Subscribe(&r->sub, r->nc, RT_ACD_PREFIX "*", on_nats, r) != NATS_OK ||
		    natsConnection_Subscribe(&r->reply_sub, r->nc, sub, on_nats, r) != NATS_OK)
			return cc_fail(err, "cannot subscribe to %s* and %s", RT_ACD_PREFIX, sub);
	}
	if (r->reconcile_ev)
		event_add(r->reconcile_ev, &every);
	arm_deadline(r);
	return CC_OK;
}

void rt_acdrpc_stats(const struct rt_acdrpc *r, struct rt_acdrpc_stats *st, struct acd_stats *acd)
{
	*st = r->st;
	st->cached = r->n_cache;
	acd_stats(r->acd, acd);
}

void rt_acdrpc_free(struct rt_acdrpc *r)
{
	if (!r)
		return;
	if (r->sub) {
		natsSubscription_Unsubscribe(r->sub);
		natsSubscription_Destroy(r->sub);
	}
	if (r->reply_sub) {
		natsSubscription_Unsubscribe(r->reply_sub);
		natsSubscription_Destroy(r->reply_sub);
	}
	for (struct msg *m = r->in, *n; m; m = n) {
		n = m->next;
		free(m->subject);
		free(m->data);
		free(m->reply);
		free(m);
	}
	for (struct cached *c = r->cache_head, *n; c; c = n) {
		n = c->next;
		free(c->key);
		free(c->text);
		free(c);
	}
	cc_map_free(&r->cache, NULL);
	for (size_t i = 0; i < r->out.cap; i++)
		if (r->out.slots[i].key)
			out_free(r->out.slots[i].value);
	cc_map_free(&r->out, NULL);
	cc_map_free(&r->tenants, free);
	acd_free(r->acd);
	if (r->js)
		jsCtx_Destroy(r->js);
	if (r->in_ev)
		event_free(r->in_ev);
	if (r->deadline_ev)
		event_free(r->deadline_ev);
	if (r->retry_ev)
		event_free(r->retry_ev);
	if (r->reconcile_ev)
		event_free(r->reconcile_ev);
	pthread_mutex_destroy(&r->in_lock);
	free(r);
}
