/*
 * decide.h: the per-call routing decision, a pure function of the model
 * and the request (no I/O), so it is unit-tested and benchmarked alone.
 *
 * Carrier call (recognised by Kamailio from its source address):
 *   unknown number or disabled tenant -> 404; caller on the tenant's block
 *   list -> 603; number's agent missing -> 480; else ring the agent
 *   (Kamailio answers 480 if the agent is not registered).
 * Agent call (authenticated by Kamailio in its tenant's domain):
 *   an extension of the same tenant -> that agent; an E.164 number -> the
 *   carrier's outbound with the tenant's first number as caller ID;
 *   nothing else (404).
 */
#ifndef RT_DECIDE_H
#define RT_DECIDE_H

#include "model-t.h"

enum rt_kind { RT_CARRIER, RT_AGENT };

struct rt_request {
	enum rt_kind kind;
	const char *trunk;       /* trunk id (carrier calls) */
	const char *tenant;      /* tenant id (agent calls, from authentication) */
	const char *from_user;   /* caller: E.164 from a carrier, extension from an agent */
	const char *to_user;     /* Request-URI user */
};

enum rt_action { RT_REJECT, RT_RING_AGENT, RT_PSTN };

enum rt_direction { RT_INBOUND, RT_OUTBOUND, RT_INTERNAL };

struct rt_decision {
	enum rt_action action;
	enum rt_direction direction;
	int code;                          /* SIP code when rejected */
	const char *reason;                /* reason phrase when rejected */
	const struct rt_tenant *tenant;    /* NULL if no tenant owns the call */
	char uri[160];                     /* where to send it */
	char number[CC_E164_MAX + 1];      /* the tenant's number involved, "+..." */
	char from[CC_E164_MAX + 12];       /* caller, normalised where possible */
	char to[CC_E164_MAX + 12];         /* callee, normalised where possible */
	char agent[12];                    /* agent extension involved */
	char cli[CC_E164_MAX + 1];         /* caller ID for PSTN calls */
};

void rt_decide(const struct rt_model *m, const struct rt_request *req, struct rt_decision *d);

const char *rt_direction_name(enum rt_direction d);

#endif
