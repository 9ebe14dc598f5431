/* Unit tests of routingd's decision function: every rule of decide.h,
 * and tenant isolation (the same extension in two tenants). */
#define SUITE "routing"
#include "test.h"

#include "cc.h"
#include "decide.h"
#include "limits.h"
#include "model.h"

static struct rt_model *fixture(void)
{
	struct rt_model *m = rt_model_new();
	struct rt_tenant *a = rt_model_add_tenant(m, "aaaaaaaa-0000-4000-8000-000000000001", "acme",
	                                          "acme.cc.test", true);
	struct rt_tenant *b = rt_model_add_tenant(m, "bbbbbbbb-0000-4000-8000-000000000002", "beta",
	                                          "beta.cc.test", true);
	struct rt_tenant *off = rt_model_add_tenant(m, "cccccccc-0000-4000-8000-000000000003", "gone",
	                                            "gone.cc.test", false);

	rt_model_add_agent(a, "1001");
	rt_model_add_agent(a, "1002");
	rt_model_add_agent(b, "1001");
	rt_model_add_agent(off, "1001");
	rt_model_add_number(m, "+8657112345678", a, "1001");
	rt_model_add_number(m, "+8657100000001", a, "1002");
	rt_model_add_number(m, "+8610000000001", b, "1001");
	rt_model_add_number(m, "+8610000000009", b, "7777");
	rt_model_add_number(m, "+8620000000001", off, "1001");
	rt_model_add_block(a, "+8613900000666", NULL);
	rt_model_add_block(a, NULL, "86150");
	rt_model_add_trunk(m, "tttttttt-0000-4000-8000-000000000001", "carrier1", "127.0.0.1:16500");
	/* PSTN needs a plan or the operator's flag, and an explicit caller ID */
	a->pstn_without_plan = b->pstn_without_plan = true;
	rt_model_set_cli(a, "+8657112345678");
	rt_model_set_cli(b, "+8610000000001");
	return m;
}

#define ACME "aaaaaaaa-0000-4000-8000-000000000001"
#define BETA "bbbbbbbb-0000-4000-8000-000000000002"

static void carrier(struct rt_model *m, const char *from, const char *to, struct rt_decision *d)
{
	struct rt_request q = { RT_CARRIER, "tttttttt-0000-4000-8000-000000000001", "", from, to };

	rt_decide(m, &q, d);
}

static void agent(struct rt_model *m, const char *tenant, const char *from, const char *to,
                  struct rt_decision *d)
{
	struct rt_request q = { RT_AGENT, "", tenant, from, to };

	rt_decide(m, &q, d);
}

TEST(carrier_rings_agent)
{
	struct rt_model *m = fixture();
	struct rt_decision d;

	carrier(m, "+8613800000001", "+8657112345678", &d);
	ASSERT_EQ_INT(d.action, RT_RING_AGENT);
	ASSERT_EQ_STR(d.uri, "sip:1001@acme.cc.test");
	ASSERT_EQ_STR(d.tenant->slug, "acme");
	ASSERT_EQ_STR(d.number, "+8657112345678");
	ASSERT_EQ_INT(d.direction, RT_INBOUND);
	/* carriers send the number without '+' or with 00 too */
	carrier(m, "8613800000001", "8657112345678", &d);
	ASSERT_EQ_STR(d.uri, "sip:1001@acme.cc.test");
	carrier(m, "8613800000001", "008657112345678", &d);
	ASSERT_EQ_STR(d.uri, "sip:1001@acme.cc.test");
	rt_model_free(m);
}

/* a URI that does not fit the decision is refused, never cut (a cut URI
 * names another host) */
TEST(long_uri_refused_not_cut)
{
	struct rt_model *m = rt_model_new();
	char domain[200];

	memset(domain, 'a', sizeof(domain) - 1);
	domain[sizeof(domain) - 1] = '\0';
	struct rt_tenant *t = rt_model_add_tenant(m, "dddddddd-0000-4000-8000-000000000004", "long",
	                                          domain, true);
	struct rt_decision d;

	rt_model_add_agent(t, "1001");
	rt_model_add_number(m, "+8657199999999", t, "1001");
	carrier(m, "+8613800000001", "+8657199999999", &d);
	ASSERT_EQ_INT(d.action, RT_REJECT);
	ASSERT_EQ_INT(d.code, 500);
	rt_model_free(m);
}

