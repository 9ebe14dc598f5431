/* rate.c: see rate.h. */
#include "rate.h"
#include "cc.h"
#include "money.h"

#include <stdlib.h>
#include <string.h>

void bl_deck_init(struct bl_deck *d)
{
	memset(d, 0, sizeof(*d));
	d->cap_nodes = 1024;
	d->child = calloc(d->cap_nodes, sizeof(*d->child));
	d->first = malloc(d->cap_nodes * sizeof(*d->first));
	CC_BUG_ON(!d->child || !d->first);
	d->first[0] = -1;
	d->n_nodes = 1;
}

void bl_deck_free(struct bl_deck *d)
{
	for (size_t i = 0; i < d->n_rates; i++)
		free(d->rates[i].description);
	free(d->rates);
	free(d->child);
	free(d->first);
	memset(d, 0, sizeof(*d));
}

static int32_t new_node(struct bl_deck *d)
{
	if (d->n_nodes == d->cap_nodes) {
		size_t cap = d->cap_nodes * 2;

		d->child = realloc(d->child, cap * sizeof(*d->child));
		d->first = realloc(d->first, cap * sizeof(*d->first));
		CC_BUG_ON(!d->child || !d->first);
		memset(d->child + d->cap_nodes, 0, (cap - d->cap_nodes) * sizeof(*d->child));
		d->cap_nodes = cap;
	}
	d->first[d->n_nodes] = -1;
	return (int32_t)d->n_nodes++;
}

/* A band as up to two plain minute ranges of a week day set. */
static int ranges(const struct bl_rate *r, int out[2][2])
{
	if (r->start_min < r->end_min) {
		out[0][0] = r->start_min, out[0][1] = r->end_min;
		return 1;
	}
	out[0][0] = r->start_min, out[0][1] = 1440;
	out[1][0] = 0, out[1][1] = r->end_min;
	return 2;
}

static bool overlap(const struct bl_rate *a, const struct bl_rate *b)
{
	int ra[2][2], rb[2][2];
	int na, nb;

	if (!(a->days & b->days))
		return false;
	na = ranges(a, ra);
	nb = ranges(b, rb);
	for (int i = 0; i < na; i++)
		for (int j = 0; j < nb; j++)
			if (ra[i][0] < rb[j][1] && rb[j][0] < ra[i][1])
				return true;
	return false;
}

/* On the band's days, at its hours: a band that wraps (18:00-08:00) covers
 * both ends of each of its days. */
static bool in_band(const struct bl_rate *r, int dow, int minute)
{
	if (!(r->days >> dow & 1))
		return false;
	if (r->start_min < r->end_min)
		return minute >= r->start_min && minute < r->end_min;
	return minute >= r->start_min || minute < r->end_min;
}

int bl_deck_add(struct bl_deck *d, const struct bl_rate *r)
{
	int32_t node = 0;

	for (const char *p = r->prefix; *p; p++) {
		int c = *p - '0';

		CC_BUG_ON(c < 0 || c > 9);
		if (!d->child[node][c]) {
			int32_t n = new_node(d);    /* may move d->child */
			d->child[node][c] = n;
		}
		node = d->child[node][c];
	}
	for (int32_t i = d->first[node]; i >= 0; i = d->rates[i].next)
		if (overlap(&d->rates[i], r))
			return CC_DECLINED;
	if (d->n_rates == d->cap_rates) {
		d->cap_rates = d->cap_rates ? d->cap_rates * 2 : 256;
		d->rates = realloc(d->rates, d->cap_rates * sizeof(*d->rates));
		CC_BUG_ON(!d->rates);
	}
	struct bl_rate *n = &d->rates[d->n_rates];

	*n = *r;
	n->description = strdup(r->description ? r->description : "");
	CC_BUG_ON(!n->description);
	n->next = d->first[node];
	d->first[node] = (int32_t)d->n_rates++;
	return CC_OK;
}

