/*
 * bridge.c: caller <-> agent through the mix (bridge.h). Both legs hear
 * the other (the mix's N-1); a player still in the mix is silent once
 * the call stopped it (ring-back ends when the agent answers).
 */
#include "bridge.h"

static uint64_t alive;

static void bridge_destructor(void *arg)
{
	struct md_bridge *b = arg;

	md_mix_leave(&b->agent->member);
	mem_deref(b->agent);
	mem_deref(b->caller);
	mem_deref(b->mix);
	alive--;
}

int md_bridge_alloc(struct md_bridge **bp, struct md_mix *mix, struct md_leg *caller,
                    struct md_leg *agent)
{
	struct md_bridge *b;
	int err;

	if (!mix || !caller || !agent || caller->member.mix != mix)
		return EINVAL;
	err = md_mix_join(mix, &agent->member);
	if (err)
		return err;
	b = mem_zalloc(sizeof(*b), bridge_destructor);
	if (!b) {
		md_mix_leave(&agent->member);
		return ENOMEM;
	}
	b->mix = mem_ref(mix);
	b->caller = mem_ref(caller);
	b->agent = mem_ref(agent);
	b->since_ms = tmr_jiffies();
	alive++;
	*bp = b;
	return 0;
}

uint64_t md_bridge_count(void)
{
	return alive;
}
