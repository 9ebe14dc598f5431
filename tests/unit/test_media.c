/*
 * test_media.c: mediad's engine without a network: the mixer (N-1,
 * saturation, rules, 8/16 kHz), the codecs' round trips, DTMF from each
 * source reported once, the player's sequencing, barge-in and ring-back.
 */
#define SUITE "media"
#include <math.h>

#include "test.h"
#include "codec.h"
#include "dtmf.h"
#include "mixer.h"
#include "monitor.h"
#include "player.h"

/* ---- helpers ------------------------------------------------------------ */

struct src {                      /* a member saying a constant, keeping what it hears */
	struct md_member m;
	int16_t say;
	int16_t heard[MD_FRAME_MAX];
	size_t n_heard;
	int pushes;
};

static bool src_pull(struct md_member *m, int16_t *pcm, size_t n, void *arg)
{
	struct src *s = arg;

	for (size_t i = 0; i < n; i++)
		pcm[i] = s->say;
	return s->say != 0;
}

static void src_push(struct md_member *m, const int16_t *pcm, size_t n, void *arg)
{
	struct src *s = arg;

	memcpy(s->heard, pcm, n * sizeof(*pcm));
	s->n_heard = n;
	s->pushes++;
}

static void src_init(struct src *s, int16_t say, uint32_t rate)
{
	memset(s, 0, sizeof(*s));
	s->say = say;
	s->m.rate = rate;
	s->m.pull = src_pull;
	s->m.push = src_push;
	s->m.arg = s;
}

static double rms(const int16_t *x, size_t n)
{
	double e = 0;

	for (size_t i = 0; i < n; i++)
		e += (double)x[i] * x[i];
	return n ? sqrt(e / n) : 0;
}

static void sine(int16_t *x, size_t n, double hz, double rate, double amp, size_t *phase)
{
	for (size_t i = 0; i < n; i++, (*phase)++)
		x[i] = (int16_t)(amp * sin(2 * M_PI * hz * (double)*phase / rate));
}

static void stop_loop(void *arg)
{
	(void)arg;
	re_cancel();
}

/* runs libre's loop for ms (timers such as the player's done) */
static void run_loop(int ms)
{
	struct tmr t;

	tmr_init(&t);
	tmr_start(&t, ms, stop_loop, NULL);
	re_main(NULL);
	tmr_cancel(&t);
}

static struct md_prompt *prompt_new(const int16_t *pcm8, size_t n8, const int16_t *pcm16, size_t n16)
{
	struct md_prompt *p = mem_zalloc(sizeof(*p), NULL);

	p->pcm8 = pcm8;
	p->n8 = n8;
	p->pcm16 = pcm16;
	p->n16 = n16;
	return p;
}

/* ---- mixer --------------------------------------------------------------- */

TEST(mixer_n_minus_1_saturates)
{
	struct md_mix *mix;
	struct src a, b, c;

	ASSERT_EQ_INT(md_mix_alloc(&mix), 0);
	src_init(&a, 20000, 8000);
	src_init(&b, 20000, 8000);
	src_init(&c, -5000, 8000);
	ASSERT_EQ_INT(md_mix_join(mix, &a.m), 0);
	ASSERT_EQ_INT(md_mix_join(mix, &b.m), 0);
	ASSERT_EQ_INT(md_mix_join(mix, &c.m), 0);
	md_mix_tick(mix);
	ASSERT_EQ_INT(a.n_heard, 160);
	ASSERT_EQ_INT(a.heard[0], 15000);          /* b + c */
	ASSERT_EQ_INT(b.heard[80], 15000);         /* a + c */
	ASSERT_EQ_INT(c.heard[159], 32767);        /* a + b = 40000, saturated */
	c.say = -30000;
	a.say = -30000;
	md_mix_tick(mix);
	ASSERT_EQ_INT(b.heard[0], -32768);         /* -60000, saturated */
	ASSERT_EQ_INT(a.heard[0], -10000);         /* b + c */
	md_mix_leave(&b.m);
	md_mix_tick(mix);
	ASSERT_EQ_INT(a.heard[0], -30000);         /* c only now */
	ASSERT_EQ_INT(b.pushes, 2);
	md_mix_leave(&a.m);
	md_mix_leave(&c.m);
	mem_deref(mix);
}

