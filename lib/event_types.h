/*
 * event_types.h: every call and agent event type, defined once.
 *
 * CC_EVENT_TYPES is an X-macro (after rtpengine's NG_COMMANDS): one row per
 * type, X(ID, name, kind, flags, what). The enum, the names, the subjects
 * and billingd's checks all come from it, so a type added here is known
 * everywhere at once; docs/EVENTS.md lists the same rows for people, and
 * the unit test `event_types_docs` fails when the two differ.
 *
 *   ID     the enum constant is CC_EV_<ID>
 *   name   the type as it appears in the event's "type" field and as the
 *          last token of its subject
 *   kind   CALL: subject cc.call.<tenant>.<name>, one call record per call
 *          (billingd stores it); AGENT: cc.agent.<tenant>.<name> (the ACD's
 *          agent states, docs/ACD.md)
 *   flags  CC_EVF_FINAL: the call is over with this event (billingd rates
 *          it); CC_EVF_START: the call's first event (its record's start,
 *          From and To)
 *
 * Adding a type: a row here and one in docs/EVENTS.md; billingd then
 * accepts it (an event of a type not listed is skipped and logged).
 */
#ifndef CC_EVENT_TYPES_H
#define CC_EVENT_TYPES_H

#include <stdio.h>
#include <string.h>

#include "cc.h"

#define CC_EVENT_TYPES(X) \
	X(OFFERED,  "offered",  CALL, CC_EVF_START, "a call arrived and was decided (routingd)") \
	X(ROUTED,   "routed",   CALL, 0,            "the decision: an agent or the PSTN, and its credit grant") \
	X(REJECTED, "rejected", CALL, CC_EVF_FINAL, "refused before ringing (routing, limits, credit, lookup)") \
	X(ANSWERED, "answered", CALL, 0,            "the called party answered (Kamailio's dialog start)") \
	X(ENDED,    "ended",    CALL, CC_EVF_FINAL, "the call is over: hung up, or failed after routing") \
	X(IVR,      "ivr",      CALL, 0,            "one step of the call's IVR flow (mediad): node, digit, variable") \
	X(BRIDGED,  "bridged",  CALL, 0,            "mediad connected the caller to an agent or a number") \
	X(AGENT_FAILED, "agent_failed", CALL, 0,    "an agent or number the flow rang did not answer (mediad)") \
	X(MEDIA_ENDED, "media_ended", CALL, 0,      "mediad's end of the call: result, time in IVR, RTCP figures") \
	X(QUEUED, "queued", CALL, 0, "a caller entered an ACD queue: position, expected wait, priority (routingd)") \
	X(OFFERED_AGENT, "offered_agent", CALL, 0, "the ACD offered the caller to an agent (or several, ring-all)") \
	X(AGENT_ANSWERED, "agent_answered", CALL, 0, "an agent took the queued caller: wait, agent, leg") \
	X(ABANDONED, "abandoned", CALL, 0, "the caller hung up while queued or ringing an agent: wait") \
	X(OVERFLOWED, "overflowed", CALL, 0, "the caller left the queue for its overflow (time, size, no agents)") \
	X(CALLBACK_REQUESTED, "callback_requested", CALL, 0, "the waiting caller asked to be called back, keeping the place") \
	X(HELD, "held", CALL, 0, "the agent put the caller on hold (mediad)") \
	X(UNHELD, "unheld", CALL, 0, "the caller is off hold: how long it was held") \
	X(TRANSFERRED, "transferred", CALL, 0, "the agent transferred the call: target, blind or consult") \
	X(DISPOSITION, "disposition", CALL, 0, "the agent's disposition code and note for the call (tenantd)") \
	X(MONITOR_STARTED, "monitor_started", CALL, 0, "a supervisor's phone answered and joined the call: listen, whisper or barge (mediad)") \
	X(MONITOR_MODE, "monitor_mode", CALL, 0, "a supervisor changed mode (the API or its phone's keys 4, 5, 6)") \
	X(MONITOR_ENDED, "monitor_ended", CALL, 0, "a supervisor left the call (hung up, the API, a transfer, the call's end) or never answered") \
	X(LOGGED_OUT, "logged_out", AGENT, 0, "an agent left the ACD (asked, or its phone unregistered)") \
	X(READY, "ready", AGENT, 0, "an agent is ready for ACD offers") \
	X(NOT_READY, "not_ready", AGENT, 0, "an agent paused, with its reason") \
	X(RESERVED, "reserved", AGENT, 0, "the ACD reserved an agent for a caller (epoch, deadline)") \
	X(RINGING, "ringing", AGENT, 0, "an agent's phone rings with an ACD offer") \
	X(ON_CALL, "on_call", AGENT, 0, "an agent is on a call (ACD or any other)") \
	X(WRAPUP, "wrapup", AGENT, 0, "an agent is in after-call work until its deadline")

enum cc_event_kind {
	CC_EVK_CALL,                 /* cc.call.<tenant>.<name> */
	CC_EVK_AGENT,                /* cc.agent.<tenant>.<name> */
};

#define CC_EVF_FINAL 0x1             /* the call is over: rate it */
#define CC_EVF_START 0x2             /* the call's first event */

enum cc_event_type {
#define CC_EV_ENUM(id, name, kind, flags, what) CC_EV_##id,
	CC_EVENT_TYPES(CC_EV_ENUM)
#undef CC_EV_ENUM
	CC_EV__COUNT
};

struct cc_event_info {
	const char *name;            /* "offered" */
	enum cc_event_kind kind;
	unsigned flags;              /* CC_EVF_* */
	const char *what;            /* one line for people (docs/EVENTS.md) */
};

static const struct cc_event_info cc_event_infos[CC_EV__COUNT] = {
#define CC_EV_INFO(id, name, kind, flags, what) [CC_EV_##id] = { name, CC_EVK_##kind, flags, what },
	CC_EVENT_TYPES(CC_EV_INFO)
#undef CC_EV_INFO
};

static inline const char *cc_event_name(enum cc_event_type t)
{
	return (unsigned)t < CC_EV__COUNT ? cc_event_infos[t].name : "?";
}

/* The type called name (exactly), or -1. */
static inline int cc_event_type_parse(const char *name)
{
	for (int t = 0; name && t < CC_EV__COUNT; t++)
		if (strcmp(cc_event_infos[t].name, name) == 0)
			return t;
	return -1;
}

/* The subject of an event of type t for tenant ("_" when none) into buf:
 * CC_ERROR if it does not fit (never a cut subject). */
static inline int cc_event_subject(char *buf, size_t n, enum cc_event_type t, const char *tenant)
{
	const char *root = cc_event_infos[t].kind == CC_EVK_AGENT ? "cc.agent" : "cc.call";
	int len = snprintf(buf, n, "%s.%s.%s", root, tenant && *tenant ? tenant : "_", cc_event_name(t));

	return len > 0 && (size_t)len < n ? CC_OK : CC_ERROR;
}

#endif
