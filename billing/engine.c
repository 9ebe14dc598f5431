/* engine.c: see engine.h. */
#include "engine.h"
#include "cc.h"
#include "clock.h"
#include "id.h"
#include "log.h"
#include "rate.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define ACCOUNT_TTL_MS 60000

struct bl_account {
	bool loaded;
	uint64_t generation;            /* changes with every load */
	int64_t loaded_ms;
	bool has_plan;
	int64_t credit_limit;
	int64_t balance;                /* sum of the tenant account's entries */
	int64_t reserved;               /* open grants */
};

/* Credit leased to one routingd for one tenant (engine.h). Not part of
 * the account: reloading an account from PostgreSQL keeps its leases. */
struct bl_lease {
	char holder[CC_UUID_LEN];
	int64_t amount;                 /* leased, not yet taken by a call */
	uint64_t synced;                /* the holder's sequence at its last request */
	int64_t touched_ms;
};

struct bl_leases {                      /* a tenant's, one per routingd */
	size_t n;
	struct bl_lease *v;
};

void bl_engine_init(struct bl_engine *e, const char *pg_url)
{
	memset(e, 0, sizeof(*e));
	pthread_mutex_init(&e->lock, NULL);
	cc_pg_init(&e->take_pg, pg_url);
	CC_BUG_ON(cc_uuid(e->epoch) != CC_OK);
}

static void free_leases(void *p)
{
	struct bl_leases *ls = p;

	free(ls->v);
	free(ls);
}

void bl_engine_free(struct bl_engine *e)
{
	cc_map_free(&e->accounts, free);
	cc_map_free(&e->leases, free_leases);
	bl_decks_free(&e->decks);
	cc_pg_close(&e->take_pg);
	pthread_mutex_destroy(&e->lock);
}

/* ------------------------------------------------------------- accounts */

static const char ACCOUNT_SQL[] =
	"SELECT p.credit_limit_micro,"
	" (SELECT COALESCE(sum(amount_micro), 0) FROM cc.ledger_entries"
	"   WHERE tenant_id = p.tenant_id AND account = 'tenant'),"
	" (SELECT COALESCE(sum(amount_micro), 0) FROM cc.grants"
	"   WHERE tenant_id = p.tenant_id AND settled_at IS NULL AND " BL_GRANT_LIVE ") "
	"FROM cc.billing_plans p WHERE p.tenant_id = $1";

/* The tenant's account, loaded if needed. NULL if the database is down.
 * Caller holds the lock. */
static struct bl_account *account_of(struct bl_engine *e, const char *tenant)
{
	struct bl_account *a = cc_map_get(&e->accounts, tenant);
	const char *p[1] = { tenant };
	PGresult *res;

	if (a && a->loaded && cc_mono_ms() - a->loaded_ms < ACCOUNT_TTL_MS)
		return a;
	if (!(res = cc_pg_exec(&e->take_pg, ACCOUNT_SQL, 1, p)))
		return NULL;
	if (!a) {
		a = calloc(1, sizeof(*a));
		CC_BUG_ON(!a);
		cc_map_put(&e->accounts, tenant, a);
	}
	static uint64_t generations;

	memset(a, 0, sizeof(*a));
	a->loaded = true;
	a->generation = ++generations;
	a->loaded_ms = cc_mono_ms();
	if (PQntuples(res) == 1) {
		a->has_plan = true;
		a->credit_limit = atoll(PQgetvalue(res, 0, 0));
		a->balance = atoll(PQgetvalue(res, 0, 1));
		a->reserved = atoll(PQgetvalue(res, 0, 2));
	}
	PQclear(res);
	return a;
}

void bl_engine_stale(struct bl_engine *e, const char *tenant)
{
	pthread_mutex_lock(&e->lock);
	if (tenant && *tenant) {
		struct bl_account *a = cc_map_get(&e->accounts, tenant);

		if (a)
			a->loaded = false;
	} else {
		for (size_t i = 0; i < e->accounts.cap; i++)
			if (e->accounts.slots[i].key)
				((struct bl_account *)e->accounts.slots[i].value)->loaded = false;
	}
	pthread_mutex_unlock(&e->lock);
}

