/*
 * audio.c: uploads to prompts (audio.h).
 *
 * One pass over the input: libsndfile hands out float frames from the
 * caller's buffer (virtual I/O, nothing is copied whole), each frame is
 * checked for clipping per channel, mixed down to mono, measured (RMS,
 * peak) and fed to two libsamplerate converters, to 16 kHz and that to 8, so
 * the input itself is never held: a 10-minute 48 kHz stereo file needs the
 * two outputs (about 57 MB of float) and no more. At the end the verdicts
 * (too short, clipped, silent) and the gain that puts the outputs' peak at
 * CC_AUDIO_PEAK_DBFS, then the s16 conversion.
 *
 * Not done on purpose: loudness (LUFS) normalisation; a phone prompt only
 * needs headroom and a level the caller hears, and the peak rule keeps
 * speech recorded quietly from being pushed into clipping.
 */
#include "audio.h"
#include "cc.h"

#include <errno.h>
#include <math.h>
#include <samplerate.h>
#include <sndfile.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#define CHUNK_FRAMES 4096
#define MAX_CHANNELS 16
#define MIN_RATE 4000
#define MAX_RATE 192000
#define FULL_SCALE 0.999f        /* a sample this close to full scale counts as clipped */
#define CLIP_RUN 3               /* in a run of at least this many */

int cc_audio_status(enum cc_audio_result r)
{
	switch (r) {
	case CC_AUDIO_OK: return 200;
	case CC_AUDIO_NOT_AUDIO: return 415;
	case CC_AUDIO_TOO_BIG: return 413;
	case CC_AUDIO_TOO_LONG:
	case CC_AUDIO_EMPTY:
	case CC_AUDIO_SILENT:
	case CC_AUDIO_CLIPPED:
	case CC_AUDIO_QUOTA: return 422;
	default: return 500;
	}
}

int cc_audio_format_of(const char *ct)
{
	static const struct { const char *type; enum cc_audio_format f; } types[] = {
		{ "audio/wav", CC_AUDIO_WAV }, { "audio/x-wav", CC_AUDIO_WAV },
		{ "audio/wave", CC_AUDIO_WAV }, { "audio/vnd.wave", CC_AUDIO_WAV },
		{ "audio/mpeg", CC_AUDIO_MP3 }, { "audio/mp3", CC_AUDIO_MP3 },
		{ "audio/flac", CC_AUDIO_FLAC }, { "audio/x-flac", CC_AUDIO_FLAC },
		{ "audio/ogg", CC_AUDIO_OGG },
	};
	size_t n;

	if (!ct)
		return -1;
	n = strcspn(ct, "; \t");
	for (size_t i = 0; i < CC_ARRAY_LEN(types); i++)
		if (strlen(types[i].type) == n && strncasecmp(ct, types[i].type, n) == 0)
			return (int)types[i].f;
	return -1;
}

/* ------------------------------------------------ libsndfile virtual I/O */

/* The caller's bytes, read only (decode), or a buffer that grows (WAV out). */
struct vio {
	unsigned char *buf;
	sf_count_t len, cap, pos;
	bool failed;                 /* a write found no memory */
};

static sf_count_t vio_len(void *u) { return ((struct vio *)u)->len; }
static sf_count_t vio_tell(void *u) { return ((struct vio *)u)->pos; }

static sf_count_t vio_seek(sf_count_t off, int whence, void *u)
{
	struct vio *v = u;
	sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? v->pos : v->len;

	/* libsndfile's parsers seek where a header tells them: hostile */
	if (off > 0 ? base > INT64_MAX - off : base < INT64_MIN - off)
		return -1;
	if (base + off < 0)
		return -1;
	v->pos = base + off;
	return v->pos;
}

static sf_count_t vio_read(void *ptr, sf_count_t count, void *u)
{
	struct vio *v = u;
	sf_count_t n = v->pos >= v->len || count <= 0 ? 0 : v->len - v->pos;

	if (n > count)
		n = count;
	if (n > 0)
		memcpy(ptr, v->buf + v->pos, (size_t)n);
	v->pos += n;
	return n;
}

