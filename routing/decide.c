/* decide.c: see decide.h. */
#include "decide.h"
#include "cc.h"
#include "model.h"

#include <stdio.h>
#include <string.h>

const char *rt_direction_name(enum rt_direction d)
{
	switch (d) {
	case RT_INBOUND: return "inbound";
	case RT_OUTBOUND: return "outbound";
	case RT_INTERNAL: return "internal";
	}
	return "?";
}

static void reject(struct rt_decision *d, int code, const char *reason)
{
	d->action = RT_REJECT;
	d->code = code;
	d->reason = reason;
}

static void decide_carrier(const struct rt_model *m, const struct rt_request *req,
                           struct rt_decision *d)
{
	char to[CC_E164_MAX], from[CC_E164_MAX];
	const struct rt_number *n;

	d->direction = RT_INBOUND;
	snprintf(d->to, sizeof(d->to), "%s", req->to_user);
	snprintf(d->from, sizeof(d->from), "%s", req->from_user);
	if (cc_e164_from_sip(req->to_user, strlen(req->to_user), to) != CC_OK ||
	    !(n = cc_map_get(&m->numbers, to)) || !n->tenant->enabled)
		return reject(d, 404, "Not Found");
	d->tenant = n->tenant;
	snprintf(d->number, sizeof(d->number), "+%s", n->digits);
	snprintf(d->to, sizeof(d->to), "+%s", n->digits);
	if (cc_e164_from_sip(req->from_user, strlen(req->from_user), from) == CC_OK) {
		snprintf(d->from, sizeof(d->from), "+%s", from);
		if (rt_tenant_blocks(n->tenant, from))
			return reject(d, 603, "Decline");
	}
	snprintf(d->agent, sizeof(d->agent), "%s", n->extension);
	if (!cc_map_get(&n->tenant->agents, n->extension))
		return reject(d, 480, "Temporarily Unavailable");
	d->action = RT_RING_AGENT;
	snprintf(d->uri, sizeof(d->uri), "sip:%s@%s", n->extension, n->tenant->sip_domain);
}

static void decide_agent(const struct rt_model *m, const struct rt_request *req,
                         struct rt_decision *d)
{
	const struct rt_tenant *t = cc_map_get(&m->tenants, req->tenant);
	char digits[CC_E164_MAX];

	snprintf(d->from, sizeof(d->from), "%s", req->from_user);
	snprintf(d->to, sizeof(d->to), "%s", req->to_user);
	snprintf(d->agent, sizeof(d->agent), "%s", req->from_user);
	d->direction = RT_INTERNAL;
	if (!t || !t->enabled)
		return reject(d, 403, "Forbidden");
	d->tenant = t;
	if (cc_map_get(&t->agents, req->to_user)) {
		d->action = RT_RING_AGENT;
		snprintf(d->uri, sizeof(d->uri), "sip:%s@%s", req->to_user, t->sip_domain);
		return;
	}
	d->direction = RT_OUTBOUND;
	/* "+CC..." or a long all-digit string is a PSTN number */
	if ((req->to_user[0] != '+' && strlen(req->to_user) < 8) ||
	    cc_e164_from_sip(req->to_user, strlen(req->to_user), digits) != CC_OK ||
	    strlen(digits) < 8)
		return reject(d, 404, "Not Found");
	snprintf(d->to, sizeof(d->to), "+%s", digits);
	if (!t->cli[0])
		return reject(d, 403, "No Caller ID");
	if (!m->outbound)
		return reject(d, 503, "No Outbound Trunk");
	snprintf(d->cli, sizeof(d->cli), "%s", t->cli);
	snprintf(d->number, sizeof(d->number), "%s", t->cli);
	d->action = RT_PSTN;
	snprintf(d->uri, sizeof(d->uri), "sip:+%s@%s", digits, m->outbound->outbound);
}

void rt_decide(const struct rt_model *m, const struct rt_request *req, struct rt_decision *d)
{
	memset(d, 0, sizeof(*d));
	if (req->kind == RT_CARRIER)
		decide_carrier(m, req, d);
	else
		decide_agent(m, req, d);
}
