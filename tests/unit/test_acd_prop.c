/*
 * test_acd_prop.c: a property test of the ACD (routing/acd.h). Seeded random
 * steps: arrivals, offers taken or refused, answers (also stale and
 * second ones), failures, hang-ups, callbacks, agents' states, other calls,
 * unregistrations, time, routingd restarts (the journal into a new ACD,
 * acd_restore, acd_configure, reconcile) and mediad losses, in two tenants
 * with the same queue names and extensions. After every step acd_check
 * holds (one reservation per agent, nobody waits while an eligible agent
 * is ready, every state but ready/not_ready/logged_out has a deadline),
 * every event stays in its tenant, and at the end every call that entered
 * has ended on exactly one terminal event (agent_answered, abandoned, or
 * overflowed to something that is not a queue).
 *
 *   test_acd_prop [seed [steps]]   (default: 5 seeds x 25,000 steps; 12,000
 *                                  under ASan)
 * A failure prints the seed and the step.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acd.h"
#include "acd_harness.h"
#include "map.h"
#include "test.h"

#define SUITE "acd_prop"
#define T0 1800000000000LL
#define N_TENANTS 2
#define N_AGENTS 8
#define MAX_CALLS 4096

static const char *const tenants[N_TENANTS] = {
	"00000000-0000-4000-8000-0000000000a1", "00000000-0000-4000-8000-0000000000b2",
};
static const char *const exts[N_AGENTS] = { "1001", "1002", "1003", "1004", "1005", "1006", "1007", "1008" };

static uint64_t rs;
static uint64_t rnd64(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return rs;
}
static unsigned rn(unsigned n) { return (unsigned)(rnd64() % n); }

struct call {
	char id[CC_UUID_LEN];
	int tenant;
	char instance[8];
	bool alive;                  /* mediad still has it */
	bool bridged;
	char agent[ACD_EXT_MAX];
	uint64_t epoch;
	bool callback;
};

struct jrow { char *subject; json_t *rec; uint64_t seq; };

static struct {
	uint64_t seed;
	long step;
	struct acd *a;
	struct h_cfg cfg[N_TENANTS], alt[N_TENANTS]; /* alt: no "sales", no 1006 */
	bool use_alt[N_TENANTS];
	struct acd_out out;
	struct h_rec rec;            /* offers, cancels, routes (events and journal below) */
	struct call calls[MAX_CALLS];
	size_t n_calls, next_call;
	struct cc_map terminals;     /* "<tenant>/<call>" -> count */
	struct cc_map journal;       /* subject -> struct jrow */
	uint64_t jseq;
	int64_t now;
	uint64_t restarts, losses, answered, stale;
} W;

static const char *kind = "";
#define PFAIL(...) do { \
	fprintf(stderr, "  seed %" PRIu64 " step %ld (%s): ", W.seed, W.step, kind); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); exit(1); } while (0)

static void ev_cb(void *arg, const char *subject, json_t *ev)
{
	const char *type = json_string_value(json_object_get(ev, "type"));
	const char *tenant = json_string_value(json_object_get(ev, "tenant"));
	const char *call = json_string_value(json_object_get(ev, "call"));
	char key[128], want[128];
	bool terminal;

	snprintf(want, sizeof(want), "cc.%s.%s.%s", strncmp(subject, "cc.agent.", 9) == 0 ? "agent" : "call",
	         tenant ? tenant : "?", type ? type : "?");
	if (strcmp(want, subject) != 0)
		PFAIL("event %s on subject %s", want, subject);
	if (!json_string_value(json_object_get(ev, "id")) || !json_string_value(json_object_get(ev, "ts")))
		PFAIL("event without its envelope on %s", subject);
	terminal = type && (strcmp(type, "agent_answered") == 0 || strcmp(type, "abandoned") == 0 ||
	                    (strcmp(type, "overflowed") == 0 &&
	                     strcmp(json_string_value(json_object_get(json_object_get(ev, "target"), "type")), "queue") != 0));
	if (terminal) {
		snprintf(key, sizeof(key), "%s/%s", tenant, call);
		intptr_t n = (intptr_t)cc_map_get(&W.terminals, key) + 1;
		if (n > 1)
			PFAIL("call %s ended twice (%s)", key, type);
		cc_map_put(&W.terminals, key, (void *)n);
	}
	if (type && strcmp(type, "agent_answered") == 0) {
		for (size_t i = 0; i < W.n_calls; i++)
			if (strcmp(W.calls[i].id, call) == 0) {
				W.calls[i].bridged = true;
				snprintf(W.calls[i].agent, sizeof(W.calls[i].agent), "%s",
				         json_string_value(json_object_get(ev, "agent")));
			}
	}
	json_decref(ev);
}

