/* credit.c: see credit.h. */
#include "credit.h"
#include "cc.h"
#include "clock.h"
#include "id.h"
#include "log.h"

#include <jansson.h>
#include <string.h>
#include <time.h>

struct rt_lease {
	int64_t quota;               /* money this routingd may still grant */
	int64_t want;                /* lease size asked for */
	int64_t taken;               /* money taken so far, all time */
	uint64_t seq;                /* last take's sequence number */
	uint64_t req, applied;       /* lease requests sent; newest answer applied */
	uint64_t applied_seq;        /* `seq` when that request left */
	bool refilling;              /* an asynchronous request is out */
	uint64_t refill_req, refill_seq;
	int64_t refill_taken;        /* `taken` when it left */
	int64_t refill_ms;
	int64_t contact_ms;          /* billingd's last answer about this lease */
	char epoch[CC_UUID_LEN];     /* billingd's epoch of that answer */
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
		cc_map_put(&c->leases, tenant, l);
	}
	return l;
}

static bool usable(const struct rt_credit *c, const struct rt_lease *l)
{
	return c->epoch[0] && strcmp(l->epoch, c->epoch) == 0 &&
	       cc_mono_ms() - l->contact_ms < RT_LEASE_USE_MS;
}

/* billingd restarted: every lease it gave is gone. Caller holds the lock. */
static void new_epoch(struct rt_credit *c, const char *epoch)
{
	if (!epoch || !*epoch || strcmp(epoch, c->epoch) == 0)
		return;
	if (c->epoch[0])
		CC_INFO("billingd restarted (epoch %s): every credit lease voided", epoch);
	snprintf(c->epoch, sizeof(c->epoch), "%s", epoch);
	for (size_t i = 0; i < c->leases.cap; i++) {
		struct rt_lease *l = c->leases.slots[i].value;

		if (c->leases.slots[i].key) {
			l->quota = 0;
			l->refilling = false;
		}
	}
}

/* A lease answer: the lease now holds `total`, less what was taken since
 * the request left. Older answers than one already applied are dropped.
 * Returns false if billingd says the tenant has no plan. Lock held. */
static bool apply_answer(struct rt_credit *c, struct rt_lease *l, const json_t *a,
                         int64_t taken_then, uint64_t seq_then)
{
	const char *epoch = json_string_value(json_object_get(a, "epoch"));
	uint64_t req = (uint64_t)num(a, "req");

	new_epoch(c, epoch);
	if (json_is_true(json_object_get(a, "unbilled")))
		return false;
	if (req <= l->applied || !json_is_integer(json_object_get(a, "total")))
		return true;
	l->applied = req;
	l->applied_seq = seq_then;
	l->quota = num(a, "total") - (l->taken - taken_then);
	l->contact_ms = cc_mono_ms();
	snprintf(l->epoch, sizeof(l->epoch), "%s", c->epoch);
	return true;
}

/* The request text; lock held. A lease that is no longer usable is
 * forgotten here (have 0), so billingd frees what it still counts. */
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

/* Queues a message for rt_credit_flush; lock held, text taken over. */
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
	snprintf(o->reply, sizeof(o->reply), "%s.%s", c->inbox, kind);
	o->text = text;
}

/* ------------------------------------------------------- NATS threads */

static void on_reply(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *arg)
{
	struct rt_credit *c = arg;
	json_t *a = NULL;
	const char *subject = natsMsg_GetSubject(msg);
	const char *tenant;

	if (natsMsg_IsNoResponders(msg)) {
		/* billingd is away: the take is resent, the refill asked again */
		natsMsg_Destroy(msg);
		return;
	}
	a = json_loadb(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), 0, NULL);
	tenant = json_string_value(json_object_get(a, "tenant"));
	pthread_mutex_lock(&c->lock);
	if (!a || !tenant) {
		CC_WARN("credit: unreadable answer from billingd on %s", subject);
	} else if (strstr(subject, ".take")) {
		const char *call = json_string_value(json_object_get(a, "call"));
		struct rt_lease *l = cc_map_get(&c->leases, tenant);
		bool ok = json_is_true(json_object_get(a, "ok"));

		new_epoch(c, json_string_value(json_object_get(a, "epoch")));
		for (size_t i = 0; call && ok && i < c->n_takes; i++)
			if (strcmp(c->takes[i].call, call) == 0) {
				c->takes[i] = c->takes[--c->n_takes];
				break;
			}
		/* billingd did not know this lease when the take arrived, and
		 * no lease answer came after it: stop spending the lease */
		if (ok && l && strcmp(l->epoch, c->epoch) == 0) {
			if (json_is_true(json_object_get(a, "leased")))
				l->contact_ms = cc_mono_ms();
			else if ((uint64_t)num(a, "seq") > l->applied_seq)
				l->quota = 0;
		}
	} else {
		struct rt_lease *l = cc_map_get(&c->leases, tenant);

		if (l && l->refilling && (uint64_t)num(a, "req") == l->refill_req) {
			l->refilling = false;
			apply_answer(c, l, a, l->refill_taken, l->refill_seq);
		}
	}
	pthread_mutex_unlock(&c->lock);
	json_decref(a);
	natsMsg_Destroy(msg);
}

