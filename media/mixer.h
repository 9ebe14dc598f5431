/*
 * mixer.h: mediad's one mixer. Every 20 ms ONE libre timer (drift-corrected
 * against the monotonic clock) runs every mix: it pulls a frame from each
 * member (a leg's decoded audio, a player's prompt), and pushes to each
 * member the saturated sum of what that member hears. By default a member
 * hears every other member (N-1); a member's rule can narrow that to a set
 * of slots, so listen (hears all, heard by none), whisper (heard by one)
 * and barge (N-1) are rules, not code.
 *
 * A mix runs at the highest rate of its members (8 or 16 kHz); a member of
 * another rate is resampled (librem's auresamp FIR, exact 2:1, state kept
 * in the member: nothing allocated per frame). Members with rate 0 follow the mix's rate (players).
 *
 * Everything here runs on the loop thread. Members' pull/push run inside
 * the tick: they must not join, leave or free mixes (defer with a tmr).
 */
#ifndef MD_MIXER_H
#define MD_MIXER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "re_inc.h"

#include "hist.h"

#define MD_PTIME_MS      20
#define MD_FRAME_MAX     320          /* samples of 20 ms at 16 kHz */
#define MD_MIX_MEMBERS   16           /* members of one mix (slots) */

struct md_member;
struct md_mix;

/* Fills pcm with n samples at the member's rate; false: nothing (silence). */
typedef bool (md_pull_h)(struct md_member *m, int16_t *pcm, size_t n, void *arg);
/* Takes the n samples the member hears (at its rate). */
typedef void (md_push_h)(struct md_member *m, const int16_t *pcm, size_t n, void *arg);

struct md_member {
	struct le le;                /* in mix->members */
	struct md_mix *mix;          /* NULL when in no mix */
	unsigned slot;               /* 0..MD_MIX_MEMBERS-1 within the mix */
	uint32_t rate;               /* 8000, 16000, or 0: the mix's rate */
	md_pull_h *pull;             /* NULL: contributes nothing (a tap) */
	md_push_h *push;             /* NULL: hears nothing (a player) */
	void *arg;
	bool custom;                 /* false: hears every other member */
	uint32_t hears;              /* custom: bit i set = hears slot i */
	bool resample;               /* member rate != mix rate */
	struct auresamp up, down;    /* member rate -> mix rate and back */
	bool has;                    /* this tick: pulled audio */
	int16_t in[MD_FRAME_MAX];    /* this tick: what it said, at the mix rate */
};

struct md_mix {                  /* mem object */
	struct le le;                /* in the mixer's list */
	struct list members;
	uint32_t rate;               /* 8000 or 16000 */
	uint32_t used;               /* bit i set = slot i taken */
};

struct md_mixer_stats {
	uint64_t ticks;              /* frames mixed (ticks that ran) */
	uint64_t late;               /* ticks that ran more than one frame late */
	struct cc_hist tick_ns;      /* time to mix one tick, all mixes (wall clock; the
	                                frames are made and encoded, not yet sent) */
	struct cc_hist tick_cpu_ns;  /* the CPU the loop's thread spent on it (its own work,
	                                without the time other processes took the core) */
	struct cc_hist send_ns;      /* the tick's I/O after the mixing: its packets sent */
	struct cc_hist recv_ns;      /* the tick's I/O before the mixing: the packets read */
};

/* After each tick's mixing, h does the tick's I/O (legs: md_legs_flush),
 * timed apart from the mixing. One hook; NULL: none. */
void md_mixer_after(void (*h)(void));
/* Before each tick's mixing, h reads what arrived (legs: md_legs_receive),
 * timed apart too. One hook; NULL: none. */
void md_mixer_before(void (*h)(void));

/* Starts the one timer. */
void md_mixer_init(void);
void md_mixer_close(void);
const struct md_mixer_stats *md_mixer_stats(void);
size_t md_mixer_count(void);     /* mixes alive */

/* A new empty mix, run by the timer until mem_deref (members must leave first). */
int md_mix_alloc(struct md_mix **mixp);
/* Adds m (filled: rate, pull, push, arg) to mix; EOVERFLOW when full. */
int md_mix_join(struct md_mix *mix, struct md_member *m);
void md_mix_leave(struct md_member *m);
/* Custom rule: m hears only the members of slots in mask. */
void md_member_hear(struct md_member *m, uint32_t mask);
void md_member_hear_others(struct md_member *m);

/* One frame of one mix, now (the timer calls it; tests call it directly). */
void md_mix_tick(struct md_mix *mix);

/* Saturating add of a 32-bit sum to 16 bits. */
static inline int16_t md_sat16(int32_t v)
{
	return v > INT16_MAX ? INT16_MAX : v < INT16_MIN ? INT16_MIN : (int16_t)v;
}

#endif