static void journal_cb(void *arg, const char *subject, json_t *rec)
{
	struct jrow *r = cc_map_get(&W.journal, subject);

	if (!r) {
		r = calloc(1, sizeof(*r));
		r->subject = strdup(subject);
		cc_map_put(&W.journal, subject, r);
	} else {
		json_decref(r->rec);
	}
	r->rec = rec;
	r->seq = ++W.jseq;
}

static const struct acd_tenant_cfg *cur(int t)
{
	return W.use_alt[t] ? &W.alt[t].t : &W.cfg[t].t;
}

static void build_cfg(int t, bool alt)
{
	struct h_cfg *c = alt ? &W.alt[t] : &W.cfg[t];
	struct acd_queue_cfg *q;

	h_cfg_init(c, tenants[t]);
	q = h_queue(c, "repair", ACD_SKILLS);
	strcpy(q->required[0].name, "repair");
	q->required[0].level = 2;
	q->n_required = 1;
	q->max_wait_s = 120;
	q->max_size = 6;
	q->overflow.type = ACD_TARGET_QUEUE;
	strcpy(q->overflow.name, "general");
	q->wrapup_s = 5;
	q->sticky_within_days = 30;
	q->sticky_ring_s = 5;
	q = h_queue(c, "general", ACD_LONGEST_IDLE);
	q->max_wait_s = 90;
	q->overflow.type = ACD_TARGET_QUEUE;
	strcpy(q->overflow.name, "repair");           /* a cycle: ends after 8 moves */
	q->callback = true;
	q->callback_retries = 2;
	q->callback_interval_s = 20;
	if (!alt) {
		q = h_queue(c, "sales", ACD_RING_ALL);
		q->max_wait_s = 60;
		q->max_size = 4;
		q->overflow.type = ACD_TARGET_NUMBER;
		strcpy(q->overflow.name, "+8657100000000");
		q->wrapup_s = 3;
	}
	q = h_queue(c, "rr", (enum acd_strategy)(ACD_ROUND_ROBIN + rn(4)));  /* rr/fewest/least/random */
	q->ring_timeout_s = 10;
	h_agent(c, "1001", "repair:1,general:2", "repair:3");
	h_agent(c, "1002", "repair:1", "repair:5,mandarin:3");
	h_agent(c, "1003", alt ? "general:1" : "general:1,sales:1", "repair:1");
	h_agent(c, "1004", alt ? "rr:1,repair:2" : "sales:1,rr:1", alt ? "repair:4" : NULL);
	h_agent(c, "1005", "rr:1,general:2", NULL);
	if (!alt)
		h_agent(c, "1006", "sales:2,rr:2,repair:3", "repair:2");
	h_agent(c, "1007", "rr:1", NULL);
	h_agent(c, "1008", "", NULL);                 /* in no queue: a VIP's own agent */
	strcpy(c->v[0].e164, "+8613900000888");
	c->v[0].priority = 10;
	strcpy(c->v[0].agent, "1008");
	strcpy(c->v[1].e164, "+8613900000999");
	c->v[1].priority = 50;
	strcpy(c->v[1].queue, "sales");
	c->t.n_vips = 2;
}

static void check(const char *what)
{
	char why[256];

	if (acd_check(W.a, W.now, why, sizeof(why)) != 0) {
		if (getenv("ACD_PROP_DUMP"))
			for (int t = 0; t < N_TENANTS; t++) {
				json_t *j = acd_live_agents(W.a, tenants[t], W.now);
				char *txt = json_dumps(j, JSON_COMPACT);

				fprintf(stderr, "%s\n", txt);
				free(txt);
				json_decref(j);
				for (size_t q = 0; q < W.cfg[t].t.n_queues; q++) {
					j = acd_live_queue(W.a, tenants[t], W.cfg[t].q[q].name, W.now);
					txt = json_dumps(j, JSON_COMPACT);
					fprintf(stderr, "%s\n", txt);
					free(txt);
					json_decref(j);
				}
			}
		PFAIL("after %s: %s", what, why);
	}
}

static struct call *random_call(bool alive_only)
{
	if (!W.n_calls)
		return NULL;
	for (int tries = 0; tries < 8; tries++) {
		struct call *c = &W.calls[rn((unsigned)W.n_calls)];

		if (!alive_only || c->alive)
			return c;
	}
	return NULL;
}