TEST(mixer_rules_listen_and_whisper)
{
	struct md_mix *mix;
	struct src caller, agent, sup;

	md_mix_alloc(&mix);
	src_init(&caller, 1000, 8000);
	src_init(&agent, 2000, 8000);
	src_init(&sup, 4000, 8000);
	md_mix_join(mix, &caller.m);
	md_mix_join(mix, &agent.m);
	md_mix_join(mix, &sup.m);
	/* listen: the supervisor hears both, nobody hears the supervisor */
	md_member_hear(&caller.m, 1u << agent.m.slot);
	md_member_hear(&agent.m, 1u << caller.m.slot);
	md_mix_tick(mix);
	ASSERT_EQ_INT(sup.heard[0], 3000);
	ASSERT_EQ_INT(caller.heard[0], 2000);
	ASSERT_EQ_INT(agent.heard[0], 1000);
	/* whisper: the agent also hears the supervisor, the caller does not */
	md_member_hear(&agent.m, 1u << caller.m.slot | 1u << sup.m.slot);
	md_mix_tick(mix);
	ASSERT_EQ_INT(agent.heard[0], 5000);
	ASSERT_EQ_INT(caller.heard[0], 2000);
	/* barge: everyone hears everyone else */
	md_member_hear_others(&caller.m);
	md_member_hear_others(&agent.m);
	md_mix_tick(mix);
	ASSERT_EQ_INT(caller.heard[0], 6000);
	mem_deref(mix);
}

/* supervision's rules (monitor.h) through the mixer: slots 0 caller,
 * 1 player, 2 agent, 3 supervisor; each sends its own level */
static void mon_apply(const struct md_mon_state *s, struct md_member *caller,
                      struct md_member *agent, struct md_member *sup)
{
	struct md_mon_masks m;

	md_mon_masks(s, &m);
	if (m.caller_custom)
		md_member_hear(caller, m.caller);
	else
		md_member_hear_others(caller);
	if (m.agent_custom)
		md_member_hear(agent, m.agent);
	else
		md_member_hear_others(agent);
	if (sup)
		md_member_hear(sup, m.sup[0]);
}

