/*
 * player.h: what mediad plays into a mix, as a mix member (rate 0: it
 * follows the mix's rate, taking a prompt's 8 or 16 kHz PCM to match):
 *
 *   - a list of prompts played in order, then a done callback;
 *   - silence, comfort noise (spandsp noise, Hoth spectrum, -60 dBm0);
 *   - ring-back while an agent leg rings (China: 450 Hz, 1 s on, 4 s off,
 *     spandsp tone_gen), until stopped.
 *
 * Playing something new or md_player_stop interrupts what plays; the done
 * callback only runs for a list that played to its end. It runs on the
 * loop, after the mixer tick that finished the list (never inside it), so
 * it may start the next thing, free the player, or end the call.
 */
#ifndef MD_PLAYER_H
#define MD_PLAYER_H

#include <stdbool.h>
#include <stddef.h>

#include "catalog.h"
#include "hist.h"
#include "codec.h"
#include "mixer.h"

#define MD_PLAY_MAX 16               /* prompts of one list (CC_FLOW_MAX_PROMPTS) */

enum md_play_kind { MD_PLAY_NONE, MD_PLAY_PROMPTS, MD_PLAY_SILENCE, MD_PLAY_NOISE, MD_PLAY_RINGBACK };

struct md_player;
typedef void (md_play_done_h)(struct md_player *p, void *arg);

struct md_player {                   /* mem object */
	struct md_member member;         /* join it to a mix */
	enum md_play_kind kind;
	struct md_prompt *list[MD_PLAY_MAX]; /* referenced; NULL entries are skipped */
	size_t n, cur;                   /* prompts, the one playing */
	size_t pos;                      /* next sample of list[cur] (at its rate) */
	uint32_t last_rate;              /* rate of the previous frame */
	md_play_done_h *done;
	void *arg;
	struct tmr done_tmr;             /* runs done on the loop */
	uint64_t frames;                 /* frames produced (tests, metrics) */
	tone_gen_descriptor_t tone_desc;
	tone_gen_state_t tone;
	uint32_t tone_rate;              /* the rate tone was made for */
	noise_state_t noise;
	uint64_t mark_ns;                /* set by the caller after md_player_play: the first
	                                    frame of the list adds (now - mark_ns) to
	                                    md_digit_to_prompt (a caller's key to what it hears) */
};

/* Key to the next prompt's first frame (cc_mono_ns clock), every list
 * started with a mark (docs/MEDIA.md, metrics). */
extern struct cc_hist md_digit_to_prompt;

int md_player_alloc(struct md_player **pp);
/* Plays prompts[0..n) in order (each mem_ref'd); done when all played. */
int md_player_play(struct md_player *p, struct md_prompt *const *prompts, size_t n,
                   md_play_done_h *done, void *arg);
void md_player_silence(struct md_player *p);
void md_player_noise(struct md_player *p);
void md_player_ringback(struct md_player *p);
/* Stops what plays (its done callback will not run); then silence. */
void md_player_stop(struct md_player *p);
bool md_player_busy(const struct md_player *p);   /* prompts or a tone playing */

#endif
