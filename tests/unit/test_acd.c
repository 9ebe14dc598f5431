/* test_acd.c: the ACD runtime (routing/acd.h), case by case. */
#include <errno.h>
#include <stdint.h>

#include "acd.h"
#include "acd_rec.h"
#include "acd_harness.h"
#include "strategy.h"
#include "test.h"

#define SUITE "acd"
#define T1 "00000000-0000-4000-8000-00000000000a"
#define T2 "00000000-0000-4000-8000-00000000000b"
#define S 1000LL                     /* ms per second */
#define T0 1800000000000LL           /* a wall-clock ms (2027) */

static struct h_rec R;
static struct acd *A;
static struct h_cfg C, C2;

static void setup(void)
{
	struct acd_out o = h_out(&R);

	A = acd_new(&o, 42);
	h_cfg_init(&C, T1);
}

static void check(int64_t now)
{
	char why[256];

	if (acd_check(A, now, why, sizeof(why)) != 0)
		FAILF("acd_check: %s", why);
}

static struct acd_enqueue_ans enq_full(const char *tenant, const char *call, const char *queue,
                                       const char *caller, int prio, const struct acd_skill *sk,
                                       size_t nsk, int64_t now)
{
	struct acd_enqueue req = { tenant, call, "md1", queue, caller, sk, nsk, prio, now };
	struct acd_enqueue_ans ans;

	acd_enqueue(A, &req, now, &ans);
	check(now);
	return ans;
}

static int enq(const char *call, const char *queue, const char *caller, int64_t now)
{
	struct acd_enqueue_ans ans = enq_full(T1, call, queue, caller, 0, NULL, 0, now);

	return ans.ok ? ans.position : -1;
}

static int set(const char *tenant, const char *ext, enum acd_state st, const char *reason, int64_t now)
{
	int rc = acd_agent_set(A, tenant, ext, st, reason, now, NULL);

	check(now);
	return rc;
}

static void ready(const char *ext, int64_t now)
{
	ASSERT_EQ_INT(set(T1, ext, ACD_READY, NULL, now), 0);
}

static enum acd_state state(const char *tenant, const char *ext)
{
	struct acd_agent_view v;

	ASSERT_EQ_INT(acd_agent_get(A, tenant, ext, &v), 0);
	return v.state;
}

static struct h_offer *last(void)
{
	ASSERT(R.n_offers > 0);
	return &R.offers[R.n_offers - 1];
}

static int result(const char *tenant, const struct h_offer *o, size_t i, enum acd_result_kind k,
                  const char *reason, int64_t now)
{
	struct acd_result r = { tenant, o->call, o->offer, o->agents[i], o->epochs[i], k, 0, reason, "leg-1" };
	int rc = acd_result(A, &r, now);

	check(now);
	return rc;
}

static void take(const char *tenant, const struct h_offer *o, int64_t now)
{
	ASSERT_EQ_INT(acd_offer_taken(A, tenant, o->call, o->offer, true, now), 0);
	check(now);
}

static int answer(const struct h_offer *o, size_t i, int64_t now)
{
	return result(T1, o, i, ACD_ANSWERED, NULL, now);
}

static void hangup(const struct h_offer *o, size_t i, int64_t now)
{
	ASSERT_EQ_INT(result(T1, o, i, ACD_ENDED, NULL, now), 0);
}

static void abandon(const char *tenant, const char *call, int64_t now)
{
	struct acd_result r = { tenant, call, "", "", 0, ACD_ABANDONED, 0, NULL, NULL };

	ASSERT_EQ_INT(acd_result(A, &r, now), 0);
	check(now);
}

static void tick(int64_t now)
{
	acd_tick(A, now);
	check(now);
}

static size_t count(const char *type)
{
	size_t i, n = 0;
	json_t *row;

	json_array_foreach(R.events, i, row)
		if (strcmp(json_string_value(json_object_get(json_array_get(row, 1), "type")), type) == 0)
			n++;
	return n;
}

static json_t *last_event(const char *type)
{
	json_t *row, *found = NULL;
	size_t i;

	json_array_foreach(R.events, i, row)
		if (strcmp(json_string_value(json_object_get(json_array_get(row, 1), "type")), type) == 0)
			found = json_array_get(row, 1);
	ASSERT(found);
	return found;
}