TEST(carrier_rejections)
{
	struct rt_model *m = fixture();
	struct rt_decision d;

	carrier(m, "+8613800000001", "+8699999999999", &d);
	ASSERT_EQ_INT(d.action, RT_REJECT);
	ASSERT_EQ_INT(d.code, 404);
	ASSERT(d.tenant == NULL);
	carrier(m, "+8613900000666", "+8657112345678", &d);
	ASSERT_EQ_INT(d.code, 603);
	carrier(m, "+8615012345678", "+8657112345678", &d);
	ASSERT_EQ_INT(d.code, 603);
	carrier(m, "+8615112345678", "+8657112345678", &d);
	ASSERT_EQ_INT(d.action, RT_RING_AGENT);
	/* anonymous caller is not blocked by accident */
	carrier(m, "anonymous", "+8657112345678", &d);
	ASSERT_EQ_INT(d.action, RT_RING_AGENT);
	/* number pointing at a missing agent */
	carrier(m, "+8613800000001", "+8610000000009", &d);
	ASSERT_EQ_INT(d.code, 480);
	/* disabled tenant: its numbers are unknown */
	carrier(m, "+8613800000001", "+8620000000001", &d);
	ASSERT_EQ_INT(d.code, 404);
	rt_model_free(m);
}

TEST(blocklist_is_per_tenant)
{
	struct rt_model *m = fixture();
	struct rt_decision d;

	/* blocked at acme, not at beta */
	carrier(m, "+8613900000666", "+8610000000001", &d);
	ASSERT_EQ_INT(d.action, RT_RING_AGENT);
	ASSERT_EQ_STR(d.uri, "sip:1001@beta.cc.test");
	rt_model_free(m);
}

TEST(same_extension_two_tenants)
{
	struct rt_model *m = fixture();
	struct rt_decision d;

	agent(m, "bbbbbbbb-0000-4000-8000-000000000002", "1001", "1002", &d);
	ASSERT_EQ_INT(d.action, RT_REJECT); /* beta has no 1002; acme's is invisible */
	ASSERT_EQ_INT(d.code, 404);
	agent(m, "aaaaaaaa-0000-4000-8000-000000000001", "1002", "1001", &d);
	ASSERT_EQ_STR(d.uri, "sip:1001@acme.cc.test");
	agent(m, "bbbbbbbb-0000-4000-8000-000000000002", "1001", "1001", &d);
	ASSERT_EQ_STR(d.uri, "sip:1001@beta.cc.test");
	rt_model_free(m);
}

TEST(agent_to_pstn)
{
	struct rt_model *m = fixture();
	struct rt_decision d;

	agent(m, "aaaaaaaa-0000-4000-8000-000000000001", "1001", "+8613812345678", &d);
	ASSERT_EQ_INT(d.action, RT_PSTN);
	ASSERT_EQ_STR(d.uri, "sip:+8613812345678@127.0.0.1:16500");
	ASSERT_EQ_STR(d.cli, "+8657112345678"); /* the tenant's caller ID */
	ASSERT_EQ_INT(d.direction, RT_OUTBOUND);
	agent(m, "bbbbbbbb-0000-4000-8000-000000000002", "1001", "8613812345678", &d);
	ASSERT_EQ_STR(d.cli, "+8610000000001");
	/* nothing else */
	agent(m, "aaaaaaaa-0000-4000-8000-000000000001", "1001", "999", &d);
	ASSERT_EQ_INT(d.code, 404);
	agent(m, "aaaaaaaa-0000-4000-8000-000000000001", "1001", "sales", &d);
	ASSERT_EQ_INT(d.code, 404);
	/* disabled or unknown tenant */
	agent(m, "cccccccc-0000-4000-8000-000000000003", "1001", "1001", &d);
	ASSERT_EQ_INT(d.code, 403);
	agent(m, "", "1001", "1001", &d);
	ASSERT_EQ_INT(d.code, 403);
	rt_model_free(m);
}

