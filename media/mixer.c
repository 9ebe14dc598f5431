/*
 * mixer.c: the one 20 ms timer and the N-1 saturating mix (mixer.h).
 *
 * Drift: the timer is re-armed for the next multiple of 20 ms after the
 * first tick (tmr_jiffies, the monotonic clock in ms), not 20 ms after
 * this tick ran, so a loaded loop does not slow the audio down. A tick
 * that is more than 5 frames behind skips ahead (counted as late): the
 * legs' jitter buffers absorb that; replaying 100 ms of frames at once
 * would only flood the far ends.
 *
 * Per tick and mix: total = sum of every member's frame (32 bits); a
 * member that hears all others gets total - its own frame, saturated;
 * a custom member sums only the slots it hears. No allocation per tick.
 */
#include <string.h>
#include <time.h>

#include "mixer.h"

static struct {
	struct list mixes;
	struct tmr tmr;
	struct tmr mix_tmr;          /* the mixing, right after the tick's reading */
	uint64_t next_ms;            /* when the next tick is due (jiffies) */
	bool running;
	struct md_mixer_stats st;
	void (*after)(void);         /* the tick's I/O (md_mixer_after) */
	void (*before)(void);        /* and its reading (md_mixer_before) */
} M;

static void mix_destructor(void *arg)
{
	struct md_mix *mix = arg;
	struct le *le;

	/* members should have left; do not let them point at freed memory */
	while ((le = list_head(&mix->members)))
		md_mix_leave(le->data);
	list_unlink(&mix->le);
}

int md_mix_alloc(struct md_mix **mixp)
{
	struct md_mix *mix = mem_zalloc(sizeof(*mix), mix_destructor);

	if (!mix)
		return ENOMEM;
	mix->rate = 8000;
	list_append(&M.mixes, &mix->le, mix);
	*mixp = mix;
	return 0;
}

static void member_setup(struct md_mix *mix, struct md_member *m)
{
	uint32_t r = m->rate ? m->rate : mix->rate;

	m->resample = r != mix->rate;
	if (m->resample) {
		auresamp_init(&m->up);
		auresamp_init(&m->down);
		auresamp_setup(&m->up, r, 1, mix->rate, 1);
		auresamp_setup(&m->down, mix->rate, 1, r, 1);
	}
}

/* The mix's rate is its highest member's; changing it re-sets members. */
static void mix_rerate(struct md_mix *mix)
{
	uint32_t rate = 8000;
	struct le *le;

	for (le = list_head(&mix->members); le; le = le->next) {
		struct md_member *m = le->data;
		if (m->rate > rate)
			rate = m->rate;
	}
	if (rate == mix->rate)
		return;
	mix->rate = rate;
	for (le = list_head(&mix->members); le; le = le->next)
		member_setup(mix, le->data);
}

int md_mix_join(struct md_mix *mix, struct md_member *m)
{
	unsigned slot;

	if (!mix || !m || m->mix)
		return EINVAL;
	if (m->rate && m->rate != 8000 && m->rate != 16000)
		return EINVAL;
	for (slot = 0; slot < MD_MIX_MEMBERS && (mix->used & (1u << slot)); slot++)
		;
	if (slot == MD_MIX_MEMBERS)
		return EOVERFLOW;
	mix->used |= 1u << slot;
	m->slot = slot;
	m->mix = mix;
	m->has = false;
	list_append(&mix->members, &m->le, m);
	member_setup(mix, m);
	mix_rerate(mix);
	return 0;
}

void md_mix_leave(struct md_member *m)
{
	struct md_mix *mix;

	if (!m || !m->mix)
		return;
	mix = m->mix;
	list_unlink(&m->le);
	mix->used &= ~(1u << m->slot);
	m->mix = NULL;
	mix_rerate(mix);
}

void md_member_hear(struct md_member *m, uint32_t mask)
{
	m->custom = true;
	m->hears = mask;
}

void md_member_hear_others(struct md_member *m)
{
	m->custom = false;
}

static size_t frame_len(uint32_t rate)
{
	return rate / 1000 * MD_PTIME_MS;
}

