/*
 * queue.h: a caller waiting in an ACD queue (docs/ACD.md, docs/MEDIA.md's
 * queue section): the pure parts, unit-tested without a network. The call
 * (call.c) does the I/O on mediad's loop:
 *
 *   queue node (or X-CC-Queue) -> cc.rpc.route.acd.enqueue (retried with
 *   the same id until answered) -> ok: music, announcements every every_s
 *   (cc.rpc.route.acd.position, prompts md_queue_announce names) /
 *   refused: its route (md_queue_route_flow) or the node's fallback
 *   routingd's offer -> one acd leg per agent; the first 200 held and
 *   reported `answered`; ok:true bridges it and cancels the others,
 *   ok:false (stale) ends it.
 *
 * Everything here reads hostile JSON (routingd's answers and requests come
 * over NATS) and refuses what does not fit, with a reason.
 */
#ifndef MD_QUEUE_H
#define MD_QUEUE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow.h"
#include "id.h"

#define MD_Q_MAX_POSITION 20         /* "caller number 1..20", then "more than 20" */
#define MD_Q_MAX_MINUTES  15         /* "about 1..15 minutes", then "more than 15" */
#define MD_Q_MAX_LEGS     16         /* agents of one offer (ring-all) */
#define MD_Q_PROMPTS      3          /* prompts of one announcement */
#define MD_Q_EXT_MAX      12         /* an agent's extension, with NUL */
#define MD_Q_NUMBER_MAX   17         /* "+" and 15 digits, NUL */

/* What the ACD said to an enqueue. */
struct md_q_settings {
	int position;                    /* 1.. (0: unknown) */
	long expected_wait_s;            /* -1: none yet (null) */
	char music[CC_FLOW_NAME_MAX];    /* the prompt that loops (default "hold_music") */
	bool say_position, say_wait;
	int every_s;                     /* 0: no announcements */
	bool callback;                   /* `*` offers a callback */
	char lang[3];                    /* "zh" or "en" */
};

enum md_q_target_type { MD_QT_NONE, MD_QT_QUEUE, MD_QT_AGENT, MD_QT_NUMBER, MD_QT_FLOW,
                        MD_QT_HANGUP };

struct md_q_target {                 /* docs/ACD.md <target> */
	enum md_q_target_type type;
	char name[CC_FLOW_NAME_MAX];     /* queue, flow; an extension; a +E.164 number */
	char prompt[CC_FLOW_NAME_MAX];   /* hangup: the prompt before (default "goodbye") */
};

struct md_q_offer {                  /* routingd's cc.rpc.media.<instance>.offer */
	char call[CC_UUID_LEN];
	char offer[CC_UUID_LEN];
	int ring_s;
	size_t n;
	struct {
		char agent[MD_Q_EXT_MAX];
		int64_t epoch;
		bool record;             /* routingd's policy: record the call if this one answers */
	} agents[MD_Q_MAX_LEGS];
	char callback[MD_Q_NUMBER_MAX];  /* "" unless a callback offer */
};

enum md_q_answer { MD_Q_OK, MD_Q_REFUSED, MD_Q_BAD };

/* The request body of cc.rpc.route.acd.enqueue (without "id": the sender
 * adds it): call, tenant, caller ("" withheld), node's skills and priority
 * (node may be NULL: an X-CC-Queue call), arrived (RFC 3339). New reference. */
json_t *md_queue_enqueue_json(const char *instance, const char *call, const char *tenant,
                              const char *queue, const char *caller,
                              const struct cc_flow_node *node, const char *arrived);

/*
 * Reads an enqueue (or position) answer. MD_Q_OK: s filled (position,
 * expected wait; for an enqueue answer also music, announce, callback,
 * lang; a position answer leaves those as they were). MD_Q_REFUSED: *why
 * points into a (or a constant), route is the answer's route (MD_QT_NONE:
 * none, the node's fallback). MD_Q_BAD: not an answer (treated by the
 * caller as a refusal without route).
 */
enum md_q_answer md_queue_read_answer(const json_t *a, bool enqueue, struct md_q_settings *s,
                                      struct md_q_target *route, const char **why);

/* A <target> object: 0, or EINVAL (unknown type, a name of the wrong form). */
int md_queue_read_target(const json_t *t, struct md_q_target *out);

/* An offer request: 0, or EINVAL with *why. */
int md_queue_read_offer(const json_t *msg, struct md_q_offer *o, const char **why);

/*
 * The prompt names of one announcement into out (at most MD_Q_PROMPTS):
 * "q_pos_<lang>_<N>" (N 1..20, or "more") when say_position and the
 * position is known, "q_wait_<lang>_<M>" (M the wait in whole minutes
 * rounded up, 1..15, or "more") when say_wait and the wait is known,
 * then "q_cb_hint_<lang>" ("press star to be called back") when the
 * queue offers callbacks and something was said.
 * lang other than "en" is "zh". Returns how many.
 */
size_t md_queue_announce(const struct md_q_settings *s, char out[][CC_FLOW_NAME_MAX]);

/* A wait in seconds as the minutes the announcement says: 1..15, or 16
 * for "more than 15"; 0 when none (< 0). */
int md_queue_minutes(long wait_s);

/*
 * The flow a target runs on mediad (a refusal's route, routingd's route
 * request): agent (ring it, then goodbye), number (dial it, then goodbye),
 * flow (goto it), hangup (its prompt, then hang up). NULL for a queue
 * target (routingd moves those itself) or none. New flow (cc_flow_free).
 */
struct cc_flow *md_queue_route_flow(const struct md_q_target *t);

/* The one-node flow of an X-CC-Queue call: the queue, then hang up with
 * "goodbye" when refused without route. NULL: not a queue name. */
struct cc_flow *md_queue_only_flow(const char *queue);

/*
 * The number a callback rings: keyed ("" for the caller's own) digits as
 * the caller typed them, in China's dialling plan (the platform's): "00"
 * international, "0" a trunk prefix, 11 digits starting with 1 a mobile;
 * the caller's number when keyed is "". 0, or EINVAL (not a number).
 */
int md_queue_callback_number(const char *keyed, const char *caller, char out[MD_Q_NUMBER_MAX]);

/* SIP final status of a failed agent leg as the ACD's `reason`. */
const char *md_queue_fail_reason(uint16_t code);

/* A=sendonly / a=inactive in an SDP body: the far end holds us. */
bool md_queue_sdp_holds(const char *sdp, size_t len);

#endif