static void on_hello(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *arg)
{
	struct rt_credit *c = arg;
	json_t *a = json_loadb(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), 0, NULL);

	pthread_mutex_lock(&c->lock);
	new_epoch(c, json_string_value(json_object_get(a, "epoch")));
	pthread_mutex_unlock(&c->lock);
	json_decref(a);
	natsMsg_Destroy(msg);
}

/* ---------------------------------------------------------- the loop */

int rt_credit_init(struct rt_credit *c, natsConnection *nc, int timeout_ms)
{
	char subject[80];

	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->nc = nc;
	c->timeout_ms = timeout_ms;
	if (cc_uuid(c->holder) != CC_OK)
		return CC_ERROR;
	snprintf(c->inbox, sizeof(c->inbox), "_INBOX.routingd.%s", c->holder);
	snprintf(subject, sizeof(subject), "%s.*", c->inbox);
	if (natsConnection_Subscribe(&c->replies, nc, subject, on_reply, c) != NATS_OK ||
	    natsConnection_Subscribe(&c->hello, nc, "cc.rpc.hello.billingd", on_hello, c) != NATS_OK)
		return CC_ERROR;
	return CC_OK;
}

static void free_lease(void *p)
{
	free(p);
}

void rt_credit_free(struct rt_credit *c)
{
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->leases.cap; i++) {
		struct rt_lease *l = c->leases.slots[i].value;

		if (!c->leases.slots[i].key || !c->epoch[0] || strcmp(l->epoch, c->epoch) != 0)
			continue;
		l->quota = 0;
		l->want = 0;
		char *text = lease_request(c, c->leases.slots[i].key, l);
		natsConnection_PublishString(c->nc, "cc.rpc.credit.lease", text);
		free(text);
	}
	pthread_mutex_unlock(&c->lock);
	if (c->n_takes)
		CC_WARN("stopping with %zu credit grants billingd has not acknowledged", c->n_takes);
	natsConnection_FlushTimeout(c->nc, 500);
	natsSubscription_Unsubscribe(c->replies);
	natsSubscription_Destroy(c->replies);
	natsSubscription_Unsubscribe(c->hello);
	natsSubscription_Destroy(c->hello);
	cc_map_free(&c->leases, free_lease);
	for (size_t i = 0; i < c->n_out; i++)
		free(c->out[i].text);
	free(c->out);
	free(c->takes);
	pthread_mutex_destroy(&c->lock);
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

/* Asks billingd for the lease while the call waits. false: no answer. */
static bool ask(struct rt_credit *c, const char *tenant, struct rt_lease *l, bool *unbilled)
{
	natsMsg *reply = NULL;
	char *text;
	int64_t taken_then = l->taken;
	uint64_t seq_then = l->seq;
	json_t *a = NULL;
	natsStatus s;

	text = lease_request(c, tenant, l);
	pthread_mutex_unlock(&c->lock);
	s = natsConnection_RequestString(&reply, c->nc, "cc.rpc.credit.lease", text, c->timeout_ms);
	free(text);
	if (s == NATS_OK)
		a = json_loadb(natsMsg_GetData(reply), (size_t)natsMsg_GetDataLength(reply), 0, NULL);
	natsMsg_Destroy(reply);
	pthread_mutex_lock(&c->lock);
	c->waited++;
	if (!a || (!json_is_integer(json_object_get(a, "total")) &&
	           !json_is_true(json_object_get(a, "unbilled")))) {
		c->failures++;
		cc_log(CC_LOG_WARN, 0, tenant, NULL, "no credit lease from billingd (%s%s%s)",
		       natsStatus_GetText(s), a ? ": " : "",
		       a ? json_string_value(json_object_get(a, "error")) : "");
		json_decref(a);
		return false;
	}
	*unbilled = !apply_answer(c, l, a, taken_then, seq_then);
	json_decref(a);
	return true;
}

