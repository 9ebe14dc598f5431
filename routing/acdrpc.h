/*
 * acdrpc.h: routingd's side of every NATS subject of the ACD (docs/ACD.md).
 *
 * The ACD's state (routing/acd.h) is the loop's alone: the NATS callbacks
 * copy each message into an inbox and wake the loop, which applies it and
 * answers. Requests carry an "id"; an answer is kept by (subject, id) for
 * RT_ACD_CACHE_MS, so a retried request is applied once and gets the same
 * answer; at most RT_ACD_CACHE_MAX answers are kept (the oldest evicted).
 *
 *   in, from mediad:  cc.rpc.route.acd.enqueue | position | result | callback
 *   in, from tenantd: cc.rpc.route.acd.agent | live | call
 *   out, to mediad:   cc.rpc.media.<instance>.offer | cancel | route | op | calls,
 *                     asynchronous requests, retried with the same id every
 *                     RT_ACD_RETRY_MS, RT_ACD_TRIES times at most
 *   events:           through the call events' publisher (JetStream CC_EVENTS)
 *   journal:          JetStream CC_ACD (cc.acd.>, one message per subject),
 *                     created at start and read back by rt_acdrpc_restore
 *
 * Trust: mediad's requests name a call and its tenant; a call routingd
 * sent to an instance (media.h follows it) must be named with that
 * instance and tenant, or it is refused. A call routingd does not follow
 * (it restarted since) must name an alive instance and be held by the ACD
 * (its entry or its agent, rebuilt from the journal) for that tenant and
 * instance, or it is refused (stats.untracked): nobody with mediad's
 * credentials invents callers. A held call of an instance not alive (yet:
 * its first heartbeat after the restart) is not answered; mediad retries.
 */
#ifndef RT_ACDRPC_H
#define RT_ACDRPC_H

#include <event2/event.h>
#include <jansson.h>
#include <nats/nats.h>
#include <stdbool.h>
#include <stdint.h>

#include "acd.h"
#include "events.h"
#include "model-t.h"

#define RT_ACD_PREFIX    "cc.rpc.route.acd."
#define RT_ACD_STREAM    "CC_ACD"
#define RT_ACD_CACHE_MS  60000
#define RT_ACD_CACHE_MAX 4096        /* answers kept at most; the oldest go first */
#define RT_ACD_RETRY_MS  500
#define RT_ACD_TRIES     6

struct rt_media;
struct rt_acdrpc;

struct rt_acdrpc_stats {
	uint64_t requests;           /* requests from mediad and tenantd applied */
	uint64_t retries_in;         /* of them, answered from the cache */
	uint64_t refused;            /* malformed, or naming another tenant's call */
	uint64_t untracked;          /* of them, a call routingd neither follows nor holds */
	uint64_t sent;               /* requests to mediad */
	uint64_t resent;             /* of them, sent again */
	uint64_t unanswered;         /* given up after RT_ACD_TRIES */
	uint64_t journaled;          /* journal records published */
	uint64_t journal_failed;     /* journal records NATS refused at once */
	uint64_t restored;           /* journal records read back at start */
	uint64_t reconciles;         /* reconciliations applied */
	uint64_t registrations;      /* registrations told to the ACD */
	uint64_t cached;             /* answers kept now (at most RT_ACD_CACHE_MAX) */
	uint64_t cache_evicted;      /* answers dropped before their time, to keep that bound */
};

/* nc: its own connection (requests in, requests out); events: where the
 * ACD's events go. NULL with *err when the subscriptions or the stream
 * cannot be made. Nothing is subscribed until rt_acdrpc_start. */
struct rt_acdrpc *rt_acdrpc_new(struct event_base *base, natsConnection *nc,
                                struct cc_events *events, struct rt_media *media,
                                long reconcile_ms, char **err);
/* Before the loop runs: creates CC_ACD if it is not there, reads every
 * subject's last record (an ordered consumer) into acd_restore, waiting
 * at most timeout_ms. CC_OK or CC_ERROR (logged; the ACD starts empty). */
int rt_acdrpc_restore(struct rt_acdrpc *r, int timeout_ms);
/* Subscribes to cc.rpc.route.acd.* and starts the timers. */
int rt_acdrpc_start(struct rt_acdrpc *r, char **err);
/* After a model swap, on the loop: tenants whose ACD configuration changed
 * are configured again, those gone (or disabled) forgotten. */
void rt_acdrpc_model(struct rt_acdrpc *r, const struct rt_model *m);
/* From calls.c (on the loop). */
void rt_acdrpc_busy(void *arg, const char *tenant, const char *ext, const char *call, bool busy);
void rt_acdrpc_registered(void *arg, const char *tenant, const char *ext, bool registered);
/* From media.c: an instance is lost. */
void rt_acdrpc_lost(void *arg, const char *instance, int64_t mono_ms);
/* The sticky map's seed (the loader's query at start). */
void rt_acdrpc_sticky(void *arg, const char *tenant, const char *caller, const char *ext,
                      int64_t answered_ms);

void rt_acdrpc_stats(const struct rt_acdrpc *r, struct rt_acdrpc_stats *st,
                     struct acd_stats *acd);
void rt_acdrpc_free(struct rt_acdrpc *r);

/* Exposed for the unit test: one request (its subject and JSON text)
 * applied as the loop applies it; its answer (new reference), NULL when
 * it is answered later (a call op forwarded to mediad). */
json_t *rt_acdrpc_apply(struct rt_acdrpc *r, const char *subject, const char *text);

/* Exposed for the unit test: "2026-12-02T05:39:01.123Z" (or +hh:mm) to ms
 * since the epoch; -1 if it is not RFC 3339. */
int64_t rt_acd_time_ms(const char *s);

#endif
