/* Unit tests of media/ivr.c: the IVR runner, every node type and branch,
 * without a network: each input's actions are written as one line
 * ("stop ev(welcome:1) ev(repair) ring(1001/20)") and compared. */
#define SUITE "ivr"
#include "test.h"

#include "cc.h"
#include "flow.h"
#include "flow_example.h"
#include "ivr.h"

/* Wednesday 2026-12-02 10:00 in Shanghai (02:00 UTC), and Sunday 12-06 */
#define OPEN   ((time_t)1796176800)
#define SUNDAY (OPEN + 4 * 86400)
#define TZ_SH  "Asia/Shanghai"

static struct cc_flow *flow_of(const char *text)
{
	json_error_t je;
	json_t *doc = json_loads(text, 0, &je);
	struct cc_flow *f = NULL;
	struct cc_flow_error err;

	if (!doc)
		FAILF("bad test JSON: %s", je.text);
	if (cc_flow_parse(doc, &f, &err) != CC_OK)
		FAILF("refused: %s: %s", err.field, err.message);
	json_decref(doc);
	return f;
}

/* The actions of out as one line. */
static const char *fmt(const struct ivr_out *out)
{
	static char buf[2048];
	char *p = buf;

	buf[0] = '\0';
	for (size_t i = 0; i < out->n; i++) {
		const struct ivr_action *a = &out->a[i];
		size_t room = sizeof(buf) - (size_t)(p - buf);

		if (i)
			*p++ = ' ', room--;
		switch (a->type) {
		case IVR_ACT_PLAY:
			p += snprintf(p, room, "play(");
			for (size_t k = 0; k < a->n_prompts; k++)
				p += snprintf(p, sizeof(buf) - (size_t)(p - buf), "%s%s", k ? "," : "",
				              a->prompts[k]);
			p += snprintf(p, sizeof(buf) - (size_t)(p - buf), ")%s", a->interruptible ? "" : "!");
			break;
		case IVR_ACT_STOP: p += snprintf(p, room, "stop"); break;
		case IVR_ACT_TIMER: p += snprintf(p, room, "timer(%d)", a->ms); break;
		case IVR_ACT_RING: p += snprintf(p, room, "ring(%s/%d)", a->target, a->ring_s); break;
		case IVR_ACT_DIAL: p += snprintf(p, room, "dial(%s/%d)", a->target, a->ring_s); break;
		case IVR_ACT_LOAD: p += snprintf(p, room, "load(%s)", a->target); break;
		case IVR_ACT_HANGUP: p += snprintf(p, room, "hangup"); break;
		case IVR_ACT_QUEUE: p += snprintf(p, room, "queue(%s/p%d/s%zu)", a->target,
		                                  a->qnode->priority, a->qnode->n_skills); break;
		case IVR_ACT_EVENT:
			p += snprintf(p, room, "ev(%s%s%s%s%s%s%s%s%s)", a->node, a->digit[0] ? ":" : "",
			              a->digit, a->why ? ":" : "", a->why ? a->why : "", a->var ? ":" : "",
			              a->var ? a->var : "", a->var ? "=" : "", a->var ? a->value : "");
			break;
		}
	}
	return buf;
}

/* Feeds one input and returns its actions as a line. */
static struct ivr_out out;
static const char *on(struct ivr_run *r, enum ivr_input in, char d, time_t now)
{
	ivr_on(r, in, d, NULL, now, &out);
	ASSERT(out.n <= IVR_MAX_ACTIONS);
	for (size_t i = 0; i < out.n; i++)
		if (out.a[i].type == IVR_ACT_EVENT)
			ASSERT(out.a[i].node && out.a[i].node_type);
	return fmt(&out);
}

#define STEP(r, in, d, now, want) ASSERT_EQ_STR(on(r, in, d, now), want)

