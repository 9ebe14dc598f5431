/*
 * mkprompts: the platform's default prompts, made at build time (tenantd's
 * Makefile runs it; docs/PROMPTS.md). Writes OUTDIR/<name>.8k.raw and
 * <name>.16k.raw (s16le mono) for each default, the form mediad plays and
 * lib/audio makes of an upload:
 *
 *   invalid, goodbye, please_hold, closed: spoken by espeak-ng, Mandarin
 *     first, then English, in one prompt (the platform does not know a
 *     tenant's callers; a tenant replaces any of them with its own);
 *   hold_music: an original melody synthesised here (no recording of
 *     anyone's music is shipped);
 *   the ACD's (media/queue.h), one language each, mediad picks the
 *     tenant's: q_pos_<zh|en>_<1..20|more> ("you are caller number N"),
 *     q_wait_<zh|en>_<1..15|more> ("the expected wait is about M
 *     minutes"), q_cb_hint_<lang> ("press star to be called back"),
 *     q_cb_offer_<lang> (the callback's question), q_cb_ok_<lang>.
 *
 * Each file is written to a temporary name and renamed, so a build
 * interrupted half way leaves no half file that looks done.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio.h"
#include "cc.h"
#include "tts.h"

struct spoken {
	const char *name;
	const char *zh, *en;
};

static const struct spoken spoken[] = {
	{ "invalid", "输入有误，请重新选择。", "Sorry, that is not a valid choice. Please try again." },
	{ "goodbye", "感谢您的来电，再见。", "Thank you for calling. Goodbye." },
	{ "please_hold", "请稍候，正在为您转接。", "Please hold while we connect your call." },
	{ "closed", "您好，现在是非工作时间，请在工作时间再次来电。",
	  "Hello. We are closed at the moment. Please call again during our opening hours." },
};

static int write_raw(const char *dir, const char *name, const char *rate, const int16_t *s, size_t n)
{
	char path[512], tmp[520];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.%s.raw", dir, name, rate);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (!(f = fopen(tmp, "wb")))
		return CC_ERROR;
	/* s16le: this platform is little-endian (x86-64, arm64), as mediad */
	int ok = fwrite(s, sizeof(*s), n, f) == n;
	ok = fclose(f) == 0 && ok;
	if (!ok || rename(tmp, path) != 0) {
		remove(tmp);
		return CC_ERROR;
	}
	return CC_OK;
}

static int save(const char *dir, const char *name, const struct cc_audio *a)
{
	if (write_raw(dir, name, "8k", a->pcm8, a->n8) != CC_OK ||
	    write_raw(dir, name, "16k", a->pcm16, a->n16) != CC_OK) {
		fprintf(stderr, "mkprompts: cannot write %s/%s.*.raw\n", dir, name);
		return CC_ERROR;
	}
	printf("mkprompts: %s (%d ms)\n", name, a->duration_ms);
	return CC_OK;
}

/* a then 400 ms of silence then b (both already normalised) */
static int16_t *join(const int16_t *a, size_t na, const int16_t *b, size_t nb, size_t gap, size_t *n)
{
	int16_t *s = calloc(na + gap + nb, sizeof(*s));

	CC_BUG_ON(!s);
	memcpy(s, a, na * sizeof(*s));
	memcpy(s + na + gap, b, nb * sizeof(*s));
	*n = na + gap + nb;
	return s;
}

static int make_spoken(const char *dir, const struct spoken *p)
{
	struct cc_audio zh, en, both = { 0 };
	char *err = NULL;

	if (cc_tts_speak(p->zh, "zh", &zh, &err) != CC_AUDIO_OK ||
	    cc_tts_speak(p->en, "en", &en, &err) != CC_AUDIO_OK) {
		fprintf(stderr, "mkprompts: %s: %s\n", p->name, err);
		return CC_ERROR;
	}
	both.pcm8 = join(zh.pcm8, zh.n8, en.pcm8, en.n8, 3200, &both.n8);
	both.pcm16 = join(zh.pcm16, zh.n16, en.pcm16, en.n16, 6400, &both.n16);
	both.duration_ms = (int)(both.n8 / 8);
	int rc = save(dir, p->name, &both);
	cc_audio_free(&zh);
	cc_audio_free(&en);
	cc_audio_free(&both);
	return rc;
}

