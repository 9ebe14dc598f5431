/* Unit tests of routingd's side of the ACD's subjects (routing/acdrpc.c)
 * without NATS: requests applied as the loop applies them
 * (rt_acdrpc_apply), mediad's liveness fed by heartbeats (media.h). */
#define SUITE "acdrpc"
#include "test.h"

#include <stdarg.h>

#include "acd.h"
#include "acdrpc.h"
#include "cc.h"
#include "log.h"
#include "media.h"
#include "model.h"

#define ACME "aaaaaaaa-0000-4000-8000-000000000001"
#define BETA "bbbbbbbb-0000-4000-8000-000000000002"
#define INST1 "11111111-0000-4000-8000-000000000001"
#define INST2 "22222222-0000-4000-8000-000000000002"
#define CALL1 "c0000000-0000-4000-8000-000000000001"
#define CALL2 "c0000000-0000-4000-8000-000000000002"
#define FAKE "f0000000-0000-4000-8000-00000000000f"

struct fx {
	struct rt_model *model;
	struct rt_media *media;
	struct rt_acdrpc *r;
	int n;                       /* request ids */
};

/* a tenant with the queue "repair" and its member 1001 */
static void acd_tenant(struct rt_model *m, const char *id, const char *slug)
{
	char dom[64];
	struct rt_tenant *t;
	struct acd_tenant_cfg *c;

	snprintf(dom, sizeof(dom), "%s.cc.test", slug);
	t = rt_model_add_tenant(m, id, slug, dom, true);
	c = rt_model_acd(t);
	c->queues = calloc(1, sizeof(*c->queues));
	c->n_queues = 1;
	snprintf(c->queues[0].id, CC_UUID_LEN, "%.8s-0000-4000-8000-0000000000a1", id);
	snprintf(c->queues[0].name, ACD_NAME_MAX, "repair");
	c->queues[0].strategy = ACD_LONGEST_IDLE;
	c->queues[0].ring_timeout_s = 15;
	c->queues[0].callback = true;
	c->queues[0].callback_retries = 1;
	c->queues[0].callback_interval_s = 60;
	c->agents = calloc(1, sizeof(*c->agents));
	c->n_agents = 1;
	snprintf(c->agents[0].id, CC_UUID_LEN, "%.8s-0000-4000-8000-0000000000b1", id);
	snprintf(c->agents[0].ext, ACD_EXT_MAX, "1001");
	c->agents[0].queues = calloc(1, sizeof(*c->agents[0].queues));
	c->agents[0].queues[0].priority = 1;
	c->agents[0].n_queues = 1;
}

static void beat(struct rt_media *m, const char *id, const char *inst, const char *sip, int64_t now)
{
	json_t *b = json_pack("{s:s, s:s, s:s, s:i, s:s}", "id", id, "instance", inst, "sip", sip,
	                      "calls", 0, "started", "2026-12-02T02:00:00Z");

	json_decref(rt_media_heartbeat(m, b, now));
	json_decref(b);
}

