/*
 * decide.h: the per-call routing decision, a pure function of the model
 * and the request (no I/O), so it is unit-tested and benchmarked alone.
 *
 * Carrier call (recognised by Kamailio from its source address):
 *   unknown number (or one with no tenant or no target) or disabled
 *   tenant -> 404; caller on the tenant's block list -> 603 "Decline";
 *   a caller number that cannot be read even after percent-decoding and
 *   dropping URI parameters, at a tenant whose unparseable_callers is
 *   "refuse" -> 603 "Unreadable Caller Number" (withheld callers,
 *   "anonymous" and the like, are not unreadable: they pass);
 *   number's agent missing -> 480; else ring the agent (Kamailio answers
 *   480 if the agent is not registered).
 * Agent call (authenticated by Kamailio in its tenant's domain):
 *   an extension of the same tenant -> that agent; an E.164 number -> the
 *   carrier's outbound, unless: a refused destination prefix (the
 *   platform's or the tenant's) -> 403 "Destination Not Allowed"; no
 *   billing plan and no pstn_without_plan flag -> 403 "PSTN Not Enabled";
 *   no caller ID (the agent's, else the tenant's) -> 403 "No Caller ID"
 *   (a carrier-facing platform presents a number its tenant holds, or
 *   nothing goes out); no outbound trunk -> 503. Nothing else (404).
 * Carrier call to a number whose target is a flow: the checks above, then
 *   the flow gone -> 404; no mediad alive (req->media NULL) -> 503 "Media
 *   Server Unavailable" at once; else RT_MEDIA: to mediad's SIP address
 *   (docs/MEDIA.md), with the flow version to run.
 * Carrier call to a number whose target is a queue: the same, with the
 *   queue's name instead of a flow (mediad queues the caller, docs/ACD.md).
 * Media leg (an INVITE from mediad's address, Kamailio's group 3, for the
 *   caller's call `parent` of tenant `tenant`): the tenant missing or
 *   disabled -> 403; to_user an extension of the tenant -> ring it
 *   (internal); an E.164 number -> PSTN by the agent rules above with no
 *   agent (the tenant's caller ID, its plan or pstn_without_plan);
 *   nothing else -> 404. A leg mediad places for an agent (leg "agent" or
 *   "acd") to a user that is no extension of the tenant is 404, never the
 *   PSTN: an 8-digit "extension" (a REFER's, an agent deleted meanwhile)
 *   is not dialled out.
 */
#ifndef RT_DECIDE_H
#define RT_DECIDE_H

#include "model-t.h"

enum rt_kind { RT_CARRIER, RT_AGENT, RT_MEDIA_LEG };

/* "carrier", "agent" or "media" (Kamailio's question); CC_ERROR for
 * anything else, which must be refused, never taken for an authenticated
 * agent. */
int rt_kind_parse(const char *s, enum rt_kind *kind);

/* The caller's digits from a SIP From user: percent-decoded, cut at the
 * first URI parameter (';'), then as cc_e164_from_sip. CC_OK; CC_DECLINED
 * for a withheld caller (empty, "anonymous", "unknown", "unavailable",
 * "restricted", "private", "withheld"); CC_ERROR when unreadable. */
int rt_caller_digits(const char *user, char out[CC_E164_MAX]);

struct rt_request {
	enum rt_kind kind;
	const char *trunk;       /* trunk id (carrier calls) */
	const char *tenant;      /* tenant id (agent calls, from authentication) */
	const char *from_user;   /* caller: E.164 from a carrier, extension from an agent */
	const char *to_user;     /* Request-URI user */
	const char *media;       /* an alive mediad's SIP host:port, NULL if none (media.h) */
	const char *leg;         /* media legs: X-CC-Leg ("agent", "acd", "pstn"), NULL if none */
};

enum rt_action { RT_REJECT, RT_RING_AGENT, RT_PSTN, RT_MEDIA };

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
	char flow[CC_UUID_LEN];            /* RT_MEDIA: the flow version to run, or "" */
	char queue[64];                    /* RT_MEDIA: the queue the caller waits in, or "" */
	char domain[128];                  /* RT_MEDIA: the tenant's SIP domain (X-CC-Domain) */
	char media[CC_UUID_LEN];           /* RT_MEDIA: the mediad instance (set by calls.c) */
	char caller[CC_E164_MAX + 1];      /* the caller's "+digits" when readable, else "" */
};

void rt_decide(const struct rt_model *m, const struct rt_request *req, struct rt_decision *d);

const char *rt_direction_name(enum rt_direction d);

#endif
