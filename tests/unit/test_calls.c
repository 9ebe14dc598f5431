/* Unit tests of routingd's handling of Kamailio's messages (calls.h), with
 * the event publisher replaced by a capture: what fuzz_calls found. */
#define SUITE "calls"
#include "test.h"

#include "acdrpc.h"
#include "calls.h"
#include "cc.h"
#include "clock.h"
#include "id.h"
#include "limits.h"
#include "log.h"
#include "media.h"
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

/* The events of one exchange, kept whole for the media tests. */
static json_t *kept;

static int keep(struct cc_events *events, const char *subject, json_t *ev)
{
	json_array_append_new(kept, json_pack("{s:s, s:o}", "subject", subject, "ev", ev));
	return CC_OK;
}

static json_t *kept_of(const char *type)
{
	size_t i;
	json_t *e;

	json_array_foreach(kept, i, e)
		if (!strcmp(json_string_value(json_object_get(json_object_get(e, "ev"), "type")), type))
			return json_object_get(e, "ev");
	return NULL;
}

#define INST "11111111-0000-4000-8000-000000000001"
#define FLOWV "f1000000-0000-4000-8000-000000000001"
#define LEG "cccccccc-0000-4000-8000-0000000000a1"
#define CALL2 "cccccccc-0000-4000-8000-000000000002"

/* routingd's hook for a lost call Kamailio ended silently (main.c's) */
static void media_end(void *arg, const char *call, const char *tenant, bool mediad, int64_t at_us)
{
	rt_calls_media_ended(arg, call, tenant, mediad, at_us);
	rt_calls_flush(arg);
}

static json_t *ask(struct rt_calls *c, const char *text)
{
	json_t *msg = json_loads(text, 0, NULL), *reply;

	ASSERT(msg);
	json_decref(kept);
	kept = json_array();
	reply = rt_calls_handle(c, msg);
	rt_calls_flush(c);
	json_decref(msg);
	return reply;
}

static const char *s_of(const json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));

	return v ? v : "(none)";
}

/* a flow number's answer is `media` with what Kamailio's X-CC headers
 * need; a leg's events carry its parent; a lost mediad's call ends with
 * its reason */
