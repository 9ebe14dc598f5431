/*
 * bench_model: routingd's model at scale, in one process with routingd's
 * own code. Loads the model from CC_PG_URL (rt_model_load, as routingd
 * does), then times BENCH_LOOKUPS (1,000,000) number lookups and as many
 * whole carrier-call decisions (rt_decide: number, tenant, block list,
 * agent) on numbers drawn at random from the model, each timed alone.
 * Prints load time, the process's resident memory before and after, and
 * p50/p99/max of both, one "key value" per line for ops/bench/scale.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc.h"
#include "decide.h"
#include "hist.h"
#include "model.h"
#include "pg.h"

static long rss_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

int main(void)
{
	const char *url = getenv("CC_PG_URL"), *n_env = getenv("BENCH_LOOKUPS");
	size_t lookups = n_env ? strtoul(n_env, NULL, 10) : 1000000;
	struct cc_pg pg;
	char *err = NULL;
	static struct cc_hist get_ns, decide_ns;

	if (!url) {
		fprintf(stderr, "bench_model: set CC_PG_URL\n");
		return 2;
	}
	cc_pg_init(&pg, url);
	long rss0 = rss_kib();
	uint64_t t0 = cc_mono_ns();
	struct rt_model *m = rt_model_load(&pg, &err);
	uint64_t t1 = cc_mono_ns();

	if (!m) {
		fprintf(stderr, "bench_model: load failed: %s\n", err);
		return 1;
	}
	cc_pg_close(&pg);
	printf("tenants %zu\nnumbers %zu\nagents %zu\n", m->tenants.len, m->numbers.len, m->n_agents);
	printf("load_s %.3f\nrss_before_kib %ld\nrss_after_kib %ld\n", (double)(t1 - t0) / 1e9,
	       rss0, rss_kib());

	/* the keys to look up: every number of the model, in a shuffled order */
	const struct rt_number **nums = calloc(m->numbers.len, sizeof(*nums));
	size_t n = 0;

	CC_BUG_ON(!nums);
	for (size_t i = 0; i < m->numbers.cap; i++)
		if (m->numbers.slots[i].key)
			nums[n++] = m->numbers.slots[i].value;
	if (!n) {
		fprintf(stderr, "bench_model: the model has no numbers\n");
		return 1;
	}
	srand(42);
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = ((size_t)rand() * 2654435761u + (size_t)rand()) % (i + 1);
		const struct rt_number *t = nums[i];

		nums[i] = nums[j];
		nums[j] = t;
	}

	size_t found = 0;
	for (size_t i = 0; i < lookups; i++) {
		const char *key = nums[i % n]->digits;
		uint64_t a = cc_mono_ns();
		const struct rt_number *hit = cc_map_get(&m->numbers, key);
		uint64_t b = cc_mono_ns();

		found += hit != NULL;
		cc_hist_add(&get_ns, b - a);
	}

	size_t rang = 0;
	for (size_t i = 0; i < lookups; i++) {
		char to[CC_E164_MAX + 2];
		struct rt_decision d;

		snprintf(to, sizeof(to), "+%s", nums[i % n]->digits);
		struct rt_request req = { .kind = RT_CARRIER, .trunk = "t", .from_user = "+8613800000001",
		                          .to_user = to };
		uint64_t a = cc_mono_ns();

		rt_decide(m, &req, &d);
		uint64_t b = cc_mono_ns();

		rang += d.action == RT_RING_AGENT;
		cc_hist_add(&decide_ns, b - a);
	}
	/* the clock itself, to read the figures against */
	static struct cc_hist clock_ns;
	for (size_t i = 0; i < 100000; i++) {
		uint64_t a = cc_mono_ns(), b = cc_mono_ns();

		cc_hist_add(&clock_ns, b - a);
	}
	printf("lookups %zu\nlookups_found %zu\n", lookups, found);
	printf("lookup_p50_ns %llu\nlookup_p99_ns %llu\nlookup_max_ns %llu\n",
	       (unsigned long long)cc_hist_quantile(&get_ns, 0.5),
	       (unsigned long long)cc_hist_quantile(&get_ns, 0.99), (unsigned long long)get_ns.max_ns);
	printf("decisions_ringing %zu\n", rang);
	printf("decide_p50_ns %llu\ndecide_p99_ns %llu\ndecide_max_ns %llu\n",
	       (unsigned long long)cc_hist_quantile(&decide_ns, 0.5),
	       (unsigned long long)cc_hist_quantile(&decide_ns, 0.99),
	       (unsigned long long)decide_ns.max_ns);
	printf("clock_p50_ns %llu\n", (unsigned long long)cc_hist_quantile(&clock_ns, 0.5));
	free(nums);
	rt_model_free(m);
	return 0;
}