/* --------------------------------------------------------------- rating */

static const char CALLS_SQL[] =
	"SELECT " BL_CALL_COLS " " BL_CALL_FROM
	"WHERE c.id = ANY($1::uuid[]) AND c.ended_at IS NOT NULL"
	" AND c.direction IN ('inbound', 'outbound')"
	/* an end that says "answered" waits for its answered event (a
	 * redelivered one comes after newer events): rated without it, the
	 * call cost nothing */
	" AND NOT (c.result = 'answered' AND c.answered_at IS NULL)"
	" AND NOT EXISTS (SELECT 1 FROM cc.rated_lines r WHERE r.call_id = c.id)";

/* A take and the rating of its call exclude each other (transaction-level
 * advisory locks keyed on the call id): otherwise a take stored while the
 * call's rating was still uncommitted saw no rated line, and the rating
 * saw no grant to settle, and the grant stayed open for good (seen when
 * billingd was killed mid-load and its resent takes met the rating of
 * their calls). In id order, so two holders never wait on each other. */
#define CALL_LOCK(id) "pg_advisory_xact_lock(hashtextextended(" id "::text, 7401))"
static const char CALL_LOCKS_SQL[] =
	"SELECT " CALL_LOCK("id") " FROM (SELECT DISTINCT unnest($1::uuid[]) AS id ORDER BY 1) x";

/* Lines in, ledger and settlements out, in one statement. Returns the
 * deltas: ('line', tenant, cost) and ('grant', tenant, amount). */
/* Each line costing money posts in its batch's usage transaction for its
 * tenant (one per batch and tenant: the tenant entry is the sum of the
 * lines, the counter-entry revenue:usage), and the line records that
 * transaction (txn_id). A replayed line is not inserted, so it is not in
 * the sum: nothing posts twice. */
static const char POST_SQL[] =
	"WITH l AS (SELECT * FROM json_to_recordset($1::json) AS x(call_id uuid, tenant_id uuid,"
	"  direction text, destination text, started_at timestamptz, version_id uuid, prefix text,"
	"  description text, talk_ms bigint, billable_s int, rate_per_min_micro bigint,"
	"  connect_fee_micro bigint, exact_micro60 bigint, cost_micro bigint, rounding text,"
	"  currency text, flags text)),"
	"t AS (SELECT tenant_id, gen_random_uuid() AS txn FROM l GROUP BY tenant_id),"
	"ins AS (INSERT INTO cc.rated_lines (call_id, revision, tenant_id, direction, destination,"
	"  started_at, version_id, prefix, description, talk_ms, billable_s, rate_per_min_micro,"
	"  connect_fee_micro, exact_micro60, cost_micro, rounding, currency, flags, txn_id)"
	"  SELECT l.call_id, 1, l.tenant_id, direction, destination, started_at, version_id, prefix,"
	"  description, talk_ms, billable_s, rate_per_min_micro, connect_fee_micro, exact_micro60,"
	"  cost_micro, rounding, currency, flags, CASE WHEN cost_micro <> 0 THEN t.txn END"
	"  FROM l JOIN t USING (tenant_id) ON CONFLICT DO NOTHING"
	"  RETURNING call_id, tenant_id, cost_micro, currency, txn_id),"
	"sums AS (SELECT txn_id, tenant_id, min(currency) AS currency, sum(cost_micro) AS total,"
	"  count(*) AS n FROM ins WHERE txn_id IS NOT NULL GROUP BY txn_id, tenant_id),"
	"txn AS (INSERT INTO cc.ledger_txns (id, tenant_id, kind, ref, currency, memo)"
	"  SELECT txn_id, tenant_id, 'usage', txn_id::text, currency, n || ' rated calls' FROM sums"
	"  RETURNING id),"
	"ent AS (INSERT INTO cc.ledger_entries (txn_id, tenant_id, account, amount_micro)"
	"  SELECT s.txn_id, s.tenant_id, a.account, a.amount FROM sums s"
	"  CROSS JOIN LATERAL (VALUES ('tenant', -s.total), ('revenue:usage', s.total))"
	"  AS a(account, amount) RETURNING 1),"
	"settle AS (UPDATE cc.grants g SET settled_at = now() FROM ins"
	"  WHERE g.call_id = ins.call_id AND g.settled_at IS NULL"
	/* an expired grant no longer counts as reserved: settling it frees nothing */
	"  RETURNING g.tenant_id, CASE WHEN " BL_GRANT_LIVE " THEN g.amount_micro ELSE 0 END AS amount_micro) "
	"SELECT 'line', tenant_id::text, cost_micro FROM ins "
	"UNION ALL SELECT 'grant', tenant_id::text, amount_micro FROM settle "
	"UNION ALL SELECT 'entries', '', (SELECT count(*) FROM ent) + (SELECT count(*) FROM txn)";

