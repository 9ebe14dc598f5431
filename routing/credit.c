/* credit.c: see credit.h. Everything here runs on routingd's loop but the
 * two NATS callbacks at the top of "NATS threads", which only post. */
#include "credit.h"
#include "cc.h"
#include "clock.h"
#include "id.h"
#include "log.h"
#include "owner.h"

#include <event2/event.h>
#include <jansson.h>
#include <string.h>
#include <time.h>

struct rt_wait;

struct rt_lease {
	int64_t quota;               /* money this routingd may still grant */
	int64_t want;                /* lease size asked for */
	int64_t taken;               /* money taken so far, all time */
	uint64_t seq;                /* last take's sequence number */
	uint64_t req, applied;       /* lease requests sent; newest answer applied */
	uint64_t applied_seq;        /* `seq` when that request left */
	bool asking;                 /* a lease request is out */
	uint64_t ask_req, ask_seq;   /* its number, `seq` when it left */
	int64_t ask_taken;           /* `taken` when it left */
	int64_t ask_ms;
	int64_t contact_ms;          /* billingd's last answer about this lease */
	struct rt_wait *waiting;     /* parked calls, oldest first */
	struct rt_wait **tail;       /* where the next one goes */
};

/* A parked call: what its grant needs once the lease is known, copied (a
 * reload may free the model and the deck meanwhile). */
struct rt_wait {
	struct rt_wait *next;
	struct rt_credit *c;
	struct rt_lease *l;
	struct event *deadline;
	char tenant[CC_UUID_LEN], call[CC_UUID_LEN];
	struct bl_rate rate;         /* description not kept */
	int minor;
	int64_t max_s;
	uint64_t t0_ns;              /* for the grant histogram */
	rt_credit_done done;
	void *ctx;
};

/* A granted call, from its first slice to its end: what a top-up needs. */
struct rt_live {
	char tenant[CC_UUID_LEN], call[CC_UUID_LEN];
	struct bl_rate rate;
	int minor;
	int64_t max_s;
	int64_t granted_s;           /* every slice so far */
	int64_t cost;                /* their money */
	int64_t created_ms, answered_ms; /* answered_ms 0: not yet */
	long h_entry, h_id;          /* Kamailio's dialog */
	bool cut;                    /* no top-up came: ends with its slice */
};

struct rt_take {
	char tenant[CC_UUID_LEN], call[CC_UUID_LEN], epoch[CC_UUID_LEN];
	uint64_t seq;
	int64_t seconds, amount, sent_ms;
};

/* A message waiting for rt_credit_flush: the call does not wait for it. */
struct rt_out {
	const char *subject;         /* cc.rpc.credit.take or .lease */
	char reply[96];
	char *text;
};

/* ------------------------------------------------------------ helpers */

static char *dump(json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT);

	CC_BUG_ON(!s);
	json_decref(o);
	return s;
}

static int64_t num(const json_t *o, const char *key)
{
	return (int64_t)json_integer_value(json_object_get(o, key));
}

static struct rt_lease *lease_of(struct rt_credit *c, const char *tenant)
{
	struct rt_lease *l = cc_map_get(&c->leases, tenant);

	if (!l) {
		l = calloc(1, sizeof(*l));
		CC_BUG_ON(!l);
		l->tail = &l->waiting;
		cc_map_put(&c->leases, tenant, l);
	}
	return l;
}

static bool usable(const struct rt_credit *c, const struct rt_lease *l)
{
	return c->epoch[0] && l->contact_ms && cc_mono_ms() - l->contact_ms < RT_LEASE_USE_MS;
}

/* billingd (re)started. Its leases survive its restarts (cc.credit_leases):
 * nothing is voided here; a lease it does not know is stopped by the
 * answers that say so (on_take_ack). */
static void new_epoch(struct rt_credit *c, const char *epoch)
{
	if (!epoch || !*epoch || strcmp(epoch, c->epoch) == 0)
		return;
	if (c->epoch[0])
		CC_INFO("billingd restarted (epoch %s): granting on from the leases it kept", epoch);
	snprintf(c->epoch, sizeof(c->epoch), "%s", epoch);
}

