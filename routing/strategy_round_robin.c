/* round_robin: the first eligible ready member after the one offered last,
 * in the queue's member order, wrapping around. */
#include "strategy.h"

static void pick(struct acd_pick *p)
{
	struct acd_cand c;
	size_t n = p->n_members ? p->n_members : 1, best = SIZE_MAX;

	while (p->next(p, &c)) {
		/* distance after the cursor: 1 .. n (the cursor itself last) */
		size_t d = (c.member_pos + n - *p->rr_cursor % n) % n;

		if (d == 0)
			d = n;
		if (d < best) {
			best = d;
			p->out[0] = c;
			p->n_out = 1;
		}
	}
	if (p->n_out)
		*p->rr_cursor = p->out[0].member_pos;
}

const struct acd_strategy_ops acd_strategy_round_robin = { ACD_ROUND_ROBIN, "round_robin", pick };
