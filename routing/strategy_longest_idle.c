/* longest_idle: the agent ready the longest (the first candidate: acd.c
 * keeps each queue's ready agents in the order they became ready). */
#include "strategy.h"

static void pick(struct acd_pick *p)
{
	if (p->next(p, &p->out[0]))
		p->n_out = 1;
}

const struct acd_strategy_ops acd_strategy_longest_idle = { ACD_LONGEST_IDLE, "longest_idle", pick };