static void compact(void)
{
	size_t j = 0;

	for (size_t i = 0; i < W.n_calls; i++)
		if (W.calls[i].alive)
			W.calls[j++] = W.calls[i];
	W.n_calls = j;
}

static void arrival(void)
{
	static const char *const queues[] = { "repair", "general", "sales", "rr", "nope" };
	static const char *const callers[] = { "+8613800000001", "+8613800000002", "+8613800000003",
	                                       "+8613900000888", "+8613900000999", "" };
	struct call *c;
	struct acd_skill sk = { "mandarin", 1 + (int)rn(5) };
	struct acd_enqueue_ans ans;
	int t = (int)rn(N_TENANTS);

	if (W.n_calls == MAX_CALLS)
		compact();
	if (W.n_calls == MAX_CALLS)
		return;
	c = &W.calls[W.n_calls];
	memset(c, 0, sizeof(*c));
	snprintf(c->id, sizeof(c->id), "call-%zu", W.next_call++);
	c->tenant = t;
	snprintf(c->instance, sizeof(c->instance), "md%u", 1 + rn(2));
	struct acd_enqueue req = { tenants[t], c->id, c->instance, queues[rn(5)], callers[rn(6)],
	                           rn(4) == 0 ? &sk : NULL, 0, (int)rn(3) * 5, W.now - rn(5000) };
	req.n_skills = req.skills ? 1 : 0;
	acd_enqueue(W.a, &req, W.now, &ans);
	if (ans.ok) {
		c->alive = true;
		W.n_calls++;
		if (ans.position < 1)
			PFAIL("position %d", ans.position);
	} else {
		/* refused: ended on its refusal ("no such queue" has no event) */
		char key[128];

		snprintf(key, sizeof(key), "%s/%s", tenants[t], c->id);
		if (strcmp(ans.why, "no such queue") != 0 && !cc_map_get(&W.terminals, key))
			PFAIL("refused %s (%s) without its overflowed event", c->id, ans.why);
	}
}

static struct h_offer *random_offer(void)
{
	if (!W.rec.n_offers)
		return NULL;
	/* mostly recent ones */
	size_t n = W.rec.n_offers, back = rn(2) ? 0 : rn(4) ? rn(n < 6 ? (unsigned)n : 6) : rn((unsigned)n);
	return &W.rec.offers[n - 1 - back];
}

static struct call *find_call(const char *tenant, const char *id)
{
	for (size_t i = 0; i < W.n_calls; i++)
		if (strcmp(W.calls[i].id, id) == 0 && strcmp(tenants[W.calls[i].tenant], tenant) == 0)
			return &W.calls[i];
	return NULL;
}

static void result(struct h_offer *o, size_t i, enum acd_result_kind k, const char *reason)
{
	struct acd_result r = { o->tenant, o->call, o->offer, o->agents[i], o->epochs[i], k, 486, reason, "leg" };
	struct call *c = find_call(o->tenant, o->call);
	int rc;

	if (rn(20) == 0)
		r.tenant = tenants[rn(N_TENANTS)];      /* sometimes the wrong tenant */
	if (c && !c->alive && k == ACD_ANSWERED)
		return;                              /* mediad has no leg for a gone call */
	rc = acd_result(W.a, &r, W.now);
	if (k == ACD_ANSWERED && rc == 0 && c && strcmp(r.tenant, o->tenant) == 0) {
		c->bridged = true;
		snprintf(c->agent, sizeof(c->agent), "%s", o->agents[i]);
		c->epoch = o->epochs[i];
		W.answered++;
	} else if (rc == ESTALE) {
		W.stale++;
	}
}

static int by_seq(const void *x, const void *y)
{
	const struct jrow *p = *(struct jrow *const *)x, *q = *(struct jrow *const *)y;

	return (p->seq > q->seq) - (p->seq < q->seq);
}