TEST(monitor_rules_listen_whisper_barge_hold)
{
	struct md_mix *mix;
	struct src caller, player, agent, sup;
	struct md_mon_state s = { .caller = 0, .player = 1, .agent = 2, .target = -1, .n = 1 };
	struct md_mon_masks m;

	md_mix_alloc(&mix);
	src_init(&caller, 1000, 8000);
	src_init(&player, 100, 8000);
	src_init(&agent, 2000, 8000);
	src_init(&sup, 4000, 8000);
	md_mix_join(mix, &caller.m);
	md_mix_join(mix, &player.m);
	md_mix_join(mix, &agent.m);
	md_mix_join(mix, &sup.m);
	s.sup[0].slot = sup.m.slot;
	s.sup[0].mode = MD_MON_LISTEN;
	mon_apply(&s, &caller.m, &agent.m, &sup.m);
	md_mix_tick(mix);
	ASSERT_EQ_INT(sup.heard[0], 3000);          /* caller + agent */
	ASSERT_EQ_INT(caller.heard[0], 2100);       /* agent + player, no supervisor */
	ASSERT_EQ_INT(agent.heard[0], 1100);
	s.sup[0].mode = MD_MON_WHISPER;
	mon_apply(&s, &caller.m, &agent.m, &sup.m);
	md_mix_tick(mix);
	ASSERT_EQ_INT(agent.heard[0], 5100);        /* the agent hears the supervisor */
	ASSERT_EQ_INT(caller.heard[0], 2100);       /* the caller does not */
	ASSERT_EQ_INT(sup.heard[0], 3000);
	s.sup[0].mode = MD_MON_BARGE;
	mon_apply(&s, &caller.m, &agent.m, &sup.m);
	md_mix_tick(mix);
	ASSERT_EQ_INT(agent.heard[0], 5100);
	ASSERT_EQ_INT(caller.heard[0], 6100);
	ASSERT_EQ_INT(sup.heard[0], 3000);
	/* hold: the caller hears the music only; a whispering supervisor
	 * still reaches the agent, a listener still hears the caller */
	s.hold = true;
	s.sup[0].mode = MD_MON_WHISPER;
	mon_apply(&s, &caller.m, &agent.m, &sup.m);
	md_mix_tick(mix);
	ASSERT_EQ_INT(caller.heard[0], 100);
	ASSERT_EQ_INT(agent.heard[0], 4000);
	ASSERT_EQ_INT(sup.heard[0], 3000);
	/* no supervisor left: the call's own rules again */
	s.n = 0;
	s.hold = false;
	md_mon_masks(&s, &m);
	ASSERT(!m.caller_custom && !m.agent_custom);
	s.hold = true;
	md_mon_masks(&s, &m);
	ASSERT(m.caller == 1u << 1 && m.agent == 0);
	s.target = 5;
	md_mon_masks(&s, &m);
	ASSERT(m.agent == 1u << 5 && m.target_custom && m.target == 1u << 2);
	ASSERT_EQ_INT(md_mon_mode_key('5'), MD_MON_WHISPER);
	ASSERT_EQ_INT(md_mon_mode_key('7'), -1);
	ASSERT_EQ_INT(md_mon_mode_parse("barge"), MD_MON_BARGE);
	ASSERT_EQ_INT(md_mon_mode_parse("Barge"), -1);
	mem_deref(mix);
}

TEST(mixer_full_refused)
{
	struct md_mix *mix;
	static struct src s[MD_MIX_MEMBERS + 1];

	md_mix_alloc(&mix);
	for (int i = 0; i < MD_MIX_MEMBERS; i++) {
		src_init(&s[i], 1, 8000);
		ASSERT_EQ_INT(md_mix_join(mix, &s[i].m), 0);
	}
	src_init(&s[MD_MIX_MEMBERS], 1, 8000);
	ASSERT_EQ_INT(md_mix_join(mix, &s[MD_MIX_MEMBERS].m), EOVERFLOW);
	ASSERT_EQ_INT(md_mix_join(mix, &s[0].m), EINVAL);        /* twice */
	s[MD_MIX_MEMBERS].m.rate = 44100;
	md_mix_leave(&s[1].m);
	ASSERT_EQ_INT(md_mix_join(mix, &s[MD_MIX_MEMBERS].m), EINVAL); /* odd rate */
	mem_deref(mix);                /* members still in: the mix lets them go */
	ASSERT(s[0].m.mix == NULL);
}

TEST(mixer_8k_and_16k_members)
{
	struct md_mix *mix;
	struct src narrow, wide;

	md_mix_alloc(&mix);
	src_init(&narrow, 8000, 8000);
	src_init(&wide, 4000, 16000);
	md_mix_join(mix, &narrow.m);
	ASSERT_EQ_INT(mix->rate, 8000);
	md_mix_join(mix, &wide.m);
	ASSERT_EQ_INT(mix->rate, 16000);
	for (int i = 0; i < 10; i++)
		md_mix_tick(mix);
	ASSERT_EQ_INT(wide.n_heard, 320);
	ASSERT_EQ_INT(narrow.n_heard, 160);
	/* a level survives librem's FIR both ways (measured: 0.82 at DC, -1.7 dB) */
	if (wide.heard[200] < 6000 || wide.heard[200] > 8400 ||
	    narrow.heard[100] < 3000 || narrow.heard[100] > 4200)
		FAILF("wide hears %d, narrow hears %d", wide.heard[200], narrow.heard[100]);
	md_mix_leave(&wide.m);
	ASSERT_EQ_INT(mix->rate, 8000);
	mem_deref(mix);
}

/* ---- codecs -------------------------------------------------------------- */