/* The request text. A lease that is no longer usable is forgotten here
 * (have 0), so billingd frees what it still counts. */
static char *lease_request(struct rt_credit *c, const char *tenant, struct rt_lease *l)
{
	if (!usable(c, l))
		l->quota = 0;
	return dump(json_pack("{s:s, s:s, s:I, s:I, s:I, s:I}", "tenant", tenant, "holder", c->holder,
	                      "req", (json_int_t)++l->req, "seq", (json_int_t)l->seq,
	                      "have", (json_int_t)(l->quota > 0 ? l->quota : 0),
	                      "want", (json_int_t)l->want));
}

static char *take_text(struct rt_credit *c, const struct rt_take *t)
{
	return dump(json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "tenant", t->tenant,
	                      "holder", c->holder, "epoch", t->epoch, "call", t->call,
	                      "seq", (json_int_t)t->seq, "seconds", (json_int_t)t->seconds,
	                      "amount", (json_int_t)t->amount));
}

/* Queues a message for rt_credit_flush; text taken over. */
static void post(struct rt_credit *c, const char *subject, const char *kind, char *text)
{
	struct rt_out *o;

	if (c->n_out == c->cap_out) {
		c->cap_out = c->cap_out ? 2 * c->cap_out : 16;
		c->out = realloc(c->out, c->cap_out * sizeof(*c->out));
		CC_BUG_ON(!c->out);
	}
	o = &c->out[c->n_out++];
	o->subject = subject;
	/* a reply subject of its own: NATS lets billingd (allow_responses)
	 * answer each reply subject once per message it holds, and a burst
	 * of takes on one subject (resent after a restart) got one answer */
	snprintf(o->reply, sizeof(o->reply), "%s.%s%llu", c->inbox, kind,
	         (unsigned long long)++c->replies_sent);
	o->text = text;
}

/* Sends a lease request for the tenant (the answer comes to on_lease). */
static void ask(struct rt_credit *c, const char *tenant, struct rt_lease *l)
{
	char *text = lease_request(c, tenant, l);

	l->asking = true;
	l->ask_req = l->req;
	l->ask_seq = l->seq;
	l->ask_taken = l->taken;
	l->ask_ms = cc_mono_ms();
	post(c, "cc.rpc.credit.lease", "lease", text);
}

static struct rt_live *live_of(struct rt_credit *c, const char *call, size_t *at)
{
	for (size_t i = 0; i < c->n_live; i++)
		if (strcmp(c->live[i]->call, call) == 0) {
			if (at)
				*at = i;
			return c->live[i];
		}
	return NULL;
}

/* Moves `cost` of the lease to the call: the take billingd is told of,
 * and the call's record for its top-ups. */
static void take(struct rt_credit *c, const char *tenant, struct rt_lease *l, const char *call,
                 int64_t seconds, int64_t cost)
{
	struct rt_take t;

	l->quota -= cost;
	l->taken += cost;
	memset(&t, 0, sizeof(t));
	snprintf(t.tenant, sizeof(t.tenant), "%s", tenant);
	snprintf(t.call, sizeof(t.call), "%s", call);
	snprintf(t.epoch, sizeof(t.epoch), "%s", c->epoch);
	t.seq = ++l->seq;
	t.seconds = seconds;
	t.amount = cost;
	t.sent_ms = cc_mono_ms();
	if (c->n_takes == c->cap_takes) {
		c->cap_takes = c->cap_takes ? 2 * c->cap_takes : 64;
		c->takes = realloc(c->takes, c->cap_takes * sizeof(*c->takes));
		CC_BUG_ON(!c->takes);
	}
	c->takes[c->n_takes++] = t;
	cc_log(CC_LOG_DEBUG, 0, tenant, call, "take %llu: %lld s for %lld, lease left %lld",
	       (unsigned long long)t.seq, (long long)seconds, (long long)cost, (long long)l->quota);
	/* the take before any lease request that counts it (its seq): billingd
	 * must see them in that order, or it leases the take's money again */
	post(c, "cc.rpc.credit.take", "take", take_text(c, &t));
	/* a refill unanswered for a second (billingd away) is asked again */
	if (l->quota < l->want / 2 && (!l->asking || cc_mono_ms() - l->ask_ms > RT_TAKE_RESEND_MS)) {
		ask(c, tenant, l);
		c->refills++;
	}
}