TEST(pstn_without_trunk)
{
	struct rt_model *m = rt_model_new();
	struct rt_tenant *a = rt_model_add_tenant(m, "a", "acme", "acme.cc.test", true);
	struct rt_decision d;

	rt_model_add_agent(a, "1001");
	a->pstn_without_plan = true;
	agent(m, "a", "1001", "+8613812345678", &d);
	ASSERT_EQ_INT(d.code, 403); /* no number: no caller ID */
	rt_model_add_number(m, "+8657112345678", a, "1001");
	rt_model_set_cli(a, "+8657112345678");
	agent(m, "a", "1001", "+8613812345678", &d);
	ASSERT_EQ_INT(d.code, 503); /* no trunk with an outbound address */
	rt_model_free(m);
}

/* H5: no plan and no operator flag, no PSTN (the old code let it out) */
TEST(pstn_needs_plan_or_flag)
{
	struct rt_model *m = fixture();
	struct rt_tenant *a = cc_map_get(&m->tenants, ACME);
	struct rt_decision d;

	a->pstn_without_plan = false;
	agent(m, ACME, "1001", "+8613812345678", &d);
	ASSERT_EQ_INT(d.action, RT_REJECT);
	ASSERT_EQ_INT(d.code, 403);
	ASSERT_EQ_STR(d.reason, "PSTN Not Enabled");
	/* internal calls still work */
	agent(m, ACME, "1001", "1002", &d);
	ASSERT_EQ_INT(d.action, RT_RING_AGENT);
	/* a plan is enough */
	a->plan = calloc(1, sizeof(*a->plan));
	agent(m, ACME, "1001", "+8613812345678", &d);
	ASSERT_EQ_INT(d.action, RT_PSTN);
	rt_model_free(m);
}

/* H3: the caller ID is a setting, never "the oldest number" */
TEST(caller_id_is_a_setting)
{
	struct rt_model *m = fixture();
	struct rt_tenant *a = cc_map_get(&m->tenants, ACME);
	struct rt_decision d;

	ASSERT_EQ_INT(rt_model_set_cli(a, "+8657100000001"), CC_OK);
	agent(m, ACME, "1001", "+8613812345678", &d);
	ASSERT_EQ_STR(d.cli, "+8657100000001");
	/* an agent's own caller ID wins over the tenant's, for that agent only */
	ASSERT_EQ_INT(rt_model_set_agent_cli(a, "1002", "+8657112345678"), CC_OK);
	agent(m, ACME, "1002", "+8613812345678", &d);
	ASSERT_EQ_STR(d.cli, "+8657112345678");
	agent(m, ACME, "1001", "+8613812345678", &d);
	ASSERT_EQ_STR(d.cli, "+8657100000001");
	ASSERT_EQ_INT(rt_model_set_agent_cli(a, "4444", "+8657112345678"), CC_ERROR);
	ASSERT_EQ_INT(rt_model_set_cli(a, "8657112345678"), CC_ERROR);
	/* with neither, the call is refused (not sent anonymous) */
	a->cli[0] = '\0';
	agent(m, ACME, "1001", "+8613812345678", &d);
	ASSERT_EQ_INT(d.code, 403);
	ASSERT_EQ_STR(d.reason, "No Caller ID");
	agent(m, ACME, "1002", "+8613812345678", &d);
	ASSERT_EQ_INT(d.action, RT_PSTN);
	rt_model_free(m);
}

/* H5: refused destination prefixes, the platform's and each tenant's */
TEST(refused_destinations)
{
	struct rt_model *m = fixture();
	struct rt_decision d;

	ASSERT_EQ_INT(rt_model_add_refused(m, NULL, "900"), CC_OK);
	ASSERT_EQ_INT(rt_model_add_refused(m, cc_map_get(&m->tenants, ACME), "86168"), CC_OK);
	ASSERT_EQ_INT(rt_model_add_refused(m, NULL, "9x"), CC_ERROR);
	agent(m, ACME, "1001", "+9001234567", &d);
	ASSERT_EQ_INT(d.code, 403);
	ASSERT_EQ_STR(d.reason, "Destination Not Allowed");
	agent(m, BETA, "1001", "009001234567", &d);
	ASSERT_EQ_INT(d.code, 403);
	agent(m, ACME, "1001", "+8616812345678", &d);
	ASSERT_EQ_INT(d.code, 403);
	/* acme's list is not beta's */
	agent(m, BETA, "1001", "+8616812345678", &d);
	ASSERT_EQ_INT(d.action, RT_PSTN);
	agent(m, ACME, "1001", "+8616912345678", &d);
	ASSERT_EQ_INT(d.action, RT_PSTN);
	rt_model_free(m);
}