TEST(outcome_presses_1_repair)
{
	struct cc_flow *f = flow_of(flow_example);
	struct ivr_run r;

	ivr_init(&r, f, TZ_SH);
	STEP(&r, IVR_START, 0, OPEN, "ev(hours) ev(welcome) play(welcome)");
	/* barge-in: the digit during the prompt is taken at once */
	STEP(&r, IVR_DIGIT, '1', OPEN + 1, "stop ev(welcome:1) ev(repair) ring(1001/20)");
	ASSERT(!ivr_done(&r));
	STEP(&r, IVR_DIGIT, '2', OPEN + 2, "");          /* while it rings: ignored */
	STEP(&r, IVR_ANSWERED, 0, OPEN + 5, "");
	ASSERT(ivr_done(&r));
	STEP(&r, IVR_DIGIT, '0', OPEN + 6, "");
	STEP(&r, IVR_FAILED, 0, OPEN + 6, "");
	cc_flow_free(f);
}

TEST(outcome_presses_2_claims_then_menu)
{
	struct cc_flow *f = flow_of(flow_example);
	struct ivr_run r;

	ivr_init(&r, f, TZ_SH);
	STEP(&r, IVR_START, 0, OPEN, "ev(hours) ev(welcome) play(welcome)");
	STEP(&r, IVR_PLAYED, 0, OPEN + 4, "timer(5000)");
	STEP(&r, IVR_DIGIT, '2', OPEN + 6, "timer(0) ev(welcome:2) ev(claims_info) play(claims)");
	STEP(&r, IVR_TIMEOUT, 0, OPEN + 9, "");          /* the cancelled timer: stale */
	STEP(&r, IVR_PLAYED, 0, OPEN + 20, "ev(welcome) play(welcome)");
	STEP(&r, IVR_DIGIT, '0', OPEN + 21, "stop ev(welcome:0) ev(desk) ring(1000/20)");
	cc_flow_free(f);
}

TEST(outcome_nothing_menu_again_then_desk)
{
	struct cc_flow *f = flow_of(flow_example);
	struct ivr_run r;
	time_t t = OPEN;

	ivr_init(&r, f, TZ_SH);
	STEP(&r, IVR_START, 0, t, "ev(hours) ev(welcome) play(welcome)");
	for (int attempt = 0; attempt < 2; attempt++) {
		STEP(&r, IVR_PLAYED, 0, t += 4, "timer(5000)");
		STEP(&r, IVR_TIMEOUT, 0, t += 5, "ev(welcome:timeout) play(invalid)!");
		STEP(&r, IVR_PLAYED, 0, t += 1, "play(welcome)");
	}
	STEP(&r, IVR_PLAYED, 0, t += 4, "timer(5000)");
	STEP(&r, IVR_TIMEOUT, 0, t += 5, "ev(welcome:timeout) ev(desk) ring(1000/20)");
	/* the desk does not answer and has no next: hang up */
	STEP(&r, IVR_FAILED, 0, t += 20, "ev(desk:failed) hangup");
	ASSERT(ivr_done(&r));
	cc_flow_free(f);
}

TEST(outcome_closed_message_then_hangup)
{
	struct cc_flow *f = flow_of(flow_example);
	struct ivr_run r;

	ivr_init(&r, f, TZ_SH);
	STEP(&r, IVR_START, 0, SUNDAY, "ev(hours:closed) ev(closed) play(closed)");
	STEP(&r, IVR_PLAYED, 0, SUNDAY + 3, "ev(bye) hangup");
	ASSERT(ivr_done(&r));
	/* a holiday (2026-10-01, a Thursday, 10:00 in Shanghai) is closed too */
	ivr_init(&r, f, TZ_SH);
	STEP(&r, IVR_START, 0, (time_t)1790820000, "ev(hours:closed) ev(closed) play(closed)");
	/* in UTC, 02:00 on that Wednesday is closed; an unknown zone is closed */
	ivr_init(&r, f, "UTC");
	STEP(&r, IVR_START, 0, OPEN, "ev(hours:closed) ev(closed) play(closed)");
	ivr_init(&r, f, "Nowhere/City");
	STEP(&r, IVR_START, 0, OPEN, "ev(hours:closed) ev(closed) play(closed)");
	cc_flow_free(f);
}