/* The first slice of a call from the lease: seconds, 0 if none fits. */
static int64_t first_slice(struct rt_credit *c, const char *tenant, struct rt_lease *l,
                           const char *call, const struct bl_rate *rate, int minor, int64_t max_s)
{
	int64_t cap = max_s < c->slice_s ? max_s : c->slice_s, cost;
	int64_t seconds = bl_grant_s(rate, l->quota, minor, cap, &cost);
	struct rt_live *v;

	if (seconds <= 0)
		return 0;
	take(c, tenant, l, call, seconds, cost);
	if (!(v = live_of(c, call, NULL))) {
		if (c->n_live == c->cap_live) {
			c->cap_live = c->cap_live ? 2 * c->cap_live : 64;
			c->live = realloc(c->live, c->cap_live * sizeof(*c->live));
			CC_BUG_ON(!c->live);
		}
		v = calloc(1, sizeof(*v));
		CC_BUG_ON(!v);
		c->live[c->n_live++] = v;
	}
	snprintf(v->tenant, sizeof(v->tenant), "%s", tenant);
	snprintf(v->call, sizeof(v->call), "%s", call);
	v->rate = *rate;
	v->rate.description = NULL;
	v->minor = minor;
	v->max_s = max_s;
	v->granted_s = seconds;
	v->cost = cost;
	v->created_ms = cc_mono_ms();
	return seconds;
}

/* --------------------------------------------------------- parked calls */

static void unpark(struct rt_wait *w, int64_t seconds, int code, const char *reason)
{
	struct rt_credit *c = w->c;

	event_free(w->deadline);
	c->parked--;
	cc_hist_add(&c->grant_ns, cc_mono_ns() - w->t0_ns);
	w->done(w->ctx, seconds, code, reason);
	free(w);
}

/* Takes w out of its lease's line. */
static void unlink_wait(struct rt_wait *w)
{
	struct rt_lease *l = w->l;
	struct rt_wait **p = &l->waiting;

	while (*p && *p != w)
		p = &(*p)->next;
	CC_BUG_ON(!*p);
	*p = w->next;
	if (l->tail == &w->next)
		l->tail = p;
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct rt_wait *w = arg;

	unlink_wait(w);
	w->c->failures++;
	cc_log(CC_LOG_WARN, 0, w->tenant, w->call, "no credit lease from billingd in %d ms: 503",
	       w->c->timeout_ms);
	unpark(w, 0, 503, "Billing Unavailable");
}

/* Every call parked on l, in order, now that billingd answered: unbilled
 * (the plan went away), no answer worth having (503), or a slice each
 * while the lease pays for one (then 402). */
static void serve(struct rt_credit *c, const char *tenant, struct rt_lease *l, bool unbilled)
{
	struct rt_wait *w;

	while ((w = l->waiting)) {
		l->waiting = w->next;
		if (!l->waiting)
			l->tail = &l->waiting;
		if (unbilled) {
			unpark(w, -1, 0, NULL);
		} else if (!usable(c, l)) {
			c->failures++;
			unpark(w, 0, 503, "Billing Unavailable");
		} else {
			int64_t s = first_slice(c, tenant, l, w->call, &w->rate, w->minor, w->max_s);

			if (s > 0)
				unpark(w, s, 0, NULL);
			else
				unpark(w, 0, 402, "Payment Required");
		}
	}
}

