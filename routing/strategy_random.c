/* random: one eligible ready agent, uniformly (reservoir sampling over the
 * candidates with the ACD's seeded generator). */
#include "strategy.h"

static void pick(struct acd_pick *p)
{
	struct acd_cand c;
	uint64_t seen = 0;

	while (p->next(p, &c))
		if (acd_xorshift(p->rng) % ++seen == 0) {
			p->out[0] = c;
			p->n_out = 1;
		}
}

const struct acd_strategy_ops acd_strategy_random = { ACD_RANDOM, "random", pick };
