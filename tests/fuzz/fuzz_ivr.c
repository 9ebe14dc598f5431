/* libFuzzer target: the IVR runner (media/ivr.c) driven by hostile input
 * sequences. The first bytes up to a NUL are a flow (JSON; if it does not
 * parse, a fixed example is used), the rest a script: each byte picks an
 * input (start, a key or any byte as a digit, played, timeout, answered,
 * failed, flow, no flow) and a clock step. Every output must fit, name
 * its node, point its prompts into the flow, and the run must stay at a
 * node of its flow; after it is done nothing more comes out. */
#include "cc.h"
#include "flow.h"
#include "ivr.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char EXAMPLE[] =
	"{\"start\":\"hours\",\"nodes\":{"
	"\"hours\":{\"type\":\"schedule\",\"open\":\"welcome\",\"closed\":\"closed\","
	"\"week\":{\"mon-fri\":[\"08:30-18:00\"],\"sat\":[\"09:00-12:00\"]},\"holidays\":[\"2026-10-01\"]},"
	"\"welcome\":{\"type\":\"menu\",\"prompt\":\"welcome\",\"timeout_s\":5,\"retries\":2,"
	"\"options\":{\"1\":\"repair\",\"2\":\"claims_info\",\"3\":\"acct\",\"4\":\"g\",\"0\":\"desk\"},"
	"\"default\":\"desk\"},"
	"\"claims_info\":{\"type\":\"play\",\"prompts\":[\"claims\",\"more\"],\"next\":\"welcome\"},"
	"\"acct\":{\"type\":\"collect\",\"prompt\":\"acct\",\"var\":\"acct\",\"min_digits\":2,"
	"\"max_digits\":6,\"next\":\"q\",\"default\":\"welcome\"},"
	"\"q\":{\"type\":\"queue\",\"queue\":\"s\",\"fallback\":\"repair\"},"
	"\"g\":{\"type\":\"goto\",\"flow\":\"other\"},"
	"\"repair\":{\"type\":\"agent\",\"extension\":\"1001\",\"next\":\"n\"},"
	"\"n\":{\"type\":\"number\",\"number\":\"+8675512345678\",\"next\":\"desk\"},"
	"\"desk\":{\"type\":\"agent\",\"extension\":\"1000\"},"
	"\"closed\":{\"type\":\"play\",\"prompts\":[\"closed\"],\"interruptible\":false,\"next\":\"bye\"},"
	"\"bye\":{\"type\":\"hangup\"}}}";

static struct cc_flow *parse(const char *text, size_t len)
{
	json_t *doc = json_loadb(text, len, 0, NULL);
	struct cc_flow *f = NULL;
	struct cc_flow_error err;

	if (doc)
		cc_flow_parse(doc, &f, &err);
	json_decref(doc);
	return f;
}

static bool in_flow(const struct cc_flow *f, const void *p)
{
	const char *c = p;

	for (size_t i = 0; i < f->n_nodes; i++) {
		const struct cc_flow_node *n = &f->nodes[i];

		if (c >= (const char *)n && c < (const char *)(n + 1))
			return true;
		if (n->prompts && c >= (const char *)n->prompts &&
		    c < (const char *)(n->prompts + n->n_prompts))
			return true;
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	struct cc_flow *mine = nul ? parse((const char *)data, (size_t)(nul - data)) : NULL;
	struct cc_flow *example = parse(EXAMPLE, sizeof(EXAMPLE) - 1), *f = mine ? mine : example;
	const uint8_t *s = nul ? nul + 1 : data, *end = data + size;
	struct ivr_run r;
	struct ivr_out out;
	time_t now = 1796176800;          /* a Wednesday, 10:00 in Shanghai */

	if (!example)
		abort();
	ivr_init(&r, f, "Asia/Shanghai");
	for (; s + 1 < end; s += 2) {
		static const enum ivr_input ins[] = { IVR_START, IVR_DIGIT, IVR_DIGIT, IVR_DIGIT,
		                                      IVR_PLAYED, IVR_TIMEOUT, IVR_ANSWERED, IVR_FAILED,
		                                      IVR_FLOW, IVR_NO_FLOW };
		enum ivr_input in = ins[s[0] % CC_ARRAY_LEN(ins)];
		char digit = (char)(s[0] & 1 ? CC_FLOW_DIGITS[s[1] % 16] : s[1]);
		const struct cc_flow *loaded = s[1] & 1 ? f : example;
		bool was_done = ivr_done(&r);

		now += s[1] >> 4;
		ivr_on(&r, in, digit, loaded, now, &out);
		if (out.n > IVR_MAX_ACTIONS || (was_done && out.n))
			abort();
		if (in == IVR_FLOW && r.flow != f && r.flow != example)
			abort();
		for (size_t i = 0; i < out.n; i++) {
			const struct ivr_action *a = &out.a[i];

			if (a->type == IVR_ACT_EVENT && (!a->node || !a->node_type || !in_flow(r.flow, a->node)))
				abort();
			if (a->type == IVR_ACT_PLAY && (!a->n_prompts || !in_flow(r.flow, a->prompts)))
				abort();
			if ((a->type == IVR_ACT_RING || a->type == IVR_ACT_DIAL || a->type == IVR_ACT_LOAD) &&
			    (!a->target || !in_flow(r.flow, a->target)))
				abort();
			if (a->type == IVR_ACT_TIMER && (a->ms < 0 || a->ms > 60000))
				abort();
		}
		if (r.node != CC_FLOW_NO_NODE && (r.node < 0 || (size_t)r.node >= r.flow->n_nodes))
			abort();
		if (r.n_digits >= IVR_VAR_MAX || r.n_vars > IVR_MAX_VARS)
			abort();
	}
	cc_flow_free(mine);
	cc_flow_free(example);
	return 0;
}