TEST(invalid_three_times_then_default)
{
	struct cc_flow *f = flow_of(flow_example);
	struct ivr_run r;

	ivr_init(&r, f, TZ_SH);
	STEP(&r, IVR_START, 0, OPEN, "ev(hours) ev(welcome) play(welcome)");
	STEP(&r, IVR_DIGIT, '7', OPEN + 1, "stop ev(welcome:7:invalid) play(invalid)!");
	STEP(&r, IVR_DIGIT, '1', OPEN + 1, "");     /* during `invalid`: dropped */
	STEP(&r, IVR_PLAYED, 0, OPEN + 2, "play(welcome)");
	STEP(&r, IVR_PLAYED, 0, OPEN + 6, "timer(5000)");
	STEP(&r, IVR_DIGIT, '#', OPEN + 7, "timer(0) ev(welcome:#:invalid) play(invalid)!");
	STEP(&r, IVR_PLAYED, 0, OPEN + 8, "play(welcome)");
	STEP(&r, IVR_DIGIT, 'D', OPEN + 9, "stop ev(welcome:D:invalid) ev(desk) ring(1000/20)");
	cc_flow_free(f);
}

TEST(digit_flood)
{
	struct cc_flow *f = flow_of(flow_example);
	struct ivr_run r;
	const char keys[] = CC_FLOW_DIGITS;
	unsigned seed = 13;
	int acted = 0;

	/* 200 invalid digits in a second: one attempt each at most, dropped
	 * while `invalid` plays */
	ivr_init(&r, f, TZ_SH);
	on(&r, IVR_START, 0, OPEN);
	STEP(&r, IVR_DIGIT, '5', OPEN, "stop ev(welcome:5:invalid) play(invalid)!");
	for (int i = 0; i < 199; i++)
		STEP(&r, IVR_DIGIT, '5', OPEN, "");
	STEP(&r, IVR_PLAYED, 0, OPEN + 1, "play(welcome)");
	/* 200 random keys (and bytes that are no key) mixed with the other
	 * inputs: every output fits, and the run ends where the flow says */
	for (int run = 0; run < 50; run++) {
		ivr_init(&r, f, TZ_SH);
		on(&r, IVR_START, 0, OPEN);
		for (int i = 0; i < 200; i++) {
			seed = seed * 1103515245 + 12345;
			int pick = (seed >> 16) % 40;

			if (pick < 16)
				acted += on(&r, IVR_DIGIT, keys[pick], OPEN)[0] != '\0';
			else if (pick < 18)
				on(&r, IVR_DIGIT, (char)(seed >> 8), OPEN);
			else if (pick < 22)
				on(&r, IVR_PLAYED, 0, OPEN);
			else if (pick < 24)
				on(&r, IVR_TIMEOUT, 0, OPEN + 30);
			else if (pick < 25)
				on(&r, IVR_FAILED, 0, OPEN);
		}
		ASSERT(r.waiting != IVR_W_NONE);
		ASSERT(r.node >= 0 && (size_t)r.node < f->n_nodes);
	}
	ASSERT(acted > 50);
	cc_flow_free(f);
}

TEST(stale_timers)
{
	struct cc_flow *f = flow_of(flow_example);
	struct ivr_run r;

	ivr_init(&r, f, TZ_SH);
	STEP(&r, IVR_TIMEOUT, 0, OPEN, "");                 /* before the start */
	STEP(&r, IVR_PLAYED, 0, OPEN, "");
	STEP(&r, IVR_DIGIT, '1', OPEN, "");
	on(&r, IVR_START, 0, OPEN);
	STEP(&r, IVR_START, 0, OPEN, "");                   /* once */
	STEP(&r, IVR_TIMEOUT, 0, OPEN + 1, "");             /* while the prompt plays */
	STEP(&r, IVR_PLAYED, 0, OPEN + 4, "timer(5000)");
	/* before its deadline (an old timer, or the clock stepped back): the
	 * wait keeps a timer for the rest */
	STEP(&r, IVR_TIMEOUT, 0, OPEN + 6, "timer(3000)");
	STEP(&r, IVR_TIMEOUT, 0, OPEN - 3600, "timer(60000)");
	STEP(&r, IVR_PLAYED, 0, OPEN + 6, "");              /* nothing plays */
	STEP(&r, IVR_TIMEOUT, 0, OPEN + 9, "ev(welcome:timeout) play(invalid)!");
	STEP(&r, IVR_TIMEOUT, 0, OPEN + 20, "");            /* `invalid` plays */
	STEP(&r, IVR_ANSWERED, 0, OPEN + 20, "");           /* no leg rings */
	STEP(&r, IVR_FAILED, 0, OPEN + 20, "");
	STEP(&r, IVR_FLOW, 0, OPEN + 20, "");
	STEP(&r, IVR_NO_FLOW, 0, OPEN + 20, "");
	ASSERT(!ivr_done(&r));
	cc_flow_free(f);
}

