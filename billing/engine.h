/*
 * engine.h: billingd's money state and the two paths that change it.
 *
 *   rating   in the consumer's batch transaction: every final call of a
 *            tenant with a plan becomes one rated line (revision 1) and, if
 *            it costs anything, one usage ledger transaction, keyed on the
 *            call; its credit grant is settled. A replayed batch inserts
 *            nothing (ON CONFLICT DO NOTHING on the line, the ledger posts
 *            only what the line insert returned).
 *   grants   NATS request/reply on cc.rpc.grant (from routingd at call
 *            setup): the seconds the tenant can afford for this
 *            destination after the grants its calls in progress hold; the
 *            grant is stored (cc.grants) before the answer leaves.
 *
 * In memory: per tenant its plan, balance and reserved amount (loaded from
 * PostgreSQL on first use and again after a cc.cfg.<tenant> notice or 60 s,
 * then kept by the deltas billingd itself commits), and every deck version
 * used so far. One mutex guards it; the batch thread holds it from its
 * COMMIT to applying that commit's deltas, so a load never counts a
 * commit twice. One billingd owns the grants (see docs/BILLING.md).
 */
#ifndef BL_ENGINE_H
#define BL_ENGINE_H

#include <jansson.h>
#include <nats/nats.h>
#include <pthread.h>

#include "hist.h"
#include "map.h"
#include "pg.h"

struct bl_engine {
	pthread_mutex_t lock;
	struct cc_pg grant_pg;        /* the grant thread's connection */
	struct cc_map accounts;       /* tenant id -> struct bl_account */
	struct cc_map decks;          /* version id -> struct bl_deck */
	struct cc_hist grant_ns;      /* grant service time */
	uint64_t grants, refusals;
};

void bl_engine_init(struct bl_engine *e, const char *pg_url);
void bl_engine_free(struct bl_engine *e);

/* Rates the final calls among call_ids (a JSON array of ids) inside the
 * caller's open transaction on pg. Deltas wait in *pending (an array the
 * caller passes to bl_engine_apply after COMMIT). CC_ERROR on a database
 * failure (the caller rolls back). */
int bl_engine_rate(struct bl_engine *e, struct cc_pg *pg, const json_t *call_ids, json_t **pending);

/* COMMIT on pg, then the deltas, under the engine's lock. */
int bl_engine_commit(struct bl_engine *e, struct cc_pg *pg, json_t *pending);

/* A configuration notice: forget the tenant's account ("" = every account). */
void bl_engine_stale(struct bl_engine *e, const char *tenant);

/* The NATS handler for cc.rpc.grant requests. */
void bl_engine_on_grant(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *arg);

#endif
