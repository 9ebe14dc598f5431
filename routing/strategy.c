/* strategy.c: the strategies' table and names (strategy.h). */
#include <string.h>

#include "strategy.h"

static const struct acd_strategy_ops *const ops[] = {
	[ACD_RING_ALL] = &acd_strategy_ring_all,
	[ACD_LONGEST_IDLE] = &acd_strategy_longest_idle,
	[ACD_ROUND_ROBIN] = &acd_strategy_round_robin,
	[ACD_FEWEST_CALLS] = &acd_strategy_fewest_calls,
	[ACD_LEAST_TALK_TIME] = &acd_strategy_least_talk_time,
	[ACD_RANDOM] = &acd_strategy_random,
	[ACD_SKILLS] = &acd_strategy_skills,
};

const struct acd_strategy_ops *acd_strategy_ops(enum acd_strategy s)
{
	return (unsigned)s < sizeof(ops) / sizeof(ops[0]) ? ops[s] : &acd_strategy_longest_idle;
}

const char *acd_strategy_name(enum acd_strategy s)
{
	return (unsigned)s < sizeof(ops) / sizeof(ops[0]) ? ops[s]->name : "?";
}

int acd_strategy_parse(const char *s, enum acd_strategy *out)
{
	for (size_t i = 0; s && i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(ops[i]->name, s) == 0) {
			*out = ops[i]->id;
			return 0;
		}
	return -1;
}