static const char *s_of(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static void done(void)
{
	acd_free(A);
	h_free(&R);
}

/* answered and ended: the agent back ready (no wrap-up configured) */
static void serve(const char *call, int64_t now)
{
	struct h_offer *o = last();

	ASSERT_EQ_STR(o->call, call);
	take(T1, o, now);
	ASSERT_EQ_INT(answer(o, 0, now + 1), 0);
	hangup(o, 0, now + 2);
}

/* ---- strategies ---- */

TEST(strategy_names)
{
	enum acd_strategy s;

	for (int i = ACD_RING_ALL; i <= ACD_SKILLS; i++) {
		ASSERT_EQ_INT(acd_strategy_parse(acd_strategy_name(i), &s), 0);
		ASSERT_EQ_INT(s, i);
		ASSERT_EQ_INT(acd_strategy_ops(i)->id, i);
	}
	ASSERT_EQ_INT(acd_strategy_parse("fastest", &s), -1);
	ASSERT_EQ_INT(acd_strategy_parse(NULL, &s), -1);
}

TEST(longest_idle)
{
	setup();
	h_queue(&C, "repair", ACD_LONGEST_IDLE);
	h_agent(&C, "1001", "repair", NULL);
	h_agent(&C, "1002", "repair", NULL);
	h_agent(&C, "1003", "repair", NULL);
	acd_configure(A, &C.t, T0);
	ready("1002", T0 + 1);
	ready("1003", T0 + 2);
	ready("1001", T0 + 3);
	ASSERT_EQ_INT(enq("c1", "repair", "+8613900000001", T0 + 10), 1);
	ASSERT_EQ_STR(last()->agents[0], "1002");
	ASSERT_EQ_INT(enq("c2", "repair", "+8613900000002", T0 + 11), 2);   /* c1 rings: still ahead */
	ASSERT_EQ_STR(last()->agents[0], "1003");
	ASSERT_EQ_INT(state(T1, "1002"), ACD_RESERVED);
	take(T1, &R.offers[0], T0 + 12);
	ASSERT_EQ_INT(state(T1, "1002"), ACD_RINGING);
	ASSERT_EQ_INT(count("offered_agent"), 2);
	json_t *ev = last_event("offered_agent");
	ASSERT_EQ_STR(s_of(ev, "agent"), "1003");
	ASSERT_EQ_STR(s_of(ev, "queue"), "repair");
	ASSERT_EQ_STR(s_of(ev, "tenant"), T1);
	ASSERT(json_integer_value(json_object_get(ev, "epoch")) > 0);
	done();
}

TEST(ring_all_first_answer_wins)
{
	setup();
	h_queue(&C, "sales", ACD_RING_ALL);
	h_agent(&C, "1001", "sales", NULL);
	h_agent(&C, "1002", "sales", NULL);
	acd_configure(A, &C.t, T0);
	ready("1001", T0 + 1);
	ready("1002", T0 + 2);
	enq("c1", "sales", "", T0 + 10);
	struct h_offer o = *last();
	ASSERT_EQ_INT(o.n, 2);
	take(T1, &o, T0 + 11);
	ASSERT_EQ_INT(answer(&o, 1, T0 + 12), 0);
	ASSERT_EQ_INT(answer(&o, 0, T0 + 12), ESTALE);   /* the second 200: mediad sends BYE */
	ASSERT_EQ_INT(answer(&o, 1, T0 + 13), 0);        /* a retry of the winner */
	ASSERT_EQ_INT(state(T1, "1002"), ACD_ON_CALL);
	ASSERT_EQ_INT(state(T1, "1001"), ACD_READY);
	ASSERT_EQ_INT(count("agent_answered"), 1);
	struct acd_stats st;
	acd_stats(A, &st);
	ASSERT_EQ_INT(st.stale, 1);
	done();
}

TEST(round_robin)
{
	setup();
	h_queue(&C, "q", ACD_ROUND_ROBIN);
	h_agent(&C, "1001", "q", NULL);
	h_agent(&C, "1002", "q", NULL);
	h_agent(&C, "1003", "q", NULL);
	acd_configure(A, &C.t, T0);
	ready("1003", T0 + 1);
	ready("1002", T0 + 2);
	ready("1001", T0 + 3);
	const char *want[] = { "1002", "1003", "1001", "1002" };   /* after the cursor (0 = 1001) */
	for (int i = 0; i < 4; i++) {
		char call[16];

		snprintf(call, sizeof(call), "c%d", i);
		enq(call, "q", "", T0 + 100 * (i + 1));
		if (strcmp(last()->agents[0], want[i]) != 0)
			FAILF("call %d went to %s, not %s", i, last()->agents[0], want[i]);
		serve(call, T0 + 100 * (i + 1) + 1);
	}
	done();
}

TEST(fewest_calls)
{
	setup();
	h_queue(&C, "q", ACD_FEWEST_CALLS);
	h_agent(&C, "1001", "q", NULL);
	h_agent(&C, "1002", "q", NULL);
	acd_configure(A, &C.t, T0);
	ready("1001", T0 + 1);
	enq("c1", "q", "", T0 + 10);
	serve("c1", T0 + 11);                 /* 1001: one call */
	ready("1002", T0 + 20);               /* 1001 is the longest idle, but has more calls */
	enq("c2", "q", "", T0 + 30);
	ASSERT_EQ_STR(last()->agents[0], "1002");
	done();
}

TEST(least_talk_time)
{
	setup();
	h_queue(&C, "q", ACD_LEAST_TALK_TIME);
	h_agent(&C, "1001", "q", NULL);
	h_agent(&C, "1002", "q", NULL);
	acd_configure(A, &C.t, T0);
	ready("1001", T0 + 1);
	enq("c1", "q", "", T0 + 10);
	take(T1, last(), T0 + 11);
	answer(last(), 0, T0 + 12);
	hangup(last(), 0, T0 + 600 * S);      /* 1001 talked ten minutes */
	ready("1002", T0 + 601 * S);
	enq("c2", "q", "", T0 + 602 * S);
	take(T1, last(), T0 + 602 * S);
	ASSERT_EQ_STR(last()->agents[0], "1002");
	answer(last(), 0, T0 + 603 * S);
	hangup(last(), 0, T0 + 604 * S);      /* 1002: one second; it is now the newest ready */
	enq("c3", "q", "", T0 + 700 * S);
	ASSERT_EQ_STR(last()->agents[0], "1002");
	done();
}

TEST(random)
{
	int seen[2] = { 0, 0 };

	setup();
	h_queue(&C, "q", ACD_RANDOM);
	h_agent(&C, "1001", "q", NULL);
	h_agent(&C, "1002", "q", NULL);
	acd_configure(A, &C.t, T0);
	ready("1001", T0 + 1);
	ready("1002", T0 + 2);
	for (int i = 0; i < 40; i++) {
		char call[16];
		int64_t now = T0 + 1000 * (i + 1);

		snprintf(call, sizeof(call), "c%d", i);
		enq(call, "q", "", now);
		seen[strcmp(last()->agents[0], "1001") != 0]++;
		serve(call, now + 1);
	}
	ASSERT(seen[0] > 5 && seen[1] > 5);
	done();
}

TEST(skills_best_proficiency_then_idle)
{
	setup();
	struct acd_queue_cfg *q = h_queue(&C, "repair", ACD_SKILLS);
	strcpy(q->required[0].name, "repair");
	q->required[0].level = 2;
	q->n_required = 1;
	h_agent(&C, "1001", "repair", "repair:1");             /* under the minimum */
	h_agent(&C, "1002", "repair", "repair:3");
	h_agent(&C, "1003", "repair", "repair:5");
	h_agent(&C, "1004", "repair", "repair:5,mandarin:2");
	acd_configure(A, &C.t, T0);
	ready("1001", T0 + 1);
	ready("1002", T0 + 2);
	ready("1003", T0 + 3);
	ready("1004", T0 + 4);
	enq("c1", "repair", "", T0 + 10);
	ASSERT_EQ_STR(last()->agents[0], "1003");              /* 5 and longest idle of the 5s */
	/* the caller's own skills (the IVR node's) add to the queue's */
	struct acd_skill man = { "mandarin", 2 };
	struct acd_enqueue_ans ans = enq_full(T1, "c2", "repair", "", 0, &man, 1, T0 + 11);
	ASSERT(ans.ok);
	ASSERT_EQ_STR(last()->agents[0], "1004");
	/* nobody with mandarin 3: waits, although 1001 and 1002 are ready */
	man.level = 3;
	ans = enq_full(T1, "c3", "repair", "", 0, &man, 1, T0 + 12);
	ASSERT(ans.ok);
	ASSERT_EQ_INT(R.n_offers, 2);
	/* a skill level out of 1..5 is refused */
	man.level = 7;
	ans = enq_full(T1, "c4", "repair", "", 0, &man, 1, T0 + 13);
	ASSERT(!ans.ok);
	done();
}

TEST(membership_priority)
{
	setup();
	h_queue(&C, "gold", ACD_LONGEST_IDLE);
	h_queue(&C, "general", ACD_LONGEST_IDLE);
	h_agent(&C, "1001", "general:1,gold:2", NULL);
	h_agent(&C, "1009", "gold,general", NULL);              /* staffs both, stays not ready */
	acd_configure(A, &C.t, T0);
	ASSERT_EQ_INT(set(T1, "1009", ACD_NOT_READY, "lunch", T0), 0);
	enq("g1", "gold", "", T0 + 10);                          /* older, in its priority-2 queue */
	enq("n1", "general", "", T0 + 20);
	ready("1001", T0 + 30);
	ASSERT_EQ_STR(last()->call, "n1");
	done();
}

TEST(vip_ahead_of_five_and_dedicated_agent)
{
	setup();
	h_queue(&C, "q", ACD_LONGEST_IDLE);
	h_agent(&C, "1001", "q", NULL);
	h_agent(&C, "1002", "q", NULL);
	h_agent(&C, "1888", "", NULL);                           /* the VIP's own agent, in no queue */
	strcpy(C.v[0].e164, "+8613900000888");
	C.v[0].priority = 10;
	strcpy(C.v[0].agent, "1888");
	C.t.n_vips = 1;
	acd_configure(A, &C.t, T0);
	ASSERT_EQ_INT(set(T1, "1001", ACD_NOT_READY, "break", T0), 0);
	for (int i = 0; i < 5; i++) {
		char call[16], caller[20];

		snprintf(call, sizeof(call), "c%d", i);
		snprintf(caller, sizeof(caller), "+861380000000%d", i);
		ASSERT_EQ_INT(enq(call, "q", caller, T0 + 10 + i), i + 1);
	}
	/* a high IVR priority is still behind a VIP */
	struct acd_enqueue_ans ans = enq_full(T1, "p9", "q", "+8613800000099", 100, NULL, 0, T0 + 16);
	ASSERT_EQ_INT(ans.position, 1);
	ASSERT_EQ_INT(enq("vip", "q", "+8613900000888", T0 + 20), 1);
	json_t *ev = last_event("queued");
	ASSERT(json_is_true(json_object_get(ev, "vip")));
	ASSERT_EQ_INT(json_integer_value(json_object_get(ev, "priority")), 10);
	struct acd_position p;
	ASSERT_EQ_INT(acd_position(A, T1, "c0", &p), 0);
	ASSERT_EQ_INT(p.position, 3);
	ASSERT_EQ_INT(p.expected_wait_s, -1);
	ASSERT_EQ_INT(R.n_offers, 0);
	ready("1001", T0 + 30);
	ASSERT_EQ_STR(last()->call, "vip");
	ASSERT_EQ_STR(last()->agents[0], "1001");
	/* the dedicated agent becomes ready: the next VIP goes to it first */
	ASSERT_EQ_INT(enq("vip2", "q", "+8613900000888", T0 + 40), 2);   /* behind the ringing one */
	ready("1888", T0 + 41);
	ASSERT_EQ_STR(last()->call, "vip2");
	ASSERT_EQ_STR(last()->agents[0], "1888");
	done();
}

TEST(sticky_within_and_after_window)
{
	setup();
	struct acd_queue_cfg *q = h_queue(&C, "q", ACD_LONGEST_IDLE);
	q->sticky_within_days = 30;
	q->sticky_ring_s = 7;
	h_agent(&C, "1001", "q", NULL);
	h_agent(&C, "1002", "q", NULL);
	acd_configure(A, &C.t, T0);
	acd_sticky_seed(A, T1, "+8613900000001", "1002", T0 - 29 * 86400 * S);
	acd_sticky_seed(A, T1, "+8613900000002", "1002", T0 - 31 * 86400 * S);
	ready("1001", T0 + 1);
	ready("1002", T0 + 2);
	enq("c1", "q", "+8613900000001", T0 + 10);
	ASSERT_EQ_STR(last()->agents[0], "1002");                /* sticky, not the longest idle */
	ASSERT_EQ_INT(last()->ring_s, 7);
	ASSERT_EQ_STR(s_of(last_event("queued"), "sticky"), "1002");
	/* not answered within its ring: the strategy then */
	take(T1, last(), T0 + 11);
	ASSERT_EQ_INT(result(T1, last(), 0, ACD_FAILED, "no answer", T0 + 7 * S), 0);
	ASSERT_EQ_STR(last()->agents[0], "1001");
	ASSERT_EQ_INT(last()->ring_s, 15);
	serve("c1", T0 + 8 * S);                                 /* 1001 answers: the sticky map learns it */
	enq("c2", "q", "+8613900000002", T0 + 20 * S);           /* 31 days: not sticky any more */
	ASSERT_EQ_STR(last()->agents[0], "1002");                /* longest idle (1001 just ended) */
	ASSERT(!json_object_get(last_event("queued"), "sticky"));
	serve("c2", T0 + 21 * S);
	enq("c3", "q", "+8613900000001", T0 + 30 * S);
	ASSERT_EQ_STR(last()->agents[0], "1001");
	/* busy sticky agent: waits normally for anyone */
	serve("c3", T0 + 31 * S);
	ASSERT_EQ_INT(set(T1, "1002", ACD_NOT_READY, "break", T0 + 40 * S), 0);
	acd_agent_busy(A, T1, "1001", "other-1", true, T0 + 41 * S);
	ASSERT_EQ_INT(state(T1, "1001"), ACD_ON_CALL);
	enq("c4", "q", "+8613900000001", T0 + 42 * S);
	size_t n = R.n_offers;
	ready("1002", T0 + 43 * S);
	ASSERT_EQ_INT(R.n_offers, n + 1);
	ASSERT_EQ_STR(last()->agents[0], "1002");
	done();
}

static uint64_t sticky_n(void)
{
	struct acd_stats st;

	acd_stats(A, &st);
	return st.sticky;
}

/* issue 14: the sticky map never shrank. At most ACD_STICKY_MAX callers
 * per tenant (the oldest answer goes first); callers answered longer ago
 * than the longest within_days go at the next prune; no sticky queue, none */
TEST(sticky_map_bounded_and_pruned)
{
	char caller[32];

	setup();
	struct acd_queue_cfg *q = h_queue(&C, "q", ACD_LONGEST_IDLE);
	q->sticky_within_days = 30;
	h_agent(&C, "1001", "q", NULL);
	acd_configure(A, &C.t, T0);
	ASSERT_EQ_INT(set(T1, "1001", ACD_NOT_READY, "break", T0), 0);
	for (int i = 0; i < ACD_STICKY_MAX + 10; i++) {
		snprintf(caller, sizeof(caller), "+86139%08d", i);
		acd_sticky_seed(A, T1, caller, "1001", T0 - 20 * 86400 * S + i);
	}
	ASSERT_EQ_INT(sticky_n(), ACD_STICKY_MAX);
	enq("c1", "q", "+8613900000000", T0 + S);                /* the oldest: dropped */
	ASSERT(!json_object_get(last_event("queued"), "sticky"));
	enq("c2", "q", "+8613900000010", T0 + 2 * S);            /* the oldest kept */
	ASSERT_EQ_STR(s_of(last_event("queued"), "sticky"), "1001");
	/* 11 days on, every seed is past 30 days: pruned by the tick */
	acd_tick(A, T0 + 11 * 86400 * S);
	ASSERT_EQ_INT(sticky_n(), 0);
	/* sticky turned off: nothing kept, nothing learnt */
	acd_sticky_seed(A, T1, "+8613900000001", "1001", T0 + 11 * 86400 * S);
	ASSERT_EQ_INT(sticky_n(), 1);
	q->sticky_within_days = 0;
	acd_configure(A, &C.t, T0 + 11 * 86400 * S + 1);
	ASSERT_EQ_INT(sticky_n(), 0);
	done();
}

TEST(overflow_on_time)
{
	setup();
	struct acd_queue_cfg *q = h_queue(&C, "q", ACD_LONGEST_IDLE);
	q->max_wait_s = 60;
	q->overflow.type = ACD_TARGET_NUMBER;
	strcpy(q->overflow.name, "+8657100000000");
	h_agent(&C, "1001", "q", NULL);
	acd_configure(A, &C.t, T0);
	set(T1, "1001", ACD_NOT_READY, "break", T0);
	enq("c1", "q", "", T0);
	ASSERT_EQ_INT(acd_next_deadline(A), T0 + 60 * S);
	tick(T0 + 59 * S);
	ASSERT_EQ_INT(R.n_routes, 0);
	tick(T0 + 60 * S);
	ASSERT_EQ_INT(R.n_routes, 1);
	ASSERT_EQ_INT(R.last_route.type, ACD_TARGET_NUMBER);
	json_t *ev = last_event("overflowed");
	ASSERT_EQ_STR(s_of(ev, "why"), "max_wait");
	ASSERT_EQ_STR(s_of(json_object_get(ev, "target"), "type"), "number");
	ASSERT_EQ_INT(json_integer_value(json_object_get(ev, "wait_ms")), 60 * S);
	struct acd_position p;
	ASSERT_EQ_INT(acd_position(A, T1, "c1", &p), ENOENT);
	done();
}

TEST(overflow_on_size_to_queue)
{
	setup();
	struct acd_queue_cfg *q = h_queue(&C, "small", ACD_LONGEST_IDLE);
	q->max_size = 2;
	q->overflow.type = ACD_TARGET_QUEUE;
	strcpy(q->overflow.name, "big");
	q = h_queue(&C, "big", ACD_LONGEST_IDLE);
	q->max_size = 1;                                         /* and big overflows to a hangup */
	h_agent(&C, "1001", "small,big", NULL);
	acd_configure(A, &C.t, T0);
	set(T1, "1001", ACD_NOT_READY, "break", T0);
	ASSERT_EQ_INT(enq("c1", "small", "", T0 + 1), 1);
	ASSERT_EQ_INT(enq("c2", "small", "", T0 + 2), 2);
	struct acd_enqueue_ans ans = enq_full(T1, "c3", "small", "", 0, NULL, 0, T0 + 3);
	ASSERT(ans.ok);                                          /* moved to big */
	ASSERT_EQ_STR(ans.queue->name, "big");
	ans = enq_full(T1, "c4", "small", "", 0, NULL, 0, T0 + 4);
	ASSERT(!ans.ok);
	ASSERT_EQ_STR(ans.why, "full");
	ASSERT_EQ_INT(ans.route.type, ACD_TARGET_HANGUP);
	struct acd_stats st;
	acd_stats(A, &st);
	ASSERT_EQ_INT(st.blocked, 3);                            /* c3 at small, c4 at small and big */
	ASSERT_EQ_STR(s_of(last_event("overflowed"), "why"), "max_size");
	done();
}

TEST(overflow_cycle_ends)
{
	setup();
	struct acd_queue_cfg *q = h_queue(&C, "a", ACD_LONGEST_IDLE);
	q->max_wait_s = 10;
	q->overflow.type = ACD_TARGET_QUEUE;
	strcpy(q->overflow.name, "b");
	q = h_queue(&C, "b", ACD_LONGEST_IDLE);
	q->max_wait_s = 10;
	q->overflow.type = ACD_TARGET_QUEUE;
	strcpy(q->overflow.name, "a");
	h_agent(&C, "1001", "a,b", NULL);
	acd_configure(A, &C.t, T0);
	set(T1, "1001", ACD_NOT_READY, "break", T0);
	enq("c1", "a", "", T0);
	for (int i = 1; i <= 20; i++)
		tick(T0 + i * 10 * S);
	ASSERT_EQ_INT(R.n_routes, 1);                            /* after 8 moves: hang up */
	ASSERT_EQ_INT(R.last_route.type, ACD_TARGET_HANGUP);
	ASSERT_EQ_INT(count("overflowed"), 9);
	ASSERT_EQ_INT(count("queued"), 9);
	/* the wait counts from the first arrival */
	ASSERT_EQ_INT(json_integer_value(json_object_get(last_event("overflowed"), "wait_ms")), 90 * S);
	done();
}

TEST(rona_and_missed_calls)
{
	setup();
	h_queue(&C, "q", ACD_LONGEST_IDLE);
	h_agent(&C, "1001", "q", NULL);
	h_agent(&C, "1002", "q", NULL);
	acd_configure(A, &C.t, T0);
	ready("1001", T0 + 1);
	enq("c1", "q", "", T0 + 10);
	take(T1, last(), T0 + 11);
	tick(T0 + 11 + 15 * S + ACD_RESERVE_MS);                 /* no answer: the ring's deadline */
	ASSERT_EQ_INT(R.n_cancels, 1);
	ASSERT_EQ_INT(R.n_offers, 2);                            /* the only one: offered again */
	ASSERT_EQ_INT(state(T1, "1001"), ACD_RESERVED);
	ready("1002", T0 + 20 * S);                              /* reserved 1001 is not offered c2 */
	take(T1, last(), T0 + 20 * S);
	ASSERT_EQ_INT(result(T1, last(), 0, ACD_FAILED, "no answer", T0 + 35 * S), 0);
	/* 2 missed in a row: not ready, missed_calls; the caller goes to 1002 */
	struct acd_agent_view v;
	acd_agent_get(A, T1, "1001", &v);
	ASSERT_EQ_INT(v.state, ACD_NOT_READY);
	ASSERT_EQ_STR(v.reason, "missed_calls");
	ASSERT_EQ_STR(last()->agents[0], "1002");
	ASSERT_EQ_STR(s_of(last_event("not_ready"), "reason"), "missed_calls");
	done();
}

TEST(reservation_not_taken_is_released)
{
	setup();
	h_queue(&C, "q", ACD_LONGEST_IDLE);
	h_agent(&C, "1001", "q", NULL);
	acd_configure(A, &C.t, T0);
	ready("1001", T0);
	enq("c1", "q", "", T0 + 1);
	ASSERT_EQ_INT(acd_next_deadline(A), T0 + 1 + ACD_RESERVE_MS);
	tick(T0 + 1 + ACD_RESERVE_MS);
	ASSERT_EQ_INT(R.n_cancels, 1);
	ASSERT_EQ_INT(R.n_offers, 2);                            /* not a miss: offered again */
	/* mediad says it has no such call: the entry is over */
	ASSERT_EQ_INT(acd_offer_taken(A, T1, "c1", last()->offer, false, T0 + 3 * S), 0);
	check(T0 + 3 * S);
	ASSERT_EQ_INT(state(T1, "1001"), ACD_READY);
	ASSERT_EQ_INT(count("abandoned"), 1);
	done();
}

TEST(stale_epochs_ignored)
{
	setup();
	h_queue(&C, "q", ACD_LONGEST_IDLE);
	h_agent(&C, "1001", "q", NULL);
	acd_configure(A, &C.t, T0);
	ready("1001", T0);
	enq("c1", "q", "", T0 + 1);
	struct h_offer first = *last();
	tick(T0 + 1 + ACD_RESERVE_MS);                           /* released, offered anew */
	struct h_offer second = *last();
	ASSERT(second.epochs[0] > first.epochs[0]);
	ASSERT_EQ_INT(result(T1, &first, 0, ACD_FAILED, "no answer", T0 + 3 * S), 0);
	ASSERT_EQ_INT(state(T1, "1001"), ACD_RESERVED);          /* the old epoch's failure ignored */
	ASSERT_EQ_INT(answer(&first, 0, T0 + 3 * S), ESTALE);    /* and its answer */
	ASSERT_EQ_INT(answer(&second, 0, T0 + 4 * S), 0);
	ASSERT_EQ_INT(state(T1, "1001"), ACD_ON_CALL);
	/* a result naming another tenant's agent with this call: nothing */
	ASSERT_EQ_INT(result(T2, &second, 0, ACD_ENDED, NULL, T0 + 5 * S), ENOENT);
	ASSERT_EQ_INT(state(T1, "1001"), ACD_ON_CALL);
	done();
}

TEST(pending_states_at_call_end)
{
	setup();
	struct acd_queue_cfg *q = h_queue(&C, "q", ACD_LONGEST_IDLE);
	q->wrapup_s = 10;
	h_agent(&C, "1001", "q", NULL);
	acd_configure(A, &C.t, T0);
	ready("1001", T0);
	enq("c1", "q", "", T0 + 1);
	ASSERT_EQ_INT(set(T1, "1001", ACD_NOT_READY, "lunch", T0 + 2), 0);   /* reserved: pending */
	struct acd_agent_view v;
	acd_agent_get(A, T1, "1001", &v);
	ASSERT_EQ_INT(v.state, ACD_RESERVED);
	ASSERT(v.has_pending);
	ASSERT_EQ_INT(v.pending, ACD_NOT_READY);
	take(T1, last(), T0 + 3);
	answer(last(), 0, T0 + 4);
	ASSERT_EQ_INT(set(T1, "1001", ACD_LOGGED_OUT, NULL, T0 + 5), 0);    /* on call: pending changes */
	hangup(last(), 0, T0 + 60 * S);
	ASSERT_EQ_INT(state(T1, "1001"), ACD_WRAPUP);
	tick(T0 + 70 * S);
	acd_agent_get(A, T1, "1001", &v);
	ASSERT_EQ_INT(v.state, ACD_LOGGED_OUT);
	ASSERT(!v.has_pending);
	done();
}

TEST(wrapup_then_ready_and_early_end)
{
	setup();
	struct acd_queue_cfg *q = h_queue(&C, "q", ACD_LONGEST_IDLE);
	q->wrapup_s = 30;
	h_agent(&C, "1001", "q", NULL);
	acd_configure(A, &C.t, T0);
	ready("1001", T0);
	enq("c1", "q", "", T0 + 1);
	serve("c1", T0 + 2);
	ASSERT_EQ_INT(state(T1, "1001"), ACD_WRAPUP);
	ASSERT_EQ_INT(acd_next_deadline(A), T0 + 4 + 30 * S);
	enq("c2", "q", "", T0 + 5 * S);
	ASSERT_EQ_INT(R.n_offers, 1);                            /* wrap-up: no offer */
	ready("1001", T0 + 6 * S);                               /* ended early */
	ASSERT_EQ_INT(R.n_offers, 2);
	serve("c2", T0 + 7 * S);
	tick(T0 + 7 * S + 30 * S + 2);
	ASSERT_EQ_INT(state(T1, "1001"), ACD_READY);
	done();
}

TEST(busy_on_other_calls)
{
	setup();
	h_queue(&C, "q", ACD_LONGEST_IDLE);
	h_agent(&C, "1001", "q", NULL);
	h_agent(&C, "1002", "q", NULL);
	acd_configure(A, &C.t, T0);
	ready("1001", T0);
	acd_agent_busy(A, T1, "1001", "direct-1", true, T0 + 1);
	check(T0 + 1);
	ASSERT_EQ_INT(state(T1, "1001"), ACD_ON_CALL);
	ASSERT_EQ_INT(set(T1, "1002", ACD_NOT_READY, "break", T0 + 2), 0);
	enq("c1", "q", "", T0 + 3);
	ASSERT_EQ_INT(R.n_offers, 0);
	acd_agent_busy(A, T1, "1001", "direct-1", false, T0 + 4);
	check(T0 + 4);
	ASSERT_EQ_INT(R.n_offers, 1);
	/* an agent who takes another call while its phone rings with an offer */
	ready("1002", T0 + 5);
	take(T1, last(), T0 + 6);
	acd_agent_busy(A, T1, "1001", "out-2", true, T0 + 7);
	check(T0 + 7);
	ASSERT_EQ_INT(state(T1, "1001"), ACD_ON_CALL);
	ASSERT_EQ_STR(last()->agents[0], "1002");
	ASSERT_EQ_INT(R.n_cancels, 1);
	done();
}

/* issue 14: more than ACD_BUSY_MAX other calls at once lost count (the
 * 9th was dropped, so the agent turned ready with it still up); beyond
 * the ids kept they are counted, and the agent is busy until every one ended */
TEST(busy_beyond_tracked_calls)
{
	char call[32];
	int n = ACD_BUSY_MAX + 3;

	setup();
	h_queue(&C, "q", ACD_LONGEST_IDLE);
	h_agent(&C, "1001", "q", NULL);
	acd_configure(A, &C.t, T0);
	ready("1001", T0);
	for (int i = 0; i < n; i++) {
		snprintf(call, sizeof(call), "other-%d", i);
		acd_agent_busy(A, T1, "1001", call, true, T0 + 1 + i);
		check(T0 + 1 + i);
	}
	ASSERT_EQ_INT(state(T1, "1001"), ACD_ON_CALL);
	/* the first ACD_BUSY_MAX end: still on the three others */
	for (int i = 0; i < ACD_BUSY_MAX; i++) {
		snprintf(call, sizeof(call), "other-%d", i);
		acd_agent_busy(A, T1, "1001", call, false, T0 + 100 + i);
		check(T0 + 100 + i);
		ASSERT_EQ_INT(state(T1, "1001"), ACD_ON_CALL);
	}
	enq("c1", "q", "", T0 + 200);
	ASSERT_EQ_INT(R.n_offers, 0);                            /* busy: no offer */
	acd_agent_set(A, T1, "1001", ACD_READY, NULL, T0 + 201, NULL); /* asking ready: still busy */
	ASSERT_EQ_INT(state(T1, "1001"), ACD_ON_CALL);
	for (int i = ACD_BUSY_MAX; i < n; i++) {
		ASSERT_EQ_INT(state(T1, "1001"), ACD_ON_CALL);
		snprintf(call, sizeof(call), "other-%d", i);
		acd_agent_busy(A, T1, "1001", call, false, T0 + 300 + i);
		check(T0 + 300 + i);
	}
	/* every call over: ready, and the caller is offered at once */
	ASSERT_EQ_INT(R.n_offers, 1);
	ASSERT_EQ_INT(state(T1, "1001"), ACD_RESERVED);
	/* an end never started changes nothing */
	acd_agent_busy(A, T1, "1001", "never", false, T0 + 400);
	ASSERT_EQ_INT(state(T1, "1001"), ACD_RESERVED);
	done();
}

TEST(unregistered_logs_out)
{
	setup();
	h_queue(&C, "q", ACD_LONGEST_IDLE);
	h_agent(&C, "1001", "q", NULL);
	h_agent(&C, "1002", "q", NULL);
	acd_configure(A, &C.t, T0);
	ready("1001", T0);
	acd_agent_registered(A, T1, "1002", false, T0 + 1);
	check(T0 + 1);
	ASSERT_EQ_INT(state(T1, "1002"), ACD_LOGGED_OUT);
	enq("c1", "q", "", T0 + 2);
	take(T1, last(), T0 + 3);
	acd_agent_registered(A, T1, "1001", false, T0 + 4);     /* while ringing */
	check(T0 + 4);
	struct acd_agent_view v;
	acd_agent_get(A, T1, "1001", &v);
	ASSERT_EQ_INT(v.state, ACD_LOGGED_OUT);
	ASSERT_EQ_STR(v.reason, "unregistered");
	ASSERT_EQ_INT(R.n_cancels, 1);
	/* ready while logged out of every queue is allowed: no offers */
	ASSERT_EQ_INT(set(T1, "1001", ACD_READY, NULL, T0 + 5), 0);
	done();
}

TEST(refusals)
{
	setup();
	h_queue(&C, "q", ACD_LONGEST_IDLE);
	h_agent(&C, "1001", "q", NULL);
	h_agent(&C, "1002", "", NULL);
	acd_configure(A, &C.t, T0);
	ASSERT_EQ_INT(set(T1, "1001", ACD_NOT_READY, "nap", T0), EINVAL);
	ASSERT_EQ_INT(set(T1, "1001", ACD_NOT_READY, "", T0), EINVAL);
	ASSERT_EQ_INT(set(T1, "1001", ACD_RINGING, NULL, T0), EINVAL);
	ASSERT_EQ_INT(set(T1, "9999", ACD_READY, NULL, T0), ENOENT);
	ASSERT_EQ_INT(set(T2, "1001", ACD_READY, NULL, T0), ENOENT);
	ASSERT_EQ_INT(state(T1, "1001"), ACD_LOGGED_OUT);
	/* nobody staffs q: no agents */
	struct acd_enqueue_ans ans = enq_full(T1, "c0", "q", "", 0, NULL, 0, T0);
	ASSERT(!ans.ok);
	ASSERT_EQ_STR(ans.why, "no agents");
	ASSERT_EQ_INT(set(T1, "1002", ACD_READY, NULL, T0), 0); /* ready in no queue */
	ans = enq_full(T1, "c0", "nope", "", 0, NULL, 0, T0);
	ASSERT(!ans.ok);
	ASSERT_EQ_STR(ans.why, "no such queue");
	ans = enq_full(T2, "c0", "q", "", 0, NULL, 0, T0);
	ASSERT(!ans.ok);
	ASSERT_EQ_INT(set(T1, "1001", ACD_NOT_READY, "lunch", T0), 0);
	ASSERT_EQ_INT(enq("c1", "q", "", T0), 1);
	ASSERT_EQ_INT(acd_callback(A, T1, "c1", "+8613900000001", T0), EPERM);
	ASSERT_EQ_INT(acd_callback(A, T1, "c9", "+8613900000001", T0), ENOENT);
	done();
}

TEST(callback_keeps_place_and_retries)
{
	setup();
	struct acd_queue_cfg *q = h_queue(&C, "q", ACD_LONGEST_IDLE);
	q->callback = true;
	q->callback_retries = 1;
	q->callback_interval_s = 30;
	q->max_wait_s = 600;
	h_agent(&C, "1001", "q", NULL);
	acd_configure(A, &C.t, T0);
	set(T1, "1001", ACD_NOT_READY, "break", T0);
	enq("c1", "q", "+8613900000001", T0 + 1 * S);
	enq("c2", "q", "+8613900000002", T0 + 2 * S);
	enq("c3", "q", "+8613900000003", T0 + 3 * S);
	ASSERT_EQ_INT(acd_callback(A, T1, "c2", "+8613911112222", T0 + 4 * S), 0);
	ASSERT_EQ_INT(acd_callback(A, T1, "c2", "bad", T0 + 4 * S), EINVAL);
	abandon(T1, "c2", T0 + 5 * S);                           /* the caller hangs up: kept */
	struct acd_position p;
	ASSERT_EQ_INT(acd_position(A, T1, "c2", &p), 0);
	ASSERT_EQ_INT(p.position, 2);
	ASSERT_EQ_STR(s_of(last_event("callback_requested"), "number"), "+8613911112222");
	tick(T0 + 604 * S);                                      /* c1, c3 overflow; c2 is a callback */
	ASSERT_EQ_INT(acd_position(A, T1, "c2", &p), 0);
	ASSERT_EQ_INT(p.position, 1);
	ready("1001", T0 + 605 * S);
	ASSERT_EQ_STR(last()->call, "c2");
	ASSERT_EQ_STR(last()->callback, "+8613911112222");
	take(T1, last(), T0 + 603 * S);
	answer(last(), 0, T0 + 604 * S);                         /* the agent; then the customer is dialled */
	ASSERT_EQ_INT(count("agent_answered"), 0);
	struct h_offer o = *last();
	ASSERT_EQ_INT(result(T1, &o, 0, ACD_CALLBACK_FAILED, NULL, T0 + 640 * S), 0);
	ASSERT_EQ_INT(state(T1, "1001"), ACD_READY);
	ASSERT_EQ_INT(acd_next_deadline(A), T0 + 670 * S);
	tick(T0 + 670 * S);                                      /* retry 1 */
	ASSERT_EQ_STR(last()->call, "c2");
	take(T1, last(), T0 + 671 * S);
	answer(last(), 0, T0 + 672 * S);
	o = *last();
	ASSERT_EQ_INT(result(T1, &o, 0, ACD_CALLBACK_FAILED, NULL, T0 + 700 * S), 0);
	ASSERT_EQ_INT(acd_position(A, T1, "c2", &p), ENOENT);  /* retries spent: ended */
	ASSERT_EQ_INT(count("abandoned"), 1);
	done();
}

TEST(callback_answered)
{
	setup();
	struct acd_queue_cfg *q = h_queue(&C, "q", ACD_LONGEST_IDLE);
	q->callback = true;
	h_agent(&C, "1001", "q", NULL);
	acd_configure(A, &C.t, T0);
	set(T1, "1001", ACD_NOT_READY, "break", T0);
	enq("c1", "q", "+8613900000001", T0);
	ASSERT_EQ_INT(acd_callback(A, T1, "c1", "+8613900000001", T0 + S), 0);
	ready("1001", T0 + 2 * S);
	take(T1, last(), T0 + 2 * S);
	answer(last(), 0, T0 + 3 * S);
	hangup(last(), 0, T0 + 100 * S);
	ASSERT_EQ_INT(count("agent_answered"), 1);
	ASSERT_EQ_INT(state(T1, "1001"), ACD_READY);
	done();
}

TEST(abandoned_while_ringing)
{
	setup();
	h_queue(&C, "q", ACD_LONGEST_IDLE);
	h_agent(&C, "1001", "q", NULL);
	acd_configure(A, &C.t, T0);
	ready("1001", T0);
	enq("c1", "q", "", T0 + 1);
	take(T1, last(), T0 + 2);
	abandon(T1, "c1", T0 + 5 * S);
	ASSERT_EQ_INT(state(T1, "1001"), ACD_READY);
	json_t *ev = last_event("abandoned");
	ASSERT_EQ_INT(json_integer_value(json_object_get(ev, "wait_ms")), 5 * S - 1);
	ASSERT_EQ_INT(json_integer_value(json_object_get(ev, "position")), 1);
	abandon(T1, "c1", T0 + 6 * S);                           /* a retry: nothing more */
	ASSERT_EQ_INT(count("abandoned"), 1);
	done();
}

/* restart: the journal into a new ACD, the same order, seq goes on */
TEST(restore_keeps_order)
{
	setup();
	h_queue(&C, "q", ACD_LONGEST_IDLE);
	h_agent(&C, "1001", "q", NULL);
	h_agent(&C, "1002", "q", NULL);
	strcpy(C.v[0].e164, "+8613900000888");
	C.v[0].priority = 5;
	C.t.n_vips = 1;
	acd_configure(A, &C.t, T0);
	set(T1, "1001", ACD_NOT_READY, "break", T0);
	ready("1002", T0 + 1);
	enq("c0", "q", "", T0 + 2);                              /* offered to 1002 */
	take(T1, last(), T0 + 3);
	struct h_offer old = *last();
	enq("c1", "q", "+8613800000001", T0 + 10);
	enq("c2", "q", "+8613800000002", T0 + 11);
	enq("c3", "q", "+8613900000888", T0 + 12);               /* VIP */
	enq("c4", "q", "+8613800000004", T0 + 13);
	struct acd_agent_view before;
	acd_agent_get(A, T1, "1002", &before);
	json_t *journal = json_incref(R.journal);
	struct acd_stats st;
	acd_stats(A, &st);
	ASSERT_EQ_INT(st.waiting, 5);
	acd_free(A);
	h_free(&R);

	struct acd_out o = h_out(&R);
	A = acd_new(&o, 42);
	size_t i;
	json_t *row;
	json_array_foreach(journal, i, row)
		ASSERT_EQ_INT(acd_restore(A, json_string_value(json_array_get(row, 0)), json_array_get(row, 1), T0 + 20), 0);
	json_decref(journal);
	acd_configure(A, &C.t, T0 + 20);
	check(T0 + 20);
	struct acd_position p;
	const char *order[] = { "c3", "c0", "c1", "c2", "c4" };
	/* c0 was ringing 1002: 1002 is ready again and takes the first in order */
	ASSERT_EQ_INT(R.n_offers, 1);
	ASSERT_EQ_STR(last()->call, "c3");
	for (int k = 1; k < 5; k++) {
		ASSERT_EQ_INT(acd_position(A, T1, order[k], &p), 0);
		ASSERT_EQ_INT(p.position, k + 1);
	}
	struct acd_agent_view after;
	acd_agent_get(A, T1, "1002", &after);
	ASSERT(after.seq > before.seq);
	ASSERT_EQ_INT(state(T1, "1001"), ACD_NOT_READY);
	/* the answer of the offer made before the restart is stale */
	ASSERT_EQ_INT(answer(&old, 0, T0 + 21), ESTALE);
	ASSERT(last()->epochs[0] > old.epochs[0]);
	done();
}

TEST(restore_refuses_bad_records)
{
	setup();
	json_t *rec = json_pack("{s:s, s:s}", "ext", "1001", "state", "dancing");
	ASSERT_EQ_INT(acd_restore(A, "cc.acd." T1 ".agent.a1", rec, T0), EINVAL);
	json_decref(rec);
	rec = json_pack("{s:s, s:s, s:i}", "ext", "1001", "state", "ready", "seq", -4);
	ASSERT_EQ_INT(acd_restore(A, "cc.acd." T1 ".agent.a1", rec, T0), EINVAL);
	ASSERT_EQ_INT(acd_restore(A, "cc.acd.", rec, T0), EINVAL);
	ASSERT_EQ_INT(acd_restore(A, "cc.acd." T1 ".agent.a.b", rec, T0), EINVAL);
	json_decref(rec);
	rec = json_pack("{s:s, s:s, s:I, s:{s:i}}", "queue", "q", "instance", "md1", "arrival", (json_int_t)T0,
	                "skills", "repair", 9);
	ASSERT_EQ_INT(acd_restore(A, "cc.acd." T1 ".entry.c1", rec, T0), EINVAL);
	json_decref(rec);
	rec = json_object();
	ASSERT_EQ_INT(acd_restore(A, "cc.acd." T1 ".other.x", rec, T0), 0);   /* unknown: ignored */
	json_decref(rec);
	done();
}

/* a tenant deleted while routingd was away: its restored callers leave at
 * the reconcile (hangup), not wait forever in mediad */
TEST(restored_entry_of_a_gone_tenant)
{
	setup();
	json_t *rec = json_pack("{s:s, s:s, s:s, s:I, s:I, s:i}", "queue", "q", "queue_id", "x",
	                        "instance", "md1", "arrival", (json_int_t)T0, "seq", (json_int_t)3, "moves", 0);
	ASSERT_EQ_INT(acd_restore(A, "cc.acd." T2 ".entry.c1", rec, T0), 0);
	json_decref(rec);
	h_queue(&C, "q", ACD_LONGEST_IDLE);
	acd_configure(A, &C.t, T0 + 1);                          /* T1 only */
	json_t *calls = json_pack("[{s:s, s:s}]", "call", "c1", "tenant", T2);
	acd_reconcile(A, "md1", calls, T0 + 2);
	json_decref(calls);
	check(T0 + 2);
	ASSERT_EQ_INT(R.n_routes, 1);
	ASSERT_EQ_INT(R.last_route.type, ACD_TARGET_HANGUP);
	ASSERT_EQ_STR(s_of(last_event("overflowed"), "tenant"), T2);
	done();
}

TEST(reconcile_releases_orphans)
{
	setup();
	h_queue(&C, "q", ACD_LONGEST_IDLE);
	h_agent(&C, "1001", "q", NULL);
	h_agent(&C, "1002", "q", NULL);
	acd_configure(A, &C.t, T0);
	ready("1001", T0);
	enq("c1", "q", "", T0 + 1);                              /* ringing 1001 */
	take(T1, last(), T0 + 2);
	ready("1002", T0 + 3);
	enq("c2", "q", "", T0 + 4);
	take(T1, last(), T0 + 5);
	answer(last(), 0, T0 + 6);                               /* 1002 on c2 */
	set(T1, "1002", ACD_READY, NULL, T0 + 7);
	json_t *calls = json_pack("[{s:s, s:s, s:s}]", "call", "c1", "tenant", T2, "acd", "ringing");
	acd_reconcile(A, "md1", calls, T0 + 5 * S);              /* c1 of another tenant: not ours */
	json_decref(calls);
	check(T0 + 5 * S);
	ASSERT_EQ_INT(state(T1, "1001"), ACD_READY);
	ASSERT_EQ_INT(state(T1, "1002"), ACD_READY);
	struct acd_stats st;
	acd_stats(A, &st);
	ASSERT_EQ_INT(st.orphans, 2);
	ASSERT_EQ_INT(st.waiting, 0);
	/* an instance lost: its callers end, their agents free at once */
	enq("c3", "q", "", T0 + 6 * S);
	enq("c4", "q", "", T0 + 6 * S);
	acd_instance_lost(A, "md1", T0 + 7 * S);
	check(T0 + 7 * S);
	ASSERT_EQ_INT(state(T1, "1001"), ACD_READY);
	ASSERT_EQ_INT(state(T1, "1002"), ACD_READY);
	acd_stats(A, &st);
	ASSERT_EQ_INT(st.waiting, 0);
	done();
}

TEST(tenant_isolation)
{
	setup();
	h_cfg_init(&C2, T2);
	h_queue(&C, "repair", ACD_LONGEST_IDLE);
	h_agent(&C, "1001", "repair", NULL);
	h_queue(&C2, "repair", ACD_LONGEST_IDLE);
	h_agent(&C2, "1001", "repair", NULL);
	acd_configure(A, &C.t, T0);
	acd_configure(A, &C2.t, T0);
	ASSERT_EQ_INT(set(T2, "1001", ACD_READY, NULL, T0), 0);
	ASSERT_EQ_INT(set(T1, "1001", ACD_NOT_READY, "break", T0), 0);
	ASSERT_EQ_INT(enq("a1", "repair", "", T0 + 1), 1);     /* tenant A's caller waits */
	ASSERT_EQ_INT(R.n_offers, 0);                            /* B's ready 1001 is not rung */
	struct acd_enqueue_ans ans = enq_full(T2, "b1", "repair", "", 0, NULL, 0, T0 + 2);
	ASSERT(ans.ok);
	ASSERT_EQ_STR(last()->tenant, T2);
	ASSERT_EQ_STR(last()->call, "b1");
	/* A's result cannot touch B's offer */
	struct h_offer o = *last();
	ASSERT_EQ_INT(result(T1, &o, 0, ACD_ANSWERED, NULL, T0 + 3), ESTALE);
	ASSERT_EQ_INT(state(T2, "1001"), ACD_RESERVED);
	json_t *live = acd_live_queue(A, T1, "repair", T0 + 4);
	ASSERT_EQ_INT(json_array_size(json_object_get(live, "waiting")), 1);
	ASSERT_EQ_STR(s_of(json_array_get(json_object_get(live, "waiting"), 0), "call"), "a1");
	json_decref(live);
	ASSERT_EQ_INT(acd_position(A, T2, "a1", &(struct acd_position){0}), ENOENT);
	acd_forget(A, T2, T0 + 5);
	check(T0 + 5);
	ASSERT_EQ_INT(acd_position(A, T1, "a1", &(struct acd_position){0}), 0);
	done();
}

TEST(expected_wait_measured)
{
	setup();
	struct acd_queue_cfg *q = h_queue(&C, "q", ACD_LONGEST_IDLE);
	q->wrapup_s = 0;
	h_agent(&C, "1001", "q", NULL);
	acd_configure(A, &C.t, T0);
	ready("1001", T0);
	struct acd_enqueue_ans ans = enq_full(T1, "c1", "q", "", 0, NULL, 0, T0 + 1);
	ASSERT_EQ_INT(ans.expected_wait_s, -1);
	take(T1, last(), T0 + 2);
	answer(last(), 0, T0 + 3);
	hangup(last(), 0, T0 + 3 + 120 * S);                     /* 120 s handled */
	set(T1, "1001", ACD_NOT_READY, "break", T0 + 200 * S);
	ans = enq_full(T1, "c2", "q", "", 0, NULL, 0, T0 + 201 * S);
	ASSERT_EQ_INT(ans.expected_wait_s, 120);
	ans = enq_full(T1, "c3", "q", "", 0, NULL, 0, T0 + 202 * S);
	ASSERT_EQ_INT(ans.position, 2);
	ASSERT_EQ_INT(ans.expected_wait_s, 240);
	ASSERT_EQ_INT(json_integer_value(json_object_get(last_event("queued"), "expected_wait_s")), 240);
	done();
}

TEST(live_views)
{
	setup();
	struct acd_queue_cfg *q = h_queue(&C, "q", ACD_LONGEST_IDLE);
	q->service_level_s = 20;
	h_agent(&C, "1001", "q", NULL);
	h_agent(&C, "1002", "q", NULL);
	acd_configure(A, &C.t, T0);
	ready("1001", T0);
	enq("c1", "q", "+8613900000001", T0 + 1);
	serve("c1", T0 + 5 * S);                                 /* answered in 5 s */
	set(T1, "1001", ACD_NOT_READY, "lunch", T0 + 10 * S);
	set(T1, "1002", ACD_NOT_READY, "lunch", T0 + 10 * S);
	enq("c2", "q", "+8613900000002", T0 + 11 * S);
	json_t *lv = acd_live_queue(A, T1, "q", T0 + 41 * S);
	json_t *w = json_array_get(json_object_get(lv, "waiting"), 0), *c = json_object_get(lv, "counters");
	ASSERT_EQ_STR(s_of(w, "caller"), "+8613900000002");
	ASSERT_EQ_INT(json_integer_value(json_object_get(w, "waited_s")), 30);
	ASSERT_EQ_STR(s_of(w, "state"), "waiting");
	ASSERT_EQ_INT(json_integer_value(json_object_get(c, "answered")), 1);
	ASSERT_EQ_INT(json_integer_value(json_object_get(c, "answered_in_sl")), 1);
	ASSERT_EQ_INT(json_integer_value(json_object_get(c, "offered")), 2);
	ASSERT_EQ_INT(json_integer_value(json_object_get(c, "longest_wait_s")), 30);
	ASSERT_EQ_INT(json_array_size(json_object_get(lv, "agents")), 2);
	json_decref(lv);
	ASSERT(!acd_live_queue(A, T1, "nope", T0));
	lv = acd_live_agents(A, T1, T0 + 41 * S);
	json_t *ag = json_array_get(json_object_get(lv, "agents"), 0);
	ASSERT_EQ_STR(s_of(ag, "extension"), "1001");
	ASSERT_EQ_STR(s_of(ag, "state"), "not_ready");
	ASSERT_EQ_STR(s_of(ag, "reason"), "lunch");
	ASSERT_EQ_STR(s_of(json_array_get(json_object_get(ag, "queues"), 0), NULL) ?: "q", "q");
	json_decref(lv);
	/* agent events: seq per agent, previous state */
	json_t *ev = last_event("not_ready");
	ASSERT_EQ_STR(s_of(ev, "previous"), "logged_out");
	ASSERT_EQ_INT(json_integer_value(json_object_get(ev, "seq")), 1);
	done();
}

TEST(reconfigure_keeps_runtime)
{
	setup();
	h_queue(&C, "a", ACD_LONGEST_IDLE);
	struct acd_queue_cfg *q = h_queue(&C, "b", ACD_LONGEST_IDLE);
	q->overflow.type = ACD_TARGET_QUEUE;
	strcpy(q->overflow.name, "a");
	h_queue(&C, "c", ACD_LONGEST_IDLE);
	h_agent(&C, "1001", "a,b", NULL);
	h_agent(&C, "1002", "c", NULL);
	acd_configure(A, &C.t, T0);
	set(T1, "1001", ACD_NOT_READY, "break", T0);
	ready("1002", T0);                                       /* in c's ready list when c goes */
	enq("c1", "a", "", T0 + 1);
	enq("c2", "b", "", T0 + 2);
	/* b deleted, 1002 deleted: c2 overflows to a, 1002 is logged out */
	struct h_cfg c;
	h_cfg_init(&c, T1);
	h_queue(&c, "a", ACD_LONGEST_IDLE);
	h_agent(&c, "1001", "a", NULL);
	acd_configure(A, &c.t, T0 + 10);
	check(T0 + 10);
	struct acd_position p;
	ASSERT_EQ_INT(acd_position(A, T1, "c1", &p), 0);
	ASSERT_EQ_INT(p.position, 1);
	ASSERT_EQ_INT(acd_position(A, T1, "c2", &p), 0);
	ASSERT_EQ_INT(p.position, 2);
	ASSERT_EQ_INT(state(T1, "1001"), ACD_NOT_READY);
	ASSERT_EQ_INT(acd_agent_get(A, T1, "1002", &(struct acd_agent_view){0}), ENOENT);
	done();
}

/* recording policy (docs/RECORDING.md ## Policy): agent, else queue, else
 * tenant; percent by a stable hash of the call id */
TEST(recording_policy)
{
	struct acd_queue_cfg qs[2] = { { .name = "sales" }, { .name = "help" } };
	struct acd_agent_cfg as[2] = { { .ext = "1001" }, { .ext = "1002" } };
	struct acd_tenant_cfg c = { .queues = qs, .n_queues = 2, .agents = as, .n_agents = 2 };
	struct acd_rec_policy p;
	char call[40];
	int yes = 0;

	ASSERT(acd_rec_parse("all", NULL, &p) && p.mode == ACD_REC_ALL);
	ASSERT(acd_rec_parse(NULL, NULL, &p) && p.mode == ACD_REC_INHERIT);
	ASSERT(acd_rec_parse("percent", "40", &p) && p.mode == ACD_REC_PERCENT && p.percent == 40);
	ASSERT(!acd_rec_parse("percent", NULL, &p));
	ASSERT(!acd_rec_parse("percent", "101", &p));
	ASSERT(!acd_rec_parse("percent", "4x", &p));
	ASSERT(!acd_rec_parse("some", NULL, &p));
	ASSERT(!acd_rec_parse("all", "5", &p));
	const char *id = "0b6e4a0e-8f7e-4a51-9d0c-5f3c2b1a0d9e";

	c.rec.mode = ACD_REC_NONE;
	ASSERT(!acd_rec_decide(&c, "sales", "1001", id));
	qs[0].rec.mode = ACD_REC_ALL;               /* the queue's wins over the tenant's */
	ASSERT(acd_rec_decide(&c, "sales", "1001", id));
	ASSERT(!acd_rec_decide(&c, "help", "1001", id));
	as[0].rec.mode = ACD_REC_NONE;              /* the agent's over the queue's */
	ASSERT(!acd_rec_decide(&c, "sales", "1001", id));
	ASSERT(acd_rec_decide(&c, "sales", "1002", id));
	ASSERT(!acd_rec_decide(NULL, "sales", "1002", id));
	/* percent: 0 never, 100 always, the same call the same answer, ~p% of calls */
	c.rec = (struct acd_rec_policy){ ACD_REC_PERCENT, 0 };
	ASSERT(!acd_rec_decide(&c, "help", "1002", id));
	c.rec.percent = 100;
	ASSERT(acd_rec_decide(&c, "help", "1002", id));
	c.rec.percent = 30;
	for (int i = 0; i < 1000; i++) {
		snprintf(call, sizeof(call), "0b6e4a0e-8f7e-4a51-9d0c-%012d", i);
		bool d = acd_rec_decide(&c, "help", "1002", call);

		ASSERT(d == acd_rec_decide(&c, "help", "1002", call));
		yes += d;
	}
	ASSERT(yes > 230 && yes < 370);
}

TEST_LIST(T(strategy_names), T(longest_idle), T(ring_all_first_answer_wins), T(round_robin),
          T(fewest_calls), T(least_talk_time), T(random), T(skills_best_proficiency_then_idle),
          T(membership_priority), T(vip_ahead_of_five_and_dedicated_agent),
          T(sticky_within_and_after_window), T(sticky_map_bounded_and_pruned), T(busy_beyond_tracked_calls), T(overflow_on_time), T(overflow_on_size_to_queue),
          T(overflow_cycle_ends), T(rona_and_missed_calls), T(reservation_not_taken_is_released),
          T(stale_epochs_ignored), T(pending_states_at_call_end), T(wrapup_then_ready_and_early_end),
          T(busy_on_other_calls), T(unregistered_logs_out), T(refusals),
          T(callback_keeps_place_and_retries), T(callback_answered), T(abandoned_while_ringing),
          T(restore_keeps_order), T(restore_refuses_bad_records), T(restored_entry_of_a_gone_tenant), T(reconcile_releases_orphans),
          T(tenant_isolation), T(expected_wait_measured), T(live_views), T(reconfigure_keeps_runtime),
          T(recording_policy))
