/*
 * audio.h: an uploaded prompt, from the bytes of a file to the two forms
 * mediad plays (s16 mono PCM at 8 kHz for G.711, at 16 kHz for G.722).
 *
 * The file is read from memory by libsndfile (WAV, MP3, FLAC, Ogg/Vorbis),
 * mixed down to mono, resampled by libsamplerate and normalised so that
 * its peak is at CC_AUDIO_PEAK_DBFS. Every input is hostile: what is not
 * audio libsndfile can read, what is too long, silent or clipped beyond
 * repair is refused with a reason (docs/PROMPTS.md lists the limits and
 * why). Pure and thread-safe: no globals, no I/O but the caller's buffer.
 */
#ifndef CC_AUDIO_H
#define CC_AUDIO_H

#include <stddef.h>
#include <stdint.h>

#define CC_AUDIO_MAX_BYTES  (20 * 1024 * 1024) /* an upload's body: more is 413 */
#define CC_AUDIO_MAX_MS     (10 * 60 * 1000)   /* a prompt's length: more is 422 */
#define CC_AUDIO_PEAK_DBFS  (-3.0)             /* the level a prompt is normalised to */
/* Silent: the RMS of the whole file under this (ffmpeg's silencedetect
 * default floor; speech prompts sit at -30 to -15 dBFS, a quiet line's
 * noise at -70 and below) */
#define CC_AUDIO_SILENT_DBFS (-60.0)
/* Clipped beyond repair: more than this share of a channel's samples sit
 * in runs of 3 or more at full scale (a flattened top, not a lone peak) */
#define CC_AUDIO_CLIPPED_SHARE 0.01

/* The container an upload declares (its Content-Type); the file must be
 * what it says. CC_AUDIO_ANY accepts whatever libsndfile recognises. */
enum cc_audio_format {
	CC_AUDIO_ANY, CC_AUDIO_WAV, CC_AUDIO_MP3, CC_AUDIO_FLAC, CC_AUDIO_OGG,
};

/* Why a file was refused; each maps to an HTTP status (cc_audio_status). */
enum cc_audio_result {
	CC_AUDIO_OK = 0,
	CC_AUDIO_NOT_AUDIO,    /* 415: libsndfile cannot read it, or it is not what it claims */
	CC_AUDIO_TOO_BIG,      /* 413: over CC_AUDIO_MAX_BYTES */
	CC_AUDIO_TOO_LONG,     /* 422: over CC_AUDIO_MAX_MS */
	CC_AUDIO_EMPTY,        /* 422: no samples (or under 20 ms) */
	CC_AUDIO_SILENT,       /* 422 */
	CC_AUDIO_CLIPPED,      /* 422 */
	CC_AUDIO_FAILED,       /* 500: out of memory, the resampler failed */
	CC_AUDIO_QUOTA,        /* 422: the tenant's prompts would pass their quota (tenantd) */
};

/* A decoded prompt. Free with cc_audio_free. */
struct cc_audio {
	int16_t *pcm8;         /* 8 kHz samples (malloc'd) */
	size_t n8;
	int16_t *pcm16;        /* 16 kHz samples (malloc'd) */
	size_t n16;
	int duration_ms;       /* of the input, rounded to the millisecond (>= 1) */
	int in_rate;           /* the input's sample rate */
	int in_channels;       /* and its channels */
	double rms_dbfs;       /* the input's RMS level (mono mix), before normalising */
	double peak_dbfs;      /* and its peak */
};

/* The HTTP status of a result (200 for CC_AUDIO_OK). */
int cc_audio_status(enum cc_audio_result r);

/* The format a Content-Type names ("audio/wav", "audio/x-wav", "audio/wave",
 * "audio/mpeg", "audio/mp3", "audio/flac", "audio/x-flac", "audio/ogg"),
 * parameters ignored; CC_AUDIO_ANY (-1 cast) when it names none:
 * returns -1 for an unknown type. */
int cc_audio_format_of(const char *content_type);

/*
 * Reads an audio file of len bytes at data. On CC_AUDIO_OK *out holds the
 * prompt; otherwise *err (if err) a message for people, freed by the
 * caller, and *out is empty.
 */
enum cc_audio_result cc_audio_decode(const void *data, size_t len, enum cc_audio_format want,
                                     struct cc_audio *out, char **err);

/*
 * The same, in a child process (fork) that dies after it: libsndfile's and
 * libvorbis' parsers leak on some malformed files (5.7 KB a time,
 * xiph/vorbis#125, libsndfile#1013, found again by fuzz_audio) and have
 * crashed on others (libsndfile#1035), so a server decoding strangers'
 * uploads does it where neither a leak nor a crash can outlive the upload.
 * The child is limited to CC_AUDIO_CHILD_MB of memory and
 * CC_AUDIO_CHILD_S of CPU; a child that dies answers CC_AUDIO_NOT_AUDIO
 * ("the file could not be decoded"). Call it from a worker thread: it
 * waits for the child (seconds for 10 minutes of MP3).
 */
#define CC_AUDIO_CHILD_MB 768
#define CC_AUDIO_CHILD_S  60
enum cc_audio_result cc_audio_decode_isolated(const void *data, size_t len, enum cc_audio_format want,
                                              struct cc_audio *out, char **err);

/* The same from mono s16 samples at rate (TTS output): resampled, checked
 * and normalised the same way. */
enum cc_audio_result cc_audio_from_pcm(const int16_t *pcm, size_t n, int rate, struct cc_audio *out,
                                       char **err);

void cc_audio_free(struct cc_audio *a);

/* A WAV file (RIFF, s16 mono) of n samples at rate, written by libsndfile:
 * a malloc'd buffer of *len bytes, or NULL when out of memory. */
void *cc_audio_wav(const int16_t *pcm, size_t n, int rate, size_t *len);

#endif
