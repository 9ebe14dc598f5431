/*
 * rate.h: rate decks and the rating function.
 *
 * A deck is one tariff version in memory: its rows in a digit trie keyed
 * on the E.164 prefix (digits, no '+'). Rating is a pure function of the
 * deck and the call: no I/O, no clock, no global state.
 *
 * The rules (docs/BILLING.md says the same to users):
 *   match     the longest prefix of the rated number that has a row in
 *             force at the call's local start time (weekday and minute in
 *             the tenant's time zone, taken when the call was answered);
 *             the whole call is rated at that row, even if it runs past a
 *             band boundary, midnight or a daylight-saving change.
 *   seconds   unanswered: 0. Answered: talk time t (ms, from the answer to
 *             the end, UTC instants, so a DST change neither adds nor
 *             removes an hour); steps(t) = 0 if t = 0, initial_s if
 *             t <= initial_s, else initial_s + the later increments, each
 *             rounded up; billable = max(min_s, steps(t)). A call cut at
 *             its credit grant is billed at most the granted seconds.
 *   money     exact = connect_fee + rate_per_min * billable / 60, kept as
 *             an integer times 60 in micro-units; rounded once per line to
 *             the currency's minor unit, halves up (away from zero).
 *   too long  talk beyond the plan's maximum session length: billable and
 *             cost 0 and the flag too_long (for review, not billed blindly).
 */
#ifndef BL_RATE_H
#define BL_RATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BL_PREFIX_MAX 15
#define BL_ALL_DAYS 0x7f

struct bl_rate {
	int64_t per_min_micro;    /* rate per minute */
	int64_t connect_micro;    /* once per answered call */
	int32_t initial_s, increment_s, min_s;
	int16_t start_min, end_min; /* local band [start, end) on each of its days;
	                             * start > end: [start, 24:00) and [00:00, end) */
	uint8_t days;             /* bit 0 = Monday .. bit 6 = Sunday */
	uint32_t line;            /* CSV line it came from */
	char *description;
	char prefix[BL_PREFIX_MAX + 1];
	int32_t next;             /* next row of the same prefix, -1 */
};

struct bl_deck {
	int32_t (*child)[10];     /* trie: child[node][digit], 0 = none (root is 0) */
	int32_t *first;           /* first row of the prefix ending at node, -1 */
	size_t n_nodes, cap_nodes;
	struct bl_rate *rates;
	size_t n_rates, cap_rates;
};

void bl_deck_init(struct bl_deck *d);
void bl_deck_free(struct bl_deck *d);

/* Adds a row (copied; description duplicated). CC_DECLINED if the deck
 * already has a row for that prefix whose days and hours overlap. */
int bl_deck_add(struct bl_deck *d, const struct bl_rate *r);

/* The row for digits at local weekday dow (0 = Monday) and minute of day,
 * or NULL (also when d is NULL: no deck in force). */
const struct bl_rate *bl_deck_match(const struct bl_deck *d, const char *digits, int dow,
                                    int minute);

enum bl_flag {
	BL_NO_RATE = 1,     /* no prefix matched */
	BL_TOO_LONG = 2,    /* talk beyond the maximum session length */
	BL_CAPPED = 4,      /* talk cut to the credit grant */
};

struct bl_call {
	const char *digits;       /* number rated, E.164 digits */
	bool answered;
	int64_t talk_ms;          /* answer to end */
	int dow, minute;          /* local time of the answer (of the start if unanswered) */
	int64_t grant_s;          /* credit granted at setup, -1 if none */
	int64_t max_s;            /* maximum session length */
};

struct bl_line {
	const struct bl_rate *rate;   /* NULL when no prefix matched */
	int64_t billable_s;
	int64_t exact_micro60;        /* exact cost x 60 */
	int64_t cost_micro;           /* rounded to the minor unit */
	unsigned flags;
};

/* Billable seconds for t ms of talk under r (the rule above). */
int64_t bl_billable_s(const struct bl_rate *r, int64_t talk_ms);

/* Cost of `billable` seconds under r, exact x 60 and rounded. */
void bl_cost(const struct bl_rate *r, int64_t billable, int minor_unit, int64_t *exact_micro60,
             int64_t *cost_micro);

/* d may be NULL (no deck version in force): the line is flagged no_rate. */
void bl_rate_call(const struct bl_deck *d, const struct bl_call *c, int minor_unit,
                  struct bl_line *out);

/* The longest talk, in whole seconds up to max_s, whose rounded cost under
 * r fits in available_micro; 0 if not even one second does. *cost_micro
 * gets that talk's cost (what the grant reserves). */
int64_t bl_grant_s(const struct bl_rate *r, int64_t available_micro, int minor_unit,
                   int64_t max_s, int64_t *cost_micro);

/* "half-up to 0.01" for minor unit 2. */
const char *bl_rounding_rule(int minor_unit);

#endif