static sf_count_t vio_write(const void *ptr, sf_count_t count, void *u)
{
	struct vio *v = u;

	if (count <= 0 || v->failed)
		return 0;
	if (v->pos + count > v->cap) {
		sf_count_t cap = (v->pos + count) * 2;
		unsigned char *b = realloc(v->buf, (size_t)cap);

		if (!b) {
			v->failed = true;
			return 0;
		}
		v->buf = b;
		v->cap = cap;
	}
	if (v->pos > v->len)                 /* a seek past the end leaves zeros */
		memset(v->buf + v->len, 0, (size_t)(v->pos - v->len));
	memcpy(v->buf + v->pos, ptr, (size_t)count);
	v->pos += count;
	if (v->pos > v->len)
		v->len = v->pos;
	return count;
}

/* a read-only view's writes fail */
static sf_count_t vio_no_write(const void *ptr, sf_count_t count, void *u) { return 0; }

/* -------------------------------------------------------- the pipeline */

/* A growing float array: one converter's output. */
struct fbuf {
	float *s;
	size_t n, cap;
};

static bool fbuf_reserve(struct fbuf *b, size_t more)
{
	if (b->n + more <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 16384;

	while (cap < b->n + more)
		cap *= 2;
	float *s = realloc(b->s, cap * sizeof(*s));
	if (!s)
		return false;
	b->s = s;
	b->cap = cap;
	return true;
}

struct pipeline {
	int rate, channels;
	SRC_STATE *src[2];           /* to 8 kHz, to 16 kHz */
	double ratio[2];
	struct fbuf out[2];
	float mono[CHUNK_FRAMES];
	/* measures of the input */
	size_t frames;
	double sum_sq;
	float peak;
	size_t run[MAX_CHANNELS];    /* full-scale samples in a row, per channel */
	int run_sign[MAX_CHANNELS];
	size_t clipped[MAX_CHANNELS];/* samples in runs of CLIP_RUN or more */
	bool failed;
};

static int pipeline_init(struct pipeline *p, int rate, int channels)
{
	int e;

	memset(p, 0, sizeof(*p));
	p->rate = rate;
	p->channels = channels;
	for (int i = 0; i < 2; i++) {
		p->ratio[i] = i ? 16000.0 / rate : 0.5;   /* 8 kHz from the 16 kHz output */
		p->src[i] = src_new(i ? SRC_SINC_FASTEST : SRC_SINC_MEDIUM_QUALITY, 1, &e);
		if (!p->src[i])
			return CC_ERROR;
	}
	return CC_OK;
}

static void pipeline_free(struct pipeline *p)
{
	for (int i = 0; i < 2; i++) {
		if (p->src[i])
			src_delete(p->src[i]);
		free(p->out[i].s);
	}
}

/* One converter: n frames of in (or the end: last) onto out. */
static void convert_one(struct pipeline *p, int i, const float *in, size_t n, bool last)
{
	SRC_DATA d = { 0 };
	size_t room = (size_t)ceil((double)n * p->ratio[i]) + 256;

	d.data_in = in;
	d.input_frames = (long)n;
	d.src_ratio = p->ratio[i];
	d.end_of_input = last;
	do {
		if (!fbuf_reserve(&p->out[i], room)) {
			p->failed = true;
			return;
		}
		d.data_out = p->out[i].s + p->out[i].n;
		d.output_frames = (long)(p->out[i].cap - p->out[i].n);
		if (src_process(p->src[i], &d) != 0) {
			p->failed = true;
			return;
		}
		p->out[i].n += (size_t)d.output_frames_gen;
		d.data_in += d.input_frames_used;
		d.input_frames -= d.input_frames_used;
		/* at the end, until the converter has given out its tail */
	} while (d.input_frames > 0 || (last && d.output_frames_gen > 0));
}

/* n mono frames (or the end: last) to 16 kHz, and what that gave to
 * 8 kHz: halving 16 kHz costs a third of converting 44.1 kHz again, and
 * the resampling is most of an upload's time. A 10-minute 44.1 kHz
 * stereo MP3 took 9.0 s with medium-quality sinc both ways from the input,
 * 3.8 s now: libsamplerate's fastest sinc to 16 kHz (flat to 80% of the
 * new Nyquist, 6.4 kHz: beyond what G.722 keeps, 7 kHz, only a little)
 * and its medium one to 8 kHz (90%: 3.6 kHz, past G.711's 3.4 kHz) */
static void convert(struct pipeline *p, const float *in, size_t n, bool last)
{
	size_t from = p->out[1].n;

	if (p->failed)
		return;
	convert_one(p, 1, in, n, last);
	if (p->failed)
		return;
	/* the 16 kHz buffer may move when it grows: the new part is copied
	 * out of the way only if the 8 kHz call could grow it (it cannot: it
	 * writes to out[0]) */
	convert_one(p, 0, p->out[1].s ? p->out[1].s + from : in, p->out[1].n - from, last);
}

/* n interleaved frames of the input. */
static void feed(struct pipeline *p, float *x, size_t n)
{
	int ch = p->channels;

	for (size_t f = 0; f < n; f++) {
		float sum = 0;

		for (int c = 0; c < ch; c++) {
			float v = x[f * (size_t)ch + (size_t)c];

			/* a float file may hold NaN, infinities or values past full
			 * scale: what a phone would play is silence or full scale */
			if (!isfinite(v))
				v = 0;
			v = v > 1 ? 1 : v < -1 ? -1 : v;
			if (fabsf(v) >= FULL_SCALE) {
				int sign = v > 0 ? 1 : -1;

				if (p->run[c] && p->run_sign[c] != sign)
					p->run[c] = 0;
				p->run_sign[c] = sign;
				if (++p->run[c] == CLIP_RUN)
					p->clipped[c] += CLIP_RUN;
				else if (p->run[c] > CLIP_RUN)
					p->clipped[c]++;
			} else {
				p->run[c] = 0;
			}
			sum += v;
		}
		float m = sum / (float)ch;

		p->mono[f] = m;
		p->sum_sq += (double)m * m;
		if (fabsf(m) > p->peak)
			p->peak = fabsf(m);
	}
	p->frames += n;
	convert(p, p->mono, n, false);
}

static double dbfs(double v)
{
	return v > 0 ? 20.0 * log10(v) : -200.0;
}

static int16_t *to_s16(const struct fbuf *b, float gain)
{
	int16_t *s = malloc((b->n ? b->n : 1) * sizeof(*s));

	if (!s)
		return NULL;
	for (size_t i = 0; i < b->n; i++) {
		long v = lrintf(b->s[i] * gain * 32767.0f);

		s[i] = (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : v);
	}
	return s;
}

/* The verdicts and the outputs, once the whole input went through. */
static enum cc_audio_result finish(struct pipeline *p, struct cc_audio *out, char **err)
{
	static const float none[1];

	convert(p, none, 0, true);      /* libsamplerate takes no NULL, even for nothing */
	if (p->failed)
		return cc_fail(err, "out of memory or the resampler failed"), CC_AUDIO_FAILED;
	out->in_rate = p->rate;
	out->in_channels = p->channels;
	out->duration_ms = (int)((p->frames * 1000 + (size_t)p->rate / 2) / (size_t)p->rate);
	if (p->frames < (size_t)p->rate / 50 || p->out[0].n == 0)
		return cc_fail(err, "the file holds no audio (under 20 ms)"), CC_AUDIO_EMPTY;
	if ((long long)p->frames * 1000 > (long long)CC_AUDIO_MAX_MS * p->rate)
		return cc_fail(err, "the audio is longer than %d minutes", CC_AUDIO_MAX_MS / 60000),
		       CC_AUDIO_TOO_LONG;
	for (int c = 0; c < p->channels; c++) {
		double share = (double)p->clipped[c] / (double)p->frames;

		if (share > CC_AUDIO_CLIPPED_SHARE)
			return cc_fail(err, "the audio is clipped beyond repair: %.1f%% of the samples of "
			               "channel %d are flattened at full scale (at most %.0f%%); record it "
			               "again at a lower level", share * 100, c + 1,
			               CC_AUDIO_CLIPPED_SHARE * 100), CC_AUDIO_CLIPPED;
	}
	out->rms_dbfs = dbfs(sqrt(p->sum_sq / (double)p->frames));
	out->peak_dbfs = dbfs(p->peak);
	if (out->rms_dbfs < CC_AUDIO_SILENT_DBFS)
		return cc_fail(err, "the audio is silent: its level is %.0f dBFS, under %.0f dBFS",
		               out->rms_dbfs < -199 ? -200.0 : out->rms_dbfs, CC_AUDIO_SILENT_DBFS),
		       CC_AUDIO_SILENT;

	float peak = 0;
	for (int i = 0; i < 2; i++)
		for (size_t k = 0; k < p->out[i].n; k++)
			if (fabsf(p->out[i].s[k]) > peak)
				peak = fabsf(p->out[i].s[k]);
	float gain = peak > 0 ? (float)(pow(10.0, CC_AUDIO_PEAK_DBFS / 20.0) / peak) : 1.0f;

	out->pcm8 = to_s16(&p->out[0], gain);
	out->pcm16 = to_s16(&p->out[1], gain);
	out->n8 = p->out[0].n;
	out->n16 = p->out[1].n;
	if (!out->pcm8 || !out->pcm16)
		return cc_fail(err, "out of memory"), CC_AUDIO_FAILED;
	return CC_AUDIO_OK;
}

/* ------------------------------------------------------------ decoding */

static bool is_format(int sf_format, enum cc_audio_format want)
{
	int major = sf_format & SF_FORMAT_TYPEMASK;

	switch (want) {
	case CC_AUDIO_ANY: return true;
	case CC_AUDIO_WAV: return major == SF_FORMAT_WAV || major == SF_FORMAT_WAVEX ||
	                          major == SF_FORMAT_RF64;
	case CC_AUDIO_MP3: return major == SF_FORMAT_MPEG;
	case CC_AUDIO_FLAC: return major == SF_FORMAT_FLAC;
	case CC_AUDIO_OGG: return major == SF_FORMAT_OGG;
	}
	return false;
}

static const char *format_name(int sf_format)
{
	SF_FORMAT_INFO fi = { .format = sf_format & SF_FORMAT_TYPEMASK };

	if (sf_command(NULL, SFC_GET_FORMAT_INFO, &fi, sizeof(fi)) == 0 && fi.name)
		return fi.name;
	return "another format";
}

void cc_audio_free(struct cc_audio *a)
{
	free(a->pcm8);
	free(a->pcm16);
	memset(a, 0, sizeof(*a));
}

enum cc_audio_result cc_audio_decode(const void *data, size_t len, enum cc_audio_format want,
                                     struct cc_audio *out, char **err)
{
	struct vio v = { .buf = (unsigned char *)data, .len = (sf_count_t)len };
	SF_VIRTUAL_IO io = { vio_len, vio_seek, vio_read, vio_no_write, vio_tell };
	SF_INFO info = { 0 };
	struct pipeline p;
	enum cc_audio_result rc;
	float *buf;
	SNDFILE *sf;

	memset(out, 0, sizeof(*out));
	if (len > CC_AUDIO_MAX_BYTES)
		return cc_fail(err, "the file is over %d MiB", CC_AUDIO_MAX_BYTES >> 20), CC_AUDIO_TOO_BIG;
	if (!(sf = sf_open_virtual(&io, SFM_READ, &info, &v)))
		return cc_fail(err, "not an audio file this platform reads (WAV, MP3, FLAC, Ogg Vorbis)"),
		       CC_AUDIO_NOT_AUDIO;
	if (!is_format(info.format, want)) {
		cc_fail(err, "the file is %s, not what its Content-Type says", format_name(info.format));
		sf_close(sf);
		return CC_AUDIO_NOT_AUDIO;
	}
	if (info.channels < 1 || info.channels > MAX_CHANNELS || info.samplerate < MIN_RATE ||
	    info.samplerate > MAX_RATE) {
		cc_fail(err, "unusable audio: %d channels at %d Hz (1 to %d channels, %d to %d Hz)",
		        info.channels, info.samplerate, MAX_CHANNELS, MIN_RATE, MAX_RATE);
		sf_close(sf);
		return CC_AUDIO_NOT_AUDIO;
	}
	/* a header that says too long is believed at once; one that says
	 * less is not trusted: the count below stops the read */
	if (info.frames > 0 && info.frames / info.samplerate > CC_AUDIO_MAX_MS / 1000 + 1) {
		cc_fail(err, "the audio is longer than %d minutes", CC_AUDIO_MAX_MS / 60000);
		sf_close(sf);
		return CC_AUDIO_TOO_LONG;
	}
	if (pipeline_init(&p, info.samplerate, info.channels) != CC_OK ||
	    !(buf = malloc(sizeof(float) * CHUNK_FRAMES * (size_t)info.channels))) {
		pipeline_free(&p);
		sf_close(sf);
		return cc_fail(err, "out of memory"), CC_AUDIO_FAILED;
	}
	size_t limit = (size_t)info.samplerate * (CC_AUDIO_MAX_MS / 1000) + (size_t)info.samplerate / 100;
	sf_count_t n;
	rc = CC_AUDIO_OK;
	while ((n = sf_readf_float(sf, buf, CHUNK_FRAMES)) > 0) {
		feed(&p, buf, (size_t)n);
		if (p.failed)
			break;
		if (p.frames > limit) {
			rc = CC_AUDIO_TOO_LONG;
			cc_fail(err, "the audio is longer than %d minutes", CC_AUDIO_MAX_MS / 60000);
			break;
		}
	}
	free(buf);
	sf_close(sf);
	if (rc == CC_AUDIO_OK)
		rc = finish(&p, out, err);
	pipeline_free(&p);
	if (rc != CC_AUDIO_OK)
		cc_audio_free(out);
	return rc;
}

/* ------------------------------------------------- in a child process */

/* What the child writes on its pipe: this, then the message, then the
 * samples at 8 kHz and at 16 kHz. */
struct child_head {
	int32_t rc, duration_ms, in_rate, in_channels;
	double rms_dbfs, peak_dbfs;
	uint64_t n8, n16;
	uint32_t err_len;
};

static bool write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t w = write(fd, c, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		c += w;
		n -= (size_t)w;
	}
	return true;
}

