/*
 * monitor.h: supervision's mix rules (listen, whisper, barge), pure. A
 * call's mix holds the caller, the player (music, ring-back), the agent,
 * a consult's target once it answered, and up to MD_MON_MAX supervisors.
 * Once a supervisor is in, nobody may keep the default "hear every other
 * member" (they would hear a silent listener): md_mon_masks says what
 * each member hears, from the call's state alone, and call.c applies it
 * at every change (a supervisor joins, leaves or changes mode; hold;
 * a consult's target answers; its end).
 *
 *   listen   the supervisor hears caller and agent; nobody hears it
 *   whisper  it hears both; the agent hears it; the caller does not
 *   barge    everyone hears everyone (N-1)
 *
 * With no supervisor the rules are the call's own (docs/MEDIA.md): both
 * hear the others; on hold the caller hears the player only and the agent
 * nothing; in an answered consult the agent and the target hear each
 * other only.
 */
#ifndef MD_MONITOR_H
#define MD_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MD_MON_MAX 2                 /* supervisors of one call (mix slots) */

enum md_mon_mode { MD_MON_LISTEN, MD_MON_WHISPER, MD_MON_BARGE };

/* "listen" -> MD_MON_LISTEN ...; -1 for anything else */
int md_mon_mode_parse(const char *s);
const char *md_mon_mode_name(enum md_mon_mode m);
/* a supervisor's key: '4' listen, '5' whisper, '6' barge; -1 other keys */
int md_mon_mode_key(char digit);

struct md_mon_state {
	unsigned caller, player, agent;  /* their slots */
	int target;                      /* an answered consult's target's slot, -1: none */
	bool hold;                       /* the caller is on hold (a consult's hold too) */
	size_t n;                        /* supervisors in the mix */
	struct { unsigned slot; enum md_mon_mode mode; } sup[MD_MON_MAX];
};

struct md_mon_masks {
	bool caller_custom, agent_custom, target_custom;  /* false: hears every other member */
	uint32_t caller, agent, target;
	uint32_t sup[MD_MON_MAX];        /* always custom */
};

void md_mon_masks(const struct md_mon_state *s, struct md_mon_masks *m);

/* The slots of the supervisors heard on the agent's side (whisper and
 * barge): what a recorder's agent channel adds to the agent. */
uint32_t md_mon_agent_side(const struct md_mon_state *s);

#endif