TEST(media_answer_and_legs)
{
	struct rt_model *model = rt_model_new();
	struct rt_tenant *t = rt_model_add_tenant(model, ACME, "acme", "acme.cc.test", true);
	struct rt_calls c = { .model = &model, .publish = keep };
	json_t *r, *b;

	cc_log_level = CC_LOG_ERR;
	rt_model_add_agent(t, "1001");
	rt_model_add_flow_number(model, "+8657199990001", t, FLOWV);
	rt_limits_init(&c.limits);
	c.media = rt_media_new(NULL, NULL, NULL, 3000);
	/* none alive: 503 */
	r = ask(&c, "{\"ti\":1,\"tl\":2,\"q\":{\"kind\":\"carrier\",\"call\":\"" CALL "\","
	            "\"from_user\":\"+8613800000001\",\"to_user\":\"+8657199990001\"}}");
	ASSERT_EQ_STR(s_of(r, "action"), "reject");
	ASSERT_EQ_INT(json_integer_value(json_object_get(r, "code")), 503);
	json_decref(r);
	b = json_pack("{s:s, s:s, s:s}", "id", "h1", "instance", INST, "sip", "127.0.0.1:5090");
	json_decref(rt_media_heartbeat(c.media, b, 1000));
	json_decref(b);
	r = ask(&c, "{\"ti\":1,\"tl\":2,\"q\":{\"kind\":\"carrier\",\"call\":\"" CALL "\","
	            "\"from_user\":\"+8613800000001\",\"to_user\":\"+8657199990001\"}}");
	ASSERT_EQ_STR(s_of(r, "action"), "media");
	ASSERT_EQ_STR(s_of(r, "uri"), "sip:+8657199990001@127.0.0.1:5090");
	ASSERT_EQ_STR(s_of(r, "flow"), FLOWV);
	ASSERT_EQ_STR(s_of(r, "domain"), "acme.cc.test");
	ASSERT_EQ_STR(s_of(r, "caller"), "+8613800000001");
	ASSERT_EQ_STR(s_of(r, "tenant"), ACME);
	ASSERT_EQ_STR(s_of(kept_of("routed"), "flow"), FLOWV);
	ASSERT_EQ_STR(s_of(kept_of("routed"), "media"), INST);
	json_decref(r);
	/* mediad's leg to 1001: internal, its events carry the parent */
	r = ask(&c, "{\"ti\":1,\"tl\":3,\"q\":{\"kind\":\"media\",\"call\":\"" LEG "\","
	            "\"tenant\":\"" ACME "\",\"parent\":\"" CALL "\",\"leg\":\"agent\","
	            "\"from_user\":\"+8613800000001\",\"to_user\":\"1001\"}}");
	ASSERT_EQ_STR(s_of(r, "action"), "agent");
	ASSERT_EQ_STR(s_of(r, "uri"), "sip:1001@acme.cc.test");
	ASSERT_EQ_STR(s_of(kept_of("offered"), "parent"), CALL);
	ASSERT_EQ_STR(s_of(kept_of("offered"), "direction"), "internal");
	ASSERT_EQ_STR(s_of(kept_of("routed"), "parent"), CALL);
	json_decref(r);
	/* a parent that is no id is not carried */
	r = ask(&c, "{\"ti\":1,\"tl\":4,\"q\":{\"kind\":\"media\",\"call\":\"" LEG "\","
	            "\"tenant\":\"" ACME "\",\"parent\":\"x.y\",\"from_user\":\"+86\",\"to_user\":\"1001\"}}");
	ASSERT(!json_object_get(kept_of("offered"), "parent"));
	json_decref(r);
	/* both answered, then the instance is replaced: their ends say why */
	json_decref(ask(&c, "{\"ev\":\"answered\",\"call\":\"" CALL "\",\"tenant\":\"" ACME "\",\"h_entry\":1,\"h_id\":2}"));
	json_decref(ask(&c, "{\"ev\":\"answered\",\"call\":\"" LEG "\",\"tenant\":\"" ACME "\",\"h_entry\":3,\"h_id\":4}"));
	b = json_pack("{s:s, s:s, s:s}", "id", "h2", "instance", "22222222-0000-4000-8000-000000000002",
	              "sip", "127.0.0.1:5090");
	json_decref(rt_media_heartbeat(c.media, b, 1500));
	json_decref(b);
	json_decref(ask(&c, "{\"ev\":\"ended\",\"call\":\"" CALL "\",\"tenant\":\"" ACME "\"}"));
	ASSERT_EQ_STR(s_of(kept_of("ended"), "reason"), "media server lost");
	json_decref(ask(&c, "{\"ev\":\"ended\",\"call\":\"" LEG "\",\"tenant\":\"" ACME "\"}"));
	ASSERT_EQ_STR(s_of(kept_of("ended"), "reason"), "media server lost");
	/* the same end reported again (kept by Kamailio, sent twice): the
	 * same reason */
	json_decref(ask(&c, "{\"ev\":\"ended\",\"call\":\"" CALL "\",\"tenant\":\"" ACME "\"}"));
	ASSERT_EQ_STR(s_of(kept_of("ended"), "reason"), "media server lost");
	/* an ordinary end has no such reason */
	json_decref(ask(&c, "{\"ev\":\"ended\",\"call\":\"" CALL2 "\",\"tenant\":\"" ACME "\"}"));
	ASSERT(!json_object_get(kept_of("ended"), "reason"));
	/* Kamailio ended a lost call's dialog and never said so (dialog:end
	 * did not run): routingd's own end, with the id Kamailio's would have */
	r = ask(&c, "{\"ti\":1,\"tl\":5,\"q\":{\"kind\":\"carrier\",\"call\":\"" CALL2 "\","
	            "\"from_user\":\"+8613800000001\",\"to_user\":\"+8657199990001\"}}");
	ASSERT_EQ_STR(s_of(r, "action"), "media");
	json_decref(r);
	json_decref(ask(&c, "{\"ev\":\"answered\",\"call\":\"" CALL2 "\",\"tenant\":\"" ACME "\",\"h_entry\":5,\"h_id\":6}"));
	b = json_pack("{s:s, s:s, s:s}", "id", "h3", "instance", "33333333-0000-4000-8000-000000000003",
	              "sip", "127.0.0.1:5090");
	json_decref(rt_media_heartbeat(c.media, b, 2000));
	json_decref(b);
	json_decref(kept);
	kept = json_array();
	rt_media_on_end(c.media, media_end, &c);
	int64_t at = cc_now_us();

	ASSERT(rt_media_hung_up(c.media, CALL2, at, 2000));
	rt_media_check(c.media, 2000 + RT_MEDIA_REPORT_WAIT_MS - 1);
	ASSERT_EQ_INT(json_array_size(kept), 0);   /* Kamailio's may still come */
	rt_media_check(c.media, 2000 + RT_MEDIA_REPORT_WAIT_MS);
	ASSERT_EQ_INT(json_array_size(kept), 1);
	ASSERT_EQ_STR(s_of(kept_of("ended"), "reason"), "media server lost");
	ASSERT_EQ_STR(s_of(kept_of("ended"), "result"), "answered");
	ASSERT_EQ_STR(s_of(kept_of("ended"), "tenant"), ACME);
	ASSERT(json_is_true(json_object_get(kept_of("ended"), "mediad")));
	char *name = cc_sprintf("%s/ended", CALL2), id[CC_UUID_LEN];

	cc_uuid_named(name, id);
	free(name);
	ASSERT_EQ_STR(s_of(kept_of("ended"), "id"), id);
	ASSERT_EQ_INT(c.media_ends, 1);
	/* Kamailio's report after all: the same event, the same reason */
	json_decref(ask(&c, "{\"ev\":\"ended\",\"call\":\"" CALL2 "\",\"tenant\":\"" ACME "\"}"));
	ASSERT_EQ_STR(s_of(kept_of("ended"), "reason"), "media server lost");
	ASSERT_EQ_STR(s_of(kept_of("ended"), "id"), id);
	ASSERT(!rt_media_hung_up(c.media, CALL2, cc_now_us(), 4000));
	ASSERT_EQ_INT(c.media_ends, 1);
	json_decref(kept);
	kept = NULL;
	rt_media_free(c.media);
	rt_limits_free(&c.limits);
	rt_model_free(model);
}

