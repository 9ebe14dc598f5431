/*
 * limits.h: per-tenant limits on calls through the carrier, counted live
 * in routingd: concurrent calls (a slot per call, from the routing
 * decision to its end) and new calls per second (a one-second window).
 * Operator-set on the tenant (model-t.h struct rt_limits_cfg); beyond
 * either the call gets 503.
 *
 * A slot is keyed by the platform's call id (Kamailio's cc_call) and the
 * tenant's database id, never by a pointer into the model, so reloads do
 * not touch it. It is released by the call's "ended" or "failed" event,
 * whatever ended the call (BYE, CANCEL, no answer, a failed branch, the
 * dialog's timer, routingd's late answer). Every slot also has a
 * deadline, so an end event that never comes (Kamailio restarted, a call
 * without a dialog) cannot hold a tenant's slot for good:
 *   not answered  RT_SLOT_SETUP_S after the decision (Kamailio gives up
 *                 on an unanswered branch after 35 s);
 *   answered      the call's maximum length (its credit grant, else the
 *                 plan's maximum, else RT_SLOT_MAX_S) plus RT_SLOT_GRACE_S.
 * Expired slots are swept when a tenant reaches its limit (at most once a
 * second), so the sweep costs nothing while tenants are under their limits.
 *
 * Not done on purpose: the counts are not persisted. A restarted routingd
 * starts at zero, so for the lifetime of the calls in progress at the
 * restart a tenant can have up to twice its limit of concurrent calls;
 * their end events (if they still come) find no slot and are ignored.
 * One writer: the loop thread only.
 */
#ifndef RT_LIMITS_H
#define RT_LIMITS_H

#include <stdbool.h>
#include <stdint.h>

#include "id.h"
#include "map.h"
#include "model-t.h"

#define RT_SLOT_SETUP_S 120
#define RT_SLOT_MAX_S 14400        /* CC_MAX_CALL_S's default */
#define RT_SLOT_GRACE_S 60

struct rt_limits {
	void *slots;                 /* tsearch tree of struct rt_slot, by call id */
	struct cc_map tenants;       /* tenant id -> struct rt_tenant_live */
	uint64_t refused_calls;      /* 503: concurrent calls at the limit */
	uint64_t refused_cps;        /* 503: call rate at the limit */
	uint64_t expired;            /* slots freed by their deadline, not an event */
	uint64_t active;             /* slots held now */
};

enum rt_limit_verdict { RT_LIMIT_OK, RT_LIMIT_CALLS, RT_LIMIT_CPS };

void rt_limits_init(struct rt_limits *l);
void rt_limits_free(struct rt_limits *l);

/* A new call of tenant_id: RT_LIMIT_OK holds a slot for call until it is
 * released (or its deadline); otherwise nothing is held. now_ms is
 * monotonic. max_s is the call's longest talk (<= 0: RT_SLOT_MAX_S). */
enum rt_limit_verdict rt_limits_admit(struct rt_limits *l, const char *tenant_id,
                                      const struct rt_limits_cfg *cfg, const char *call,
                                      int64_t max_s, int64_t now_ms);
/* The call was answered: its slot lives to the end of its longest talk. */
void rt_limits_answered(struct rt_limits *l, const char *call, int64_t now_ms);
/* The call ended or failed: its slot is free. Unknown calls are ignored. */
void rt_limits_release(struct rt_limits *l, const char *call);
/* Calls a tenant holds now (for tests and logs). */
int rt_limits_active(const struct rt_limits *l, const char *tenant_id);

#endif