static void park(struct rt_credit *c, const char *tenant, struct rt_lease *l, const char *call,
                 const struct bl_rate *rate, int minor, int64_t max_s, uint64_t t0_ns,
                 rt_credit_done done, void *ctx)
{
	struct rt_wait *w = calloc(1, sizeof(*w));
	struct timeval tv = { c->timeout_ms / 1000, (c->timeout_ms % 1000) * 1000 };

	CC_BUG_ON(!w);
	w->c = c;
	w->l = l;
	snprintf(w->tenant, sizeof(w->tenant), "%s", tenant);
	snprintf(w->call, sizeof(w->call), "%s", call);
	w->rate = *rate;
	w->rate.description = NULL;
	w->minor = minor;
	w->max_s = max_s;
	w->t0_ns = t0_ns;
	w->done = done;
	w->ctx = ctx;
	w->deadline = evtimer_new(c->base, on_deadline, w);
	CC_BUG_ON(!w->deadline);
	evtimer_add(w->deadline, &tv);
	*l->tail = w;
	l->tail = &w->next;
	c->parked++;
	c->waited++;
	/* the request out now is shared, unless it is older than a parked
	 * call's whole wait (then it is taken for lost) */
	if (!l->asking || cc_mono_ms() - l->ask_ms >= c->timeout_ms)
		ask(c, tenant, l);
}

/* ------------------------------------------------ billingd's messages */

/* A lease answer: the lease now holds `total`, less what was taken since
 * the request left; only the answer to the request out now counts. */
static void on_lease(struct rt_credit *c, const char *tenant, const json_t *a)
{
	struct rt_lease *l = cc_map_get(&c->leases, tenant);
	uint64_t req = (uint64_t)num(a, "req");
	bool unbilled = json_is_true(json_object_get(a, "unbilled"));

	if (!l || !l->asking || req != l->ask_req)
		return;
	l->asking = false;
	if (!unbilled && json_is_integer(json_object_get(a, "total")) && req > l->applied) {
		l->applied = req;
		l->applied_seq = l->ask_seq;
		l->quota = num(a, "total") - (l->taken - l->ask_taken);
		l->contact_ms = cc_mono_ms();
	} else if (!unbilled) {
		cc_log(CC_LOG_WARN, 0, tenant, NULL, "no credit lease from billingd: %s",
		       json_string_value(json_object_get(a, "error")) ?: "no total");
		l->contact_ms = 0;   /* nothing to grant from until it answers */
	}
	serve(c, tenant, l, unbilled);
}

static void on_take_ack(struct rt_credit *c, const char *tenant, const json_t *a)
{
	const char *call = json_string_value(json_object_get(a, "call"));
	uint64_t seq = (uint64_t)num(a, "seq");
	struct rt_lease *l = cc_map_get(&c->leases, tenant);
	bool ok = json_is_true(json_object_get(a, "ok"));

	for (size_t i = 0; call && ok && i < c->n_takes; i++)
		if (c->takes[i].seq == seq && strcmp(c->takes[i].call, call) == 0 &&
		    strcmp(c->takes[i].tenant, tenant) == 0) {
			c->takes[i] = c->takes[--c->n_takes];
			break;
		}
	/* billingd did not know this lease when the take arrived, and no
	 * lease answer came after it: stop spending the lease */
	if (ok && l) {
		if (json_is_true(json_object_get(a, "leased")))
			l->contact_ms = cc_mono_ms();
		else if (seq > l->applied_seq)
			l->quota = 0;
	}
}

