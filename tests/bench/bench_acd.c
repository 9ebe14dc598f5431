/*
 * bench_acd: the ACD runtime (routing/acd.c, the code routingd runs) at
 * scale, on one core: 1,000 queues (every strategy), 10,000 agents each in
 * 3 queues (priorities 1-3, skills), 5,000 callers waiting.
 *
 *   ready->offer    an agent becomes ready (acd_agent_set) and is offered
 *                   the first eligible caller of its queues, timed around
 *                   the one call (events and journal records built, as in
 *                   routingd); then the call is answered, ended, the agent
 *                   goes not ready and a new caller replaces the one served
 *                   (not timed), so 5,000 keep waiting;
 *   arrival->offer  a caller arrives (acd_enqueue) in a queue with ready
 *                   agents (100 queues whose 1,000 agents are all ready),
 *                   timed until its offer is sent;
 *   throughput      whole cycles (ready, offer, taken, answered, ended, not
 *                   ready, a new caller) per second;
 *   memory          malloc'd bytes (mallinfo2) per agent (configuration
 *                   included) and per waiting caller.
 * Reference, in the same run: a naive dispatch that scans every waiting
 * caller (agent ready) or every agent (arrival) with the same eligibility
 * rules, over the same sequence; and the target, p99 under 1 ms.
 * BENCH_ACD_OPS (20,000) operations of each kind. Prints "key value" lines
 * and a table (ops/bench/acd.sh).
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acd.h"
#include "acd_harness.h"
#include "hist.h"

#define TENANT "00000000-0000-4000-8000-00000000be01"
#define N_QUEUES 1000
#define N_ARRIVAL_QUEUES 100             /* kept empty, their agents ready */
#define N_AGENTS 10000
#define N_ARRIVAL_AGENTS 1000
#define N_WAITING 5000
#define T0 1800000000000LL

static uint64_t rs = 0x2545f4914f6cdd1dull;
static unsigned rn(unsigned n)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return (unsigned)(rs % n);
}

static struct acd_queue_cfg queues[N_QUEUES];
static struct acd_agent_cfg agents[N_AGENTS];
static struct acd_membership mems[N_AGENTS][3];
static struct acd_tenant_cfg cfg;

/* the naive reference's view of the same world */
struct nv_entry { int queue; int skill_level; bool used; };
static struct nv_entry nv_entries[N_WAITING * 2];
static size_t nv_n;

static struct h_rec R;
static struct acd *A;
static int64_t now = T0;
static uint64_t next_call;

/* on-CPU nanoseconds of this thread: what the ACD costs, without the time
 * the (shared, loaded) machine ran something else in between */
