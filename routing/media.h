/*
 * media.h: routingd's side of mediad (docs/MEDIA.md).
 *
 * Which mediad instances are alive: each announces itself on
 * cc.rpc.route.media every CC_MEDIA_HEARTBEAT_MS with
 * {"id","instance","sip","calls","started"}; routingd answers {"id","ok"}
 * and keeps its answers by id for 60 s, so a retransmitted heartbeat gets
 * the same answer and does not count as a second sign of life. An instance
 * whose last heartbeat is older than CC_ROUTING_MEDIA_DEAD_MS, or that a new
 * instance at the same SIP address replaces, is lost: routingd sends it no
 * call again (a heartbeat from it later is answered {"ok":false}) and ends
 * every call it sent it through Kamailio (`dlg.end_dlg h_entry h_id` on
 * the JSON-RPC FIFO, from a thread of its own: the loop never waits); the
 * ends Kamailio then reports carry the reason "media server lost". Once
 * Kamailio has ended such a dialog (dlg.end_dlg answered, or 404: gone
 * already) and its own report of the end has not come RT_MEDIA_REPORT_WAIT_MS
 * later (it may trail the RPC's answer: evapi is another process), routingd
 * reports it (rt_media_on_end's hook): Kamailio 5.6.3 does not always run
 * dialog:end for a dialog dlg.end_dlg ends (media.c). A lost call's end,
 * once reported, is remembered for RT_MEDIA_GONE_MS: a later report of it
 * (Kamailio's after routingd's) carries the same reason.
 * Never on doubt: no instance is declared lost while routingd's own NATS
 * connection is down, nor until it has been up for a whole deadline (the
 * heartbeats could not reach routingd meanwhile).
 *
 * Which calls went where: a caller's call answered `media` is the chosen
 * instance's; a leg mediad places (kind "media", its "parent" a call of
 * that instance) is the same instance's. Kamailio's dialog handle comes
 * with the call's "answered" report; its end or failure forgets it.
 *
 * Everything here runs on the loop but the NATS callback (which copies the
 * message and wakes the loop) and the hang-up thread.
 *
 * Not done on purpose: calls that were not answered yet when their mediad
 * was lost are not cancelled (Kamailio's timers end them: 2 s without a
 * provisional reply, else the INVITE timer); a restarted routingd does not
 * know which calls went to which mediad before (their dialogs still end
 * by BYE, credit and the sweep).
 */
#ifndef RT_MEDIA_H
#define RT_MEDIA_H

#include <event2/event.h>
#include <jansson.h>
#include <nats/nats.h>
#include <stdbool.h>
#include <stdint.h>

#include "id.h"

#define RT_MEDIA_SUBJECT "cc.rpc.route.media"
#define RT_MEDIA_CACHE_MS 60000      /* answers kept by request id */
#define RT_MEDIA_CHECK_MS 200        /* how often liveness is looked at */
#define RT_MEDIA_RPC_MS 3000         /* Kamailio's answer to one dlg.end_dlg */
#define RT_MEDIA_MAX_INSTANCES 64    /* alive or lost ones remembered */
#define RT_MEDIA_GONE_MS 60000       /* a lost call's reported end remembered */
#define RT_MEDIA_REPORT_WAIT_MS 1000 /* Kamailio's report of an end it made waited for */
#define RT_MEDIA_CI_MAX 256          /* a SIP Call-ID kept for the BYE mark, with its NUL */

struct rt_media;

/* Reports the end of call (of tenant) that routingd ended because its
 * mediad was lost, as Kamailio would have (ended_us: wall clock; mediad:
 * a call Kamailio sent to mediad, not a leg mediad placed). It must call
 * rt_media_ended for the call. On the loop. */
typedef void rt_media_end_fn(void *arg, const char *call, const char *tenant, bool mediad,
                             int64_t ended_us);

