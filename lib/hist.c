/* hist.c: see hist.h. */
#include "hist.h"

#include <string.h>
#include <time.h>

/* Values below CC_HIST_SUB ns get one bucket each; above, each power of
 * two [2^k, 2^(k+1)) is split into CC_HIST_SUB equal buckets. */
static unsigned index_of(uint64_t ns)
{
	if (ns < CC_HIST_SUB)
		return (unsigned)ns;
	unsigned k = 63 - (unsigned)__builtin_clzll(ns);      /* 2^k <= ns */
	unsigned shift = k - 5;                               /* log2(CC_HIST_SUB) */
	unsigned i = (k - 4) * CC_HIST_SUB + (unsigned)((ns >> shift) - CC_HIST_SUB);

	return i < CC_HIST_BUCKETS ? i : CC_HIST_BUCKETS - 1;
}

/* The largest value that falls in bucket i. */
static uint64_t upper_of(unsigned i)
{
	if (i < CC_HIST_SUB)
		return i;
	unsigned k = i / CC_HIST_SUB + 4, sub = i % CC_HIST_SUB;
	unsigned shift = k - 5;

	return (((uint64_t)CC_HIST_SUB + sub + 1) << shift) - 1;
}

void cc_hist_add(struct cc_hist *h, uint64_t ns)
{
	h->bucket[index_of(ns)]++;
	h->count++;
	h->sum_ns += ns;
	if (ns > h->max_ns)
		h->max_ns = ns;
}

uint64_t cc_hist_quantile(const struct cc_hist *h, double q)
{
	uint64_t want, seen = 0;

	if (!h->count)
		return 0;
	want = (uint64_t)(q * (double)h->count + 0.5);
	if (want < 1)
		want = 1;
	for (unsigned i = 0; i < CC_HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen >= want)
			return upper_of(i) < h->max_ns ? upper_of(i) : h->max_ns;
	}
	return h->max_ns;
}

uint64_t cc_hist_count_le(const struct cc_hist *h, uint64_t ns)
{
	uint64_t n = 0;
	unsigned last = index_of(ns);

	for (unsigned i = 0; i <= last; i++)
		n += h->bucket[i];
	return n;
}

void cc_hist_prometheus(FILE *f, const struct cc_hist *h, const char *name, const char *help)
{
	static const double le_s[] = { 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4,
	                               1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 1e-1, 1.0 };

	fprintf(f, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	for (size_t i = 0; i < sizeof(le_s) / sizeof(le_s[0]); i++)
		fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", name, le_s[i],
		        (unsigned long long)cc_hist_count_le(h, (uint64_t)(le_s[i] * 1e9)));
	fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)h->count);
	fprintf(f, "%s_sum %.9f\n%s_count %llu\n", name, (double)h->sum_ns / 1e9, name,
	        (unsigned long long)h->count);
	fprintf(f, "# HELP %s_p50 median of %s since start\n# TYPE %s_p50 gauge\n%s_p50 %.9f\n",
	        name, name, name, name, (double)cc_hist_quantile(h, 0.50) / 1e9);
	fprintf(f, "# HELP %s_p99 99th percentile of %s since start\n# TYPE %s_p99 gauge\n"
	        "%s_p99 %.9f\n", name, name, name, name, (double)cc_hist_quantile(h, 0.99) / 1e9);
}

void cc_hist_window_init(struct cc_hist_window *w, uint64_t span_ns)
{
	memset(w, 0, sizeof(*w));
	w->span_ns = span_ns;
	w->since_ns = cc_mono_ns();
}

static void rotate(struct cc_hist_window *w, uint64_t now_ns)
{
	if (now_ns - w->since_ns < w->span_ns)
		return;
	if (now_ns - w->since_ns < 2 * w->span_ns)
		w->prev = w->cur;
	else
		memset(&w->prev, 0, sizeof(w->prev));   /* nothing for a whole span */
	memset(&w->cur, 0, sizeof(w->cur));
	w->since_ns = now_ns;
}

void cc_hist_window_add(struct cc_hist_window *w, uint64_t now_ns, uint64_t ns)
{
	rotate(w, now_ns);
	cc_hist_add(&w->cur, ns);
}

uint64_t cc_hist_window_quantile(struct cc_hist_window *w, uint64_t now_ns, double q)
{
	struct cc_hist both;

	rotate(w, now_ns);
	both = w->prev;
	both.count += w->cur.count;
	both.sum_ns += w->cur.sum_ns;
	if (w->cur.max_ns > both.max_ns)
		both.max_ns = w->cur.max_ns;
	for (unsigned i = 0; i < CC_HIST_BUCKETS; i++)
		both.bucket[i] += w->cur.bucket[i];
	return cc_hist_quantile(&both, q);
}

uint64_t cc_hist_window_count(struct cc_hist_window *w, uint64_t now_ns)
{
	rotate(w, now_ns);
	return w->prev.count + w->cur.count;
}

uint64_t cc_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
