/*
 * call.h: mediad's calls: the INVITEs sip.c lets through become calls
 * that run their tenant's flow (ivr.h) with prompts and flows from the
 * catalog (catalog.h), ring agents and numbers through Kamailio, bridge
 * them (bridge.h), and publish their events (rpc.h). All on the loop.
 */
#ifndef MD_CALL_H
#define MD_CALL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sip.h"

/* The SIP INVITE handler (pass to md_sip_init). */
void md_call_invite(const struct sip_msg *msg, const struct md_invite *inv, void *arg);

/* How many calls mediad has now (kept, not counted: every heartbeat asks). */
size_t md_calls_count(void *arg);
/* routingd's .calls: [{"call","tenant","since"}] (new reference). */
json_t *md_calls_json(void *arg);
/* routingd's .hangup: 0 or ENOENT. */
int md_calls_hangup(const char *call, void *arg);
/* routingd's ACD requests (rpc.h md_rpc_acd_h): offer, cancel, route, op. */
json_t *md_calls_acd(const char *what, const json_t *msg, void *arg);
/* A tenant's flows or prompts changed. */
void md_calls_cfg(const char *tenant, void *arg);
/* Ends every call (SIGTERM): BYE to the answered, CANCEL to ringing legs. */
void md_calls_end_all(void);

/* Supervision (docs/ACD.md, Supervision), the recorder's hook: the mix
 * slots of the call's supervisors heard on the agent's side (whisper and
 * barge, answered), 0 when none; call.c's sup_changed() runs at each
 * change of who hears whom. */
struct md_call;
uint32_t md_call_sup_agent_side(const struct md_call *c);

/* An answered leg that sends no RTP for this long (and does not hold the
 * call: a=sendonly/inactive) is hung up as if its phone had (a closed
 * browser, a phone gone off the network); 0: never (CC_MEDIA_RTP_TIMEOUT_S). */
void md_calls_set_rtp_timeout(unsigned seconds);

/* Process-wide counters (metrics). */
struct md_calls_stats {
	uint64_t started, ended, refused_codec, refused_busy;
	uint64_t legs_placed, legs_answered, legs_failed;
	uint64_t ivr_truncated;          /* calls whose ivr events reached MD_MAX_IVR_EVENTS */
	uint64_t rtp_timeouts;           /* answered legs hung up for sending no RTP */
};
const struct md_calls_stats *md_calls_stats(void);

#endif