/* M6: callers the block list could not read got through */
TEST(blocklist_reads_or_refuses)
{
	struct rt_model *m = fixture();
	struct rt_tenant *a = cc_map_get(&m->tenants, ACME);
	struct rt_decision d;
	char digits[CC_E164_MAX];

	carrier(m, "%2B8613900000666", "+8657112345678", &d);
	ASSERT_EQ_INT(d.code, 603);
	ASSERT_EQ_STR(d.reason, "Decline");
	ASSERT_EQ_STR(d.from, "+8613900000666");
	carrier(m, "+8613900000666;isub=1", "+8657112345678", &d);
	ASSERT_EQ_INT(d.code, 603);
	carrier(m, "%2b8615000000001%3Bisub=1", "+8657112345678", &d);
	ASSERT_EQ_INT(d.code, 603);
	/* unreadable: refused by default, let through on "allow" */
	const char *bad[] = { "+8613900000666a", "%2", "%zz86139", "86%00139", "+86 139 x",
	                      "+861390000066612345", "%%%%" };
	for (size_t i = 0; i < CC_ARRAY_LEN(bad); i++) {
		carrier(m, bad[i], "+8657112345678", &d);
		ASSERT_EQ_INT(d.code, 603);
		ASSERT_EQ_STR(d.reason, "Unreadable Caller Number");
	}
	a->allow_unparseable = true;
	carrier(m, "+8613900000666a", "+8657112345678", &d);
	ASSERT_EQ_INT(d.action, RT_RING_AGENT);
	/* the policy is acme's: beta has none of it (default refuse) */
	carrier(m, "+8613900000666a", "+8610000000001", &d);
	ASSERT_EQ_INT(d.code, 603);
	/* withheld callers are not unreadable */
	carrier(m, "Anonymous", "+8610000000001", &d);
	ASSERT_EQ_INT(d.action, RT_RING_AGENT);
	carrier(m, "", "+8610000000001", &d);
	ASSERT_EQ_INT(d.action, RT_RING_AGENT);
	ASSERT_EQ_INT(rt_caller_digits("restricted", digits), CC_DECLINED);
	ASSERT_EQ_INT(rt_caller_digits("%2B86-139-0000-0666;phone-context=x", digits), CC_OK);
	ASSERT_EQ_STR(digits, "8613900000666");
	rt_model_free(m);
}

/* L5: an unknown kind was taken for an authenticated agent call */
TEST(kind_is_carrier_or_agent)
{
	enum rt_kind k = RT_CARRIER;

	ASSERT_EQ_INT(rt_kind_parse("agent", &k), CC_OK);
	ASSERT_EQ_INT(k, RT_AGENT);
	ASSERT_EQ_INT(rt_kind_parse("carrier", &k), CC_OK);
	ASSERT_EQ_INT(k, RT_CARRIER);
	ASSERT_EQ_INT(rt_kind_parse("", &k), CC_ERROR);
	ASSERT_EQ_INT(rt_kind_parse("Agent", &k), CC_ERROR);
	ASSERT_EQ_INT(rt_kind_parse("operator", &k), CC_ERROR);
}

