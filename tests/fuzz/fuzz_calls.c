/* libFuzzer target: routingd's handling of Kamailio's messages
 * (rt_calls_handle), without NATS: the publisher is a capture.
 *
 * The input is up to 16 messages, one per line, each parsed as evapi.c
 * parses a frame (JSON objects only reach rt_calls_handle); they share one
 * call state (limits), so answered/ended/failed follow questions. The
 * model is the two tenants of fuzz_decide (beta with a limit of one call).
 * For every message:
 *   - every event's subject is cc.call.<tenant>.<type> with <tenant> one
 *     NATS token (no '.', '*', '>', space, control byte: never another
 *     tenant's subject, never a wildcard), equal to the event's tenant
 *     ("_" when it has none: ""), and <type> the event's type;
 *   - a question (integers ti and tl, an object q) always gets a reply,
 *     which carries its ti and tl; nothing else gets one, and only
 *     questions and reports (ev) publish events;
 *   - a question of unknown kind is refused (reject 403) with no events;
 *   - an agent's question is never decided in another tenant;
 *   - at most two events per message (offered + routed/rejected).
 */
#include "calls.h"
#include "cc.h"
#include "decide.h"
#include "limits.h"
#include "log.h"
#include "media.h"
#include "model.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ACME "aaaaaaaa-0000-4000-8000-000000000001"
#define BETA "bbbbbbbb-0000-4000-8000-000000000002"
#define TRUNK "tttttttt-0000-4000-8000-000000000001"

static struct rt_model *model;
static int n_events;

static struct rt_model *fixture(void)
{
	struct rt_model *m = rt_model_new();
	struct rt_tenant *a = rt_model_add_tenant(m, ACME, "acme", "acme.cc.test", true);
	struct rt_tenant *b = rt_model_add_tenant(m, BETA, "beta", "beta.cc.test", true);

	rt_model_add_agent(a, "1001");
	rt_model_add_agent(b, "1001");
	rt_model_add_number(m, "+8657112345678", a, "1001");
	rt_model_add_number(m, "+8610000000001", b, "1001");
	rt_model_add_flow_number(m, "+8657199990001", a, "f1000000-0000-4000-8000-000000000001");
	rt_model_add_block(a, "+8613900000666", NULL);
	rt_model_add_refused(m, NULL, "900");
	rt_model_add_trunk(m, TRUNK, "carrier1", "127.0.0.1:16500");
	a->pstn_without_plan = true;
	b->pstn_without_plan = true;
	b->limits.max_calls = 1;
	b->limits.max_cps = 2;
	rt_model_set_cli(a, "+8657112345678");
	return m;
}

/* one token of a NATS subject: what a subscriber to cc.call.<t>.> gets */
static bool token(const char *s, size_t n)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '.' || s[i] == '*' || s[i] == '>' || (unsigned char)s[i] <= ' ' ||
		    s[i] == 0x7f)
			return false;
	return true;
}

static int capture(struct cc_events *events, const char *subject, json_t *ev)
{
	const char *tenant = json_string_value(json_object_get(ev, "tenant"));
	const char *type = json_string_value(json_object_get(ev, "type"));
	const char *t, *dot;

	(void)events;
	n_events++;
	if (!type || !json_is_string(json_object_get(ev, "call")))
		abort();
	if (!tenant)
		abort();
	if (strncmp(subject, "cc.call.", 8) != 0)
		abort();
	t = subject + 8;
	dot = strchr(t, '.');
	if (!dot || !token(t, (size_t)(dot - t)) || strcmp(dot + 1, type) != 0)
		abort();
	if (*tenant ? strlen(tenant) != (size_t)(dot - t) || strncmp(t, tenant, strlen(tenant)) != 0
	            : dot - t != 1 || t[0] != '_')
		abort();
	json_decref(ev);
	return CC_OK;
}

static void one(struct rt_calls *c, const char *text, size_t len)
{
	json_error_t jerr;
	json_t *msg = json_loadb(text, len, 0, &jerr), *reply;
	const json_t *q;
	bool question;

	if (!msg || !json_is_object(msg)) {         /* evapi.c drops these */
		json_decref(msg);
		return;
	}
	q = json_object_get(msg, "q");
	question = json_is_integer(json_object_get(msg, "ti")) &&
	           json_is_integer(json_object_get(msg, "tl")) && json_is_object(q);
	n_events = 0;
	reply = rt_calls_handle(c, msg);
	rt_calls_flush(c);                          /* events go out after the answer */
	if (n_events > 2)
		abort();
	if (reply) {
		const char *action = json_string_value(json_object_get(reply, "action"));
		const char *tenant = json_string_value(json_object_get(reply, "tenant"));
		const char *kind = json_string_value(json_object_get(q, "kind"));
		enum rt_kind k;

		if (!question)
			abort();
		if (!json_equal(json_object_get(reply, "ti"), json_object_get(msg, "ti")) ||
		    !json_equal(json_object_get(reply, "tl"), json_object_get(msg, "tl")))
			abort();
		if (!action || !tenant)
			abort();
		if (!kind || rt_kind_parse(kind, &k) != CC_OK) {
			if (strcmp(action, "reject") != 0 ||
			    json_integer_value(json_object_get(reply, "code")) != 403 || n_events)
				abort();
		} else if (k == RT_AGENT && *tenant &&
		           !json_equal(json_object_get(reply, "tenant"), json_object_get(q, "tenant"))) {
			abort();
		}
		json_decref(reply);
	} else if (question) {
		abort();                            /* a question left unanswered */
	} else if (n_events && !json_is_string(json_object_get(msg, "ev"))) {
		abort();                            /* events from what is no question or report */
	}
	json_decref(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rt_calls c = { 0 };
	const char *p = (const char *)data, *end = p + size;

	if (!model) {
		model = fixture();
		cc_log_level = CC_LOG_ERR;   /* the refusals' warnings */
	}
	c.model = &model;
	c.publish = capture;
	rt_limits_init(&c.limits);
	/* a mediad alive: flow calls, legs and their ends reach media.c */
	c.media = rt_media_new(NULL, NULL, NULL, 3000);
	json_t *hb = json_pack("{s:s, s:s, s:s}", "id", "h", "instance",
	                       "11111111-0000-4000-8000-000000000001", "sip", "127.0.0.1:5090");
	json_decref(rt_media_heartbeat(c.media, hb, 1000));
	json_decref(hb);
	for (int i = 0; i < 16 && p < end; i++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		one(&c, p, n);
		p += n + 1;
	}
	rt_media_free(c.media);
	rt_limits_free(&c.limits);
	return 0;
}
