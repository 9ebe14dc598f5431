/*
 * bridge.h: a caller leg and an agent (or PSTN) leg connected through the
 * call's mix. The bridge holds both legs (mem_ref) and the mix; freeing it
 * takes the agent leg out of the mix. One owner: the call, on the loop.
 */
#ifndef MD_BRIDGE_H
#define MD_BRIDGE_H

#include <stdint.h>

#include "leg.h"
#include "mixer.h"

struct md_bridge {                   /* mem object */
	struct md_mix *mix;              /* the call's, referenced */
	struct md_leg *caller, *agent;   /* referenced */
	uint64_t since_ms;               /* when bridged (tmr_jiffies) */
};

/* Puts agent into mix (where caller already is). 0 or an errno. */
int md_bridge_alloc(struct md_bridge **bp, struct md_mix *mix, struct md_leg *caller,
                    struct md_leg *agent);
/* Bridges alive (metrics). */
uint64_t md_bridge_count(void);

#endif
