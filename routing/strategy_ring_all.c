/* ring_all: every eligible ready agent at once (up to ACD_RING_ALL_MAX),
 * longest idle first; the first answer wins (acd.c). */
#include "strategy.h"

static void pick(struct acd_pick *p)
{
	while (p->n_out < ACD_RING_ALL_MAX && p->next(p, &p->out[p->n_out]))
		p->n_out++;
}

const struct acd_strategy_ops acd_strategy_ring_all = { ACD_RING_ALL, "ring_all", pick };
