/* rnd.h: a small deterministic generator (xorshift64) for property tests
 * and benchmarks: the same sequence on every run. */
#ifndef CC_TEST_RND_H
#define CC_TEST_RND_H

#include <stdint.h>

static uint64_t cc_rnd_state = 0x9e3779b97f4a7c15ull;

static inline uint64_t rnd(void)
{
	cc_rnd_state ^= cc_rnd_state << 13;
	cc_rnd_state ^= cc_rnd_state >> 7;
	cc_rnd_state ^= cc_rnd_state << 17;
	return cc_rnd_state;
}

#endif