TEST(play_interruptible_or_not)
{
	struct cc_flow *f = flow_of(
		"{\"start\":\"a\",\"nodes\":{"
		"\"a\":{\"type\":\"play\",\"prompts\":[\"legal\",\"notice\"],\"interruptible\":false,"
		"\"next\":\"b\"},"
		"\"b\":{\"type\":\"play\",\"prompts\":[\"promo\"],\"next\":\"c\"},"
		"\"c\":{\"type\":\"play\",\"prompts\":[\"last\"]}}}");
	struct ivr_run r;

	ivr_init(&r, f, TZ_SH);
	STEP(&r, IVR_START, 0, OPEN, "ev(a) play(legal,notice)!");
	STEP(&r, IVR_DIGIT, '1', OPEN, "");                 /* dropped */
	STEP(&r, IVR_PLAYED, 0, OPEN + 9, "ev(b) play(promo)");
	STEP(&r, IVR_DIGIT, '9', OPEN + 10, "stop ev(b:9) ev(c) play(last)");
	STEP(&r, IVR_PLAYED, 0, OPEN + 12, "hangup");       /* no next */
	ASSERT(ivr_done(&r));
	cc_flow_free(f);
}

static const char COLLECT[] =
	"{\"start\":\"acct\",\"nodes\":{"
	"\"acct\":{\"type\":\"collect\",\"prompt\":\"account\",\"var\":\"account\",\"min_digits\":3,"
	"\"max_digits\":5,\"timeout_s\":4,\"retries\":1,\"next\":\"thanks\",\"default\":\"desk\"},"
	"\"thanks\":{\"type\":\"play\",\"prompts\":[\"thanks\"],\"next\":\"desk\"},"
	"\"desk\":{\"type\":\"agent\",\"extension\":\"1000\",\"next\":\"bye\"},"
	"\"bye\":{\"type\":\"hangup\"}}}";

/* keys that are neither digits nor the terminator keep the wait going, but
 * only IVR_MAX_STRAY times an attempt: a caller pressing '*' every few
 * seconds does not hold the node for the call's whole maximum length */
TEST(collect_stray_keys_end_the_attempt)
{
	struct cc_flow *f = flow_of(COLLECT);
	struct ivr_run r;

	ivr_init(&r, f, TZ_SH);
	on(&r, IVR_START, 0, OPEN);
	on(&r, IVR_PLAYED, 0, OPEN + 1);
	for (int i = 0; i < IVR_MAX_STRAY; i++) {
		on(&r, IVR_DIGIT, '*', OPEN + 2 + i);
		ASSERT_EQ_INT(r.attempt, 0);
	}
	on(&r, IVR_DIGIT, '*', OPEN + 9);
	ASSERT_EQ_INT(r.attempt, 1);
	/* the next attempt counts afresh; past the last one, the default */
	on(&r, IVR_PLAYED, 0, OPEN + 10);  /* the invalid prompt */
	on(&r, IVR_PLAYED, 0, OPEN + 11);  /* the prompt again */
	for (int i = 0; i <= IVR_MAX_STRAY; i++)
		on(&r, IVR_DIGIT, '*', OPEN + 12 + i);
	ASSERT_EQ_STR(f->nodes[r.node].name, "desk");
	cc_flow_free(f);
}

