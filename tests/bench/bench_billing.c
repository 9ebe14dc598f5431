/*
 * bench_billing: billing's hot paths in one process.
 *
 *   bench_billing rate [PREFIXES] [CALLS]
 *       Rating throughput on one core: a deck of PREFIXES (100,000) random
 *       prefixes, CALLS (1,000,000) random calls (90% to numbers under a
 *       deck prefix, 10% to numbers under none), rated with bl_rate_call;
 *       five rounds, median. Reference in the same run: the same rating
 *       with the longest prefix found by probing a hash map once per
 *       prefix length (15 down to 1), the usual hash-table approach.
 *
 *   bench_billing post PG_URL TENANT_ID [LINES] [BATCH]
 *       Rated lines and their ledger postings written to PostgreSQL with
 *       billingd's own statement (bl_engine_post: the lines, and per batch
 *       and tenant one usage transaction with two entries), BATCH (1,000)
 *       lines per transaction. Reference in the same run: the same lines inserted
 *       into a plain table of the same shape (no ledger, no keys).
 *
 * Prints "key value" lines for ops/bench/billing.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc.h"
#include "engine.h"
#include "hist.h"
#include "id.h"
#include "map.h"
#include "rate.h"
#include "rnd.h"


static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* ------------------------------------------------------------- rating */

static const struct bl_rate *hash_match(const struct cc_map *m, const char *digits)
{
	char p[BL_PREFIX_MAX + 1];
	size_t n = strlen(digits);

	if (n > BL_PREFIX_MAX)
		n = BL_PREFIX_MAX;
	memcpy(p, digits, n);
	for (; n > 0; n--) {
		p[n] = '\0';
		const struct bl_rate *r = cc_map_get(m, p);
		if (r)
			return r;
	}
	return NULL;
}

static int bench_rate(size_t n_prefixes, size_t n_calls)
{
	struct bl_deck deck;
	struct cc_map byprefix = { 0 };
	char (*numbers)[16] = malloc(n_calls * sizeof(*numbers));
	double trie_cps[5], hash_cps[5];
	int64_t sink = 0;

	CC_BUG_ON(!numbers);
	bl_deck_init(&deck);
	while (deck.n_rates < n_prefixes) {
		struct bl_rate r = { .per_min_micro = (int64_t)(rnd() % 2000000), .initial_s = 60,
		                     .increment_s = (int32_t)(rnd() % 2 ? 60 : 6), .days = BL_ALL_DAYS,
		                     .start_min = 0, .end_min = 1440, .description = "dest" };
		size_t len = 3 + rnd() % 6;   /* 3..8 digits */

		r.prefix[0] = (char)('1' + rnd() % 9);
		for (size_t i = 1; i < len; i++)
			r.prefix[i] = (char)('0' + rnd() % 10);
		r.prefix[len] = '\0';
		if (bl_deck_add(&deck, &r) != CC_OK)
			continue;
	}
	/* the hash reference holds the same rows (addresses are stable now) */
	for (size_t i = 0; i < deck.n_rates; i++)
		cc_map_put(&byprefix, deck.rates[i].prefix, &deck.rates[i]);
	for (size_t i = 0; i < n_calls; i++) {
		size_t len = 11 + rnd() % 3;
		size_t k = 0;

		if (rnd() % 10) {
			const char *p = deck.rates[rnd() % deck.n_rates].prefix;

			k = strlen(p);
			memcpy(numbers[i], p, k);
		}
		if (!k)
			numbers[i][k++] = (char)('1' + rnd() % 9);
		for (; k < len; k++)
			numbers[i][k] = (char)('0' + rnd() % 10);
		numbers[i][len] = '\0';
	}
	for (int round = 0; round < 5; round++) {
		struct bl_call c = { .answered = true, .grant_s = -1, .max_s = 14400, .dow = 2,
		                     .minute = 600 };
		struct bl_line line;
		uint64_t t0 = cc_mono_ns();

		for (size_t i = 0; i < n_calls; i++) {
			c.digits = numbers[i];
			c.talk_ms = (int64_t)(i % 600000);
			bl_rate_call(&deck, &c, 2, &line);
			sink += line.cost_micro;
		}
		uint64_t t1 = cc_mono_ns();

		for (size_t i = 0; i < n_calls; i++) {
			const struct bl_rate *r = hash_match(&byprefix, numbers[i]);
			int64_t e, cost = 0;

			if (r)
				bl_cost(r, bl_billable_s(r, (int64_t)(i % 600000)), 2, &e, &cost);
			sink += cost;
		}
		uint64_t t2 = cc_mono_ns();

		trie_cps[round] = (double)n_calls / ((double)(t1 - t0) / 1e9);
		hash_cps[round] = (double)n_calls / ((double)(t2 - t1) / 1e9);
	}
	qsort(trie_cps, 5, sizeof(double), cmp_double);
	qsort(hash_cps, 5, sizeof(double), cmp_double);
	printf("deck_rows %zu\ntrie_nodes %zu\ncalls %zu\n", deck.n_rates, deck.n_nodes, n_calls);
	printf("trie_calls_per_s %.0f\nhash_calls_per_s %.0f\n", trie_cps[2], hash_cps[2]);
	printf("checksum %lld\n", (long long)sink);
	cc_map_free(&byprefix, NULL);
	bl_deck_free(&deck);
	free(numbers);
	return 0;
}

