/*
 * loader.h: routingd's model is built, and the old one freed, on a thread
 * of its own, never on the loop that answers Kamailio.
 *
 * A reload (every CC_ROUTING_RELOAD_S, on every cc.cfg notice) takes
 * seconds at a million numbers, and a load stuck in PostgreSQL held every
 * call of every tenant: 503 after 1.6 s. So the loader thread, with its own
 * connection (connect_timeout, statement_timeout), builds a bundle: the
 * model and the rate decks its plans use. It hands the bundle to the loop
 * (an event activated from the thread); the loop swaps pointers, which
 * takes no time, and gives the old bundle back; the thread frees it.
 *
 * The decks: every deck version lives in the loader's cache, which only
 * the loader thread changes. A bundle's deck set points into it (versions
 * never change, so the loop reads them while the thread loads others). One
 * bundle at most is on its way to the loop: the thread builds the next one
 * only after the loop gave back the one it replaced, and only then drops
 * the cached versions the live bundle does not use.
 *
 * Full or one tenant: a cc.cfg.<tenant> notice asks for that tenant only.
 * The thread then patches the live model (model.h, rt_model_patch): a clone
 * of its maps with the tenant's rows read again, milliseconds where a full
 * build takes seconds at a million numbers, so one tenant writing to the
 * API every second no longer rebuilds everyone's model. Requests gather
 * while a build runs; more than RT_LOADER_MAX_PATCH tenants at once, a
 * platform notice, the periodic reload, or no full model yet: a full build.
 */
#ifndef RT_LOADER_H
#define RT_LOADER_H

#include <event2/event.h>
#include <stdatomic.h>

#include "decks.h"
#include "map.h"
#include "model-t.h"

#define RT_LOADER_MAX_PATCH 64

struct rt_bundle {
	struct rt_model *model;
	struct cc_map decks;   /* deck version id -> const struct bl_deck * (the loader's) */
	double load_s;         /* how long the build took */
	size_t patched;        /* tenants read again for it; 0: a full build */
};

/* A bundle of an empty model and no decks (before the first load worked). */
struct rt_bundle *rt_bundle_empty(void);

/* Called on the loop with a fresh bundle; the callee owns it and gives
 * the bundle it replaces to rt_loader_done (NULL the first time). */
typedef void (*rt_loader_cb)(struct rt_bundle *fresh, void *arg);

struct rt_loader;

/* Connects (with timeouts added to pg_url); the thread is not running yet.
 * NULL if the thread's resources cannot be had. */
struct rt_loader *rt_loader_new(const char *pg_url, struct event_base *base, rt_loader_cb cb,
                                void *arg);
/* Builds one bundle on the calling thread, before rt_loader_run (routingd's
 * first load, so no call meets an empty model): NULL if the database failed. */
struct rt_bundle *rt_loader_build_now(struct rt_loader *l);
/* Before rt_loader_run, on the calling thread (its connection): each
 * caller's last answered queue call with each tenant, within the longest
 * sticky window of the tenant's queues (cc.calls, calls_sticky_idx), to cb
 * (the ACD's sticky map). How many, or -1 if the database failed. */
long rt_loader_sticky(struct rt_loader *l,
                      void (*cb)(void *arg, const char *tenant, const char *caller,
                                 const char *ext, int64_t answered_ms),
                      void *arg);
/* Starts the thread; live is the bundle the loop holds (or NULL). */
int rt_loader_run(struct rt_loader *l, struct rt_bundle *live);
/* Any thread: a full reload is wanted (requests coalesce into one). */
void rt_loader_request(struct rt_loader *l);
/* Any thread: tenant (a cc.tenants id) changed; not an id: a full reload. */
void rt_loader_request_tenant(struct rt_loader *l, const char *tenant);
/* The loop: the bundle a fresh one replaced, to be freed off the loop. */
void rt_loader_done(struct rt_loader *l, struct rt_bundle *old);
/* Stops the thread and frees what it holds, the bundle live included. */
void rt_loader_stop(struct rt_loader *l, struct rt_bundle *live);

/* Successful and failed builds, for metrics (any thread). */
uint64_t rt_loader_loads(const struct rt_loader *l);
uint64_t rt_loader_failures(const struct rt_loader *l);
uint64_t rt_loader_patches(const struct rt_loader *l);   /* of the loads */

#endif