static int64_t grant(struct rt_credit *c, const struct rt_tenant *t, bool inbound,
                     const char *digits, const char *call, int *code, const char **reason)
{
	const struct rt_plan *p = t->plan;
	const char *version = inbound ? p->in_version : p->out_version;
	const struct bl_deck *deck = NULL;
	const struct bl_rate *rate;
	time_t local = time(NULL) + p->utc_offset_s;
	struct tm tm;
	int64_t exact, full, seconds, cost;
	char *refill = NULL;
	struct rt_take take;
	bool unbilled = false;

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
	bl_cost(rate, bl_billable_s(rate, p->max_s * 1000), p->minor, &exact, &full);

	pthread_mutex_lock(&c->lock);
	struct rt_lease *l = lease_of(c, t->id);

	if (full * RT_LEASE_CALLS > l->want)
		l->want = full * RT_LEASE_CALLS;
	if (usable(c, l) && l->quota >= full) {
		c->local++;
	} else {
		bool answered = ask(c, t->id, l, &unbilled);

		if (answered && unbilled) {
			/* the plan went away after the model was loaded */
			pthread_mutex_unlock(&c->lock);
			return -1;
		}
		if (!answered || !usable(c, l)) {
			pthread_mutex_unlock(&c->lock);
			return refuse(code, reason, 503, "Billing Unavailable");
		}
	}
	seconds = bl_grant_s(rate, l->quota, p->minor, p->max_s, &cost);
	if (seconds <= 0) {
		pthread_mutex_unlock(&c->lock);
		return refuse(code, reason, 402, "Payment Required");
	}
	l->quota -= cost;
	l->taken += cost;
	memset(&take, 0, sizeof(take));
	snprintf(take.tenant, sizeof(take.tenant), "%s", t->id);
	snprintf(take.call, sizeof(take.call), "%s", call);
	snprintf(take.epoch, sizeof(take.epoch), "%s", l->epoch);
	take.seq = ++l->seq;
	take.seconds = seconds;
	take.amount = cost;
	take.sent_ms = cc_mono_ms();
	if (c->n_takes == c->cap_takes) {
		c->cap_takes = c->cap_takes ? 2 * c->cap_takes : 64;
		c->takes = realloc(c->takes, c->cap_takes * sizeof(*c->takes));
		CC_BUG_ON(!c->takes);
	}
	c->takes[c->n_takes++] = take;
	/* a refill unanswered for a second (billingd away) is asked again */
	if (l->quota < l->want / 2 &&
	    (!l->refilling || cc_mono_ms() - l->refill_ms > RT_TAKE_RESEND_MS)) {
		l->refilling = true;
		l->refill_taken = l->taken;
		l->refill_seq = l->seq;
		l->refill_ms = cc_mono_ms();
		refill = lease_request(c, t->id, l);
		l->refill_req = l->req;
		c->refills++;
	}
	post(c, "cc.rpc.credit.take", "take", take_text(c, &take));
	if (refill)
		post(c, "cc.rpc.credit.lease", "lease", refill);
	pthread_mutex_unlock(&c->lock);
	return seconds;
}

int64_t rt_credit_grant(struct rt_credit *c, const struct rt_tenant *t, bool inbound,
                        const char *digits, const char *call, int *code, const char **reason)
{
	uint64_t t0 = cc_mono_ns();
	int64_t seconds = grant(c, t, inbound, digits, call, code, reason);

	/* every outcome: a refusal keeps the call waiting as long as a grant */
	cc_hist_add(&c->grant_ns, cc_mono_ns() - t0);
	return seconds;
}

void rt_credit_flush(struct rt_credit *c)
{
	struct rt_out *out;
	size_t n;

	pthread_mutex_lock(&c->lock);
	out = c->out;
	n = c->n_out;
	c->out = NULL;
	c->n_out = c->cap_out = 0;
	pthread_mutex_unlock(&c->lock);
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

	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->n_takes; i++)
		if (now - c->takes[i].sent_ms >= RT_TAKE_RESEND_MS) {
			c->takes[i].sent_ms = now;
			post(c, "cc.rpc.credit.take", "take", take_text(c, &c->takes[i]));
			n++;
		}
	c->resent += n;
	pthread_mutex_unlock(&c->lock);
	rt_credit_flush(c);
}

size_t rt_credit_pending(struct rt_credit *c)
{
	size_t n;

	pthread_mutex_lock(&c->lock);
	n = c->n_takes;
	pthread_mutex_unlock(&c->lock);
	return n;
}