TEST(collect_terminator_max_gap)
{
	struct cc_flow *f = flow_of(COLLECT);
	struct ivr_run r;

	/* the terminator */
	ivr_init(&r, f, TZ_SH);
	STEP(&r, IVR_START, 0, OPEN, "ev(acct) play(account)");
	STEP(&r, IVR_DIGIT, '1', OPEN + 1, "stop ev(acct:1) timer(3000)");
	STEP(&r, IVR_DIGIT, '2', OPEN + 2, "timer(0) ev(acct:2) timer(3000)");
	STEP(&r, IVR_DIGIT, '*', OPEN + 3, "timer(0) timer(3000)");   /* not a digit: not kept */
	STEP(&r, IVR_DIGIT, '3', OPEN + 3, "timer(0) ev(acct:3) timer(3000)");
	STEP(&r, IVR_DIGIT, '#', OPEN + 4, "timer(0) ev(acct:account=123) ev(thanks) play(thanks)");
	ASSERT_EQ_INT(r.n_vars, 1);
	ASSERT_EQ_STR(r.vars[0].name, "account");
	ASSERT_EQ_STR(r.vars[0].value, "123");
	/* max_digits ends it */
	ivr_init(&r, f, TZ_SH);
	on(&r, IVR_START, 0, OPEN);
	STEP(&r, IVR_PLAYED, 0, OPEN + 2, "timer(4000)");
	for (const char *d = "9876"; *d; d++)
		on(&r, IVR_DIGIT, *d, OPEN + 3);
	STEP(&r, IVR_DIGIT, '5', OPEN + 3, "timer(0) ev(acct:5) ev(acct:account=98765) ev(thanks) "
	     "play(thanks)");
	/* the 3 s gap after the last digit ends it */
	ivr_init(&r, f, TZ_SH);
	on(&r, IVR_START, 0, OPEN);
	for (const char *d = "4242"; *d; d++)
		on(&r, IVR_DIGIT, *d, OPEN + 1);
	STEP(&r, IVR_TIMEOUT, 0, OPEN + 2, "timer(2000)");  /* 3 s not yet over: the rest */
	STEP(&r, IVR_TIMEOUT, 0, OPEN + 4, "ev(acct:account=4242) ev(thanks) play(thanks)");
	cc_flow_free(f);
}

TEST(collect_too_few_or_nothing)
{
	struct cc_flow *f = flow_of(COLLECT);
	struct ivr_run r;

	ivr_init(&r, f, TZ_SH);
	on(&r, IVR_START, 0, OPEN);
	on(&r, IVR_DIGIT, '1', OPEN + 1);
	STEP(&r, IVR_DIGIT, '#', OPEN + 1, "timer(0) ev(acct:invalid) play(invalid)!");
	STEP(&r, IVR_DIGIT, '2', OPEN + 1, "");
	STEP(&r, IVR_PLAYED, 0, OPEN + 2, "play(account)");
	STEP(&r, IVR_PLAYED, 0, OPEN + 4, "timer(4000)");
	/* retries 1: the second failure goes to the default */
	STEP(&r, IVR_TIMEOUT, 0, OPEN + 8, "ev(acct:timeout) ev(desk) ring(1000/20)");
	STEP(&r, IVR_FAILED, 0, OPEN + 30, "ev(desk:failed) ev(bye) hangup");
	ASSERT(ivr_done(&r));
	ASSERT_EQ_INT(r.n_vars, 0);
	cc_flow_free(f);
}