PGresult *bl_engine_post(struct cc_pg *pg, const char *lines_json)
{
	const char *p[1] = { lines_json };

	return cc_pg_exec(pg, POST_SQL, 1, p);
}

static const char *flags_text(unsigned f)
{
	switch (f) {
	case 0: return "";
	case BL_NO_RATE: return "no_rate";
	case BL_TOO_LONG: return "too_long";
	case BL_CAPPED: return "capped";
	default: return "flagged";
	}
}

json_t *bl_rate_rows(struct bl_decks *ds, struct cc_pg *pg, const PGresult *res)
{
	json_t *lines = json_array();

	for (int r = 0; r < PQntuples(res); r++) {
		const char *version = PQgetisnull(res, r, 13) ? NULL : PQgetvalue(res, r, 13);
		const struct bl_deck *deck = NULL;
		int minor = atoi(PQgetvalue(res, r, 10));
		struct bl_call call = {
			.digits = PQgetvalue(res, r, 3),
			.answered = PQgetvalue(res, r, 5)[0] == 't',
			.talk_ms = atoll(PQgetvalue(res, r, 6)),
			.dow = atoi(PQgetvalue(res, r, 7)),
			.minute = atoi(PQgetvalue(res, r, 8)),
			.max_s = atoll(PQgetvalue(res, r, 11)),
			.grant_s = PQgetisnull(res, r, 14) ? -1 : atoll(PQgetvalue(res, r, 14)),
		};
		struct bl_line line;

		if (version && !(deck = bl_decks_get(ds, pg, version))) {
			json_decref(lines);
			return NULL;
		}
		bl_rate_call(deck, &call, minor, &line);
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:s, s:s}",
		                      "call_id", PQgetvalue(res, r, 0), "tenant_id", PQgetvalue(res, r, 1),
		                      "direction", PQgetvalue(res, r, 2), "destination", call.digits,
		                      "started_at", PQgetvalue(res, r, 4),
		                      "talk_ms", (json_int_t)(call.answered ? call.talk_ms : 0),
		                      "billable_s", (json_int_t)line.billable_s,
		                      "rate_per_min_micro", (json_int_t)(line.rate ? line.rate->per_min_micro : 0),
		                      "connect_fee_micro", (json_int_t)(line.rate ? line.rate->connect_micro : 0),
		                      "exact_micro60", (json_int_t)line.exact_micro60,
		                      "cost_micro", (json_int_t)line.cost_micro,
		                      "rounding", bl_rounding_rule(minor), "currency", PQgetvalue(res, r, 9),
		                      "flags", flags_text(line.flags));
		if (version)
			json_object_set_new(o, "version_id", json_string(version));
		if (line.rate) {
			json_object_set_new(o, "prefix", json_string(line.rate->prefix));
			json_object_set_new(o, "description", json_string(line.rate->description));
		}
		json_array_append_new(lines, o);
	}
	return lines;
}

