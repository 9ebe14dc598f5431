/*
 * calls.h: routingd's conversation with Kamailio. Questions ("route this
 * INVITE") are answered from the model; call progress reported by Kamailio
 * (answered, ended, failed) becomes call events on JetStream.
 *
 * Events, subject cc.call.<tenant id>.<type> ("_" when no tenant owns the
 * call, e.g. an unknown number):
 *   offered   call, sip_call_id, direction, from, to, number, source
 *   routed    call, direction, agent | destination
 *   rejected  call, code, reason, result "rejected"
 *
 * Limits (limits.h): an inbound or outbound call of a tenant at its
 * concurrent-call or call-rate limit -> 503 ("Too Many Calls", "Call Rate
 * Exceeded"), before any credit is granted. A question whose kind is not
 * "carrier" or "agent" -> 403, with no events. A question carries
 * Kamailio's transaction (integers ti and tl) and an object q; a message
 * without them is no question (logged, no events, no answer). A report's
 * tenant that is not an id is dropped: the event goes under "_".
 *
 * Credit: an inbound or outbound call of a tenant with a billing plan
 * needs a credit grant (credit.h): the granted seconds become the
 * dialog's timeout in Kamailio; no affordable second -> 402, no rate ->
 * 403, billingd unreachable when it must be asked -> 503. A call whose
 * grant must wait for billingd is parked: rt_calls_handle returns NULL
 * and the answer goes out later through `answer`.
 *
 * mediad (media.h): a carrier call to a flow number goes to an alive
 * mediad ("action":"media", with "flow", "domain" and "caller" for the
 * X-CC-* headers Kamailio adds); none alive -> 503. A question of kind
 * "media" (a leg mediad places) carries "tenant" and "parent" (the
 * caller's call id): its offered, routed and rejected events carry
 * "parent". An end reported for a call routingd ended because its mediad
 * was lost has the reason "media server lost" (the sweep's too); when
 * Kamailio does not report that end, routingd does (rt_calls_media_ended).
 * The answered and ended
 * events of a call Kamailio sent to mediad (its dialog's cc_media) carry
 * "mediad": true.
 *
 * A queue number ("action":"media" with "queue" instead of "flow"): the
 * caller waits in that queue on mediad (docs/ACD.md).
 *
 * Events are queued, not published, while a message is handled: the
 * caller sends the answer first, then rt_calls_flush publishes them.
 *   answered  call
 *   ended     call, code, reason, result (answered, busy, no_answer,
 *             cancelled, failed)
 */
#ifndef RT_CALLS_H
#define RT_CALLS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "events.h"
#include "hist.h"
#include "limits.h"
#include "model-t.h"

struct rt_credit;
struct rt_media;

struct rt_calls {
	struct rt_model **model;     /* the current model (swapped by reloads) */
	struct cc_events *events;    /* JetStream publisher */
	/* publishes an event (taken over) on a subject: cc_events_publish,
	 * or the fuzz target's capture (tests/fuzz/fuzz_calls.c) */
	int (*publish)(struct cc_events *events, const char *subject, json_t *event);
	uint64_t decisions;          /* counters for the status line */
	uint64_t rejected;
	uint64_t events_in;
	uint64_t swept;              /* calls ended by the sweep (sweep.h) */
	uint64_t media_ends;         /* ends of a lost mediad's calls routingd reported itself */
	uint64_t lost;               /* events neither published nor spooled */
	struct rt_credit *credit;    /* credit grants */
	struct rt_media *media;      /* mediad instances and their calls (NULL: none) */
	struct rt_limits limits;     /* per-tenant call limits (zeroed = empty) */
	json_t *later;               /* [subject, event] pairs for rt_calls_flush */
	/* a parked call's answer, when billingd's lease arrives (main sends
	 * it to Kamailio); t0_ns is when its question arrived */
	void (*answer)(void *arg, json_t *reply, uint64_t t0_ns);
	void *answer_arg;
	uint64_t parked;             /* calls parked so far */
	/* The ACD (acdrpc.h; NULL: none): an agent's call that is not an ACD
	 * offer (a call routed to an extension, a call from one, a flow's
	 * agent leg; not a leg with X-CC-Leg "acd") answered (busy) or over;
	 * a phone's registration (Kamailio's {"kind":"reg"}), mapped from
	 * its SIP domain to the tenant. */
	void (*agent_busy)(void *arg, const char *tenant, const char *ext, const char *call,
	                   bool busy);
	void (*agent_reg)(void *arg, const char *tenant, const char *ext, bool registered);
	void *acd_arg;
	struct cc_map agent_calls;   /* call id -> struct agent_call (calls.c) */
	struct cc_map domains;       /* SIP domain -> tenant id, of the model of generation: */
	uint64_t domains_of;         /* its generation (0: none yet), not its address */
	uint64_t regs;               /* registrations reported */
};

void rt_calls_free(struct rt_calls *c);

/* Handles one message from Kamailio. Returns the reply to send, or NULL
 * if the message needs none. The caller frees the reply. */
json_t *rt_calls_handle(struct rt_calls *c, const json_t *msg);

/* The sweep (sweep.h) found call's dialog gone: its end, at end_us (wall
 * clock), result answered, reason "swept: dialog lost", with the same
 * event id as Kamailio's own end would have. */
void rt_calls_swept(struct rt_calls *c, const char *call, const char *tenant, int64_t end_us);

/* routingd ended call through Kamailio because its mediad was lost, and
 * Kamailio did not report the end (media.h, rt_media_on_end): its end, at
 * ended_us (wall clock), result answered, reason "media server lost",
 * "mediad": true if Kamailio sent it to mediad, with the same event id as
 * Kamailio's own end would have. */
void rt_calls_media_ended(struct rt_calls *c, const char *call, const char *tenant, bool mediad,
                          int64_t ended_us);

/* Publishes the events queued since the last flush, in order. */
void rt_calls_flush(struct rt_calls *c);

#endif
