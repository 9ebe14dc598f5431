/*
 * hist.h: a latency histogram with fixed memory and ~3% resolution
 * (log-linear buckets: 32 sub-buckets per power of two), for the p50/p99
 * figures the daemons publish on their metrics endpoints and benchmarks
 * print. Not thread-safe: one owner adds and reads.
 */
#ifndef CC_HIST_H
#define CC_HIST_H

#include <stdint.h>
#include <stdio.h>

#define CC_HIST_SUB 32                       /* sub-buckets per octave */
#define CC_HIST_BUCKETS (CC_HIST_SUB * 40)   /* covers 0 .. 2^40 ns (~18 min) */

struct cc_hist {
	uint64_t count;
	uint64_t sum_ns;
	uint64_t max_ns;
	uint64_t bucket[CC_HIST_BUCKETS];
};

void cc_hist_add(struct cc_hist *h, uint64_t ns);
/* The value at quantile q (0..1), in ns: the upper bound of the bucket
 * holding it (never under the true value by more than one bucket). 0 when empty. */
uint64_t cc_hist_quantile(const struct cc_hist *h, double q);
/* How many values are <= ns (exact at bucket bounds, else within one bucket). */
uint64_t cc_hist_count_le(const struct cc_hist *h, uint64_t ns);

/* Prometheus text: NAME as a histogram in seconds with the usual le
 * buckets, plus NAME_p50 / NAME_p99 gauges. HELP is one line. */
void cc_hist_prometheus(FILE *f, const struct cc_hist *h, const char *name, const char *help);

/* The recent past: values of the last span to two spans (two histograms,
 * the older dropped each span), so a metric shows now, not since start. */
struct cc_hist_window {
	struct cc_hist cur, prev;
	uint64_t since_ns;           /* when cur started */
	uint64_t span_ns;
};
void cc_hist_window_init(struct cc_hist_window *w, uint64_t span_ns);
void cc_hist_window_add(struct cc_hist_window *w, uint64_t now_ns, uint64_t ns);
/* The quantile over prev and cur; 0 when the window is empty. */
uint64_t cc_hist_window_quantile(struct cc_hist_window *w, uint64_t now_ns, double q);
uint64_t cc_hist_window_count(struct cc_hist_window *w, uint64_t now_ns);

/* Monotonic nanoseconds, for measuring. */
uint64_t cc_mono_ns(void);

#endif
