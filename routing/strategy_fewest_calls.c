/* fewest_calls: the eligible ready agent with the fewest ACD calls
 * answered; ties to the longest idle. */
#include "strategy.h"

static void pick(struct acd_pick *p)
{
	struct acd_cand c;

	while (p->next(p, &c))
		if (!p->n_out || c.calls < p->out[0].calls) {
			p->out[0] = c;
			p->n_out = 1;
		}
}

const struct acd_strategy_ops acd_strategy_fewest_calls = { ACD_FEWEST_CALLS, "fewest_calls", pick };
