/* least_talk_time: the eligible ready agent with the least time on ACD
 * calls; ties to the longest idle. */
#include "strategy.h"

static void pick(struct acd_pick *p)
{
	struct acd_cand c;

	while (p->next(p, &c))
		if (!p->n_out || c.talk_ms < p->out[0].talk_ms) {
			p->out[0] = c;
			p->n_out = 1;
		}
}

const struct acd_strategy_ops acd_strategy_least_talk_time = { ACD_LEAST_TALK_TIME, "least_talk_time", pick };