static json_t *ask(struct fx *f, const char *what, const char *fmt, ...)
{
	char subject[128], body[1024], text[1200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	snprintf(subject, sizeof(subject), RT_ACD_PREFIX "%s", what);
	snprintf(text, sizeof(text), "{\"id\":\"q-%d\",%s}", ++f->n, body);
	json_t *ans = rt_acdrpc_apply(f->r, subject, text);

	ASSERT(ans);
	return ans;
}

static bool ok_of(json_t *ans)
{
	bool ok = json_is_true(json_object_get(ans, "ok"));

	json_decref(ans);
	return ok;
}

static void fx_up(struct fx *f)
{
	char *err = NULL;

	memset(f, 0, sizeof(*f));
	cc_log_level = CC_LOG_ERR;
	f->model = rt_model_new();
	acd_tenant(f->model, ACME, "acme");
	acd_tenant(f->model, BETA, "beta");
	f->media = rt_media_new(NULL, NULL, NULL, 3000);
	beat(f->media, "h1", INST1, "127.0.0.1:5090", 1000);
	beat(f->media, "h2", INST2, "127.0.0.1:5092", 1000);
	f->r = rt_acdrpc_new(NULL, NULL, NULL, f->media, 5000, &err);
	ASSERT(f->r);
	rt_acdrpc_model(f->r, f->model);
	/* signed in, not ready: callers wait */
	ASSERT(ok_of(ask(f, "agent", "\"tenant\":\"" ACME "\",\"extension\":\"1001\","
	                 "\"state\":\"not_ready\",\"reason\":\"lunch\"")));
	ASSERT(ok_of(ask(f, "agent", "\"tenant\":\"" BETA "\",\"extension\":\"1001\","
	                 "\"state\":\"not_ready\",\"reason\":\"lunch\"")));
}

static void fx_down(struct fx *f)
{
	rt_acdrpc_free(f->r);
	rt_media_free(f->media);
	rt_model_free(f->model);
}

static uint64_t waiting(struct fx *f)
{
	struct rt_acdrpc_stats st;
	struct acd_stats as;

	rt_acdrpc_stats(f->r, &st, &as);
	return as.waiting;
}

static uint64_t untracked(struct fx *f, uint64_t *refused)
{
	struct rt_acdrpc_stats st;
	struct acd_stats as;

	rt_acdrpc_stats(f->r, &st, &as);
	*refused = st.refused;
	return st.untracked;
}

#define ENQ(tenant, call, inst) \
	"\"instance\":\"" inst "\",\"call\":\"" call "\",\"tenant\":\"" tenant "\"," \
	"\"queue\":\"repair\",\"caller\":\"+8613800000001\""

/* issue 14, HIGH: a call routingd never sent anywhere is no caller, in
 * any tenant, from any instance; a followed one only as the tenant and
 * instance it was sent with */
TEST(invented_callers_refused)
{
	struct fx f;
	uint64_t refused, u;

	fx_up(&f);
	ASSERT(!ok_of(ask(&f, "enqueue", ENQ(ACME, FAKE, INST1))));
	ASSERT(!ok_of(ask(&f, "enqueue", ENQ(BETA, FAKE, INST2))));
	ASSERT_EQ_INT(waiting(&f), 0);
	u = untracked(&f, &refused);
	ASSERT_EQ_INT(u, 2);
	ASSERT_EQ_INT(refused, 2);
	/* nor do results, positions or callbacks of invented calls act */
	ASSERT(!ok_of(ask(&f, "result", "\"instance\":\"" INST1 "\",\"call\":\"" FAKE "\","
	                  "\"tenant\":\"" ACME "\",\"result\":\"abandoned\"")));
	ASSERT(!ok_of(ask(&f, "position", "\"instance\":\"" INST1 "\",\"call\":\"" FAKE "\","
	                  "\"tenant\":\"" ACME "\"")));
	ASSERT(!ok_of(ask(&f, "callback", "\"instance\":\"" INST1 "\",\"call\":\"" FAKE "\","
	                  "\"tenant\":\"" ACME "\",\"number\":\"+8613800000001\"")));
	ASSERT_EQ_INT(untracked(&f, &refused), 5);

	/* a followed call: its tenant and instance only */
	rt_media_sent(f.media, CALL1, ACME, INST1, "sip-1");
	ASSERT(!ok_of(ask(&f, "enqueue", ENQ(BETA, CALL1, INST1))));
	ASSERT(!ok_of(ask(&f, "enqueue", ENQ(ACME, CALL1, INST2))));
	ASSERT_EQ_INT(waiting(&f), 0);
	ASSERT(ok_of(ask(&f, "enqueue", ENQ(ACME, CALL1, INST1))));
	ASSERT_EQ_INT(waiting(&f), 1);
	ASSERT_EQ_INT(untracked(&f, &refused), 5);
	/* a followed call's own refusals come after: the queue */
	rt_media_sent(f.media, CALL2, ACME, INST1, "sip-2");
	json_t *ans = ask(&f, "enqueue", "\"instance\":\"" INST1 "\",\"call\":\"" CALL2 "\","
	                  "\"tenant\":\"" ACME "\",\"queue\":\"nosuch\"");

	ASSERT_EQ_STR(json_string_value(json_object_get(ans, "why")), "no such queue");
	json_decref(ans);
	fx_down(&f);
}

/* after a restart routingd follows no call, but the ACD's entries (from
 * the journal) say whose they are: the entry's tenant and instance, the
 * instance alive, act; nothing else */
TEST(untracked_held_call_acts_only_as_its_own)
{
	struct fx f;
	uint64_t refused;

	fx_up(&f);
	rt_media_sent(f.media, CALL1, ACME, INST1, "sip-1");
	ASSERT(ok_of(ask(&f, "enqueue", ENQ(ACME, CALL1, INST1))));
	rt_media_ended(f.media, CALL1);              /* as if routingd restarted */
	/* mediad's retry, as a new request: the same entry */
	ASSERT(ok_of(ask(&f, "enqueue", ENQ(ACME, CALL1, INST1))));
	ASSERT(!ok_of(ask(&f, "enqueue", ENQ(ACME, CALL1, INST2))));
	ASSERT(!ok_of(ask(&f, "enqueue", ENQ(BETA, CALL1, INST1))));
	ASSERT_EQ_INT(waiting(&f), 1);
	ASSERT(ok_of(ask(&f, "position", "\"instance\":\"" INST1 "\",\"call\":\"" CALL1 "\","
	                 "\"tenant\":\"" ACME "\"")));
	ASSERT(!ok_of(ask(&f, "position", "\"instance\":\"" INST2 "\",\"call\":\"" CALL1 "\","
	                  "\"tenant\":\"" ACME "\"")));
	ASSERT(!ok_of(ask(&f, "position", "\"call\":\"" CALL1 "\",\"tenant\":\"" ACME "\"")));
	ASSERT(!ok_of(ask(&f, "callback", "\"instance\":\"" INST2 "\",\"call\":\"" CALL1 "\","
	                  "\"tenant\":\"" ACME "\",\"number\":\"+8613800000001\"")));
	/* another instance cannot end it */
	ASSERT(!ok_of(ask(&f, "result", "\"instance\":\"" INST2 "\",\"call\":\"" CALL1 "\","
	                  "\"tenant\":\"" ACME "\",\"result\":\"abandoned\"")));
	ASSERT(!ok_of(ask(&f, "result", "\"call\":\"" CALL1 "\",\"tenant\":\"" ACME "\","
	                  "\"result\":\"abandoned\"")));
	ASSERT_EQ_INT(waiting(&f), 1);
	ASSERT_EQ_INT(untracked(&f, &refused), 7);
	json_t *ans = ask(&f, "callback", "\"instance\":\"" INST1 "\",\"call\":\"" CALL1 "\","
	                  "\"tenant\":\"" ACME "\",\"number\":\"+1900; DROP\"");

	ASSERT_EQ_STR(json_string_value(json_object_get(ans, "why")), "not a number");
	json_decref(ans);
	/* its own instance, alive: it can; once INST1 is silent, nothing of it
	 * and no answer (just after a restart the instance may not have been
	 * heard from yet: mediad's retry is answered after its heartbeat) */
	ASSERT(ok_of(ask(&f, "callback", "\"instance\":\"" INST1 "\",\"call\":\"" CALL1 "\","
	                 "\"tenant\":\"" ACME "\",\"number\":\"+8613800000001\"")));
	beat(f.media, "h3", INST2, "127.0.0.1:5092", 3500);
	rt_media_check(f.media, 4500);               /* INST1 silent 3.5 s: lost */
	ASSERT(!rt_acdrpc_apply(f.r, RT_ACD_PREFIX "result", "{\"id\":\"late-1\",\"instance\":\""
	                        INST1 "\",\"call\":\"" CALL1 "\",\"tenant\":\"" ACME "\","
	                        "\"result\":\"abandoned\"}"));
	ASSERT(!rt_acdrpc_apply(f.r, RT_ACD_PREFIX "result", "{\"id\":\"late-1\",\"instance\":\""
	                        INST1 "\",\"call\":\"" CALL1 "\",\"tenant\":\"" ACME "\","
	                        "\"result\":\"abandoned\"}"));  /* nothing cached either */
	ASSERT_EQ_INT(waiting(&f), 1);
	ASSERT_EQ_INT(untracked(&f, &refused), 7);
	fx_down(&f);
}

static void position_id(struct fx *f, const char *id)
{
	char text[256];

	snprintf(text, sizeof(text), "{\"id\":\"%s\",\"instance\":\"" INST1 "\",\"call\":\""
	         FAKE "\",\"tenant\":\"" ACME "\"}", id);
	json_decref(rt_acdrpc_apply(f->r, RT_ACD_PREFIX "position", text));
}

/* issue 14: the answers kept by id had no bound; a flood of distinct ids
 * keeps at most RT_ACD_CACHE_MAX, the oldest evicted first */
TEST(answer_cache_bounded)
{
	struct fx f;
	struct rt_acdrpc_stats st;
	struct acd_stats as;
	char id[32];
	int n = RT_ACD_CACHE_MAX + 1000;

	fx_up(&f);
	for (int i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "flood-%d", i);
		position_id(&f, id);
	}
	rt_acdrpc_stats(f.r, &st, &as);
	ASSERT_EQ_INT(st.cached, RT_ACD_CACHE_MAX);
	ASSERT_EQ_INT(st.cache_evicted, n + 2 - RT_ACD_CACHE_MAX); /* + fx_up's two state changes */
	ASSERT_EQ_INT(st.retries_in, 0);
	/* the newest is still answered from the cache, the oldest applied again */
	uint64_t applied = st.requests;

	snprintf(id, sizeof(id), "flood-%d", n - 1);
	position_id(&f, id);
	rt_acdrpc_stats(f.r, &st, &as);
	ASSERT_EQ_INT(st.retries_in, 1);
	ASSERT_EQ_INT(st.requests, applied);
	position_id(&f, "flood-0");
	rt_acdrpc_stats(f.r, &st, &as);
	ASSERT_EQ_INT(st.retries_in, 1);
	ASSERT_EQ_INT(st.requests, applied + 1);
	ASSERT_EQ_INT(st.cached, RT_ACD_CACHE_MAX);
	fx_down(&f);
}