/* On the loop: one message from billingd, posted by a NATS thread. */
static void on_message(void *item, void *arg)
{
	struct rt_credit *c = arg;
	natsMsg *msg = item;
	const char *subject = natsMsg_GetSubject(msg);
	json_t *a;
	const char *tenant;

	if (natsMsg_IsNoResponders(msg)) {
		/* billingd is away: the take is resent, the refill asked again,
		 * parked calls wait for their deadline */
		natsMsg_Destroy(msg);
		return;
	}
	a = json_loadb(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), 0, NULL);
	new_epoch(c, json_string_value(json_object_get(a, "epoch")));
	tenant = json_string_value(json_object_get(a, "tenant"));
	if (strcmp(subject, "cc.rpc.hello.billingd") == 0)
		;
	else if (!a || !tenant)
		CC_WARN("credit: unreadable answer from billingd on %s", subject);
	else if (strstr(subject, ".take"))
		on_take_ack(c, tenant, a);
	else
		on_lease(c, tenant, a);
	json_decref(a);
	natsMsg_Destroy(msg);
	/* what the answers queued (takes of served calls, refills) */
	rt_credit_flush(c);
}

static void on_inbox(evutil_socket_t fd, short what, void *arg)
{
	struct rt_credit *c = arg;

	cc_owner_run(c->inbox_q);
}

/* ------------------------------------------------------- NATS threads */

static void on_nats(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *arg)
{
	struct rt_credit *c = arg;

	cc_owner_post(c->inbox_q, msg);
}

/* ---------------------------------------------------------- the loop */

static void destroy_msg(void *p)
{
	natsMsg_Destroy(p);
}

int rt_credit_init(struct rt_credit *c, struct event_base *base, natsConnection *nc,
                   int timeout_ms, int64_t slice_s, int64_t topup_s)
{
	char subject[80];

	memset(c, 0, sizeof(*c));
	c->base = base;
	c->nc = nc;
	c->timeout_ms = timeout_ms;
	c->slice_s = slice_s;
	c->topup_s = topup_s;
	if (cc_uuid(c->holder) != CC_OK)
		return CC_ERROR;
	if (!(c->inbox_q = cc_owner_new(on_message, c)))
		return CC_ERROR;
	c->inbox_ev = event_new(base, cc_owner_fd(c->inbox_q), EV_READ | EV_PERSIST, on_inbox, c);
	if (!c->inbox_ev || event_add(c->inbox_ev, NULL) != 0)
		return CC_ERROR;
	snprintf(c->inbox, sizeof(c->inbox), "_INBOX.routingd.%s", c->holder);
	snprintf(subject, sizeof(subject), "%s.*", c->inbox);
	if (natsConnection_Subscribe(&c->replies, nc, subject, on_nats, c) != NATS_OK ||
	    natsConnection_Subscribe(&c->hello, nc, "cc.rpc.hello.billingd", on_nats, c) != NATS_OK)
		return CC_ERROR;
	return CC_OK;
}

static void free_lease(void *p)
{
	free(p);
}

void rt_credit_free(struct rt_credit *c)
{
	for (size_t i = 0; i < c->leases.cap; i++) {
		struct rt_lease *l = c->leases.slots[i].value;
		struct rt_wait *w;

		if (!c->leases.slots[i].key)
			continue;
		while ((w = l->waiting)) {
			l->waiting = w->next;
			unpark(w, 0, 503, "Service Unavailable");
		}
		if (!usable(c, l))
			continue;
		l->quota = 0;
		l->want = 0;
		char *text = lease_request(c, c->leases.slots[i].key, l);
		natsConnection_PublishString(c->nc, "cc.rpc.credit.lease", text);
		free(text);
	}
	if (c->n_takes)
		CC_WARN("stopping with %zu credit grants billingd has not acknowledged", c->n_takes);
	natsConnection_FlushTimeout(c->nc, 500);
	natsSubscription_Unsubscribe(c->replies);
	natsSubscription_Destroy(c->replies);
	natsSubscription_Unsubscribe(c->hello);
	natsSubscription_Destroy(c->hello);
	/* the subscriptions' threads are done posting: what they left is dropped */
	event_free(c->inbox_ev);
	cc_owner_free(c->inbox_q, destroy_msg);
	cc_map_free(&c->leases, free_lease);
	for (size_t i = 0; i < c->n_out; i++)
		free(c->out[i].text);
	free(c->out);
	free(c->takes);
	for (size_t i = 0; i < c->n_live; i++)
		free(c->live[i]);
	free(c->live);
}

