/* Unit tests of routingd's decision function: every rule of decide.h,
 * and tenant isolation (the same extension in two tenants). */
#define SUITE "routing"
#include "test.h"

#include "decide.h"
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
	return m;
}

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
	ASSERT_EQ_STR(d.cli, "+8657112345678"); /* the tenant's first number */
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
	agent(m, "a", "1001", "+8613812345678", &d);
	ASSERT_EQ_INT(d.code, 403); /* no number: no caller ID */
	rt_model_add_number(m, "+8657112345678", a, "1001");
	agent(m, "a", "1001", "+8613812345678", &d);
	ASSERT_EQ_INT(d.code, 503); /* no trunk with an outbound address */
	rt_model_free(m);
}

TEST_LIST(T(carrier_rings_agent), T(carrier_rejections), T(blocklist_is_per_tenant),
          T(same_extension_two_tenants), T(agent_to_pstn), T(pstn_without_trunk))