static void restart(void)
{
	struct jrow **rows = calloc(W.journal.len ? W.journal.len : 1, sizeof(*rows));
	size_t n = 0;
	json_t *calls[3] = { json_array(), json_array(), json_array() };

	for (size_t i = 0; i < W.journal.cap; i++)
		if (W.journal.slots[i].key)
			rows[n++] = W.journal.slots[i].value;
	/* JetStream's order: by the sequence of each subject's last message */
	qsort(rows, n, sizeof(*rows), by_seq);
	acd_free(W.a);
	W.a = acd_new(&W.out, W.seed + W.step);
	for (size_t i = 0; i < n; i++)
		if (acd_restore(W.a, rows[i]->subject, rows[i]->rec, W.now) != 0)
			PFAIL("restore refused its own record %s", rows[i]->subject);
	free(rows);
	for (int t = 0; t < N_TENANTS; t++)
		acd_configure(W.a, cur(t), W.now);
	check("restart");
	for (size_t i = 0; i < W.n_calls; i++)
		if (W.calls[i].alive)
			json_array_append_new(calls[W.calls[i].instance[2] - '0'],
			                      json_pack("{s:s, s:s}", "call", W.calls[i].id, "tenant", tenants[W.calls[i].tenant]));
	acd_reconcile(W.a, "md1", calls[1], W.now);
	acd_reconcile(W.a, "md2", calls[2], W.now);
	for (int i = 0; i < 3; i++)
		json_decref(calls[i]);
	W.restarts++;
}

static void lose(const char *instance)
{
	for (size_t i = 0; i < W.n_calls; i++)
		if (strcmp(W.calls[i].instance, instance) == 0)
			W.calls[i].alive = false;
	acd_instance_lost(W.a, instance, W.now);
	W.losses++;
}

static void step(void)
{
	unsigned k = rn(100);
	struct h_offer *o;
	struct call *c;
	int t = (int)rn(N_TENANTS);
	const char *ext = exts[rn(N_AGENTS)];
	static const char *const reasons[] = { "lunch", "break", "missed_calls", "nap", "" };

	if (k < 18) {
		kind = "arrival";
		arrival();
	} else if (k < 28) {
		kind = "offer taken";
		if ((o = random_offer()))
			acd_offer_taken(W.a, o->tenant, o->call, o->offer, rn(15) != 0, W.now);
	} else if (k < 40) {
		kind = "answer";
		if ((o = random_offer()))
			result(o, rn((unsigned)o->n), ACD_ANSWERED, NULL);
	} else if (k < 46) {
		kind = "failed";
		static const char *const why[] = { "no answer", "busy", "rejected", "not registered" };
		if ((o = random_offer()))
			result(o, rn((unsigned)o->n), ACD_FAILED, why[rn(4)]);
	} else if (k < 52) {
		kind = "abandon";
		if ((c = random_call(true)) && !c->bridged) {
			struct acd_result r = { tenants[c->tenant], c->id, "", "", 0, ACD_ABANDONED, 0, NULL, NULL };
			acd_result(W.a, &r, W.now);
			if (!c->callback)
				c->alive = false;
		}
	} else if (k < 60) {
		kind = "ended";
		if ((c = random_call(true)) && c->bridged) {
			struct acd_result r = { tenants[c->tenant], c->id, "", c->agent, rn(10) ? c->epoch : 0,
			                        ACD_ENDED, 0, NULL, NULL };
			acd_result(W.a, &r, W.now);
			c->alive = false;
		}
	} else if (k < 63) {
		kind = "callback";
		if ((c = random_call(true)) && !c->bridged &&
		    acd_callback(W.a, tenants[c->tenant], c->id, "+8613911112222", W.now) == 0)
			c->callback = true;
	} else if (k < 65) {
		kind = "callback failed";
		if ((c = random_call(true)) && c->callback && c->bridged) {
			struct acd_result r = { tenants[c->tenant], c->id, "", c->agent, c->epoch,
			                        ACD_CALLBACK_FAILED, 0, NULL, NULL };
			acd_result(W.a, &r, W.now);
			c->bridged = false;
		}
	} else if (k < 78) {
		kind = "agent set";
		static const enum acd_state want[] = { ACD_READY, ACD_READY, ACD_READY, ACD_NOT_READY,
		                                       ACD_LOGGED_OUT, ACD_WRAPUP };
		struct acd_agent_view v;
		acd_agent_set(W.a, tenants[t], ext, want[rn(6)], reasons[rn(5)], W.now, &v);
	} else if (k < 82) {
		kind = "busy";
		char call[32];
		snprintf(call, sizeof(call), "direct-%u", rn(3));
		acd_agent_busy(W.a, tenants[t], ext, call, rn(2), W.now);
	} else if (k < 84) {
		kind = "registered";
		acd_agent_registered(W.a, tenants[t], ext, rn(2), W.now);
	} else if (k < 96) {
		kind = "tick";
		W.now += rn(4) == 0 ? rn(30000) : rn(2500);
		acd_tick(W.a, W.now);
		if (acd_next_deadline(W.a) <= W.now)
			PFAIL("a deadline due after the tick");
	} else if (k < 97) {
		kind = "reconcile";
		json_t *calls = json_array();
		const char *inst = rn(2) ? "md1" : "md2";

		for (size_t i = 0; i < W.n_calls; i++)
			if (W.calls[i].alive && strcmp(W.calls[i].instance, inst) == 0)
				json_array_append_new(calls, json_pack("{s:s, s:s}", "call", W.calls[i].id,
				                                       "tenant", tenants[W.calls[i].tenant]));
		acd_reconcile(W.a, inst, calls, W.now);
		json_decref(calls);
	} else if (k < 99) {
		kind = "restart";
		if (rn(4) == 0) {
			restart();
		} else {
			kind = "reconfigure";       /* a model swap: queue and agent deleted or back */
			W.use_alt[t] = !W.use_alt[t];
			acd_configure(W.a, cur(t), W.now);
		}
	} else {
		kind = "lose";
		if (rn(10) == 0)
			lose(rn(2) ? "md1" : "md2");
	}
}