void rt_credit_use(struct rt_credit *c, const struct cc_map *decks)
{
	c->decks = decks;
}

static int64_t refuse(int *code, const char **reason, int c, const char *r)
{
	*code = c;
	*reason = r;
	return 0;
}

static int64_t grant(struct rt_credit *c, const struct rt_tenant *t, bool inbound,
                     const char *digits, const char *call, int *code, const char **reason,
                     rt_credit_done done, void *ctx, uint64_t t0_ns)
{
	const struct rt_plan *p = t->plan;
	const char *version = inbound ? p->in_version : p->out_version;
	const struct bl_deck *deck = NULL;
	const struct bl_rate *rate;
	time_t local = time(NULL) + p->utc_offset_s;
	struct tm tm;
	int64_t exact, full, slice, seconds;

	if (*version && !(deck = c->decks ? cc_map_get(c->decks, version) : NULL)) {
		cc_log(CC_LOG_WARN, 0, t->id, call, "deck %s not loaded (the next reload tries again): 503",
		       version);
		return refuse(code, reason, 503, "Billing Unavailable");
	}
	gmtime_r(&local, &tm);
	rate = bl_deck_match(deck, digits, (tm.tm_wday + 6) % 7, tm.tm_hour * 60 + tm.tm_min);
	if (!rate) {
		if (p->no_rate_free)
			return p->max_s;
		return refuse(code, reason, 403, "No Rate");
	}
	/* the lease aims at 64 full-length calls; a call needs one slice */
	bl_cost(rate, bl_billable_s(rate, p->max_s * 1000), p->minor, &exact, &full);
	bl_cost(rate, bl_billable_s(rate, (p->max_s < c->slice_s ? p->max_s : c->slice_s) * 1000),
	        p->minor, &exact, &slice);

	struct rt_lease *l = lease_of(c, t->id);

	if (full * RT_LEASE_CALLS > l->want)
		l->want = full * RT_LEASE_CALLS;
	if (!usable(c, l) || l->quota < slice || l->waiting) {
		/* behind the calls already parked: they came first */
		park(c, t->id, l, call, rate, p->minor, p->max_s, t0_ns, done, ctx);
		return RT_GRANT_PARKED;
	}
	c->local++;
	seconds = first_slice(c, t->id, l, call, rate, p->minor, p->max_s);
	if (seconds <= 0)
		return refuse(code, reason, 402, "Payment Required");
	return seconds;
}

int64_t rt_credit_grant(struct rt_credit *c, const struct rt_tenant *t, bool inbound,
                        const char *digits, const char *call, int *code, const char **reason,
                        rt_credit_done done, void *ctx)
{
	uint64_t t0 = cc_mono_ns();
	int64_t seconds = grant(c, t, inbound, digits, call, code, reason, done, ctx, t0);

	/* every outcome: a refusal keeps the call waiting as long as a grant
	 * (a parked call's is added when it is answered) */
	if (seconds != RT_GRANT_PARKED)
		cc_hist_add(&c->grant_ns, cc_mono_ns() - t0);
	return seconds;
}

/* --------------------------------------------------- answered calls */

void rt_credit_answered(struct rt_credit *c, const char *call, long h_entry, long h_id)
{
	struct rt_live *v = live_of(c, call, NULL);

	if (!v)
		return;
	v->answered_ms = cc_mono_ms();
	v->h_entry = h_entry;
	v->h_id = h_id;
}

bool rt_credit_ended(struct rt_credit *c, const char *call)
{
	size_t at;
	struct rt_live *v = live_of(c, call, &at);
	bool cut;

	if (!v)
		return false;
	cut = v->cut;
	c->live[at] = c->live[--c->n_live];
	free(v);
	return cut;
}

/* The most seconds (up to max_extra) a call that has `have_s` for
 * `have_cost` can add for at most `money`; *extra_cost their price. The
 * cost of a call's talk grows with it, so a binary search finds it. */