/* ------------------------------------------------------------ posting */

static char *lines_json(const char *tenant, size_t n)
{
	json_t *a = json_array();
	char id[CC_UUID_LEN];

	for (size_t i = 0; i < n; i++) {
		int64_t billable = 1 + (int64_t)(rnd() % 600), cost = billable * 1000;

		CC_BUG_ON(cc_uuid(id) != CC_OK);
		json_array_append_new(a, json_pack(
			"{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:s, s:s}",
			"call_id", id, "tenant_id", tenant, "direction", "outbound",
			"destination", "8613812345678", "started_at", "2026-11-20T10:00:00Z",
			"prefix", "86138", "description", "China Mobile", "talk_ms", (json_int_t)(billable * 1000),
			"billable_s", (json_int_t)billable, "rate_per_min_micro", (json_int_t)60000,
			"connect_fee_micro", (json_int_t)0, "exact_micro60", (json_int_t)(cost * 60),
			"cost_micro", (json_int_t)cost, "rounding", "half-up to 0.01", "currency", "CNY",
			"flags", ""));
	}
	char *s = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	return s;
}

static const char REF_SQL[] =
	"INSERT INTO bench_ref SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(call_id uuid,"
	" tenant_id uuid, direction text, destination text, started_at timestamptz, version_id uuid,"
	" prefix text, description text, talk_ms bigint, billable_s int, rate_per_min_micro bigint,"
	" connect_fee_micro bigint, exact_micro60 bigint, cost_micro bigint, rounding text,"
	" currency text, flags text)";

static int bench_post(const char *url, const char *tenant, size_t n, size_t batch)
{
	struct cc_pg pg;
	size_t batches = (n + batch - 1) / batch;
	char **docs = calloc(batches, sizeof(*docs));
	double ref_s = 0, post_s = 0;

	CC_BUG_ON(!docs);
	cc_pg_init(&pg, url);
	if (cc_pg_cmd(&pg, "CREATE TEMP TABLE bench_ref (call_id uuid, tenant_id uuid, direction text,"
	              " destination text, started_at timestamptz, version_id uuid, prefix text,"
	              " description text, talk_ms bigint, billable_s int, rate_per_min_micro bigint,"
	              " connect_fee_micro bigint, exact_micro60 bigint, cost_micro bigint, rounding text,"
	              " currency text, flags text)", 0, NULL) != CC_OK) {
		fprintf(stderr, "bench_billing: %s\n", pg.message);
		return 1;
	}
	for (size_t b = 0; b < batches; b++)
		docs[b] = lines_json(tenant, b + 1 < batches ? batch : n - b * batch);
	for (int pass = 0; pass < 2; pass++) {
		uint64_t t0 = cc_mono_ns();

		for (size_t b = 0; b < batches; b++) {
			PGresult *res = NULL;
			const char *p[1] = { docs[b] };

			if (cc_pg_cmd(&pg, "BEGIN", 0, NULL) != CC_OK ||
			    (pass == 0 ? cc_pg_cmd(&pg, REF_SQL, 1, p) != CC_OK
			               : !(res = bl_engine_post(&pg, docs[b]))) ||
			    cc_pg_cmd(&pg, "COMMIT", 0, NULL) != CC_OK) {
				fprintf(stderr, "bench_billing: %s\n", pg.message);
				return 1;
			}
			if (res)
				PQclear(res);
		}
		double s = (double)(cc_mono_ns() - t0) / 1e9;

		if (pass == 0)
			ref_s = s;
		else
			post_s = s;
	}
	PGresult *res = cc_pg_exec(&pg, "SELECT (SELECT count(*) FROM cc.rated_lines),"
	                           " (SELECT count(*) FROM cc.ledger_entries)", 0, NULL);
	printf("lines %zu\nbatch %zu\n", n, batch);
	printf("post_lines_per_s %.0f\nref_rows_per_s %.0f\n", (double)n / post_s, (double)n / ref_s);
	if (res) {
		printf("rated_lines_total %s\nledger_entries_total %s\n", PQgetvalue(res, 0, 0),
		       PQgetvalue(res, 0, 1));
		PQclear(res);
	}
	for (size_t b = 0; b < batches; b++)
		free(docs[b]);
	free(docs);
	cc_pg_close(&pg);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "rate") == 0)
		return bench_rate(argc > 2 ? strtoul(argv[2], NULL, 10) : 100000,
		                  argc > 3 ? strtoul(argv[3], NULL, 10) : 1000000);
	if (argc >= 4 && strcmp(argv[1], "post") == 0)
		return bench_post(argv[2], argv[3], argc > 4 ? strtoul(argv[4], NULL, 10) : 200000,
		                  argc > 5 ? strtoul(argv[5], NULL, 10) : 1000);
	fprintf(stderr, "usage: bench_billing rate [PREFIXES] [CALLS]\n"
	                "       bench_billing post PG_URL TENANT_ID [LINES] [BATCH]\n");
	return 2;
}
