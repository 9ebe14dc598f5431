/*
 * tts.c: espeak-ng into memory (tts.h).
 *
 * espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS) once, then per text: the
 * voice, espeak_Synth, whose callback appends the 22 050 Hz s16 samples to
 * the caller's buffer (espeak-ng passes our pointer back as user_data) and
 * stops the synthesis once it is over CC_AUDIO_MAX_MS. The text is never
 * interpreted as markup: no espeakSSML, no espeakPHONEMES ([[ ]] is text).
 */
#include "tts.h"
#include "cc.h"

#include <espeak-ng/speak_lib.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int rate;                 /* espeak-ng's sample rate, 0 before it started */

static const char *espeak_voice(const char *voice)
{
	if (!voice)
		return NULL;
	if (strcmp(voice, "zh") == 0)
		return "cmn-latn-pinyin";
	if (strcmp(voice, "en") == 0)
		return "en";
	return NULL;
}

int cc_tts_voice_valid(const char *voice)
{
	return espeak_voice(voice) != NULL;
}

/* under the lock */
static bool start(void)
{
	if (rate <= 0)
		rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 200, NULL, 0);
	return rate > 0;
}

/* The text espeak-ng gets: control characters as spaces; under zh each
 * ASCII digit apart ("1 2 3", which cmn-latn-pinyin reads digit by digit).
 * NULL for invalid UTF-8 (jansson's check) or no memory. */
static char *prepare(const char *text, bool zh)
{
	size_t n = strlen(text);
	json_t *j = json_stringn(text, n);
	char *out, *o;

	if (!j)
		return NULL;
	json_decref(j);
	if (!(out = malloc(n * 3 + 1)))
		return NULL;
	o = out;
	for (const char *s = text; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f) {
			*o++ = ' ';
		} else if (zh && c >= '0' && c <= '9') {
			*o++ = ' ';
			*o++ = (char)c;
			*o++ = ' ';
		} else {
			*o++ = (char)c;
		}
	}
	*o = '\0';
	return out;
}

struct sink {
	int16_t *s;
	size_t n, cap, max;
	bool failed, too_long;
};

static int on_synth(short *wav, int n, espeak_EVENT *ev)
{
	struct sink *k = ev ? ev->user_data : NULL;

	if (!k || !wav || n <= 0)
		return 0;
	if (k->n + (size_t)n > k->max) {
		k->too_long = true;
		return 1;                       /* stop */
	}
	if (k->n + (size_t)n > k->cap) {
		size_t cap = (k->n + (size_t)n) * 2;
		int16_t *s = realloc(k->s, cap * sizeof(*s));

		if (!s) {
			k->failed = true;
			return 1;
		}
		k->s = s;
		k->cap = cap;
	}
	memcpy(k->s + k->n, wav, (size_t)n * sizeof(*wav));
	k->n += (size_t)n;
	return 0;
}

static size_t utf8_len(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

enum cc_audio_result cc_tts_speak(const char *text, const char *voice, struct cc_audio *out,
                                  char **err)
{
	const char *ev = espeak_voice(voice);
	struct sink k = { 0 };
	enum cc_audio_result rc;
	char *t;
	int r;

	memset(out, 0, sizeof(*out));
	if (!ev)
		return cc_fail(err, "unknown voice (zh or en)"), CC_AUDIO_NOT_AUDIO;
	if (utf8_len(text) > CC_TTS_MAX_CHARS)
		return cc_fail(err, "the text is over %d characters", CC_TTS_MAX_CHARS), CC_AUDIO_TOO_LONG;
	if (!(t = prepare(text, strcmp(voice, "zh") == 0)))
		return cc_fail(err, "the text is not UTF-8"), CC_AUDIO_NOT_AUDIO;
	if (strspn(t, " ") == strlen(t)) {
		free(t);
		return cc_fail(err, "the text has nothing to say"), CC_AUDIO_EMPTY;
	}
	pthread_mutex_lock(&lock);
	if (!start()) {
		pthread_mutex_unlock(&lock);
		free(t);
		return cc_fail(err, "espeak-ng did not start (is espeak-ng-data installed?)"),
		       CC_AUDIO_FAILED;
	}
	k.max = (size_t)rate * (CC_AUDIO_MAX_MS / 1000);
	espeak_SetSynthCallback(on_synth);
	r = espeak_SetVoiceByName(ev) == EE_OK &&
	    espeak_SetParameter(espeakRATE, 160, 0) == EE_OK &&
	    espeak_Synth(t, strlen(t) + 1, 0, POS_CHARACTER, 0, espeakCHARS_UTF8 | espeakENDPAUSE,
	                 NULL, &k) == EE_OK;
	int srate = rate;
	pthread_mutex_unlock(&lock);
	free(t);
	if (!r || k.failed) {
		free(k.s);
		return cc_fail(err, "espeak-ng failed"), CC_AUDIO_FAILED;
	}
	if (k.too_long) {
		free(k.s);
		return cc_fail(err, "the speech is longer than %d minutes", CC_AUDIO_MAX_MS / 60000),
		       CC_AUDIO_TOO_LONG;
	}
	rc = cc_audio_from_pcm(k.s, k.n, srate, out, err);
	free(k.s);
	return rc;
}

char *cc_tts_phonemes(const char *text, const char *voice)
{
	const char *ev = espeak_voice(voice);
	char *t, *res = NULL;
	size_t len = 0;

	if (!ev || !(t = prepare(text, strcmp(voice, "zh") == 0)))
		return NULL;
	pthread_mutex_lock(&lock);
	if (start() && espeak_SetVoiceByName(ev) == EE_OK) {
		const void *p = t;

		while (p) {
			const char *ph = espeak_TextToPhonemes(&p, espeakCHARS_UTF8, 0);
			size_t n = ph ? strlen(ph) : 0;
			char *r = realloc(res, len + n + 2);

			if (!r)
				break;
			res = r;
			memcpy(res + len, ph ? ph : "", n);
			len += n;
			res[len++] = ' ';
			res[len] = '\0';
		}
	}
	pthread_mutex_unlock(&lock);
	free(t);
	return res;
}