/* ---- the ACD's prompts ------------------------------------------------ */

static const char *const ZH_NUM[] = { "", "一", "二", "三", "四", "五", "六", "七", "八", "九", "十",
                                      "十一", "十二", "十三", "十四", "十五", "十六", "十七",
                                      "十八", "十九", "二十" };

static int make_one(const char *dir, const char *name, const char *text, const char *voice)
{
	struct cc_audio a;
	char *err = NULL;
	int rc;

	if (cc_tts_speak(text, voice, &a, &err) != CC_AUDIO_OK) {
		fprintf(stderr, "mkprompts: %s: %s\n", name, err);
		free(err);
		return CC_ERROR;
	}
	rc = save(dir, name, &a);
	cc_audio_free(&a);
	return rc;
}

static int make_queue_prompts(const char *dir)
{
	char name[64], text[256];

	for (int n = 1; n <= 21; n++) {
		const char *tag = n <= 20 ? NULL : "more";
		char num[8];

		snprintf(num, sizeof(num), "%d", n);
		snprintf(name, sizeof(name), "q_pos_zh_%s", tag ? tag : num);
		if (tag)
			snprintf(text, sizeof(text), "您前面还有二十多位来电，请耐心等待。");
		else
			snprintf(text, sizeof(text), "您是第%s位来电。", ZH_NUM[n]);
		if (make_one(dir, name, text, "zh") != CC_OK)
			return CC_ERROR;
		snprintf(name, sizeof(name), "q_pos_en_%s", tag ? tag : num);
		if (tag)
			snprintf(text, sizeof(text), "There are more than twenty callers ahead of you.");
		else
			snprintf(text, sizeof(text), "You are caller number %d.", n);
		if (make_one(dir, name, text, "en") != CC_OK)
			return CC_ERROR;
	}
	for (int m = 1; m <= 16; m++) {
		const char *tag = m <= 15 ? NULL : "more";
		char num[8];

		snprintf(num, sizeof(num), "%d", m);
		snprintf(name, sizeof(name), "q_wait_zh_%s", tag ? tag : num);
		if (tag)
			snprintf(text, sizeof(text), "预计等待时间超过十五分钟。");
		else
			snprintf(text, sizeof(text), "预计等待约%s分钟。", m == 2 ? "两" : ZH_NUM[m]);
		if (make_one(dir, name, text, "zh") != CC_OK)
			return CC_ERROR;
		snprintf(name, sizeof(name), "q_wait_en_%s", tag ? tag : num);
		if (tag)
			snprintf(text, sizeof(text), "The expected wait is more than fifteen minutes.");
		else
			snprintf(text, sizeof(text), "The expected wait is about %d minute%s.", m,
			         m == 1 ? "" : "s");
		if (make_one(dir, name, text, "en") != CC_OK)
			return CC_ERROR;
	}
	static const struct spoken cb[] = {
		{ "q_cb_hint", "如需回电，请按星号键。", "To be called back instead of waiting, press star." },
		{ "q_cb_offer", "如需回电到本号码，请按一；回电到其他号码，请输入号码后按井号键。",
		  "To be called back on this number, press 1. Or key another number, then the hash key." },
		{ "q_cb_ok", "好的，我们会保留您的排队位置，稍后给您回电。再见。",
		  "Thank you. We will keep your place in the queue and call you back. Goodbye." },
	};
	for (size_t i = 0; i < CC_ARRAY_LEN(cb); i++) {
		snprintf(name, sizeof(name), "%s_zh", cb[i].name);
		if (make_one(dir, name, cb[i].zh, "zh") != CC_OK)
			return CC_ERROR;
		snprintf(name, sizeof(name), "%s_en", cb[i].name);
		if (make_one(dir, name, cb[i].en, "en") != CC_OK)
			return CC_ERROR;
	}
	return CC_OK;
}

/*
 * Hold music: a calm 16-bar tune in A minor at 84 beats a minute, a soft
 * bell-like voice (a sine with two quieter harmonics and a decaying
 * envelope) over a bass note per bar. Written for this platform.
 */