void md_mix_tick(struct md_mix *mix)
{
	int32_t total[MD_FRAME_MAX];
	int16_t tmp[MD_FRAME_MAX], out[MD_FRAME_MAX];
	size_t n = frame_len(mix->rate);
	struct md_member *by_slot[MD_MIX_MEMBERS] = { 0 };
	struct le *le;

	memset(total, 0, sizeof(total));
	for (le = list_head(&mix->members); le; le = le->next) {
		struct md_member *m = le->data;
		uint32_t r = m->rate ? m->rate : mix->rate;
		size_t mn = frame_len(r);

		by_slot[m->slot] = m;
		m->has = m->pull && m->pull(m, m->resample ? tmp : m->in, mn, m->arg);
		if (!m->has)
			continue;
		if (m->resample) {
			size_t outc = MD_FRAME_MAX;

			if (auresamp(&m->up, m->in, &outc, tmp, mn) || outc != n) {
				m->has = false;
				continue;
			}
		}
		for (size_t i = 0; i < n; i++)
			total[i] += m->in[i];
	}
	for (le = list_head(&mix->members); le; le = le->next) {
		struct md_member *m = le->data;
		uint32_t r = m->rate ? m->rate : mix->rate;

		if (!m->push)
			continue;
		if (!m->custom) {
			if (m->has)
				for (size_t i = 0; i < n; i++)
					out[i] = md_sat16(total[i] - m->in[i]);
			else
				for (size_t i = 0; i < n; i++)
					out[i] = md_sat16(total[i]);
		} else {
			int32_t acc[MD_FRAME_MAX];

			memset(acc, 0, n * sizeof(acc[0]));
			for (unsigned s = 0; s < MD_MIX_MEMBERS; s++) {
				struct md_member *o = by_slot[s];
				if (!o || o == m || !o->has || !(m->hears & (1u << s)))
					continue;
				for (size_t i = 0; i < n; i++)
					acc[i] += o->in[i];
			}
			for (size_t i = 0; i < n; i++)
				out[i] = md_sat16(acc[i]);
		}
		if (m->resample) {
			size_t outc = MD_FRAME_MAX;

			if (auresamp(&m->down, tmp, &outc, out, n))
				continue;
			m->push(m, tmp, outc, m->arg);
		} else {
			m->push(m, out, frame_len(r), m->arg);
		}
	}
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void on_mix(void *arg);

/* The tick reads READ_LEAD_MS before the frame is due (M.next_ms) and mixes
 * at it, from a second timer: what the reading started (a key's digit
 * timer, the catalog's answer with the prompt it led to, each a 0 ms
 * timer) runs in between, so that prompt starts in this very frame. With
 * the mixing right after the reading it started a frame later (key to
 * prompt p99 37-40 ms instead of 16). The audio's schedule only shifts by
 * the lead: a packet read now is mixed READ_LEAD_MS later. */
#define READ_LEAD_MS 3

static void on_tick(void *arg)
{
	uint64_t t0, now;

	(void)arg;
	if (M.before) {
		t0 = cc_mono_ns();
		M.before();
		cc_hist_add(&M.st.recv_ns, cc_mono_ns() - t0);
	}
	now = tmr_jiffies();
	tmr_start(&M.mix_tmr, M.next_ms > now ? M.next_ms - now : 0, on_mix, NULL);
}

static void on_mix(void *arg)
{
	uint64_t t0, c0, t1, now;
	struct le *le;

	(void)arg;
	t0 = cc_mono_ns();
	c0 = thread_cpu_ns();
	for (le = list_head(&M.mixes); le; ) {
		struct md_mix *mix = le->data;
		le = le->next;
		md_mix_tick(mix);
	}
	M.st.ticks++;
	t1 = cc_mono_ns();
	cc_hist_add(&M.st.tick_ns, t1 - t0);
	cc_hist_add(&M.st.tick_cpu_ns, thread_cpu_ns() - c0);
	if (M.after) {
		M.after();
		cc_hist_add(&M.st.send_ns, cc_mono_ns() - t1);
	}

	now = tmr_jiffies();
	M.next_ms += MD_PTIME_MS;
	if (now > M.next_ms + 5 * MD_PTIME_MS) {
		M.st.late++;
		M.next_ms = now + MD_PTIME_MS;
	}
	tmr_start(&M.tmr, M.next_ms > now + READ_LEAD_MS ? M.next_ms - now - READ_LEAD_MS : 0,
	          on_tick, NULL);
}

void md_mixer_after(void (*h)(void))
{
	M.after = h;
}

void md_mixer_before(void (*h)(void))
{
	M.before = h;
}

void md_mixer_init(void)
{
	if (M.running)
		return;
	list_init(&M.mixes);
	tmr_init(&M.tmr);
	tmr_init(&M.mix_tmr);
	memset(&M.st, 0, sizeof(M.st));
	M.next_ms = tmr_jiffies() + MD_PTIME_MS;
	M.running = true;
	tmr_start(&M.tmr, MD_PTIME_MS - READ_LEAD_MS, on_tick, NULL);
}

void md_mixer_close(void)
{
	tmr_cancel(&M.tmr);
	tmr_cancel(&M.mix_tmr);
	M.running = false;
}

const struct md_mixer_stats *md_mixer_stats(void)
{
	return &M.st;
}

size_t md_mixer_count(void)
{
	return list_count(&M.mixes);
}
