/* acd_rec.c: the recording policy's decision (acd_rec.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acd_rec.h"

bool acd_rec_parse(const char *mode, const char *percent, struct acd_rec_policy *p)
{
	char *end;
	long v;

	memset(p, 0, sizeof(*p));
	if (!mode)
		return !percent;
	if (!strcmp(mode, "all") || !strcmp(mode, "none")) {
		p->mode = mode[0] == 'a' ? ACD_REC_ALL : ACD_REC_NONE;
		return !percent;
	}
	if (strcmp(mode, "percent") || !percent)
		return false;
	v = strtol(percent, &end, 10);
	if (*end || end == percent || v < 0 || v > 100)
		return false;
	p->mode = ACD_REC_PERCENT;
	p->percent = (int)v;
	return true;
}

unsigned acd_rec_bucket(const char *call)
{
	uint32_t h = 2166136261u;

	for (const char *s = call ? call : ""; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h % 100;
}

static bool apply(const struct acd_rec_policy *p, const char *call)
{
	if (p->mode == ACD_REC_ALL)
		return true;
	if (p->mode == ACD_REC_PERCENT)
		return acd_rec_bucket(call) < (unsigned)p->percent;
	return false;
}

bool acd_rec_decide(const struct acd_tenant_cfg *c, const char *queue, const char *agent,
                    const char *call)
{
	if (!c)
		return false;
	for (size_t i = 0; agent && i < c->n_agents; i++)
		if (!strcmp(c->agents[i].ext, agent) && c->agents[i].rec.mode != ACD_REC_INHERIT)
			return apply(&c->agents[i].rec, call);
	for (size_t i = 0; queue && i < c->n_queues; i++)
		if (!strcmp(c->queues[i].name, queue) && c->queues[i].rec.mode != ACD_REC_INHERIT)
			return apply(&c->queues[i].rec, call);
	return apply(&c->rec, call);
}