TEST(menu_no_invalid_prompt_no_default)
{
	struct cc_flow *f = flow_of(
		"{\"start\":\"m\",\"nodes\":{\"m\":{\"type\":\"menu\",\"prompt\":\"p\",\"invalid\":\"\","
		"\"retries\":1,\"timeout_s\":2,\"options\":{\"1\":\"h\"}},\"h\":{\"type\":\"hangup\"}}}");
	struct ivr_run r;

	ivr_init(&r, f, TZ_SH);
	STEP(&r, IVR_START, 0, OPEN, "ev(m) play(p)");
	STEP(&r, IVR_DIGIT, '2', OPEN, "stop ev(m:2:invalid) play(p)");
	STEP(&r, IVR_PLAYED, 0, OPEN + 1, "timer(2000)");
	STEP(&r, IVR_TIMEOUT, 0, OPEN + 3, "ev(m:timeout) hangup");
	ASSERT(ivr_done(&r));
	ivr_init(&r, f, TZ_SH);
	on(&r, IVR_START, 0, OPEN);
	STEP(&r, IVR_DIGIT, '1', OPEN, "stop ev(m:1) ev(h) hangup");
	STEP(&r, IVR_DIGIT, 'x', OPEN, "");
	cc_flow_free(f);
}

TEST(agent_and_number_legs)
{
	struct cc_flow *f = flow_of(
		"{\"start\":\"a\",\"nodes\":{"
		"\"a\":{\"type\":\"agent\",\"extension\":\"1001\",\"timeout_s\":15,\"next\":\"n\"},"
		"\"n\":{\"type\":\"number\",\"number\":\"+8675512345678\",\"next\":\"q\"},"
		"\"q\":{\"type\":\"queue\",\"queue\":\"sales\",\"fallback\":\"bye\"},"
		"\"bye\":{\"type\":\"play\",\"prompts\":[\"goodbye\"]}}}");
	struct ivr_run r;

	ivr_init(&r, f, TZ_SH);
	STEP(&r, IVR_START, 0, OPEN, "ev(a) ring(1001/15)");
	STEP(&r, IVR_PLAYED, 0, OPEN, "");
	STEP(&r, IVR_FAILED, 0, OPEN + 15, "ev(a:failed) ev(n) dial(+8675512345678/30)");
	STEP(&r, IVR_FAILED, 0, OPEN + 45, "ev(n:failed) ev(q) queue(sales/p0/s0)");
	/* waiting in the ACD: keys, timers and prompts are mediad's queue's */
	STEP(&r, IVR_DIGIT, '1', OPEN + 46, "");
	STEP(&r, IVR_TIMEOUT, 0, OPEN + 46, "");
	STEP(&r, IVR_PLAYED, 0, OPEN + 46, "");
	STEP(&r, IVR_FAILED, 0, OPEN + 46, "");
	STEP(&r, IVR_REFUSED, 0, OPEN + 50, "ev(q:refused) ev(bye) play(goodbye)");
	STEP(&r, IVR_REFUSED, 0, OPEN + 50, "");
	cc_flow_free(f);
	/* answered in the queue: the run is over */
	ivr_init(&r, f = flow_of(
		"{\"start\":\"q\",\"nodes\":{\"q\":{\"type\":\"queue\",\"queue\":\"repair\","
		"\"skills\":{\"mandarin\":3},\"priority\":5,\"fallback\":\"h\"},\"h\":{\"type\":\"hangup\"}}}"),
		TZ_SH);
	STEP(&r, IVR_START, 0, OPEN, "ev(q) queue(repair/p5/s1)");
	STEP(&r, IVR_ANSWERED, 0, OPEN + 9, "");
	ASSERT(ivr_done(&r));
	STEP(&r, IVR_REFUSED, 0, OPEN + 9, "");
	cc_flow_free(f);
	ivr_init(&r, f = flow_of(
		"{\"start\":\"n\",\"nodes\":{\"n\":{\"type\":\"number\",\"number\":\"+12025550123\"}}}"),
		TZ_SH);
	STEP(&r, IVR_START, 0, OPEN, "ev(n) dial(+12025550123/30)");
	STEP(&r, IVR_ANSWERED, 0, OPEN, "");
	ASSERT(ivr_done(&r));
	cc_flow_free(f);
}