/* what calls.c tells the ACD (docs/ACD.md): busy on an answered call to or
 * from an extension (not on an offer's `acd` leg), free at its end; a
 * registration mapped from its domain to the tenant */
static char acd_log[16][96];
static int n_acd;

static void on_busy(void *arg, const char *tenant, const char *ext, const char *call, bool busy)
{
	if (n_acd < 16)
		snprintf(acd_log[n_acd], sizeof(acd_log[0]), "%s %s %s", busy ? "busy" : "free", ext,
		         strcmp(tenant, ACME) == 0 ? "acme" : tenant);
	n_acd++;
}

static void on_reg(void *arg, const char *tenant, const char *ext, bool registered)
{
	if (n_acd < 16)
		snprintf(acd_log[n_acd], sizeof(acd_log[0]), "%s %s %s", registered ? "reg" : "unreg", ext,
		         strcmp(tenant, ACME) == 0 ? "acme" : tenant);
	n_acd++;
}

#define BETA "bbbbbbbb-0000-4000-8000-000000000002"
#define CALL2 "cccccccc-0000-4000-8000-000000000002"
#define CALL3 "cccccccc-0000-4000-8000-000000000003"

TEST(acd_queue_number_busy_and_registrations)
{
	struct rt_model *model = rt_model_new();
	struct rt_tenant *t = rt_model_add_tenant(model, ACME, "acme", "acme.cc.test", true);
	struct rt_tenant *b = rt_model_add_tenant(model, BETA, "beta", "beta.cc.test", true);
	struct rt_calls c = { .model = &model, .publish = keep, .agent_busy = on_busy,
	                      .agent_reg = on_reg };
	json_t *r, *hb;

	cc_log_level = CC_LOG_ERR;
	rt_model_add_agent(t, "1001");
	rt_model_add_agent(t, "1002");
	rt_model_add_agent(b, "1001");
	ASSERT_EQ_INT(rt_model_add_queue_number(model, "+8657199990009", t, "repair"), CC_OK);
	ASSERT_EQ_INT(rt_model_add_number(model, "+8657199990001", t, "1001"), CC_OK);
	rt_limits_init(&c.limits);
	c.media = rt_media_new(NULL, NULL, NULL, 3000);
	hb = json_pack("{s:s, s:s, s:s}", "id", "h1", "instance", INST, "sip", "127.0.0.1:5090");
	json_decref(rt_media_heartbeat(c.media, hb, 1000));
	json_decref(hb);
	/* a queue number: media with the queue, no flow */
	r = ask(&c, "{\"ti\":1,\"tl\":2,\"q\":{\"kind\":\"carrier\",\"call\":\"" CALL "\","
	            "\"from_user\":\"+8613800000001\",\"to_user\":\"+8657199990009\"}}");
	ASSERT_EQ_STR(s_of(r, "action"), "media");
	ASSERT_EQ_STR(s_of(r, "queue"), "repair");
	ASSERT(!json_object_get(r, "flow"));
	ASSERT_EQ_STR(s_of(kept_of("routed"), "queue"), "repair");
	json_decref(r);
	n_acd = 0;
	/* the ACD's own leg to 1001 is not the agent's other call */
	json_decref(ask(&c, "{\"ti\":1,\"tl\":3,\"q\":{\"kind\":\"media\",\"call\":\"" LEG "\","
	                    "\"tenant\":\"" ACME "\",\"parent\":\"" CALL "\",\"leg\":\"acd\","
	                    "\"from_user\":\"+8613800000001\",\"to_user\":\"1001\"}}"));
	json_decref(ask(&c, "{\"ev\":\"answered\",\"call\":\"" LEG "\",\"tenant\":\"" ACME "\"}"));
	json_decref(ask(&c, "{\"ev\":\"ended\",\"call\":\"" LEG "\",\"tenant\":\"" ACME "\"}"));
	ASSERT_EQ_INT(n_acd, 0);
	/* a direct call to 1001: busy at its answer, free at its end; not while ringing */
	json_decref(ask(&c, "{\"ti\":1,\"tl\":4,\"q\":{\"kind\":\"carrier\",\"call\":\"" CALL2 "\","
	                    "\"from_user\":\"+8613800000001\",\"to_user\":\"+8657199990001\"}}"));
	ASSERT_EQ_INT(n_acd, 0);
	json_decref(ask(&c, "{\"ev\":\"answered\",\"call\":\"" CALL2 "\",\"tenant\":\"" ACME "\"}"));
	json_decref(ask(&c, "{\"ev\":\"answered\",\"call\":\"" CALL2 "\",\"tenant\":\"" ACME "\"}"));
	ASSERT_EQ_INT(n_acd, 1);
	ASSERT_EQ_STR(acd_log[0], "busy 1001 acme");
	json_decref(ask(&c, "{\"ev\":\"ended\",\"call\":\"" CALL2 "\",\"tenant\":\"" ACME "\"}"));
	ASSERT_EQ_INT(n_acd, 2);
	ASSERT_EQ_STR(acd_log[1], "free 1001 acme");
	/* 1002 calls 1001: both busy, both free; a failed call tells nothing */
	n_acd = 0;
	json_decref(ask(&c, "{\"ti\":1,\"tl\":5,\"q\":{\"kind\":\"agent\",\"call\":\"" CALL3 "\","
	                    "\"tenant\":\"" ACME "\",\"from_user\":\"1002\",\"to_user\":\"1001\"}}"));
	json_decref(ask(&c, "{\"ev\":\"answered\",\"call\":\"" CALL3 "\",\"tenant\":\"" ACME "\"}"));
	ASSERT_EQ_INT(n_acd, 2);
	ASSERT_EQ_STR(acd_log[0], "busy 1001 acme");
	ASSERT_EQ_STR(acd_log[1], "busy 1002 acme");
	json_decref(ask(&c, "{\"ev\":\"failed\",\"call\":\"" CALL3 "\",\"tenant\":\"" ACME "\",\"code\":487}"));
	ASSERT_EQ_INT(n_acd, 4);
	n_acd = 0;
	json_decref(ask(&c, "{\"ti\":1,\"tl\":6,\"q\":{\"kind\":\"agent\",\"call\":\"" CALL2 "\","
	                    "\"tenant\":\"" ACME "\",\"from_user\":\"1002\",\"to_user\":\"1001\"}}"));
	json_decref(ask(&c, "{\"ev\":\"failed\",\"call\":\"" CALL2 "\",\"tenant\":\"" ACME "\",\"code\":486}"));
	ASSERT_EQ_INT(n_acd, 0);
	/* registrations: the domain names the tenant; same extension, other tenant */
	json_decref(ask(&c, "{\"ev\":\"reg\",\"kind\":\"reg\",\"domain\":\"acme.cc.test\",\"user\":\"1001\",\"expires\":300}"));
	json_decref(ask(&c, "{\"k\":7,\"ev\":\"reg\",\"kind\":\"reg\",\"domain\":\"beta.cc.test\",\"user\":\"1001\",\"expires\":0}"));
	ASSERT_EQ_INT(n_acd, 2);
	ASSERT_EQ_STR(acd_log[0], "reg 1001 acme");
	ASSERT_EQ_STR(acd_log[1], "unreg 1001 " BETA);
	/* refused: an unknown domain, no expires, a user too long */
	json_decref(ask(&c, "{\"ev\":\"reg\",\"domain\":\"evil.test\",\"user\":\"1001\",\"expires\":0}"));
	json_decref(ask(&c, "{\"ev\":\"reg\",\"domain\":\"acme.cc.test\",\"user\":\"1001\"}"));
	json_decref(ask(&c, "{\"ev\":\"reg\",\"domain\":\"acme.cc.test\",\"user\":\"100100100100100\",\"expires\":0}"));
	ASSERT_EQ_INT(n_acd, 2);
	json_decref(kept);
	kept = NULL;
	rt_calls_free(&c);
	rt_media_free(c.media);
	rt_limits_free(&c.limits);
	rt_model_free(model);
}

