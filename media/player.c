/*
 * player.c: prompt lists, silence, comfort noise and ring-back (player.h).
 *
 * spandsp 0.0.6's tone generator assumes 8 kHz (frequencies and cadence
 * are turned into steps per 8000 samples). For a 16 kHz mix it is set up
 * with half the frequency and twice the durations: played at 16 kHz that
 * is the same tone and the same cadence.
 */
#include <string.h>

#include "player.h"

#define RINGBACK_HZ     450
#define RINGBACK_DBM0   (-13)
#define RINGBACK_ON_MS  1000
#define RINGBACK_OFF_MS 4000

static void release(struct md_player *p)
{
	for (size_t i = 0; i < p->n; i++)
		p->list[i] = mem_deref(p->list[i]);
	p->n = p->cur = p->pos = 0;
	tmr_cancel(&p->done_tmr);
	p->done = NULL;
	p->arg = NULL;
}

static void player_destructor(void *arg)
{
	struct md_player *p = arg;

	md_mix_leave(&p->member);
	release(p);
}

static void on_done(void *arg)
{
	struct md_player *p = arg;
	md_play_done_h *h = p->done;
	void *harg = p->arg;

	release(p);
	p->kind = MD_PLAY_SILENCE;
	if (h)
		h(p, harg);
}

static void tone_setup(struct md_player *p, uint32_t rate)
{
	int k = rate == 16000 ? 2 : 1;

	tone_gen_descriptor_init(&p->tone_desc, RINGBACK_HZ / k, RINGBACK_DBM0, 0, 0,
	                         RINGBACK_ON_MS * k, RINGBACK_OFF_MS * k, 0, 0, true);
	tone_gen_init(&p->tone, &p->tone_desc);
	p->tone_rate = rate;
}

static bool pull_prompts(struct md_player *p, int16_t *pcm, size_t n, uint32_t rate)
{
	size_t got = 0;

	while (got < n && p->cur < p->n) {
		const struct md_prompt *pr = p->list[p->cur];
		const int16_t *s = pr ? (rate == 16000 ? pr->pcm16 : pr->pcm8) : NULL;
		size_t len = pr ? (rate == 16000 ? pr->n16 : pr->n8) : 0;

		/* the mix changed rate mid-prompt: keep the same place in time */
		if (p->last_rate && p->last_rate != rate)
			p->pos = rate == 16000 ? p->pos * 2 : p->pos / 2;
		p->last_rate = rate;
		if (!s || p->pos >= len) {
			p->cur++;
			p->pos = 0;
			continue;
		}
		size_t take = len - p->pos < n - got ? len - p->pos : n - got;
		memcpy(pcm + got, s + p->pos, take * sizeof(*pcm));
		got += take;
		p->pos += take;
	}
	if (got < n)
		memset(pcm + got, 0, (n - got) * sizeof(*pcm));
	if (p->cur >= p->n && !tmr_isrunning(&p->done_tmr)) {
		p->kind = MD_PLAY_NONE;          /* finished: silence until done runs */
		tmr_start(&p->done_tmr, 0, on_done, p);
	}
	return got > 0;
}

static bool player_pull(struct md_member *m, int16_t *pcm, size_t n, void *arg)
{
	struct md_player *p = arg;
	uint32_t rate = m->mix ? m->mix->rate : 8000;

	p->frames++;
	switch (p->kind) {
	case MD_PLAY_PROMPTS:
		if (p->mark_ns) {
			cc_hist_add(&md_digit_to_prompt, cc_mono_ns() - p->mark_ns);
			p->mark_ns = 0;
		}
		return pull_prompts(p, pcm, n, rate);
	case MD_PLAY_NOISE:
		for (size_t i = 0; i < n; i++)
			pcm[i] = noise(&p->noise);
		return true;
	case MD_PLAY_RINGBACK:
		if (p->tone_rate != rate)
			tone_setup(p, rate);
		memset(pcm, 0, n * sizeof(*pcm));
		tone_gen(&p->tone, pcm, (int)n);
		return true;
	default:
		return false;
	}
}

struct cc_hist md_digit_to_prompt;

int md_player_alloc(struct md_player **pp)
{
	struct md_player *p = mem_zalloc(sizeof(*p), player_destructor);

	if (!p)
		return ENOMEM;
	tmr_init(&p->done_tmr);
	p->member.rate = 0;
	p->member.pull = player_pull;
	p->member.push = NULL;
	p->member.arg = p;
	p->kind = MD_PLAY_SILENCE;
	*pp = p;
	return 0;
}

int md_player_play(struct md_player *p, struct md_prompt *const *prompts, size_t n,
                   md_play_done_h *done, void *arg)
{
	if (!p || n > MD_PLAY_MAX)
		return EINVAL;
	release(p);
	for (size_t i = 0; i < n; i++)
		p->list[i] = mem_ref(prompts[i]);
	p->n = n;
	p->last_rate = 0;
	p->done = done;
	p->arg = arg;
	p->kind = MD_PLAY_PROMPTS;
	p->mark_ns = 0;
	return 0;
}

void md_player_silence(struct md_player *p)
{
	release(p);
	p->kind = MD_PLAY_SILENCE;
}

void md_player_noise(struct md_player *p)
{
	release(p);
	noise_init_dbm0(&p->noise, 1234, -60.0f, NOISE_CLASS_HOTH, 0);
	p->kind = MD_PLAY_NOISE;
}

void md_player_ringback(struct md_player *p)
{
	release(p);
	p->tone_rate = 0;
	p->kind = MD_PLAY_RINGBACK;
}

void md_player_stop(struct md_player *p)
{
	md_player_silence(p);
}

bool md_player_busy(const struct md_player *p)
{
	return p->kind == MD_PLAY_PROMPTS || p->kind == MD_PLAY_RINGBACK ||
	       tmr_isrunning(&p->done_tmr);
}