int bl_engine_rate(struct bl_engine *e, struct cc_pg *pg, const json_t *call_ids, json_t **pending)
{
	char *ids;
	PGresult *res;
	json_t *lines;

	*pending = json_array();
	if (!json_array_size(call_ids))
		return CC_OK;
	/* {id,id,...} as a PostgreSQL array literal: the ids are checked UUIDs */
	size_t i, len;
	json_t *v;
	FILE *f = open_memstream(&ids, &len);

	CC_BUG_ON(!f);
	json_array_foreach(call_ids, i, v)
		fprintf(f, "%s%s", i ? "," : "{", json_string_value(v));
	fputc('}', f);
	fclose(f);
	const char *p[1] = { ids };
	/* each call's lock until COMMIT: a take of one of these calls waits
	 * for it, then sees the rated line (take()) */
	res = cc_pg_exec(pg, CALL_LOCKS_SQL, 1, p);
	PQclear(res);
	res = res ? cc_pg_exec(pg, CALLS_SQL, 1, p) : NULL;
	free(ids);
	if (!res)
		return CC_ERROR;
	pthread_mutex_lock(&e->lock);
	lines = bl_rate_rows(&e->decks, pg, res);
	pthread_mutex_unlock(&e->lock);
	if (!lines) {
		PQclear(res);
		return CC_ERROR;
	}
	PQclear(res);
	if (!json_array_size(lines)) {
		json_decref(lines);
		return CC_OK;
	}
	char *doc = json_dumps(lines, JSON_COMPACT);
	json_decref(lines);
	res = bl_engine_post(pg, doc);
	free(doc);
	if (!res)
		return CC_ERROR;
	for (int r = 0; r < PQntuples(res); r++)
		if (strcmp(PQgetvalue(res, r, 0), "entries") != 0)
			json_array_append_new(*pending, json_pack("[s, s, I]", PQgetvalue(res, r, 0),
			                                          PQgetvalue(res, r, 1),
			                                          (json_int_t)atoll(PQgetvalue(res, r, 2))));
	PQclear(res);
	return CC_OK;
}

/* The COMMIT runs without the lock (it waits for the WAL flush, and grants
 * must not wait with it). An account loaded while the COMMIT was in flight
 * may or may not include it, so it is marked stale instead of getting the
 * deltas; until then grants see the state before the commit, which holds
 * at most as much available money (a settled grant frees at least what
 * its line costs). */
int bl_engine_commit(struct bl_engine *e, struct cc_pg *pg, json_t *pending)
{
	size_t n = json_array_size(pending), i;
	uint64_t *gen = calloc(n ? n : 1, sizeof(*gen));
	json_t *d;
	int rc;

	CC_BUG_ON(!gen);
	pthread_mutex_lock(&e->lock);
	json_array_foreach(pending, i, d) {
		struct bl_account *a = cc_map_get(&e->accounts, json_string_value(json_array_get(d, 1)));

		gen[i] = a && a->loaded ? a->generation : 0;
	}
	pthread_mutex_unlock(&e->lock);
	rc = cc_pg_cmd(pg, "COMMIT", 0, NULL);
	pthread_mutex_lock(&e->lock);
	if (rc == CC_OK)
		json_array_foreach(pending, i, d) {
			struct bl_account *a = cc_map_get(&e->accounts, json_string_value(json_array_get(d, 1)));
			int64_t amount = json_integer_value(json_array_get(d, 2));

			if (!a || !a->loaded)
				continue;
			if (a->generation != gen[i]) {
				a->loaded = false;
				continue;
			}
			if (strcmp(json_string_value(json_array_get(d, 0)), "line") == 0)
				a->balance -= amount;
			else
				a->reserved -= amount;
		}
	pthread_mutex_unlock(&e->lock);
	free(gen);
	return rc;
}

/* --------------------------------------------------------------- credit */

static void respond(natsConnection *nc, natsMsg *msg, json_t *reply)
{
	char *text = json_dumps(reply, JSON_COMPACT);

	if (natsMsg_GetReply(msg))
		natsConnection_PublishString(nc, natsMsg_GetReply(msg), text);
	free(text);
	json_decref(reply);
}

static bool expired(const struct bl_lease *l, int64_t now)
{
	return now - l->touched_ms > BL_LEASE_TTL_MS;
}

/* The holder's lease of a tenant, created if `create`; an expired one
 * comes back emptied. Caller holds the lock. */
