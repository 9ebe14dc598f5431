/*
 * tts.h: prompts spoken from text by libespeak-ng (Debian's only Mandarin
 * engine), into memory, then through lib/audio for 8 and 16 kHz.
 *
 * Voices: "zh" is espeak-ng's cmn-latn-pinyin (its plain "cmn" voice reads
 * most hanzi as English pinyin, tone digits spoken: "nin two"), "en" is
 * "en". Under zh a run of ASCII digits is read one digit at a time
 * ("12345" as 一二三四五, as a phone or order number is said, where
 * espeak-ng alone says 一万两千三百四十五). espeak-ng keeps global state:
 * every call here holds one mutex, so any thread may call, one at a time.
 */
#ifndef CC_TTS_H
#define CC_TTS_H

#include "audio.h"

#define CC_TTS_MAX_CHARS 2000     /* code points of one text */

/* true for "zh" and "en" */
int cc_tts_voice_valid(const char *voice);

/*
 * Speaks text (UTF-8) with voice into *out (cc_audio_free). CC_AUDIO_OK,
 * or with *err: CC_AUDIO_NOT_AUDIO (an unknown voice, invalid UTF-8),
 * CC_AUDIO_EMPTY (nothing to say), CC_AUDIO_TOO_LONG (over
 * CC_TTS_MAX_CHARS, or speech over CC_AUDIO_MAX_MS), CC_AUDIO_FAILED
 * (espeak-ng did not start: its data missing).
 */
enum cc_audio_result cc_tts_speak(const char *text, const char *voice, struct cc_audio *out,
                                  char **err);

/* espeak-ng's phonemes for text (after the same digit rule), malloc'd, or
 * NULL: for tests and for people checking what a voice will say. */
char *cc_tts_phonemes(const char *text, const char *voice);

#endif