struct rt_media_stats {
	uint64_t alive;              /* instances alive now */
	uint64_t sent;               /* calls sent to mediad so far */
	uint64_t legs;               /* legs mediad placed so far */
	uint64_t lost_instances;     /* instances declared lost so far */
	uint64_t lost_calls;         /* calls ended because their mediad was lost */
	uint64_t heartbeats;         /* heartbeats applied */
	uint64_t refused;            /* heartbeats refused (malformed, from a lost instance) */
	uint64_t tracked;            /* calls followed now */
};

/* nc: where heartbeats are received and answered (NULL: none, for tests:
 * feed rt_media_heartbeat); fifo: Kamailio's JSON-RPC FIFO (NULL: calls
 * of a lost instance are only marked, for tests). dead_ms: a mediad silent
 * this long is lost. NULL if the subscription or the thread fails. */
struct rt_media *rt_media_new(struct event_base *base, natsConnection *nc, const char *fifo,
                              long dead_ms);
void rt_media_free(struct rt_media *m);

/* A heartbeat (the message's JSON) at now_ms: the answer (new reference). */
json_t *rt_media_heartbeat(struct rt_media *m, const json_t *msg, int64_t now_ms);
/* Declares lost every instance silent since now_ms - dead_ms, reports the
 * ends that are due (rt_media_hung_up), drops expired cached answers and
 * remembered ends (the loop's timer calls it). */
void rt_media_check(struct rt_media *m, int64_t now_ms);

/* The alive instance a new call goes to (fewest calls): its SIP host:port,
 * and its id into instance; NULL when none is alive. */
const char *rt_media_pick(struct rt_media *m, char instance[CC_UUID_LEN]);
/* A caller's call was answered `media` towards instance. */
void rt_media_sent(struct rt_media *m, const char *call, const char *tenant,
                   const char *instance, const char *sip_call_id);
/* A leg mediad placed for parent (routed, not refused): false when
 * parent is no call of an alive instance (the leg is then not followed). */
bool rt_media_leg(struct rt_media *m, const char *call, const char *tenant, const char *parent,
                  const char *sip_call_id);
/* Kamailio's "answered" report: the dialog's handle, for the hang-up. */
void rt_media_answered(struct rt_media *m, const char *call, long h_entry, long h_id);
/* The call ended or failed: forgotten. True if it was ended because its
 * mediad was lost (the record's reason is then "media server lost"),
 * also for a lost call whose end was reported in the last RT_MEDIA_GONE_MS. */
bool rt_media_ended(struct rt_media *m, const char *call);
/* Who reports the end of a lost call that Kamailio ended without saying so
 * (NULL: nobody, the call is only forgotten). */
void rt_media_on_end(struct rt_media *m, rt_media_end_fn *fn, void *arg);
/* Kamailio ended the dialog of call at ended_us, wall clock (the hang-up
 * thread's answer, on the loop at now_ms): if the call is a lost one still
 * followed (no report of its end came), rt_media_check gives its end to
 * the on_end hook RT_MEDIA_REPORT_WAIT_MS later unless Kamailio's report
 * comes first. True if so (once per call). */
bool rt_media_hung_up(struct rt_media *m, const char *call, int64_t ended_us, int64_t now_ms);

void rt_media_stats(const struct rt_media *m, struct rt_media_stats *st);

/* The ACD (acdrpc.h): told when an instance is lost (on the loop), the
 * alive instances (up to max ids into out; how many), and which instance
 * and tenant a followed call is of (false: not followed). */
void rt_media_on_lost(struct rt_media *m, void (*cb)(void *arg, const char *instance, int64_t now_ms),
                      void *arg);
size_t rt_media_alive(const struct rt_media *m, char (*out)[CC_UUID_LEN], size_t max);
bool rt_media_call(const struct rt_media *m, const char *call, char tenant[CC_UUID_LEN],
                   char instance[CC_UUID_LEN]);

#endif