static void roundtrip(int pt, uint32_t rate, double max_err_ratio)
{
	struct md_codec enc, dec;
	int16_t in[MD_FRAME_MAX], out[MD_FRAME_MAX], all_in[50 * MD_FRAME_MAX], all_out[50 * MD_FRAME_MAX];
	uint8_t wire[MD_FRAME_MAX];
	size_t n = rate / 50, ph = 0;

	ASSERT_EQ_INT(md_codec_init(&enc, pt), 0);
	ASSERT_EQ_INT(md_codec_init(&dec, pt), 0);
	ASSERT_EQ_INT(enc.rate, rate);
	for (int f = 0; f < 50; f++) {
		sine(in, n, 1000, rate, 8000, &ph);
		size_t len = md_codec_encode(&enc, wire, in, n);
		ASSERT_EQ_INT(len, 160);                      /* 64 kbit/s: 160 bytes per 20 ms */
		ASSERT_EQ_INT(md_codec_decode(&dec, out, MD_FRAME_MAX, wire, len), n);
		memcpy(all_in + f * n, in, n * sizeof(*in));
		memcpy(all_out + f * n, out, n * sizeof(*out));
	}
	/* same level; and G.711 (no delay) sample by sample */
	ASSERT(fabs(rms(all_out + 10 * n, 40 * n) / rms(all_in + 10 * n, 40 * n) - 1) < 0.1);
	if (max_err_ratio > 0) {
		int16_t diff[50 * MD_FRAME_MAX];
		for (size_t i = 0; i < 50 * n; i++)
			diff[i] = (int16_t)(all_out[i] - all_in[i]);
		ASSERT(rms(diff, 50 * n) < max_err_ratio * rms(all_in, 50 * n));
	}
}

TEST(g711_alaw_roundtrip) { roundtrip(MD_PCMA, 8000, 0.05); }
TEST(g711_ulaw_roundtrip) { roundtrip(MD_PCMU, 8000, 0.05); }
TEST(g722_roundtrip) { roundtrip(MD_G722, 16000, 0); }

TEST(codec_names)
{
	struct md_codec c;

	ASSERT_EQ_INT(md_codec_pt("PCMA", 8000), 8);
	ASSERT_EQ_INT(md_codec_pt("pcmu", 8000), 0);
	ASSERT_EQ_INT(md_codec_pt("G722", 8000), 9);
	ASSERT_EQ_INT(md_codec_pt("G722", 16000), -1);
	ASSERT_EQ_INT(md_codec_pt("opus", 48000), -1);
	ASSERT_EQ_INT(md_codec_pt(NULL, 8000), -1);
	ASSERT_EQ_INT(md_codec_init(&c, 3), EINVAL);
}

/* codec.c's G.711 tables against spandsp: every byte decoded, every 16-bit
 * sample encoded, both laws, the same as g711_decode/g711_encode */
TEST(g711_tables_match_spandsp)
{
	static const int laws[2][2] = { { MD_PCMU, G711_ULAW }, { MD_PCMA, G711_ALAW } };

	for (int l = 0; l < 2; l++) {
		struct md_codec c;
		g711_state_t ref;
		uint8_t bytes[256], a[256], b[256];
		int16_t pcm[256], want[256];

		ASSERT_EQ_INT(md_codec_init(&c, laws[l][0]), 0);
		g711_init(&ref, laws[l][1]);
		for (int i = 0; i < 256; i++)
			bytes[i] = (uint8_t)i;
		ASSERT_EQ_INT(md_codec_decode(&c, pcm, 256, bytes, 256), 256);
		g711_decode(&ref, want, bytes, 256);
		ASSERT(memcmp(pcm, want, sizeof(pcm)) == 0);
		for (int v = INT16_MIN; v <= INT16_MAX; v += 256) {
			for (int i = 0; i < 256; i++)
				pcm[i] = (int16_t)(v + i);
			ASSERT_EQ_INT(md_codec_encode(&c, a, pcm, 256), 256);
			g711_encode(&ref, b, pcm, 256);
			if (memcmp(a, b, sizeof(a)))
				FAILF("law %d: encoding differs near %d", l, v);
		}
	}
}

