/* libFuzzer target: routingd's decision on hostile callers and callees.
 * The input is split at NULs into kind, from user and to user (what
 * Kamailio passes on from a SIP request); the model is two tenants as in
 * the unit tests. A decision must never cross tenants: an agent call is
 * decided within its own tenant, and every string field stays terminated. */
#include "cc.h"
#include "decide.h"
#include "model.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ACME "aaaaaaaa-0000-4000-8000-000000000001"
#define TRUNK "tttttttt-0000-4000-8000-000000000001"

static struct rt_model *model;

static struct rt_model *fixture(void)
{
	struct rt_model *m = rt_model_new();
	struct rt_tenant *a = rt_model_add_tenant(m, ACME, "acme", "acme.cc.test", true);
	struct rt_tenant *b = rt_model_add_tenant(m, "bbbbbbbb-0000-4000-8000-000000000002", "beta",
	                                          "beta.cc.test", true);

	rt_model_add_agent(a, "1001");
	rt_model_add_agent(b, "1001");
	rt_model_add_number(m, "+8657112345678", a, "1001");
	rt_model_add_number(m, "+8610000000001", b, "1001");
	rt_model_add_block(a, "+8613900000666", NULL);
	rt_model_add_block(a, NULL, "86150");
	rt_model_add_refused(m, NULL, "900");
	rt_model_add_trunk(m, TRUNK, "carrier1", "127.0.0.1:16500");
	a->pstn_without_plan = true;
	rt_model_set_cli(a, "+8657112345678");
	return m;
}

static int terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 3), *from, *to;
	struct rt_decision d;

	if (!model)
		model = fixture();
	memcpy(buf, data, size);
	buf[size] = buf[size + 1] = buf[size + 2] = '\0';
	from = buf + strlen(buf) + 1;
	if (from > buf + size)
		from = buf + size + 1;
	to = from + strlen(from) + 1;
	if (to > buf + size + 1)
		to = buf + size + 2;

	struct rt_request q = { RT_CARRIER, TRUNK, "", from, to, NULL, NULL };
	enum rt_kind kind;

	if (rt_kind_parse(buf, &kind) == CC_OK) {
		q.kind = kind;
		if (kind == RT_AGENT)
			q.tenant = ACME;
	}
	memset(&d, 0x5a, sizeof(d));
	rt_decide(model, &q, &d);
	if (!terminated(d.uri, sizeof(d.uri)) || !terminated(d.from, sizeof(d.from)) ||
	    !terminated(d.to, sizeof(d.to)) || !terminated(d.agent, sizeof(d.agent)) ||
	    !terminated(d.cli, sizeof(d.cli)) || !terminated(d.number, sizeof(d.number)))
		abort();
	/* an agent of acme is never routed into beta */
	if (q.kind == RT_AGENT && d.tenant && strcmp(d.tenant->id, ACME) != 0)
		abort();
	free(buf);
	return 0;
}