/* issue 16: an agent's desktop acts on the call the agent holds, never on
 * a colleague's (tenantd names the agent of an agent's key); its state
 * says how many wait in its queues, and no caller's number */
TEST(agent_acts_on_its_own_call_only)
{
	struct fx f;
	json_t *ans, *ag;

	fx_up(&f);
	rt_media_sent(f.media, CALL1, ACME, INST1, "sip-1");
	ASSERT(ok_of(ask(&f, "enqueue", ENQ(ACME, CALL1, INST1))));
	ans = ask(&f, "agent", "\"tenant\":\"" ACME "\",\"extension\":\"1001\"");
	ag = json_object_get(ans, "agent");
	ASSERT_EQ_INT(json_integer_value(json_object_get(json_object_get(ag, "waiting"), "repair")), 1);
	ASSERT_EQ_STR(json_string_value(json_array_get(json_object_get(ag, "queues"), 0)), "repair");
	ASSERT(!json_object_get(ag, "until"));
	char *dump = json_dumps(ag, JSON_COMPACT);

	ASSERT(dump && !strstr(dump, "+8613800000001"));   /* no caller's number */
	free(dump);
	json_decref(ans);
	/* 1001 holds no call: hold, transfer and the consult's end are refused */
	static const char *const ops[] = { "hold", "unhold", "complete", "cancel" };
	for (size_t i = 0; i < 4; i++) {
		ans = ask(&f, "call", "\"tenant\":\"" ACME "\",\"call\":\"" CALL1 "\",\"op\":\"%s\","
		          "\"agent\":\"1001\"", ops[i]);
		ASSERT(!json_is_true(json_object_get(ans, "ok")));
		ASSERT_EQ_INT(json_integer_value(json_object_get(ans, "status")), 404);
		ASSERT_EQ_STR(json_string_value(json_object_get(ans, "message")), "no such call");
		json_decref(ans);
	}
	ans = ask(&f, "call", "\"tenant\":\"" ACME "\",\"call\":\"" CALL1 "\",\"op\":\"transfer\","
	          "\"agent\":\"1002\",\"target\":{\"type\":\"agent\",\"name\":\"1002\"}");
	ASSERT_EQ_INT(json_integer_value(json_object_get(ans, "status")), 404);
	json_decref(ans);
	/* an admin's key names no agent: the request goes to mediad (answered later) */
	ASSERT(!rt_acdrpc_apply(f.r, RT_ACD_PREFIX "call", "{\"id\":\"adm-1\",\"tenant\":\"" ACME
	                        "\",\"call\":\"" CALL1 "\",\"op\":\"hold\"}"));
	fx_down(&f);
}

TEST_LIST(T(invented_callers_refused), T(untracked_held_call_acts_only_as_its_own),
          T(answer_cache_bounded), T(agent_acts_on_its_own_call_only))