static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static size_t heap_bytes(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

static bool enqueue_in(int q)
{
	char call[CC_UUID_LEN], caller[24];
	struct acd_enqueue_ans ans;

	snprintf(call, sizeof(call), "bench-call-%llu", (unsigned long long)next_call++);
	snprintf(caller, sizeof(caller), "+86138%08u", rn(100000000));
	struct acd_enqueue req = { TENANT, call, "md1", queues[q].name, caller, NULL, 0, (int)rn(3), now };
	acd_enqueue(A, &req, now, &ans);
	return ans.ok;
}

static int stocked_queue(void)
{
	return N_ARRIVAL_QUEUES + (int)rn(N_QUEUES - N_ARRIVAL_QUEUES);
}

static void build(void)
{
	static const enum acd_strategy strat[] = { ACD_LONGEST_IDLE, ACD_ROUND_ROBIN, ACD_FEWEST_CALLS,
	                                           ACD_LEAST_TALK_TIME, ACD_RANDOM, ACD_SKILLS, ACD_RING_ALL };
	memset(&cfg, 0, sizeof(cfg));
	strcpy(cfg.tenant, TENANT);
	strcpy(cfg.lang, "zh");
	for (int i = 0; i < N_QUEUES; i++) {
		struct acd_queue_cfg *q = &queues[i];

		snprintf(q->id, sizeof(q->id), "00000000-0000-4000-8000-%012d", i);
		snprintf(q->name, sizeof(q->name), "queue-%d", i);
		q->strategy = strat[i % 7];
		q->ring_timeout_s = 15;
		q->wrapup_s = 10;
		q->service_level_s = 20;
		q->sticky_within_days = 30;
		q->sticky_ring_s = 10;
		if (i % 4 == 1) {
			strcpy(q->required[0].name, "repair");
			q->required[0].level = 2;
			q->n_required = 1;
		}
	}
	for (int i = 0; i < N_AGENTS; i++) {
		struct acd_agent_cfg *a = &agents[i];
		bool arrival = i < N_ARRIVAL_AGENTS;

		snprintf(a->id, sizeof(a->id), "00000000-0000-4000-9000-%012d", i);
		snprintf(a->ext, sizeof(a->ext), "%d", 10000 + i);
		a->queues = mems[i];
		for (int k = 0; k < 3; k++) {
			int q;
			bool dup;

			do {
				q = arrival ? (int)rn(N_ARRIVAL_QUEUES) : stocked_queue();
				dup = false;
				for (int j = 0; j < k; j++)
					dup |= (int)mems[i][j].queue == q;
			} while (dup);
			mems[i][k].queue = (size_t)q;
			mems[i][k].priority = k + 1;
		}
		a->n_queues = 3;
		strcpy(a->skills[0].name, "repair");
		a->skills[0].level = 1 + (int)rn(5);
		strcpy(a->skills[1].name, "mandarin");
		a->skills[1].level = 1 + (int)rn(5);
		a->n_skills = 2;
	}
	cfg.queues = queues;
	cfg.n_queues = N_QUEUES;
	cfg.agents = agents;
	cfg.n_agents = N_AGENTS;
	cfg.version = 1;
}

/* ---- the naive reference: scan everything ---- */

static int level(const struct acd_agent_cfg *a, const char *skill)
{
	for (size_t i = 0; i < a->n_skills; i++)
		if (strcmp(a->skills[i].name, skill) == 0)
			return a->skills[i].level;
	return 0;
}

static bool nv_eligible(int agent, int q)
{
	const struct acd_queue_cfg *qc = &queues[q];
	bool member = false;

	for (size_t k = 0; k < agents[agent].n_queues; k++)
		member |= (int)agents[agent].queues[k].queue == q;
	if (!member)
		return false;
	for (size_t i = 0; i < qc->n_required; i++)
		if (level(&agents[agent], qc->required[i].name) < qc->required[i].level)
			return false;
	return true;
}

/* an agent ready: the oldest eligible waiting caller of all */
static volatile size_t nv_sink;
static void nv_agent_ready(int agent)
{
	size_t best = SIZE_MAX;

	for (size_t i = 0; i < nv_n; i++)
		if (!nv_entries[i].used && nv_eligible(agent, nv_entries[i].queue)) {
			best = i;
			break;                   /* in arrival order: the first is the oldest */
		}
	nv_sink = best;
}

/* an arrival: the longest idle eligible ready agent of all */
static void nv_arrival(int q, const bool *ready, const int64_t *since)
{
	size_t best = SIZE_MAX;

	for (int i = 0; i < N_AGENTS; i++)
		if (ready[i] && nv_eligible(i, q) && (best == SIZE_MAX || since[i] < since[best]))
			best = (size_t)i;
	nv_sink = best;
}

static void serve_last(int64_t t)
{
	struct h_offer *o = &R.offers[R.n_offers - 1];
	struct acd_result r = { TENANT, o->call, o->offer, o->agents[0], o->epochs[0], ACD_ANSWERED, 0, NULL, "leg" };

	acd_offer_taken(A, TENANT, o->call, o->offer, true, t);
	acd_result(A, &r, t + 1);
	r.kind = ACD_ENDED;
	acd_result(A, &r, t + 2);
}

static void line(const char *what, const struct cc_hist *h, const struct cc_hist *ref)
{
	double p99 = cc_hist_quantile(h, 0.99) / 1e3, r99 = cc_hist_quantile(ref, 0.99) / 1e3;

	printf("| %s | %llu | %.1f us | %.1f us | %.1f us | %.3f |\n", what, (unsigned long long)h->count,
	       cc_hist_quantile(h, 0.5) / 1e3, p99, h->max_ns / 1e3, p99 / 1000.0);
	printf("| reference: naive scan-all, same rules | %llu | %.1f us | %.1f us | %.1f us | acd p99 / naive p99 = %.3f |\n",
	       (unsigned long long)ref->count, cc_hist_quantile(ref, 0.5) / 1e3, r99, ref->max_ns / 1e3,
	       r99 > 0 ? p99 / r99 : 0);
}

int main(void)
{
	const char *ops_env = getenv("BENCH_ACD_OPS");
	long ops = ops_env ? atol(ops_env) : 20000;
	struct acd_out out = h_out(&R);
	static struct cc_hist h_ready, h_arrival, n_ready, n_arrival, c_ready, c_arrival;
	static bool ready[N_AGENTS];
	static int64_t since[N_AGENTS];
	size_t m0, m1, m2;
	uint64_t t0, t1;
	long cycles = 0, no_offer = 0;
	struct acd_stats st;

	R.keep_events = false;
	json_decref(R.journal);
	R.journal = NULL;                    /* records built and dropped: JetStream's job */
	build();
	m0 = heap_bytes();
	A = acd_new(&out, 7);
	acd_configure(A, &cfg, now);
	m1 = heap_bytes();
	/* every agent signed in, not ready; the arrival queues' agents ready */
	for (int i = 0; i < N_AGENTS; i++) {
		now++;
		acd_agent_set(A, TENANT, agents[i].ext, i < N_ARRIVAL_AGENTS ? ACD_READY : ACD_NOT_READY,
		              i < N_ARRIVAL_AGENTS ? NULL : "break", now, NULL);
		ready[i] = i < N_ARRIVAL_AGENTS;
		since[i] = now;
	}
	size_t m_agents = heap_bytes();
	for (int i = 0; i < N_WAITING; i++) {
		int q = stocked_queue();

		now++;
		enqueue_in(q);
		nv_entries[nv_n].queue = q;
		nv_entries[nv_n++].used = false;
	}
	m2 = heap_bytes();
	acd_stats(A, &st);
	if (st.waiting != N_WAITING || R.n_offers) {
		fprintf(stderr, "bench_acd: %llu waiting, %zu offers at the start\n", (unsigned long long)st.waiting, R.n_offers);
		return 1;
	}

	/* ready -> offer, and the whole cycle's throughput */
	t0 = cc_mono_ns();
	for (long i = 0; i < ops; i++) {
		int ag = N_ARRIVAL_AGENTS + (int)rn(N_AGENTS - N_ARRIVAL_AGENTS);
		size_t before = R.n_offers;
		uint64_t a0, a1, c0, c1;

		now += 10;
		c0 = cpu_ns();
		a0 = cc_mono_ns();
		acd_agent_set(A, TENANT, agents[ag].ext, ACD_READY, NULL, now, NULL);
		a1 = cc_mono_ns();
		c1 = cpu_ns();
		if (R.n_offers == before) {          /* nobody eligible waiting: not an assignment */
			no_offer++;
			acd_agent_set(A, TENANT, agents[ag].ext, ACD_NOT_READY, "break", now, NULL);
			continue;
		}
		cc_hist_add(&h_ready, a1 - a0);
		cc_hist_add(&c_ready, c1 - c0);
		serve_last(now);
		acd_agent_set(A, TENANT, agents[ag].ext, ACD_NOT_READY, "break", now + 3, NULL);
		enqueue_in(stocked_queue());
		cycles++;
		if (R.n_offers > 1 << 16)
			R.n_offers = 0;
	}
	t1 = cc_mono_ns();
	/* the reference over the same kind of sequence */
	for (long i = 0; i < ops; i++) {
		int ag = N_ARRIVAL_AGENTS + (int)rn(N_AGENTS - N_ARRIVAL_AGENTS);
		uint64_t a0 = cc_mono_ns();

		nv_agent_ready(ag);
		cc_hist_add(&n_ready, cc_mono_ns() - a0);
		if (nv_sink != SIZE_MAX) {           /* served, replaced at the end */
			nv_entries[nv_sink].used = true;
			nv_entries[nv_n % (N_WAITING * 2)].queue = stocked_queue();
			nv_entries[nv_n % (N_WAITING * 2)].used = false;
			if (nv_n + 1 < N_WAITING * 2)
				nv_n++;
		}
	}

	/* arrival -> offer with agents ready */
	for (long i = 0; i < ops; i++) {
		int q = (int)rn(N_ARRIVAL_QUEUES);
		size_t before = R.n_offers;
		uint64_t a0, a1, c0, c1;

		now += 10;
		c0 = cpu_ns();
		a0 = cc_mono_ns();
		bool ok = enqueue_in(q);
		a1 = cc_mono_ns();
		c1 = cpu_ns();
		if (!ok || R.n_offers == before)
			continue;                    /* no eligible agent ready there now */
		cc_hist_add(&h_arrival, a1 - a0);
		cc_hist_add(&c_arrival, c1 - c0);
		serve_last(now);
		/* wrap-up ends early: ready again, as the agent would */
		for (size_t k = 0; k < R.offers[R.n_offers - 1].n; k++)
			acd_agent_set(A, TENANT, R.offers[R.n_offers - 1].agents[k], ACD_READY, NULL, now + 3, NULL);
		if (R.n_offers > 1 << 16)
			R.n_offers = 0;
	}
	for (long i = 0; i < ops; i++) {
		int q = (int)rn(N_ARRIVAL_QUEUES);
		uint64_t a0 = cc_mono_ns();

		nv_arrival(q, ready, since);
		cc_hist_add(&n_arrival, cc_mono_ns() - a0);
		if (nv_sink != SIZE_MAX)
			since[nv_sink] = (int64_t)i + T0 + N_AGENTS;  /* served: the newest ready */
	}
	acd_stats(A, &st);
	{
		char why[256];

		if (acd_check(A, now, why, sizeof(why)) != 0) {
			fprintf(stderr, "bench_acd: acd_check: %s\n", why);
			return 1;
		}
	}

	printf("acd_ready_offer_p50_us %.1f\nacd_ready_offer_p99_us %.1f\n", cc_hist_quantile(&h_ready, 0.5) / 1e3,
	       cc_hist_quantile(&h_ready, 0.99) / 1e3);
	printf("acd_arrival_offer_p50_us %.1f\nacd_arrival_offer_p99_us %.1f\n", cc_hist_quantile(&h_arrival, 0.5) / 1e3,
	       cc_hist_quantile(&h_arrival, 0.99) / 1e3);
	printf("acd_ready_offer_cpu_p50_us %.1f\nacd_ready_offer_cpu_p99_us %.1f\n", cc_hist_quantile(&c_ready, 0.5) / 1e3,
	       cc_hist_quantile(&c_ready, 0.99) / 1e3);
	printf("acd_arrival_offer_cpu_p50_us %.1f\nacd_arrival_offer_cpu_p99_us %.1f\n", cc_hist_quantile(&c_arrival, 0.5) / 1e3,
	       cc_hist_quantile(&c_arrival, 0.99) / 1e3);
	printf("naive_ready_offer_p99_us %.1f\nnaive_arrival_offer_p99_us %.1f\n", cc_hist_quantile(&n_ready, 0.99) / 1e3,
	       cc_hist_quantile(&n_arrival, 0.99) / 1e3);
	printf("acd_cycles_per_s %.0f\n", cycles / ((t1 - t0) / 1e9));
	printf("acd_bytes_per_agent %.0f\nacd_bytes_per_waiting %.0f\n", (double)(m_agents - m0) / N_AGENTS,
	       (double)(m2 - m_agents) / N_WAITING);
	printf("acd_waiting_end %llu\nacd_dispatch_ns_max %llu\nacd_config_bytes %zu\n", (unsigned long long)st.waiting,
	       (unsigned long long)st.dispatch_ns_max, m1 - m0);
	printf("\n# ACD runtime: %d queues, %d agents (3 queues each), %d callers waiting; %ld operations each; one core\n",
	       N_QUEUES, N_AGENTS, N_WAITING, ops);
	printf("| what | samples | p50 | p99 | max | p99 / 1 ms target |\n|---|---|---|---|---|---|\n");
	line("agent ready -> offer, wall clock", &h_ready, &n_ready);
	line("agent ready -> offer, on CPU", &c_ready, &n_ready);
	line("arrival -> offer (agents ready), wall clock", &h_arrival, &n_arrival);
	line("arrival -> offer (agents ready), on CPU", &c_arrival, &n_arrival);
	printf("# whole cycles (ready, offer, taken, answered, ended, not ready, a new caller): %.0f/s; "
	       "%ld readies found nobody eligible waiting\n", cycles / ((t1 - t0) / 1e9), no_offer);
	printf("# memory (malloc'd): %.0f bytes per agent (its configuration copy, memberships, state), "
	       "%.0f bytes per waiting caller\n", (double)(m_agents - m0) / N_AGENTS, (double)(m2 - m_agents) / N_WAITING);
	acd_free(A);
	h_free(&R);
	return 0;
}
