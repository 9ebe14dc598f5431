/* skills: the eligible ready agent with the best proficiency in the
 * caller's required skills (the sum of its levels in them); ties to the
 * longest idle. */
#include "strategy.h"

static void pick(struct acd_pick *p)
{
	struct acd_cand c;

	while (p->next(p, &c))
		if (!p->n_out || c.proficiency > p->out[0].proficiency) {
			p->out[0] = c;
			p->n_out = 1;
		}
}

const struct acd_strategy_ops acd_strategy_skills = { ACD_SKILLS, "skills", pick };