TEST(goto_load_and_limit)
{
	struct cc_flow *main_flow = flow_of(
		"{\"start\":\"g\",\"nodes\":{\"g\":{\"type\":\"goto\",\"flow\":\"other\"}}}");
	struct cc_flow *other = flow_of(
		"{\"start\":\"o\",\"nodes\":{\"o\":{\"type\":\"play\",\"prompts\":[\"hello\"],"
		"\"next\":\"back\"},\"back\":{\"type\":\"goto\",\"flow\":\"main\"}}}");
	struct ivr_run r;

	ivr_init(&r, main_flow, TZ_SH);
	STEP(&r, IVR_START, 0, OPEN, "ev(g) load(other)");
	STEP(&r, IVR_DIGIT, '1', OPEN, "");
	ivr_on(&r, IVR_FLOW, 0, other, OPEN, &out);
	ASSERT_EQ_STR(fmt(&out), "ev(o) play(hello)");
	ASSERT(r.flow == other);
	STEP(&r, IVR_PLAYED, 0, OPEN + 1, "ev(back) load(main)");
	/* between two flows that goto each other: IVR_MAX_GOTOS hops, then hang up */
	for (int i = 2; i < IVR_MAX_GOTOS; i++) {
		ivr_on(&r, IVR_FLOW, 0, i % 2 ? other : main_flow, OPEN, &out);
		if (i % 2)
			on(&r, IVR_PLAYED, 0, OPEN);
	}
	ivr_on(&r, IVR_FLOW, 0, main_flow, OPEN, &out);
	ASSERT_EQ_STR(fmt(&out), "ev(g:goto limit) hangup");
	ASSERT(ivr_done(&r));
	/* the flow is gone */
	ivr_init(&r, main_flow, TZ_SH);
	on(&r, IVR_START, 0, OPEN);
	STEP(&r, IVR_NO_FLOW, 0, OPEN, "hangup");
	ASSERT(ivr_done(&r));
	cc_flow_free(main_flow);
	cc_flow_free(other);
}

TEST(long_chain_goes_on_after_a_timer)
{
	char doc[8192], *p = doc;
	struct cc_flow *f;
	struct ivr_run r;
	int events = 0, rounds = 0;

	/* 30 schedules, always open, then a menu */
	p += sprintf(p, "{\"start\":\"s0\",\"nodes\":{");
	for (int i = 0; i < 30; i++)
		p += sprintf(p, "\"s%d\":{\"type\":\"schedule\",\"open\":\"%c%d\",\"closed\":\"m0\","
		             "\"week\":{\"mon-sun\":[\"00:00-24:00\"]}},", i, i < 29 ? 's' : 'm', i < 29 ? i + 1 : 0);
	sprintf(p, "\"m0\":{\"type\":\"menu\",\"prompt\":\"p\",\"options\":{\"1\":\"m0\"}}}}");
	f = flow_of(doc);
	ivr_init(&r, f, TZ_SH);
	on(&r, IVR_START, 0, OPEN);
	for (;;) {
		for (size_t i = 0; i < out.n; i++)
			events += out.a[i].type == IVR_ACT_EVENT;
		if (out.n && out.a[out.n - 1].type == IVR_ACT_PLAY)
			break;
		ASSERT_EQ_STR(fmt(&out) + strlen(fmt(&out)) - 8, "timer(1)");
		ASSERT(++rounds < 20);
		STEP(&r, IVR_DIGIT, '1', OPEN, "");            /* between: not asking */
		on(&r, IVR_TIMEOUT, 0, OPEN);
	}
	ASSERT_EQ_INT(events, 31);
	ASSERT(rounds >= 4);
	cc_flow_free(f);
}

TEST_LIST(T(outcome_presses_1_repair), T(outcome_presses_2_claims_then_menu),
          T(outcome_nothing_menu_again_then_desk), T(outcome_closed_message_then_hangup),
          T(invalid_three_times_then_default), T(digit_flood), T(stale_timers),
          T(play_interruptible_or_not), T(collect_terminator_max_gap), T(collect_stray_keys_end_the_attempt),
          T(collect_too_few_or_nothing), T(menu_no_invalid_prompt_no_default),
          T(agent_and_number_legs), T(goto_load_and_limit), T(long_chain_goes_on_after_a_timer))