const struct bl_rate *bl_deck_match(const struct bl_deck *d, const char *digits, int dow,
                                    int minute)
{
	const struct bl_rate *best = NULL;
	int32_t node = 0;

	if (!d)
		return NULL;
	for (const char *p = digits;; p++) {
		for (int32_t i = d->first[node]; i >= 0; i = d->rates[i].next)
			if (in_band(&d->rates[i], dow, minute)) {
				best = &d->rates[i];
				break;
			}
		if (*p < '0' || *p > '9' || !(node = d->child[node][*p - '0']))
			return best;
	}
}

int64_t bl_billable_s(const struct bl_rate *r, int64_t talk_ms)
{
	int64_t steps;

	if (talk_ms <= 0)
		steps = 0;
	else if (talk_ms <= (int64_t)r->initial_s * 1000)
		steps = r->initial_s;
	else {
		int64_t rest = talk_ms - (int64_t)r->initial_s * 1000, inc = (int64_t)r->increment_s * 1000;

		steps = r->initial_s + (rest + inc - 1) / inc * r->increment_s;
	}
	return steps > r->min_s ? steps : r->min_s;
}

void bl_cost(const struct bl_rate *r, int64_t billable, int minor_unit, int64_t *exact_micro60,
             int64_t *cost_micro)
{
	int64_t minor = cc_minor_micro(minor_unit);
	__int128 exact = (__int128)r->connect_micro * 60 + (__int128)r->per_min_micro * billable;

	*exact_micro60 = (int64_t)exact;
	*cost_micro = cc_div_round_half_up(exact, minor * 60) * minor;
}

void bl_rate_call(const struct bl_deck *d, const struct bl_call *c, int minor_unit,
                  struct bl_line *out)
{
	int64_t talk = c->answered ? c->talk_ms : 0;

	memset(out, 0, sizeof(*out));
	out->rate = bl_deck_match(d, c->digits, c->dow, c->minute);
	if (!out->rate) {
		out->flags |= BL_NO_RATE;
		return;
	}
	if (!c->answered)
		return;
	if (c->max_s > 0 && talk > c->max_s * 1000) {
		out->flags |= BL_TOO_LONG;
		return;
	}
	if (c->grant_s >= 0 && talk > c->grant_s * 1000) {
		talk = c->grant_s * 1000;
		out->flags |= BL_CAPPED;
	}
	out->billable_s = bl_billable_s(out->rate, talk);
	bl_cost(out->rate, out->billable_s, minor_unit, &out->exact_micro60, &out->cost_micro);
}

static int64_t cost_of_talk(const struct bl_rate *r, int64_t s, int minor_unit)
{
	int64_t exact, cost;

	bl_cost(r, bl_billable_s(r, s * 1000), minor_unit, &exact, &cost);
	return cost;
}

int64_t bl_grant_s(const struct bl_rate *r, int64_t available_micro, int minor_unit,
                   int64_t max_s, int64_t *cost_micro)
{
	int64_t lo = 0, hi = max_s;

	*cost_micro = 0;
	if (available_micro <= 0 || cost_of_talk(r, 1, minor_unit) > available_micro)
		return 0;
	/* cost is non-decreasing in talk time: the last second that fits */
	while (lo < hi) {
		int64_t mid = lo + (hi - lo + 1) / 2;

		if (cost_of_talk(r, mid, minor_unit) <= available_micro)
			lo = mid;
		else
			hi = mid - 1;
	}
	*cost_micro = cost_of_talk(r, lo, minor_unit);
	return lo;
}

const char *bl_rounding_rule(int minor_unit)
{
	static const char *const rules[] = { "half-up to 1", "half-up to 0.1", "half-up to 0.01",
	                                     "half-up to 0.001", "half-up to 0.0001" };

	return rules[minor_unit >= 0 && minor_unit <= 4 ? minor_unit : 2];
}
