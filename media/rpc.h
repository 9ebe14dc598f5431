/*
 * rpc.h: mediad's side of NATS (docs/MEDIA.md): its heartbeat to routingd,
 * the requests routingd sends it, the call events it publishes, and the
 * configuration notices it listens to. libnats runs its own threads; every
 * message that matters to a call is posted into libre's loop (mqueue), so
 * handlers below run on the loop thread.
 */
#ifndef MD_RPC_H
#define MD_RPC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "event_types.h"

struct md_rpc_cfg {
	const char *nats_url;        /* nats://127.0.0.1:4222 */
	const char *nats_creds;      /* file "user:password" */
	const char *instance;        /* this mediad's id, new at each start (uuid) */
	const char *sip_addr;        /* where Kamailio reaches it, "127.0.0.1:5090" */
	const char *spool_dir;       /* events spooled while NATS is away (lib/events.h) */
	int heartbeat_ms;            /* cc.rpc.route.media every this often (1000) */
};

/* What the engine answers for routingd's cc.rpc.media.<instance>.calls:
 * an array of the live calls ({"call","tenant","since"}), new reference. */
typedef json_t *(md_rpc_calls_h)(void *arg);
/* How many live calls (the heartbeat's "calls", every heartbeat_ms): a
 * count kept by the engine, not the array built to be counted. */
typedef size_t (md_rpc_count_h)(void *arg);
/* cc.rpc.media.<instance>.hangup {"call"}: end that call (0 or ENOENT). */
typedef int (md_rpc_hangup_h)(const char *call, void *arg);
/* cc.cfg.<tenant> notice (a flow or prompt changed): tenant id or "" for all. */
typedef void (md_rpc_cfg_h)(const char *tenant, void *arg);

/* routingd's ACD requests cc.rpc.media.<instance>.offer / .cancel / .route
 * / .op (docs/ACD.md): what is "offer"..., msg the request; the answer's
 * fields besides "id" (new reference). */
typedef json_t *(md_rpc_acd_h)(const char *what, const json_t *msg, void *arg);

struct md_rpc_handlers {
	md_rpc_calls_h *calls;
	md_rpc_count_h *count;       /* NULL: the heartbeat says 0 calls */
	md_rpc_hangup_h *hangup;
	md_rpc_cfg_h *cfg;
	void *arg;
	md_rpc_acd_h *acd;               /* NULL: the ACD's requests are unknown (last: older
	                                    initialisers stay valid) */
};

/* Connects (retrying in the background: mediad answers calls only once
 * routingd has seen its heartbeat, see docs/MEDIA.md). 0 or an errno. */
int md_rpc_start(const struct md_rpc_cfg *cfg, const struct md_rpc_handlers *h);
void md_rpc_stop(void);
/* True once routingd has answered a heartbeat ok (it sends calls then). */
bool md_rpc_seen(void);

/*
 * Publishes a call event of type t (lib/event_types.h: CC_EV_IVR,
 * CC_EV_BRIDGED, CC_EV_AGENT_FAILED, CC_EV_MEDIA_ENDED) for call and tenant;
 * fields (stolen) holds the type's own fields. Never waits: the event is
 * spooled and published in order; its id is named by call, type and seq, so
 * a retry is one event. 0 or an errno (the spool is full).
 */
int md_rpc_event(enum cc_event_type t, const char *call, const char *tenant, unsigned seq,
                 json_t *fields);

/*
 * A request to routingd (cc.rpc.route.acd.*) that never waits: body
 * (stolen) gets a new "id"; it is sent at once and again with the same id
 * every CC_MEDIA_RPC_RETRY_MS (500) until an answer comes or timeout_ms
 * passed; then h runs on the loop with the answer (NULL: none in time, or
 * mediad stops). arg, when not NULL, is a mem object the request holds a
 * reference on until h has run. Returns a handle for md_rpc_forget (0:
 * not sent; h will not run).
 */
typedef void (md_rpc_answer_h)(const json_t *answer, void *arg);
uint64_t md_rpc_request(const char *subject, json_t *body, int timeout_ms, md_rpc_answer_h *h,
                        void *arg);
/* Drops a request's handler (it is still retried until answered: a result
 * routingd must get); 0 does nothing. */
void md_rpc_forget(uint64_t handle);
/* This mediad's instance id. */
const char *md_rpc_instance(void);

#endif
