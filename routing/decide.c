/* decide.c: see decide.h. */
#include "decide.h"
#include "cc.h"
#include "model.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

const char *rt_direction_name(enum rt_direction d)
{
	switch (d) {
	case RT_INBOUND: return "inbound";
	case RT_OUTBOUND: return "outbound";
	case RT_INTERNAL: return "internal";
	}
	return "?";
}

int rt_kind_parse(const char *s, enum rt_kind *kind)
{
	if (strcmp(s, "carrier") == 0)
		*kind = RT_CARRIER;
	else if (strcmp(s, "agent") == 0)
		*kind = RT_AGENT;
	else if (strcmp(s, "media") == 0)
		*kind = RT_MEDIA_LEG;
	else
		return CC_ERROR;
	return CC_OK;
}

static int hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int rt_caller_digits(const char *user, char out[CC_E164_MAX])
{
	static const char *const withheld[] = { "anonymous", "unknown", "unavailable",
	                                        "restricted", "private", "withheld" };
	char buf[64];
	size_t n = 0;

	/* percent-decoded, up to the first URI parameter (";isub=1") */
	for (const char *p = user; *p; p++) {
		char c = *p;

		if (c == '%') {
			int hi = hex(p[1]), lo = hi < 0 ? -1 : hex(p[2]);

			if (lo < 0)
				return CC_ERROR;
			c = (char)(hi * 16 + lo);
			p += 2;
		}
		if (c == ';')
			break;
		if (c == '\0' || n + 1 >= sizeof(buf))
			return CC_ERROR;
		buf[n++] = c;
	}
	buf[n] = '\0';
	if (!n)
		return CC_DECLINED;
	for (size_t i = 0; i < CC_ARRAY_LEN(withheld); i++)
		if (strcasecmp(buf, withheld[i]) == 0)
			return CC_DECLINED;
	return cc_e164_from_sip(buf, n, out);
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
	/* the block list must not fail open on a caller it cannot read */
	switch (rt_caller_digits(req->from_user, from)) {
	case CC_OK:
		snprintf(d->from, sizeof(d->from), "+%s", from);
		snprintf(d->caller, sizeof(d->caller), "+%s", from);
		if (rt_tenant_blocks(n->tenant, from))
			return reject(d, 603, "Decline");
		break;
	case CC_DECLINED: /* withheld: nothing to match */
		break;
	default:
		if (!n->tenant->allow_unparseable)
			return reject(d, 603, "Unreadable Caller Number");
	}
	if (n->to_flow || n->to_queue) {
		if (n->to_flow && !n->flow[0])
			return reject(d, 404, "Not Found");      /* the flow is gone */
		if (!req->media)
			return reject(d, 503, "Media Server Unavailable");
		if (n->to_flow)
			snprintf(d->flow, sizeof(d->flow), "%s", n->flow);
		else
			snprintf(d->queue, sizeof(d->queue), "%s", n->queue);
		if (snprintf(d->domain, sizeof(d->domain), "%s", n->tenant->sip_domain) >=
		    (int)sizeof(d->domain))
			return reject(d, 500, "Server Error");
		d->action = RT_MEDIA;
		if (snprintf(d->uri, sizeof(d->uri), "sip:+%s@%s", n->digits, req->media) >=
		    (int)sizeof(d->uri))
			return reject(d, 500, "Server Error");
		return;
	}
	snprintf(d->agent, sizeof(d->agent), "%s", n->extension);
	if (!cc_map_get(&n->tenant->agents, n->extension))
		return reject(d, 480, "Temporarily Unavailable");
	d->action = RT_RING_AGENT;
	if (snprintf(d->uri, sizeof(d->uri), "sip:%s@%s", n->extension, n->tenant->sip_domain) >=
	    (int)sizeof(d->uri))
		return reject(d, 500, "Server Error");  /* a cut URI would ring another host */
}

/* An agent's call, or a leg mediad places for the tenant (media: no agent
 * calls, so no agent's caller ID). */
static void decide_agent(const struct rt_model *m, const struct rt_request *req,
                         struct rt_decision *d, bool media)
{
	const struct rt_tenant *t = cc_map_get(&m->tenants, req->tenant);
	char digits[CC_E164_MAX];

	snprintf(d->from, sizeof(d->from), "%s", req->from_user);
	snprintf(d->to, sizeof(d->to), "%s", req->to_user);
	if (!media)
		snprintf(d->agent, sizeof(d->agent), "%s", req->from_user);
	d->direction = RT_INTERNAL;
	if (!t || !t->enabled)
		return reject(d, 403, "Forbidden");
	d->tenant = t;
	if (cc_map_get(&t->agents, req->to_user)) {
		d->action = RT_RING_AGENT;
		if (snprintf(d->uri, sizeof(d->uri), "sip:%s@%s", req->to_user, t->sip_domain) >=
		    (int)sizeof(d->uri))
			return reject(d, 500, "Server Error");
		return;
	}
	/* mediad asked for an agent: an agent or nothing */
	if (media && req->leg && (!strcmp(req->leg, "agent") || !strcmp(req->leg, "acd")))
		return reject(d, 404, "Not Found");
	d->direction = RT_OUTBOUND;
	/* "+CC..." or a long all-digit string is a PSTN number */
	if ((req->to_user[0] != '+' && strlen(req->to_user) < 8) ||
	    cc_e164_from_sip(req->to_user, strlen(req->to_user), digits) != CC_OK ||
	    strlen(digits) < 8)
		return reject(d, 404, "Not Found");
	snprintf(d->to, sizeof(d->to), "+%s", digits);
	if (rt_refuses_destination(m, t, digits))
		return reject(d, 403, "Destination Not Allowed");
	if (!t->plan && !t->pstn_without_plan)
		return reject(d, 403, "PSTN Not Enabled");
	const struct rt_agent *a = media ? NULL : cc_map_get(&t->agents, req->from_user);
	const char *cli = a && a->cli[0] ? a->cli : t->cli;

	if (!cli[0])
		return reject(d, 403, "No Caller ID");
	if (!m->outbound)
		return reject(d, 503, "No Outbound Trunk");
	snprintf(d->cli, sizeof(d->cli), "%s", cli);
	snprintf(d->number, sizeof(d->number), "%s", cli);
	d->action = RT_PSTN;
	if (snprintf(d->uri, sizeof(d->uri), "sip:+%s@%s", digits, m->outbound->outbound) >=
	    (int)sizeof(d->uri))
		return reject(d, 500, "Server Error");
}

void rt_decide(const struct rt_model *m, const struct rt_request *req, struct rt_decision *d)
{
	memset(d, 0, sizeof(*d));
	if (req->kind == RT_CARRIER)
		decide_carrier(m, req, d);
	else
		decide_agent(m, req, d, req->kind == RT_MEDIA_LEG);
}