/* issue 14: the SIP domain -> tenant map was rebuilt when the model's
 * address changed; a new model allocated where the freed one was (malloc
 * hands the same block back) kept the old map, so a registration of a
 * domain now beta's reached acme's ACD. Keyed by the model's generation. */
TEST(domain_map_follows_model_generation)
{
	struct rt_model *model = rt_model_new();
	struct rt_calls c = { .model = &model, .publish = keep, .agent_busy = on_busy,
	                      .agent_reg = on_reg };
	uintptr_t old;

	cc_log_level = CC_LOG_ERR;
	rt_model_add_tenant(model, ACME, "acme", "acme.cc.test", true);
	rt_limits_init(&c.limits);
	c.media = rt_media_new(NULL, NULL, NULL, 3000);
	n_acd = 0;
	json_decref(ask(&c, "{\"ev\":\"reg\",\"kind\":\"reg\",\"domain\":\"acme.cc.test\",\"user\":\"1001\",\"expires\":300}"));
	ASSERT_EQ_INT(n_acd, 1);
	ASSERT_EQ_STR(acd_log[0], "reg 1001 acme");
	/* the domain moves to beta in the next model, made where the old one
	 * was: its contents swapped into the old block (what malloc may do) */
	struct rt_model *next = rt_model_new(), tmp;

	rt_model_add_tenant(next, BETA, "beta", "acme.cc.test", true);
	old = (uintptr_t)model;
	tmp = *model;
	*model = *next;
	*next = tmp;
	rt_model_free(next);
	ASSERT((uintptr_t)model == old);
	n_acd = 0;
	json_decref(ask(&c, "{\"ev\":\"reg\",\"kind\":\"reg\",\"domain\":\"acme.cc.test\",\"user\":\"1001\",\"expires\":300}"));
	ASSERT_EQ_INT(n_acd, 1);
	ASSERT_EQ_STR(acd_log[0], "reg 1001 " BETA);
	json_decref(kept);
	kept = NULL;
	rt_calls_free(&c);
	rt_media_free(c.media);
	rt_limits_free(&c.limits);
	rt_model_free(model);
}