static struct bl_lease *lease_of(struct bl_engine *e, const char *tenant, const char *holder,
                                 bool create)
{
	struct bl_leases *ls = cc_map_get(&e->leases, tenant);
	int64_t now = cc_mono_ms();

	if (!ls && !create)
		return NULL;
	if (!ls) {
		ls = calloc(1, sizeof(*ls));
		CC_BUG_ON(!ls);
		cc_map_put(&e->leases, tenant, ls);
	}
	for (size_t i = 0; i < ls->n; i++)
		if (strcmp(ls->v[i].holder, holder) == 0) {
			if (expired(&ls->v[i], now))
				ls->v[i].amount = 0;
			return ls->v[i].amount || create ? &ls->v[i] : NULL;
		}
	if (!create)
		return NULL;
	ls->v = realloc(ls->v, (ls->n + 1) * sizeof(*ls->v));
	CC_BUG_ON(!ls->v);
	memset(&ls->v[ls->n], 0, sizeof(ls->v[ls->n]));
	snprintf(ls->v[ls->n].holder, sizeof(ls->v[ls->n].holder), "%s", holder);
	return &ls->v[ls->n++];
}

/* What a tenant's other routingds hold. Caller holds the lock. */
static int64_t leased_elsewhere(struct bl_engine *e, const char *tenant, const struct bl_lease *mine)
{
	struct bl_leases *ls = cc_map_get(&e->leases, tenant);
	int64_t now = cc_mono_ms(), sum = 0;

	for (size_t i = 0; ls && i < ls->n; i++)
		if (&ls->v[i] != mine && !expired(&ls->v[i], now))
			sum += ls->v[i].amount;
	return sum;
}

/* Upserts the lease as it is now. Caller holds the lock. */
static int store_lease(struct bl_engine *e, const char *tenant, const struct bl_lease *l)
{
	char amount[24], seq[24];
	const char *p[4] = { tenant, l->holder, amount, seq };

	snprintf(amount, sizeof(amount), "%lld", (long long)l->amount);
	snprintf(seq, sizeof(seq), "%llu", (unsigned long long)l->synced);
	return cc_pg_cmd(&e->take_pg,
	                 "INSERT INTO cc.credit_leases (tenant_id, holder, amount_micro, synced_seq) "
	                 "VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, holder) DO UPDATE SET "
	                 "amount_micro = EXCLUDED.amount_micro, synced_seq = EXCLUDED.synced_seq, "
	                 "updated_at = now()", 4, p);
}

/* The leases an earlier run gave and that have not expired, less what
 * their holders took since (stored grants with a later seq; takes still
 * on their way are subtracted when they arrive, as in that run). Until
 * this worked, no credit request is answered: a lease this run does not
 * know of would not be counted as spent. Caller holds the lock. */
static int restore_leases(struct bl_engine *e)
{
	char ttl[24];
	const char *p[1] = { ttl };
	PGresult *res;

	/* a lease is written at its requests only, while takes keep it alive
	 * in memory: any lease of the last 10 minutes may still be in use. One
	 * nobody uses expires BL_LEASE_TTL_MS from now, as it would have. */
	snprintf(ttl, sizeof(ttl), "%d", 600);
	res = cc_pg_exec(&e->take_pg,
	                 "SELECT l.tenant_id, l.holder, greatest(l.amount_micro - COALESCE("
	                 "  (SELECT sum(g.amount_micro) FROM cc.grants g WHERE g.tenant_id = l.tenant_id"
	                 "   AND g.holder = l.holder AND g.seq > l.synced_seq), 0), 0), l.synced_seq "
	                 "FROM cc.credit_leases l "
	                 "WHERE l.updated_at > now() - $1::int * interval '1 second' AND l.amount_micro > 0",
	                 1, p);
	if (!res)
		return CC_ERROR;
	for (int r = 0; r < PQntuples(res); r++) {
		struct bl_lease *l = lease_of(e, PQgetvalue(res, r, 0), PQgetvalue(res, r, 1), true);

		l->amount = atoll(PQgetvalue(res, r, 2));
		l->synced = strtoull(PQgetvalue(res, r, 3), NULL, 10);
		l->touched_ms = cc_mono_ms();
	}
	if (PQntuples(res))
		CC_INFO("credit: %d leases of an earlier run honoured", PQntuples(res));
	PQclear(res);
	e->restored = true;
	return CC_OK;
}

