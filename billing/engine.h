/*
 * engine.h: billingd's money state and the two paths that change it.
 *
 *   rating   in the consumer's batch transaction: every final call of a
 *            tenant with a plan becomes one rated line (revision 1) and, if
 *            it costs anything, one usage ledger transaction, keyed on the
 *            call; its credit grant is settled. A replayed batch inserts
 *            nothing (ON CONFLICT DO NOTHING on the line, the ledger posts
 *            only what the line insert returned).
 *   credit   NATS request/reply on cc.rpc.credit.lease and .take from
 *            routingd (routing/credit.h says the protocol): a lease is a
 *            block of a tenant's available money handed to one routingd,
 *            which sizes each call's grant from it and reports the grant
 *            (a take); billingd stores the take in cc.grants and moves its
 *            money from the lease to the call's reservation. available =
 *            balance + credit limit - open grants - leases, and a lease
 *            never exceeds it, so the balance cannot pass -credit_limit.
 *            A call may take several slices (cc.grants keyed on call and
 *            seq); its rated line settles them all. Every lease is kept in
 *            cc.credit_leases before its answer leaves, and a (re)started
 *            billingd reads them back (less what their holders took
 *            since) before it answers any credit request, so routingd
 *            grants on from its leases across a billingd restart. The
 *            epoch (a UUID per start, announced on cc.rpc.hello.billingd)
 *            only tells routingd that billingd restarted.
 *
 * In memory: per tenant its plan, balance and reserved amount (loaded from
 * PostgreSQL on first use and again after a cc.cfg.<tenant> notice or 60 s,
 * then kept by the deltas billingd itself commits), and every deck version
 * used so far. One mutex guards it, never held across the batch's COMMIT;
 * an account reloaded while a COMMIT was in flight is marked stale rather
 * than given that commit's deltas, so no commit is counted twice. One
 * billingd owns the grants (see docs/BILLING.md).
 */
#ifndef BL_ENGINE_H
#define BL_ENGINE_H

#include <jansson.h>
#include <nats/nats.h>
#include <pthread.h>

#include "decks.h"
#include "hist.h"
#include "id.h"
#include "map.h"
#include "pg.h"

/* A lease untouched (no request, no take) this long is void. */
#define BL_LEASE_TTL_MS 30000

struct bl_engine {
	pthread_mutex_t lock;
	char epoch[CC_UUID_LEN];      /* this run's */
	struct cc_pg take_pg;         /* the credit thread's connection */
	struct cc_map accounts;       /* tenant id -> struct bl_account */
	struct cc_map leases;         /* tenant id -> struct bl_leases */
	struct bl_decks decks;        /* every deck version used so far */
	struct cc_hist credit_ns;     /* lease and take service time */
	struct cc_hist store_ns;      /* of which storing a take */
	uint64_t leases_given, takes;
	bool restored;                /* the leases of earlier runs are read */
};

void bl_engine_init(struct bl_engine *e, const char *pg_url);
void bl_engine_free(struct bl_engine *e);

/* Rates the final calls among call_ids (a JSON array of ids) inside the
 * caller's open transaction on pg. Deltas wait in *pending (an array the
 * caller passes to bl_engine_apply after COMMIT). CC_ERROR on a database
 * failure (the caller rolls back). */
int bl_engine_rate(struct bl_engine *e, struct cc_pg *pg, const json_t *call_ids, json_t **pending);

/* The posting statement alone (rated lines as a JSON array of objects
 * with the columns of cc.rated_lines): lines, ledger, settlements. Used by
 * bl_engine_rate and the benchmark. NULL on failure (see pg->error). */
PGresult *bl_engine_post(struct cc_pg *pg, const char *lines_json);

/* An open grant reserves money while its call can still be running: its
 * granted seconds plus 10 minutes of setup and ringing. Older, its call's
 * end was lost (reconciliation: stale_grant) and it stops holding credit. */
#define BL_GRANT_LIVE "created_at > now() - (seconds + 600) * interval '1 second'"

/* The call context rating needs, as SELECT columns (in this order:
 * 0 id, 1 tenant, 2 direction, 3 rated digits, 4 start, 5 answered,
 * 6 talk ms, 7 local weekday (0 = Monday), 8 local minute of day,
 * 9 currency, 10 minor unit, 11 max call s, 12 no-rate policy,
 * 13 deck version in force at the start, 14 granted seconds) and the
 * FROM clause (calls c, tenants t, billing_plans p, currencies cur,
 * grants g). Shared by billingd's rating and rerating. */
#define BL_AT "COALESCE(c.answered_at, c.started_at, c.ended_at) AT TIME ZONE t.timezone"
#define BL_CALL_COLS \
	"c.id, c.tenant_id, c.direction," \
	" regexp_replace(CASE WHEN c.direction = 'inbound' THEN c.number ELSE c.to_number END, '[^0-9]', '', 'g')," \
	" COALESCE(c.started_at, c.answered_at, c.ended_at), c.answered_at IS NOT NULL," \
	" COALESCE(round(extract(epoch FROM c.ended_at - c.answered_at) * 1000), 0)::bigint," \
	" extract(isodow FROM " BL_AT ")::int - 1," \
	" (extract(hour FROM " BL_AT ") * 60 + extract(minute FROM " BL_AT "))::int," \
	" p.currency, cur.minor_unit, p.max_call_s, p.no_rate," \
	" (SELECT v.id FROM cc.tariff_versions v WHERE v.tariff_id =" \
	"    CASE WHEN c.direction = 'inbound' THEN p.inbound_tariff ELSE p.outbound_tariff END" \
	"    AND v.effective_from <= COALESCE(c.started_at, c.answered_at, c.ended_at)" \
	"  ORDER BY v.effective_from DESC, v.version DESC LIMIT 1)," \
	" g.seconds"
#define BL_CALL_FROM \
	"FROM cc.calls c JOIN cc.tenants t ON t.id = c.tenant_id" \
	" JOIN cc.billing_plans p ON p.tenant_id = c.tenant_id" \
	" JOIN cc.currencies cur ON cur.code = p.currency" \
	/* every slice of the call (several rows: credit.h's top-ups) */ \
	" LEFT JOIN LATERAL (SELECT sum(g0.seconds)::int AS seconds FROM cc.grants g0" \
	"   WHERE g0.call_id = c.id) g ON true "

/* One rated line (a JSON object with cc.rated_lines' columns) per row of
 * a BL_CALL_COLS result; NULL if a deck could not be loaded. */
json_t *bl_rate_rows(struct bl_decks *ds, struct cc_pg *pg, const PGresult *res);

/* COMMIT on pg, then the deltas (see above). */
int bl_engine_commit(struct bl_engine *e, struct cc_pg *pg, json_t *pending);

/* A configuration notice: forget the tenant's account ("" = every account). */
void bl_engine_stale(struct bl_engine *e, const char *tenant);

/* The NATS handler for cc.rpc.credit.* requests (one subscription, so
 * they are handled in the order they arrive). */
void bl_engine_on_credit(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *arg);

/* Announces this run's epoch on cc.rpc.hello.billingd. */
void bl_engine_hello(struct bl_engine *e, natsConnection *nc);

#endif