/* mediad's "arrived" (RFC 3339) read as ms; anything else refused */
TEST(acd_time_read)
{
	ASSERT(rt_acd_time_ms("2026-12-02T05:39:01Z") == 1796189941000LL);
	ASSERT(rt_acd_time_ms("2026-12-02T05:39:01.250Z") == 1796189941250LL);
	ASSERT(rt_acd_time_ms("2026-12-02T05:39:01.123456Z") == 1796189941123LL);
	ASSERT(rt_acd_time_ms("2026-12-02T13:39:01+08:00") == 1796189941000LL);
	ASSERT(rt_acd_time_ms("2026-12-02T05:39:01") == -1);
	ASSERT(rt_acd_time_ms("2026-12-02T05:39:01.Z") == -1);
	ASSERT(rt_acd_time_ms("2026-12-02T05:39:01+8:00") == -1);
	ASSERT(rt_acd_time_ms("2026-12-02T05:39:01Zjunk") == -1);
	ASSERT(rt_acd_time_ms("yesterday") == -1);
	ASSERT(rt_acd_time_ms("") == -1);
	ASSERT(rt_acd_time_ms(NULL) == -1);
}

TEST_LIST(T(acd_time_read), T(progress_tenant_never_bends_subject), T(question_needs_ti_and_tl), T(media_answer_and_legs),
          T(acd_queue_number_busy_and_registrations), T(domain_map_follows_model_generation))