/* A lease request: the lease becomes min(leased, have) plus what the
 * tenant can afford beyond every other reservation, up to want. */
static json_t *lease(struct bl_engine *e, const json_t *q)
{
	const char *tenant = json_string_value(json_object_get(q, "tenant"));
	const char *holder = json_string_value(json_object_get(q, "holder"));
	json_int_t req = json_integer_value(json_object_get(q, "req"));
	int64_t have = (int64_t)json_integer_value(json_object_get(q, "have"));
	int64_t want = (int64_t)json_integer_value(json_object_get(q, "want"));
	json_t *reply;

	if (!cc_uuid_valid(tenant) || !cc_uuid_valid(holder) || have < 0 || want < 0)
		return json_pack("{s:s, s:s}", "epoch", e->epoch, "error", "bad lease request");
	reply = json_pack("{s:s, s:s, s:I}", "epoch", e->epoch, "tenant", tenant, "req", req);
	pthread_mutex_lock(&e->lock);
	struct bl_account *a = account_of(e, tenant);

	if (!a) {
		json_object_set_new(reply, "error", json_string("database unavailable"));
	} else if (!a->has_plan) {
		json_object_set_new(reply, "unbilled", json_true());
	} else {
		struct bl_lease *l = lease_of(e, tenant, holder, true);
		int64_t free_money;

		if (l->amount > have)
			l->amount = have;
		l->synced = (uint64_t)json_integer_value(json_object_get(q, "seq"));
		l->touched_ms = cc_mono_ms();
		free_money = a->balance + a->credit_limit - a->reserved -
		             leased_elsewhere(e, tenant, l) - l->amount;
		if (want > l->amount && free_money > 0)
			l->amount += want - l->amount < free_money ? want - l->amount : free_money;
		/* kept before it is told: a billingd started after this answer
		 * honours it (what is not stored is not granted) */
		if (store_lease(e, tenant, l) != CC_OK) {
			json_object_set_new(reply, "error", json_string("database unavailable"));
		} else {
			json_object_set_new(reply, "total", json_integer(l->amount));
			e->leases_given++;
		}
	}
	pthread_mutex_unlock(&e->lock);
	return reply;
}

/* A slice routingd granted from its lease: stored in cc.grants (once,
 * keyed on the call and the take's seq), then its money moves from the
 * lease to the call. A call
 * whose rated line is already there gets its grant stored settled. */
