/* Unit tests of routingd's handling of Kamailio's messages (calls.h), with
 * the event publisher replaced by a capture: what fuzz_calls found. */
#define SUITE "calls"
#include "test.h"

#include "calls.h"
#include "cc.h"
#include "limits.h"
#include "log.h"
#include "model.h"

#define ACME "aaaaaaaa-0000-4000-8000-000000000001"
#define CALL "cccccccc-0000-4000-8000-000000000001"

static char subjects[4][160];
static char tenants[4][160];
static int n_events;
static bool replied;

static int capture(struct cc_events *events, const char *subject, json_t *ev)
{
	if (n_events < 4) {
		snprintf(subjects[n_events], sizeof(subjects[0]), "%s", subject);
		snprintf(tenants[n_events], sizeof(tenants[0]), "%s",
		         json_string_value(json_object_get(ev, "tenant")));
	}
	n_events++;
	json_decref(ev);
	return CC_OK;
}

static void handle(const char *text)
{
	static struct rt_model *model;
	struct rt_calls c = { .model = &model, .publish = capture };
	json_t *msg = json_loads(text, 0, NULL), *reply;

	if (!model)
		model = rt_model_new();
	ASSERT(msg);
	n_events = 0;
	rt_limits_init(&c.limits);
	reply = rt_calls_handle(&c, msg);
	rt_calls_flush(&c);
	replied = reply != NULL;
	rt_limits_free(&c.limits);
	json_decref(reply);
	json_decref(msg);
}

/* a tenant id comes back from Kamailio on answered/ended/failed; one that
 * is not an id never becomes part of the subject (fuzz_calls: "a.b" was
 * published on cc.call.a.b.answered, a wildcard on an invalid subject) */
TEST(progress_tenant_never_bends_subject)
{
	cc_log_level = CC_LOG_ERR;
	handle("{\"ev\":\"answered\",\"call\":\"" CALL "\",\"tenant\":\"" ACME "\"}");
	ASSERT_EQ_INT(n_events, 1);
	ASSERT_EQ_STR(subjects[0], "cc.call." ACME ".answered");
	ASSERT_EQ_STR(tenants[0], ACME);

	handle("{\"ev\":\"answered\",\"call\":\"" CALL "\",\"tenant\":\"aaaaaaaa-00.0-4000-8000-000000000001\"}");
	ASSERT_EQ_INT(n_events, 1);
	ASSERT_EQ_STR(subjects[0], "cc.call._.answered");
	ASSERT_EQ_STR(tenants[0], "");

	handle("{\"ev\":\"ended\",\"call\":\"" CALL "\",\"tenant\":\">\"}");
	ASSERT_EQ_STR(subjects[0], "cc.call._.ended");
	handle("{\"ev\":\"failed\",\"call\":\"" CALL "\",\"tenant\":\"*\",\"code\":486}");
	ASSERT_EQ_STR(subjects[0], "cc.call._.ended");
	handle("{\"ev\":\"failed\",\"call\":\"" CALL "\",\"tenant\":\"x\",\"code\":480,\"reason\":\"not registered\"}");
	ASSERT_EQ_STR(subjects[0], "cc.call._.rejected");
}

/* a question no answer can reach (no tl) is no question: it published
 * "offered" and took one of the tenant's call slots until it expired
 * (fuzz_calls: a question left unanswered) */
TEST(question_needs_ti_and_tl)
{
	static const char *const q = "\"q\":{\"call\":\"" CALL "\",\"kind\":\"carrier\",\"from_user\":\"+8613800000001\","
	                             "\"to_user\":\"+8657112345678\"}";
	char text[300];

	cc_log_level = CC_LOG_ERR;
	snprintf(text, sizeof(text), "{\"ti\":1,\"tl\":2,%s}", q);
	handle(text);
	ASSERT(replied);
	ASSERT_EQ_INT(n_events, 2);          /* offered, rejected (no such trunk) */
	snprintf(text, sizeof(text), "{\"ti\":1,%s}", q);
	handle(text);
	ASSERT(!replied);
	ASSERT_EQ_INT(n_events, 0);
	snprintf(text, sizeof(text), "{\"ti\":1,\"tl\":\"2\",%s}", q);
	handle(text);
	ASSERT(!replied);
	ASSERT_EQ_INT(n_events, 0);
}

TEST_LIST(T(progress_tenant_never_bends_subject), T(question_needs_ti_and_tl))