#define HM_RATE 16000

static void note(float *out, size_t len, double t0, double dur, double freq, double amp)
{
	size_t a = (size_t)(t0 * HM_RATE), n = (size_t)(dur * HM_RATE);

	for (size_t i = 0; i < n && a + i < len; i++) {
		double t = (double)i / HM_RATE;
		double env = (1 - exp(-t * 200)) * exp(-t * 2.2) * (i > n - 400 ? (double)(n - i) / 400 : 1);
		double w = sin(2 * M_PI * freq * t) + 0.25 * sin(4 * M_PI * freq * t) +
		           0.08 * sin(6 * M_PI * freq * t);

		out[a + i] += (float)(amp * env * w);
	}
}

static double midi(int m)
{
	return 440.0 * pow(2.0, (m - 69) / 12.0);
}

static int make_hold_music(const char *dir)
{
	/* melody: MIDI note and length in eighths, per bar (8 eighths) */
	static const signed char tune[16][8] = {
		{ 69, 72, 76, 72, 74, 72, 69, -1 }, { 67, 69, 72, 69, 71, -1, 67, -1 },
		{ 65, 69, 72, 74, 76, 74, 72, -1 }, { 71, 72, 74, 71, 69, -1, -1, -1 },
		{ 69, 72, 76, 79, 77, 76, 74, -1 }, { 72, 74, 76, 74, 72, 71, 72, -1 },
		{ 65, 69, 72, 77, 76, 74, 72, 74 }, { 76, -1, 74, 72, 71, -1, -1, -1 },
		{ 72, 76, 79, 76, 77, 76, 74, -1 }, { 71, 74, 77, 74, 76, -1, 72, -1 },
		{ 69, 72, 76, 72, 74, 76, 77, -1 }, { 79, 77, 76, 74, 76, -1, -1, -1 },
		{ 69, 72, 76, 72, 74, 72, 69, -1 }, { 65, 69, 72, 74, 72, 71, 69, -1 },
		{ 64, 68, 71, 74, 72, 71, 68, -1 }, { 69, -1, -1, -1, -1, -1, -1, -1 },
	};
	static const signed char bass[16] = { 45, 43, 41, 40, 45, 48, 41, 40,
	                                      48, 43, 45, 43, 45, 41, 40, 45 };
	const double eighth = 60.0 / 84 / 2;
	size_t len = (size_t)(16 * 8 * eighth * HM_RATE) + HM_RATE;
	float *mix = calloc(len, sizeof(*mix));
	int16_t *s = malloc(len * sizeof(*s));
	struct cc_audio a;
	char *err = NULL;

	CC_BUG_ON(!mix || !s);
	for (int bar = 0; bar < 16; bar++) {
		double t = bar * 8 * eighth;

		note(mix, len, t, 8 * eighth, midi(bass[bar]), 0.22);
		for (int k = 0; k < 8; k++) {
			int m = tune[bar][k], d = 1;

			if (m < 0)
				continue;
			while (k + d < 8 && tune[bar][k + d] < 0)
				d++;
			note(mix, len, t + k * eighth, d * eighth + 0.15, midi(m), 0.3);
		}
	}
	float peak = 0;
	for (size_t i = 0; i < len; i++)
		peak = fabsf(mix[i]) > peak ? fabsf(mix[i]) : peak;
	for (size_t i = 0; i < len; i++)
		s[i] = (int16_t)lrintf(mix[i] / peak * 20000);
	free(mix);
	if (cc_audio_from_pcm(s, len, HM_RATE, &a, &err) != CC_AUDIO_OK) {
		fprintf(stderr, "mkprompts: hold_music: %s\n", err);
		return CC_ERROR;
	}
	free(s);
	int rc = save(dir, "hold_music", &a);
	cc_audio_free(&a);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: mkprompts OUTDIR\n");
		return 2;
	}
	for (size_t i = 0; i < CC_ARRAY_LEN(spoken); i++)
		if (make_spoken(argv[1], &spoken[i]) != CC_OK)
			return 1;
	if (make_queue_prompts(argv[1]) != CC_OK)
		return 1;
	return make_hold_music(argv[1]) == CC_OK ? 0 : 1;
}
