/*
 * strategy.h: the ACD's distribution strategies (docs/ACD.md), one file per
 * strategy (strategy_<name>.c), each a hook table. acd.c hands a strategy
 * the ready agents of a queue that are eligible for one caller (skills,
 * not excluded), lazily and longest idle first; the strategy picks one (or,
 * ring_all, several). A strategy holds no state of its own: round_robin's
 * cursor is the queue's, random's generator the ACD's (seeded by acd_new),
 * so the same inputs give the same choices.
 */
#ifndef RT_STRATEGY_H
#define RT_STRATEGY_H

#include <stddef.h>
#include <stdint.h>

#include "acd.h"

/* One eligible ready agent as a strategy sees it. */
struct acd_cand {
	void *agent;                 /* acd.c's, opaque here */
	int64_t idle_since_ms;       /* ready since */
	uint64_t calls;              /* ACD calls answered */
	int64_t talk_ms;             /* time on ACD calls */
	int proficiency;             /* sum of its levels in the caller's required skills */
	size_t member_pos;           /* its place in the queue's member list (round robin) */
};

struct acd_pick {
	/* The next candidate, longest idle first: 1, or 0 at the end. */
	int (*next)(struct acd_pick *p, struct acd_cand *c);
	void *it;                    /* the iterator's state (acd.c) */
	uint64_t *rng;               /* xorshift64 state */
	size_t *rr_cursor;           /* the queue's round-robin cursor: the last member_pos offered */
	size_t n_members;            /* members of the queue */
	struct acd_cand out[ACD_RING_ALL_MAX];
	size_t n_out;                /* what the strategy picked (0: none) */
};

struct acd_strategy_ops {
	enum acd_strategy id;
	const char *name;
	void (*pick)(struct acd_pick *p);
};

extern const struct acd_strategy_ops acd_strategy_ring_all, acd_strategy_longest_idle,
	acd_strategy_round_robin, acd_strategy_fewest_calls, acd_strategy_least_talk_time,
	acd_strategy_random, acd_strategy_skills;

/* The table of s (never NULL for a valid enum; longest_idle otherwise). */
const struct acd_strategy_ops *acd_strategy_ops(enum acd_strategy s);

static inline uint64_t acd_xorshift(uint64_t *s)
{
	uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ull;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

#endif