static void free_jrow(void *v)
{
	struct jrow *r = v;

	free(r->subject);
	json_decref(r->rec);
	free(r);
}

static void run(uint64_t seed, long steps)
{
	struct acd_stats st;

	memset(&W, 0, sizeof(W));
	W.seed = seed;
	rs = seed ? seed : 1;
	W.now = T0;
	W.out = h_out(&W.rec);
	W.out.event = ev_cb;
	W.out.journal = journal_cb;
	cc_map_init(&W.terminals);
	cc_map_init(&W.journal);
	W.a = acd_new(&W.out, seed);
	for (int t = 0; t < N_TENANTS; t++) {
		build_cfg(t, false);
		build_cfg(t, true);
		acd_configure(W.a, cur(t), W.now);
	}
	for (W.step = 0; W.step < steps; W.step++) {
		step();
		check("a step");
		if (W.rec.n_offers > 4096) {            /* keep the recent ones */
			memmove(W.rec.offers, W.rec.offers + 4000, (W.rec.n_offers - 4000) * sizeof(*W.rec.offers));
			W.rec.n_offers -= 4000;
		}
	}
	/* the end: mediad loses every caller; every entry must have ended once */
	lose("md1");
	lose("md2");
	check("the end");
	acd_stats(W.a, &st);
	if (st.waiting)
		PFAIL("%" PRIu64 " still waiting", st.waiting);
	for (size_t i = 0; i < W.n_calls; i++) {
		char key[128];

		snprintf(key, sizeof(key), "%s/%s", tenants[W.calls[i].tenant], W.calls[i].id);
		if ((intptr_t)cc_map_get(&W.terminals, key) != 1)
			PFAIL("call %s ended %d times", key, (int)(intptr_t)cc_map_get(&W.terminals, key));
	}
	printf("# seed %" PRIu64 ": %ld steps, %zu calls, %" PRIu64 " answered, %" PRIu64 " stale, %" PRIu64
	       " restarts, %" PRIu64 " mediad losses, %" PRIu64 " orphans, %" PRIu64 " missed\n", seed, steps,
	       W.next_call, W.answered, W.stale, W.restarts, W.losses, st.orphans, st.missed);
	acd_free(W.a);
	h_free(&W.rec);
	cc_map_free(&W.terminals, NULL);
	cc_map_free(&W.journal, free_jrow);
}

static uint64_t arg_seed;
static long arg_steps;

TEST(random_steps)
{
	if (arg_seed) {
		run(arg_seed, arg_steps);
		return;
	}
	for (uint64_t s = 1; s <= 5; s++)
		run(s * 0x9e3779b97f4a7c15ull, arg_steps);
}

int main(int argc, char **argv)
{
	static const struct cc_test tests[] = { T(random_steps) };

	arg_seed = argc > 1 ? strtoull(argv[1], NULL, 0) : 0;
#ifdef __SANITIZE_ADDRESS__
	/* 5 x 12,000 under ASan+UBSan (make asan): about 3x slower, and the
	 * runner's 30 s alarm on a loaded machine */
	arg_steps = argc > 2 ? atol(argv[2]) : 12000;
#else
	arg_steps = argc > 2 ? atol(argv[2]) : 25000;
#endif
	return cc_test_main(SUITE, tests, 1, 1, argv);
}