/* ---- DTMF ---------------------------------------------------------------- */

static char got[64];
static enum md_dtmf_src got_src[64];
static size_t n_got;

static void on_digit(char d, enum md_dtmf_src src, void *arg)
{
	(void)arg;
	if (n_got < sizeof(got) - 1) {
		got_src[n_got] = src;
		got[n_got++] = d;
	}
}

TEST(inband_dtmf_through_alaw)
{
	dtmf_tx_state_t tx;
	struct md_codec enc, dec;
	struct md_dtmf d;
	int16_t pcm[160], out[160];
	uint8_t wire[160];

	dtmf_tx_init(&tx);
	dtmf_tx_put(&tx, "159#0*D", -1);
	md_codec_init(&enc, MD_PCMA);
	md_codec_init(&dec, MD_PCMA);
	md_dtmf_init(&d, on_digit, NULL);
	for (int f = 0; f < 150; f++) {
		int k = dtmf_tx(&tx, pcm, 160);
		if (k < 160)
			memset(pcm + k, 0, (160 - k) * sizeof(*pcm));
		md_codec_encode(&enc, wire, pcm, 160);
		md_codec_decode(&dec, out, 160, wire, 160);
		md_dtmf_audio(&d, out, 160, 8000);
	}
	got[n_got] = 0;
	ASSERT_EQ_STR(got, "159#0*D");
	ASSERT_EQ_INT(got_src[0], MD_DTMF_INBAND);
}

TEST(inband_dtmf_through_g722)
{
	dtmf_tx_state_t tx;
	struct md_codec enc, dec;
	struct md_dtmf d;
	int16_t pcm8[160], pcm16[320], out[320];
	uint8_t wire[320];

	dtmf_tx_init(&tx);
	dtmf_tx_put(&tx, "28", -1);
	md_codec_init(&enc, MD_G722);
	md_codec_init(&dec, MD_G722);
	md_dtmf_init(&d, on_digit, NULL);
	for (int f = 0; f < 60; f++) {
		int k = dtmf_tx(&tx, pcm8, 160);
		if (k < 160)
			memset(pcm8 + k, 0, (160 - k) * sizeof(*pcm8));
		for (int i = 0; i < 160; i++)             /* a crude 16 kHz copy */
			pcm16[2 * i] = pcm16[2 * i + 1] = pcm8[i];
		size_t len = md_codec_encode(&enc, wire, pcm16, 320);
		md_dtmf_audio(&d, out, md_codec_decode(&dec, out, 320, wire, len), 16000);
	}
	got[n_got] = 0;
	ASSERT_EQ_STR(got, "28");
}

TEST(rfc4733_end_reported_once)
{
	struct md_dtmf d;

	md_dtmf_init(&d, on_digit, NULL);
	md_dtmf_event(&d, 1000, 5, false);      /* start and updates: nothing yet */
	md_dtmf_event(&d, 1000, 5, false);
	md_dtmf_event(&d, 1000, 5, true);
	md_dtmf_event(&d, 1000, 5, true);       /* the two retransmitted ends */
	md_dtmf_event(&d, 1000, 5, true);
	md_dtmf_event(&d, 2600, 11, true);      /* '#' */
	md_dtmf_event(&d, 2600, 11, true);
	md_dtmf_event(&d, 4200, 16, true);      /* flash (16): not a digit */
	md_dtmf_event(&d, 4300, -1, true);
	got[n_got] = 0;
	ASSERT_EQ_STR(got, "5#");
	ASSERT_EQ_INT(got_src[0], MD_DTMF_RFC4733);
}

