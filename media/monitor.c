/*
 * monitor.c: supervision's mix rules (monitor.h).
 */
#include <string.h>

#include "monitor.h"

int md_mon_mode_parse(const char *s)
{
	if (!s)
		return -1;
	if (!strcmp(s, "listen"))
		return MD_MON_LISTEN;
	if (!strcmp(s, "whisper"))
		return MD_MON_WHISPER;
	if (!strcmp(s, "barge"))
		return MD_MON_BARGE;
	return -1;
}

const char *md_mon_mode_name(enum md_mon_mode m)
{
	switch (m) {
	case MD_MON_LISTEN:  return "listen";
	case MD_MON_WHISPER: return "whisper";
	case MD_MON_BARGE:   return "barge";
	}
	return "listen";
}

int md_mon_mode_key(char digit)
{
	switch (digit) {
	case '4': return MD_MON_LISTEN;
	case '5': return MD_MON_WHISPER;
	case '6': return MD_MON_BARGE;
	default:  return -1;
	}
}

uint32_t md_mon_agent_side(const struct md_mon_state *s)
{
	uint32_t w = 0;

	for (size_t i = 0; i < s->n && i < MD_MON_MAX; i++)
		if (s->sup[i].mode != MD_MON_LISTEN)
			w |= 1u << s->sup[i].slot;
	return w;
}

void md_mon_masks(const struct md_mon_state *s, struct md_mon_masks *m)
{
	uint32_t w = md_mon_agent_side(s), b = 0;
	uint32_t c = 1u << s->caller, p = 1u << s->player, a = 1u << s->agent;
	uint32_t t = s->target >= 0 ? 1u << s->target : 0;

	memset(m, 0, sizeof(*m));
	for (size_t i = 0; i < s->n && i < MD_MON_MAX; i++)
		if (s->sup[i].mode == MD_MON_BARGE)
			b |= 1u << s->sup[i].slot;
	if (s->hold) {
		/* the caller hears the music only; the agent its consult's
		 * target (if any) and whoever coaches it */
		m->caller_custom = m->agent_custom = true;
		m->caller = p;
		m->agent = t | w;
		if (t) {
			m->target_custom = true;
			m->target = a | b;
		}
	} else if (s->n) {
		m->caller_custom = m->agent_custom = true;
		m->caller = a | p | b;
		m->agent = c | p | w;
	}
	/* a supervisor hears the call and the other supervisor when it speaks */
	for (size_t i = 0; i < s->n && i < MD_MON_MAX; i++)
		m->sup[i] = (c | a | t | w) & ~(1u << s->sup[i].slot);
}