static bool read_all(int fd, void *p, size_t n)
{
	char *c = p;

	while (n) {
		ssize_t r = read(fd, c, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		c += r;
		n -= (size_t)r;
	}
	return true;
}

static void child(int fd, const void *data, size_t len, enum cc_audio_format want)
{
	struct rlimit mem = { (rlim_t)CC_AUDIO_CHILD_MB << 20, (rlim_t)CC_AUDIO_CHILD_MB << 20 };
	struct rlimit cpu = { CC_AUDIO_CHILD_S, CC_AUDIO_CHILD_S };
	struct child_head h = { 0 };
	struct cc_audio a;
	char *err = NULL;

#if defined(__SANITIZE_ADDRESS__)
	(void)mem;                     /* ASan's shadow memory is terabytes of address space */
#else
	setrlimit(RLIMIT_AS, &mem);
#endif
	setrlimit(RLIMIT_CPU, &cpu);
#if !defined(__SANITIZE_ADDRESS__)
	/* libmpg123 notes every resync of a hostile MP3 on stderr, the
	 * server's log (thousands of lines a file); the verdict is ours.
	 * Under ASan its reports must stay visible. */
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (null >= 0)
		dup2(null, 2);
#endif
	h.rc = (int32_t)cc_audio_decode(data, len, want, &a, &err);
	h.duration_ms = a.duration_ms;
	h.in_rate = a.in_rate;
	h.in_channels = a.in_channels;
	h.rms_dbfs = a.rms_dbfs;
	h.peak_dbfs = a.peak_dbfs;
	h.n8 = a.n8;
	h.n16 = a.n16;
	h.err_len = err ? (uint32_t)strlen(err) : 0;
	bool ok = write_all(fd, &h, sizeof(h)) && write_all(fd, err ? err : "", h.err_len) &&
	          write_all(fd, a.pcm8, a.n8 * 2) && write_all(fd, a.pcm16, a.n16 * 2);
	_exit(ok ? 0 : 1);             /* no atexit handlers of the parent's */
}

enum cc_audio_result cc_audio_decode_isolated(const void *data, size_t len, enum cc_audio_format want,
                                              struct cc_audio *out, char **err)
{
	/* the most a prompt can hold, and then some (the child is not trusted
	 * either: it ran the parsers) */
	const uint64_t max8 = (uint64_t)CC_AUDIO_MAX_MS * 8 + 8000, max16 = 2 * max8;
	struct child_head h;
	int fds[2], st = 0;
	pid_t pid;
	bool ok;

	memset(out, 0, sizeof(*out));
	if (len > CC_AUDIO_MAX_BYTES)
		return cc_fail(err, "the file is over %d MiB", CC_AUDIO_MAX_BYTES >> 20), CC_AUDIO_TOO_BIG;
	if (pipe2(fds, O_CLOEXEC) != 0)
		return cc_fail(err, "no pipe for the decoder: %s", strerror(errno)), CC_AUDIO_FAILED;
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return cc_fail(err, "no process for the decoder: %s", strerror(errno)), CC_AUDIO_FAILED;
	}
	if (pid == 0) {
		close(fds[0]);
		child(fds[1], data, len, want);
	}
	close(fds[1]);
	ok = read_all(fds[0], &h, sizeof(h)) && h.rc >= CC_AUDIO_OK && h.rc <= CC_AUDIO_FAILED &&
	     h.err_len < 4096 && h.n8 <= max8 && h.n16 <= max16 &&
	     (h.rc != CC_AUDIO_OK || (h.n8 && h.n16));
	char msg[4096];
	ok = ok && read_all(fds[0], msg, h.err_len);
	if (ok && h.rc == CC_AUDIO_OK) {
		out->pcm8 = malloc(h.n8 * 2);
		out->pcm16 = malloc(h.n16 * 2);
		ok = out->pcm8 && out->pcm16 && read_all(fds[0], out->pcm8, h.n8 * 2) &&
		     read_all(fds[0], out->pcm16, h.n16 * 2);
	}
	close(fds[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!ok || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		cc_audio_free(out);
		if (WIFSIGNALED(st))
			return cc_fail(err, "the file could not be decoded (the decoder died: signal %d)",
			               WTERMSIG(st)), CC_AUDIO_NOT_AUDIO;
		return cc_fail(err, "the file could not be decoded"), CC_AUDIO_NOT_AUDIO;
	}
	if (h.rc != CC_AUDIO_OK) {
		cc_fail(err, "%.*s", (int)h.err_len, msg);
		return (enum cc_audio_result)h.rc;
	}
	out->n8 = h.n8;
	out->n16 = h.n16;
	out->duration_ms = h.duration_ms;
	out->in_rate = h.in_rate;
	out->in_channels = h.in_channels;
	out->rms_dbfs = h.rms_dbfs;
	out->peak_dbfs = h.peak_dbfs;
	return CC_AUDIO_OK;
}

enum cc_audio_result cc_audio_from_pcm(const int16_t *pcm, size_t n, int rate, struct cc_audio *out,
                                       char **err)
{
	struct pipeline p;
	enum cc_audio_result rc = CC_AUDIO_OK;
	float buf[CHUNK_FRAMES];

	memset(out, 0, sizeof(*out));
	if (rate < MIN_RATE || rate > MAX_RATE)
		return cc_fail(err, "unusable sample rate %d Hz", rate), CC_AUDIO_NOT_AUDIO;
	if (pipeline_init(&p, rate, 1) != CC_OK) {
		pipeline_free(&p);
		return cc_fail(err, "out of memory"), CC_AUDIO_FAILED;
	}
	if (n > (size_t)rate * (CC_AUDIO_MAX_MS / 1000) + (size_t)rate / 100) {
		rc = CC_AUDIO_TOO_LONG;
		cc_fail(err, "the audio is longer than %d minutes", CC_AUDIO_MAX_MS / 60000);
	}
	for (size_t i = 0; i < n && rc == CC_AUDIO_OK && !p.failed; i += CHUNK_FRAMES) {
		size_t k = n - i < CHUNK_FRAMES ? n - i : CHUNK_FRAMES;

		for (size_t j = 0; j < k; j++)
			buf[j] = (float)pcm[i + j] / 32768.0f;
		feed(&p, buf, k);
	}
	if (rc == CC_AUDIO_OK)
		rc = finish(&p, out, err);
	pipeline_free(&p);
	if (rc != CC_AUDIO_OK)
		cc_audio_free(out);
	return rc;
}

/* ---------------------------------------------------------- WAV out */

void *cc_audio_wav(const int16_t *pcm, size_t n, int rate, size_t *len)
{
	struct vio v = { 0 };
	SF_VIRTUAL_IO io = { vio_len, vio_seek, vio_read, vio_write, vio_tell };
	SF_INFO info = { .samplerate = rate, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16 };
	SNDFILE *sf = sf_open_virtual(&io, SFM_WRITE, &info, &v);
	bool ok = sf != NULL;

	if (sf) {
		ok = sf_write_short(sf, pcm, (sf_count_t)n) == (sf_count_t)n;
		ok = sf_close(sf) == 0 && ok;
	}
	if (!ok || v.failed) {
		free(v.buf);
		return NULL;
	}
	*len = (size_t)v.len;
	return v.buf;
}