TEST(info_dtmf_relay_parsed_and_refused)
{
	struct md_dtmf d;
	static const char ok1[] = "Signal=5\r\nDuration=160\r\n";
	static const char ok2[] = "signal = #\nDuration= 100";
	static const char *const bad[] = {
		"Signal=\r\n", "Signal=55\r\n", "Signal=Z\r\n", "Duration=100\r\n", "",
		"Signal", "Signal 5", "Signalx=5",
	};

	md_dtmf_init(&d, on_digit, NULL);
	ASSERT_EQ_INT(md_dtmf_info(&d, ok1, strlen(ok1)), 0);
	ASSERT_EQ_INT(md_dtmf_info(&d, ok2, strlen(ok2)), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (md_dtmf_info(&d, bad[i], strlen(bad[i])) != EINVAL)
			FAILF("accepted \"%s\"", bad[i]);
	/* a body cut right after '=' (no NUL behind it) */
	ASSERT_EQ_INT(md_dtmf_info(&d, "Signal=7", 7), EINVAL);
	got[n_got] = 0;
	ASSERT_EQ_STR(got, "5#");
	ASSERT_EQ_INT(got_src[1], MD_DTMF_INFO);
}

/* ---- player -------------------------------------------------------------- */

static int done_calls;

static void on_played(struct md_player *p, void *arg)
{
	(void)p;
	(void)arg;
	done_calls++;
}

TEST(player_plays_in_order_then_done)
{
	static int16_t one[200], two[100], one16[400], two16[200];
	struct md_prompt *pr[3];
	struct md_player *p;
	struct md_mix *mix;
	struct src ear;

	ASSERT_EQ_INT(libre_init(), 0);
	for (int i = 0; i < 200; i++)
		one[i] = 111;
	for (int i = 0; i < 100; i++)
		two[i] = 222;
	pr[0] = prompt_new(one, 200, one16, 400);
	pr[1] = NULL;                             /* a prompt that did not load: skipped */
	pr[2] = prompt_new(two, 100, two16, 200);
	md_mix_alloc(&mix);
	md_player_alloc(&p);
	src_init(&ear, 0, 8000);
	md_mix_join(mix, &p->member);
	md_mix_join(mix, &ear.m);
	ASSERT_EQ_INT(md_player_play(p, pr, 3, on_played, NULL), 0);
	md_mix_tick(mix);                         /* samples 0..159 of one */
	ASSERT_EQ_INT(ear.heard[0], 111);
	ASSERT_EQ_INT(ear.heard[159], 111);
	md_mix_tick(mix);                         /* 40 of one, then 100 of two, then silence */
	ASSERT_EQ_INT(ear.heard[39], 111);
	ASSERT_EQ_INT(ear.heard[40], 222);
	ASSERT_EQ_INT(ear.heard[139], 222);
	ASSERT_EQ_INT(ear.heard[140], 0);
	ASSERT_EQ_INT(done_calls, 0);             /* never inside the tick */
	run_loop(10);
	ASSERT_EQ_INT(done_calls, 1);
	ASSERT(!md_player_busy(p));
	md_mix_tick(mix);
	ASSERT_EQ_INT(ear.heard[0], 0);
	/* the player let go of its prompts */
	ASSERT_EQ_INT(mem_nrefs(pr[0]), 1);
	mem_deref(pr[0]);
	mem_deref(pr[2]);
	mem_deref(p);
	mem_deref(mix);
	libre_close();
}

TEST(player_barge_in_stops_without_done)
{
	static int16_t one[8000], one16[16000];
	struct md_prompt *pr;
	struct md_player *p;
	struct md_mix *mix;
	struct src ear;

	ASSERT_EQ_INT(libre_init(), 0);
	for (int i = 0; i < 8000; i++)
		one[i] = 500;
	pr = prompt_new(one, 8000, one16, 16000);
	md_mix_alloc(&mix);
	md_player_alloc(&p);
	src_init(&ear, 0, 8000);
	md_mix_join(mix, &p->member);
	md_mix_join(mix, &ear.m);
	md_player_play(p, &pr, 1, on_played, NULL);
	md_mix_tick(mix);
	ASSERT_EQ_INT(ear.heard[0], 500);
	ASSERT(md_player_busy(p));
	md_player_stop(p);                        /* a digit barged in */
	md_mix_tick(mix);
	ASSERT_EQ_INT(ear.heard[0], 0);
	run_loop(10);
	ASSERT_EQ_INT(done_calls, 0);
	ASSERT_EQ_INT(mem_nrefs(pr), 1);
	/* and a player freed mid-prompt leaves its mix and lets go */
	md_player_play(p, &pr, 1, on_played, NULL);
	md_mix_tick(mix);
	mem_deref(p);
	ASSERT_EQ_INT(mem_nrefs(pr), 1);
	md_mix_tick(mix);
	ASSERT_EQ_INT(ear.heard[0], 0);
	mem_deref(pr);
	mem_deref(mix);
	libre_close();
}

TEST(player_16k_prompt_in_wide_mix)
{
	static int16_t p8[160], p16[320];
	struct md_prompt *pr;
	struct md_player *p;
	struct md_mix *mix;
	struct src ear;

	for (int i = 0; i < 160; i++)
		p8[i] = 8;
	for (int i = 0; i < 320; i++)
		p16[i] = 16;
	pr = prompt_new(p8, 160, p16, 320);
	md_mix_alloc(&mix);
	md_player_alloc(&p);
	src_init(&ear, 0, 16000);
	md_mix_join(mix, &p->member);
	md_mix_join(mix, &ear.m);
	md_player_play(p, &pr, 1, NULL, NULL);
	md_mix_tick(mix);
	ASSERT_EQ_INT(ear.n_heard, 320);
	ASSERT_EQ_INT(ear.heard[0], 16);          /* the 16 kHz recording, not resampled */
	ASSERT_EQ_INT(ear.heard[319], 16);
	mem_deref(p);
	mem_deref(pr);
	mem_deref(mix);
}

static void ringback_cadence(uint32_t rate)
{
	struct md_player *p;
	struct md_mix *mix;
	struct src ear;
	int on[300];
	int crossings = 0;
	int16_t prev = 0;

	md_mix_alloc(&mix);
	md_player_alloc(&p);
	src_init(&ear, 0, rate);
	md_mix_join(mix, &p->member);
	md_mix_join(mix, &ear.m);
	md_player_ringback(p);
	for (int f = 0; f < 300; f++) {             /* 6 s */
		md_mix_tick(mix);
		on[f] = rms(ear.heard, ear.n_heard) > 500;
		if (f >= 5 && f < 45)                   /* 0.8 s inside the first "on" */
			for (size_t i = 0; i < ear.n_heard; i++) {
				if ((prev < 0) != (ear.heard[i] < 0))
					crossings++;
				prev = ear.heard[i];
			}
	}
	/* 1 s on (frames 0-49), 4 s off (50-249), on again at 5 s */
	for (int f = 0; f < 300; f++) {
		int want = f < 50 || f >= 250;
		if (on[f] != want && f != 49 && f != 50 && f != 249 && f != 250)
			FAILF("%u Hz: frame %d is %s", rate, f, on[f] ? "on" : "off");
	}
	/* 450 Hz: 900 zero crossings a second, 720 in 0.8 s */
	if (abs(crossings - 720) > 15)
		FAILF("%u Hz: %d crossings in 0.8 s", rate, crossings);
	mem_deref(p);
	mem_deref(mix);
}

TEST(ringback_cadence_8k) { ringback_cadence(8000); }
TEST(ringback_cadence_16k) { ringback_cadence(16000); }

TEST_LIST(T(mixer_n_minus_1_saturates), T(mixer_rules_listen_and_whisper),
          T(monitor_rules_listen_whisper_barge_hold), T(mixer_full_refused),
          T(mixer_8k_and_16k_members), T(g711_alaw_roundtrip), T(g711_ulaw_roundtrip),
          T(g722_roundtrip), T(codec_names), T(g711_tables_match_spandsp), T(inband_dtmf_through_alaw),
          T(inband_dtmf_through_g722), T(rfc4733_end_reported_once),
          T(info_dtmf_relay_parsed_and_refused), T(player_plays_in_order_then_done),
          T(player_barge_in_stops_without_done), T(player_16k_prompt_in_wide_mix),
          T(ringback_cadence_8k), T(ringback_cadence_16k))