TEST(limits_concurrent_calls)
{
	struct rt_limits l;
	struct rt_limits_cfg two = { 2, -1 }, none = { -1, -1 };

	rt_limits_init(&l);
	ASSERT_EQ_INT(rt_limits_admit(&l, ACME, &two, "c1", 60, 1000), RT_LIMIT_OK);
	ASSERT_EQ_INT(rt_limits_admit(&l, ACME, &two, "c2", 60, 1000), RT_LIMIT_OK);
	ASSERT_EQ_INT(rt_limits_admit(&l, ACME, &two, "c3", 60, 1000), RT_LIMIT_CALLS);
	/* per tenant */
	ASSERT_EQ_INT(rt_limits_admit(&l, BETA, &two, "b1", 60, 1000), RT_LIMIT_OK);
	/* an end (or failure) frees the slot; a second end changes nothing */
	rt_limits_release(&l, "c1");
	rt_limits_release(&l, "c1");
	rt_limits_release(&l, "nobody");
	ASSERT_EQ_INT(rt_limits_active(&l, ACME), 1);
	ASSERT_EQ_INT(rt_limits_admit(&l, ACME, &two, "c3", 60, 1000), RT_LIMIT_OK);
	/* the same call decided twice holds one slot */
	ASSERT_EQ_INT(rt_limits_admit(&l, ACME, &none, "c3", 60, 1000), RT_LIMIT_OK);
	ASSERT_EQ_INT(rt_limits_active(&l, ACME), 2);
	ASSERT_EQ_INT((int)l.refused_calls, 1);
	ASSERT_EQ_INT(rt_limits_admit(&l, ACME, &two, "", 60, 1000), RT_LIMIT_CALLS);
	rt_limits_free(&l);
}

TEST(limits_slots_expire)
{
	struct rt_limits l;
	struct rt_limits_cfg one = { 1, -1 };
	int64_t t = 5000;

	rt_limits_init(&l);
	/* never answered, no end event: free after the setup deadline */
	ASSERT_EQ_INT(rt_limits_admit(&l, ACME, &one, "c1", 60, t), RT_LIMIT_OK);
	ASSERT_EQ_INT(rt_limits_admit(&l, ACME, &one, "c2", 60, t + RT_SLOT_SETUP_S * 1000 - 1),
	              RT_LIMIT_CALLS);
	/* (expired slots are swept at most once a second) */
	ASSERT_EQ_INT(rt_limits_admit(&l, ACME, &one, "c2", 600, t + RT_SLOT_SETUP_S * 1000 + 999),
	              RT_LIMIT_OK);
	/* answered: held for its longest talk and the grace */
	t += RT_SLOT_SETUP_S * 1000 + 999;
	rt_limits_answered(&l, "c2", t);
	ASSERT_EQ_INT(rt_limits_admit(&l, ACME, &one, "c3", 60, t + 600 * 1000), RT_LIMIT_CALLS);
	ASSERT_EQ_INT(rt_limits_admit(&l, ACME, &one, "c3", 60, t + (600 + RT_SLOT_GRACE_S) * 1000),
	              RT_LIMIT_OK);
	ASSERT_EQ_INT((int)l.expired, 2);
	ASSERT_EQ_INT((int)l.active, 1);
	rt_limits_free(&l);
}

TEST(limits_call_rate)
{
	struct rt_limits l;
	struct rt_limits_cfg cps = { -1, 2 }, zero = { 0, -1 };

	rt_limits_init(&l);
	ASSERT_EQ_INT(rt_limits_admit(&l, ACME, &cps, "c1", 0, 10000), RT_LIMIT_OK);
	ASSERT_EQ_INT(rt_limits_admit(&l, ACME, &cps, "c2", 0, 10500), RT_LIMIT_OK);
	ASSERT_EQ_INT(rt_limits_admit(&l, ACME, &cps, "c3", 0, 10999), RT_LIMIT_CPS);
	ASSERT_EQ_INT(rt_limits_admit(&l, BETA, &cps, "b1", 0, 10999), RT_LIMIT_OK);
	ASSERT_EQ_INT(rt_limits_admit(&l, ACME, &cps, "c3", 0, 11000), RT_LIMIT_OK);
	ASSERT_EQ_INT((int)l.refused_cps, 1);
	/* a limit of 0 refuses everything */
	ASSERT_EQ_INT(rt_limits_admit(&l, BETA, &zero, "b2", 0, 20000), RT_LIMIT_CALLS);
	rt_limits_free(&l);
}

TEST_LIST(T(carrier_rings_agent), T(long_uri_refused_not_cut), T(carrier_rejections), T(blocklist_is_per_tenant),
          T(same_extension_two_tenants), T(agent_to_pstn), T(pstn_without_trunk),
          T(pstn_needs_plan_or_flag), T(caller_id_is_a_setting), T(refused_destinations),
          T(blocklist_reads_or_refuses), T(kind_is_carrier_or_agent),
          T(limits_concurrent_calls), T(limits_slots_expire), T(limits_call_rate))