static json_t *take(struct bl_engine *e, const json_t *q)
{
	const char *tenant = json_string_value(json_object_get(q, "tenant"));
	const char *holder = json_string_value(json_object_get(q, "holder"));
	const char *call = json_string_value(json_object_get(q, "call"));
	const char *epoch = json_string_value(json_object_get(q, "epoch"));
	int64_t seconds = (int64_t)json_integer_value(json_object_get(q, "seconds"));
	int64_t amount = (int64_t)json_integer_value(json_object_get(q, "amount"));
	uint64_t seq = (uint64_t)json_integer_value(json_object_get(q, "seq"));
	char s[24], m[24], q_seq[24];
	bool inserted = false, settled = false, leased = false;
	uint64_t t0 = cc_mono_ns();
	PGresult *res;

	if (!cc_uuid_valid(tenant) || !cc_uuid_valid(holder) || !cc_uuid_valid(call) || !epoch ||
	    seconds <= 0 || amount < 0 || seq > INT64_MAX)
		return json_pack("{s:s, s:b, s:s}", "epoch", e->epoch, "ok", 0, "error", "bad take");
	snprintf(s, sizeof(s), "%lld", (long long)seconds);
	snprintf(m, sizeof(m), "%lld", (long long)amount);
	snprintf(q_seq, sizeof(q_seq), "%llu", (unsigned long long)seq);
	const char *p[6] = { call, tenant, s, m, q_seq, holder };
	/* the call's lock first (CALL_LOCKS_SQL): the INSERT's snapshot then
	 * includes a rating that held it */
	if (cc_pg_cmd(&e->take_pg, "BEGIN", 0, NULL) != CC_OK) {
		res = NULL;
		goto stored;
	}
	res = cc_pg_exec(&e->take_pg, "SELECT " CALL_LOCK("$1"), 1, p);
	PQclear(res);
	if (res)
		res = cc_pg_exec(&e->take_pg,
	                 "INSERT INTO cc.grants (call_id, tenant_id, seconds, amount_micro, seq, holder,"
	                 "  settled_at) "
	                 "SELECT $1, $2, $3, $4, $5, $6, CASE WHEN EXISTS (SELECT 1 FROM cc.rated_lines "
	                 "  WHERE call_id = $1::uuid) THEN now() END "
	                 "ON CONFLICT (call_id, seq) DO NOTHING RETURNING settled_at IS NOT NULL", 6, p);
	if (res && cc_pg_cmd(&e->take_pg, "COMMIT", 0, NULL) != CC_OK) {
		PQclear(res);
		res = NULL;
	}
	if (!res)
		cc_pg_cmd(&e->take_pg, "ROLLBACK", 0, NULL);
stored:
	cc_hist_add(&e->store_ns, cc_mono_ns() - t0);
	if (!res) {
		cc_log(CC_LOG_WARN, 0, tenant, call, "grant not stored (routingd will resend it): %s",
		       e->take_pg.message);
		return json_pack("{s:s, s:s, s:s, s:b}", "epoch", e->epoch, "tenant", tenant, "call", call,
		                 "ok", 0);
	}
	if (PQntuples(res) == 1) {
		inserted = true;
		settled = PQgetvalue(res, 0, 0)[0] == 't';
	}
	PQclear(res);
	pthread_mutex_lock(&e->lock);
	/* a lease an earlier run gave is as good as this run's (restored) */
	struct bl_lease *l = lease_of(e, tenant, holder, false);

	if (l) {
		leased = true;
		l->touched_ms = cc_mono_ms();
		if (inserted && seq > l->synced) {
			if (l->amount < amount)
				cc_log(CC_LOG_WARN, 0, tenant, call, "take of %lld exceeds the lease's %lld",
				       (long long)amount, (long long)l->amount);
			l->amount = l->amount > amount ? l->amount - amount : 0;
		}
	}
	if (inserted && !settled) {
		/* an account not loaded yet counts the stored grant when it loads
		 * (only this thread loads accounts) */
		struct bl_account *a = cc_map_get(&e->accounts, tenant);

		if (a && a->loaded)
			a->reserved += amount;
	}
	if (inserted)
		e->takes++;
	pthread_mutex_unlock(&e->lock);
	return json_pack("{s:s, s:s, s:s, s:I, s:b, s:b}", "epoch", e->epoch, "tenant", tenant,
	                 "call", call, "seq", (json_int_t)seq, "ok", 1, "leased", leased);
}

void bl_engine_on_credit(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *arg)
{
	struct bl_engine *e = arg;
	uint64_t t0 = cc_mono_ns();
	json_t *q = json_loadb(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), 0, NULL);
	const char *subject = natsMsg_GetSubject(msg);
	json_t *reply;

	pthread_mutex_lock(&e->lock);
	bool restored = e->restored || restore_leases(e) == CC_OK;
	pthread_mutex_unlock(&e->lock);

	if (!restored)
		reply = json_pack("{s:s, s:s}", "epoch", e->epoch, "error", "database unavailable");
	else if (!json_is_object(q))
		reply = json_pack("{s:s, s:s}", "epoch", e->epoch, "error", "not JSON");
	else if (strcmp(subject, "cc.rpc.credit.take") == 0)
		reply = take(e, q);
	else if (strcmp(subject, "cc.rpc.credit.lease") == 0)
		reply = lease(e, q);
	else
		reply = json_pack("{s:s, s:s}", "epoch", e->epoch, "error", "unknown request");
	cc_hist_add(&e->credit_ns, cc_mono_ns() - t0);
	respond(nc, msg, reply);
	json_decref(q);
	natsMsg_Destroy(msg);
}

void bl_engine_hello(struct bl_engine *e, natsConnection *nc)
{
	char text[80];

	snprintf(text, sizeof(text), "{\"epoch\":\"%s\"}", e->epoch);
	natsConnection_PublishString(nc, "cc.rpc.hello.billingd", text);
}