static int64_t fit(const struct rt_live *v, int64_t money, int64_t max_extra, int64_t *extra_cost)
{
	int64_t lo = 0, hi = max_extra, exact, cost;

	*extra_cost = 0;
	while (lo < hi) {
		int64_t mid = lo + (hi - lo + 1) / 2;

		bl_cost(&v->rate, bl_billable_s(&v->rate, (v->granted_s + mid) * 1000), v->minor, &exact,
		        &cost);
		if (cost - v->cost <= money)
			lo = mid;
		else
			hi = mid - 1;
	}
	if (lo > 0) {
		bl_cost(&v->rate, bl_billable_s(&v->rate, (v->granted_s + lo) * 1000), v->minor, &exact,
		        &cost);
		*extra_cost = cost - v->cost;
	}
	return lo;
}

/* An answered call near the end of its slices: another one if the lease
 * has it, else a lease request (the next tick tries again), else it ends
 * with its slice. Unanswered records older than any setup are dropped. */
static void top_up(struct rt_credit *c, int64_t now)
{
	for (size_t i = 0; i < c->n_live; i++) {
		struct rt_live *v = c->live[i];
		int64_t left_ms, extra, cost;
		struct rt_lease *l;

		if (!v->answered_ms) {
			if (now - v->created_ms > 120000) {
				c->live[i--] = c->live[--c->n_live];
				free(v);
			}
			continue;
		}
		left_ms = v->granted_s * 1000 - (now - v->answered_ms);
		if (left_ms < -60000) {
			/* its end event never came */
			c->live[i--] = c->live[--c->n_live];
			free(v);
			continue;
		}
		if (v->cut || left_ms > c->topup_s * 1000 || v->granted_s >= v->max_s)
			continue;
		l = lease_of(c, v->tenant);
		extra = 0;
		if (usable(c, l) && l->quota > 0) {
			int64_t room = v->max_s - v->granted_s;

			extra = fit(v, l->quota, room < c->slice_s ? room : c->slice_s, &cost);
		}
		if (extra > 0) {
			take(c, v->tenant, l, v->call, extra, cost);
			v->granted_s += extra;
			v->cost += cost;
			c->topups++;
			if (c->extend)
				c->extend(c->extend_arg, v->call, v->tenant, v->h_entry, v->h_id,
				          (v->granted_s * 1000 - (now - v->answered_ms) + 999) / 1000);
			continue;
		}
		if (left_ms <= 1000) {
			/* too late for another: the dialog's timer ends it */
			v->cut = true;
			c->cut++;
			cc_log(CC_LOG_INFO, 0, v->tenant, v->call,
			       "no credit for another slice: the call ends after %lld s",
			       (long long)v->granted_s);
		} else if (!l->asking || now - l->ask_ms > RT_TAKE_RESEND_MS) {
			ask(c, v->tenant, l);
			c->refills++;
		}
	}
}

void rt_credit_flush(struct rt_credit *c)
{
	struct rt_out *out = c->out;
	size_t n = c->n_out;

	c->out = NULL;
	c->n_out = c->cap_out = 0;
	for (size_t i = 0; i < n; i++) {
		natsConnection_PublishRequestString(c->nc, out[i].subject, out[i].reply, out[i].text);
		free(out[i].text);
	}
	free(out);
}

void rt_credit_tick(struct rt_credit *c)
{
	int64_t now = cc_mono_ms();
	size_t n = 0;

	for (size_t i = 0; i < c->n_takes; i++)
		if (now - c->takes[i].sent_ms >= RT_TAKE_RESEND_MS) {
			c->takes[i].sent_ms = now;
			post(c, "cc.rpc.credit.take", "take", take_text(c, &c->takes[i]));
			n++;
		}
	c->resent += n;
	top_up(c, now);
	rt_credit_flush(c);
}

size_t rt_credit_pending(struct rt_credit *c)
{
	return c->n_takes;
}
