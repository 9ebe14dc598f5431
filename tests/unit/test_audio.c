/* Unit tests of lib/audio (uploads to prompts) and lib/tts (espeak-ng):
 * every input is made here, by libsndfile itself or by sox, into a
 * temporary folder. */
#define SUITE "audio"
#include "test.h"

#include <math.h>
#include <sndfile.h>
#include <sys/mman.h>

#include "audio.h"
#include "cc.h"
#include "tts.h"

static char dir[64];
static char pathbuf[160];

static const char *dir_path(const char *name)
{
	snprintf(pathbuf, sizeof(pathbuf), "%s/%s", dir, name);
	return pathbuf;
}

static void run(const char *cmd)
{
	char c[512];

	snprintf(c, sizeof(c), "cd %s && SOX_OPTS=-V1 %s", dir, cmd);
	if (system(c) != 0)
		FAILF("%s failed", c);
}

static void mkdir_tmp(void)
{
	snprintf(dir, sizeof(dir), "/tmp/cc-audio.XXXXXX");
	ASSERT(mkdtemp(dir));
}

static void rm_tmp(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ASSERT(system(cmd) == 0);
}

/* A file's bytes (malloc'd). */
static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *b;
	long n;

	ASSERT(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	b = malloc((size_t)n + 1);
	ASSERT(b && fread(b, 1, (size_t)n, f) == (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return b;
}

/* seconds of a sine (amplitude amp, full scale 1) at rate, channels, in
 * format: written by libsndfile; amp > 1 is clipped flat at full scale */
static void write_sine(const char *path, int format, int rate, int channels, double seconds,
                       double freq, double amp)
{
	SF_INFO info = { .samplerate = rate, .channels = channels, .format = format };
	SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
	size_t n = (size_t)(seconds * rate);
	float *x = malloc(n * (size_t)channels * sizeof(float));

	ASSERT(sf && x);
	for (size_t i = 0; i < n; i++)
		for (int c = 0; c < channels; c++) {
			double v = amp * sin(2 * M_PI * freq * (double)i / rate);

			x[i * (size_t)channels + (size_t)c] = (float)(v > 1 ? 1 : v < -1 ? -1 : v);
		}
	ASSERT(sf_writef_float(sf, x, (sf_count_t)n) == (sf_count_t)n);
	sf_close(sf);
	free(x);
}

static double rms(const int16_t *s, size_t n)
{
	double sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += (double)s[i] * s[i];
	return sqrt(sum / (double)n) / 32768.0;
}

static int peak(const int16_t *s, size_t n)
{
	int p = 0;

	for (size_t i = 0; i < n; i++)
		p = abs(s[i]) > p ? abs(s[i]) : p;
	return p;
}

static enum cc_audio_result decode_file(const char *name, enum cc_audio_format want,
                                        struct cc_audio *a, char **err)
{
	char path[128];
	size_t len;
	unsigned char *b;
	enum cc_audio_result rc;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	b = slurp(path, &len);
	rc = cc_audio_decode(b, len, want, a, err);
	free(b);
	return rc;
}

/* the prompt is the sine: durations kept, level at -3 dBFS, mono */
static void assert_sine(const struct cc_audio *a, int ms)
{
	ASSERT(abs(a->duration_ms - ms) <= 60);         /* an MP3 encoder pads */
	ASSERT(labs((long)a->n8 - (long)a->duration_ms * 8) <= 8);
	ASSERT(labs((long)a->n16 - (long)a->duration_ms * 16) <= 16);
	ASSERT(labs((long)a->n16 - 2 * (long)a->n8) <= 4);
	int p = peak(a->pcm16, a->n16);
	ASSERT(p > 22500 && p < 23500);           /* -3 dBFS = 23197 */
	ASSERT(rms(a->pcm8, a->n8) > 0.4);         /* a sine's RMS is peak / sqrt(2) */
}

TEST(wav_44k_stereo_to_8k_16k_mono)
{
	struct cc_audio a;
	char *err = NULL;

	mkdir_tmp();
	write_sine(dir_path("s.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 2, 3.0, 440, 0.25);
	ASSERT_EQ_INT(decode_file("s.wav", CC_AUDIO_WAV, &a, &err), CC_AUDIO_OK);
	ASSERT_EQ_INT(a.in_rate, 44100);
	ASSERT_EQ_INT(a.in_channels, 2);
	ASSERT(fabs(a.peak_dbfs - -12.04) < 0.2);
	assert_sine(&a, 3000);
	cc_audio_free(&a);
	/* a WAV is not an MP3 */
	ASSERT_EQ_INT(decode_file("s.wav", CC_AUDIO_MP3, &a, &err), CC_AUDIO_NOT_AUDIO);
	ASSERT(strstr(err, "not what its Content-Type says"));
	free(err);
	rm_tmp();
}

/* the other containers, made by sox from the same sine */
static void other_format(const char *file, enum cc_audio_format f)
{
	struct cc_audio a;
	char *err = NULL, cmd[160];

	mkdir_tmp();
	write_sine(dir_path("s.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 2, 2.0, 440, 0.5);
	snprintf(cmd, sizeof(cmd), "sox -q s.wav %s", file);
	run(cmd);
	if (decode_file(file, f, &a, &err) != CC_AUDIO_OK)
		FAILF("%s: %s", file, err);
	assert_sine(&a, 2000);
	cc_audio_free(&a);
	/* and what it is not */
	ASSERT_EQ_INT(decode_file(file, f == CC_AUDIO_WAV ? CC_AUDIO_FLAC : CC_AUDIO_WAV, &a, &err),
	              CC_AUDIO_NOT_AUDIO);
	free(err);
	rm_tmp();
}

TEST(mp3_by_sox) { other_format("s.mp3", CC_AUDIO_MP3); }
TEST(flac_by_sox) { other_format("s.flac", CC_AUDIO_FLAC); }
TEST(ogg_vorbis_by_sox) { other_format("s.ogg", CC_AUDIO_OGG); }
TEST(wav_8k_float_by_sox)
{
	struct cc_audio a;
	char *err = NULL;

	mkdir_tmp();
	write_sine(dir_path("s.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 2, 2.0, 440, 0.5);
	run("sox -q s.wav -r 8000 -c 1 -e floating-point f.wav");
	ASSERT_EQ_INT(decode_file("f.wav", CC_AUDIO_WAV, &a, &err), CC_AUDIO_OK);
	assert_sine(&a, 2000);
	cc_audio_free(&a);
	rm_tmp();
}

TEST(flac_by_libsndfile_16k_mono)
{
	struct cc_audio a;
	char *err = NULL;

	mkdir_tmp();
	write_sine(dir_path("s.flac"), SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 16000, 1, 1.5, 1000, 0.9);
	ASSERT_EQ_INT(decode_file("s.flac", CC_AUDIO_ANY, &a, &err), CC_AUDIO_OK);
	assert_sine(&a, 1500);
	cc_audio_free(&a);
	rm_tmp();
}

TEST(silent_422)
{
	struct cc_audio a;
	char *err = NULL;

	mkdir_tmp();
	write_sine(dir_path("z.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, 8000, 1, 2.0, 440, 0);
	ASSERT_EQ_INT(decode_file("z.wav", CC_AUDIO_WAV, &a, &err), CC_AUDIO_SILENT);
	ASSERT(strstr(err, "silent"));
	ASSERT_EQ_INT(cc_audio_status(CC_AUDIO_SILENT), 422);
	ASSERT(!a.pcm8 && !a.pcm16);
	/* hiss at -70 dBFS is silence too; a quiet voice at -40 dBFS is not */
	write_sine(dir_path("h.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, 8000, 1, 2.0, 440, 0.0004);
	ASSERT_EQ_INT(decode_file("h.wav", CC_AUDIO_WAV, &a, &err), CC_AUDIO_SILENT);
	write_sine(dir_path("q.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, 8000, 1, 2.0, 440, 0.014);
	ASSERT_EQ_INT(decode_file("q.wav", CC_AUDIO_WAV, &a, &err), CC_AUDIO_OK);
	ASSERT(peak(a.pcm8, a.n8) > 22500);       /* brought up to -3 dBFS */
	cc_audio_free(&a);
	free(err);
	rm_tmp();
}

TEST(clipped_422)
{
	struct cc_audio a;
	char *err = NULL;

	mkdir_tmp();
	/* a sine driven 6 dB past full scale: a third of it flat */
	write_sine(dir_path("c.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 1, 2.0, 440, 2.0);
	ASSERT_EQ_INT(decode_file("c.wav", CC_AUDIO_WAV, &a, &err), CC_AUDIO_CLIPPED);
	ASSERT(strstr(err, "clipped"));
	/* one channel clipped is enough */
	run("sox -q -n -r 8000 -c 1 l.wav synth 2 sine 440 vol 0.3 && "
	    "sox -q -n -r 8000 -c 1 r.wav synth 2 sine 300 vol 2.0 && sox -q -M l.wav r.wav lr.wav");
	ASSERT_EQ_INT(decode_file("lr.wav", CC_AUDIO_WAV, &a, &err), CC_AUDIO_CLIPPED);
	ASSERT(strstr(err, "channel 2"));
	/* a loud sine that only touches full scale at its peaks is fine */
	write_sine(dir_path("t.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, 8000, 1, 2.0, 441, 1.0);
	ASSERT_EQ_INT(decode_file("t.wav", CC_AUDIO_WAV, &a, &err), CC_AUDIO_OK);
	cc_audio_free(&a);
	free(err);
	rm_tmp();
}

TEST(garbage_415)
{
	struct cc_audio a;
	char *err = NULL;
	unsigned char junk[4096];

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)(i * 2654435761u >> 13);
	ASSERT_EQ_INT(cc_audio_decode(junk, sizeof(junk), CC_AUDIO_ANY, &a, &err), CC_AUDIO_NOT_AUDIO);
	ASSERT_EQ_INT(cc_audio_status(CC_AUDIO_NOT_AUDIO), 415);
	ASSERT_EQ_INT(cc_audio_decode("{\"tts\":\"x\"}", 12, CC_AUDIO_ANY, &a, &err), CC_AUDIO_NOT_AUDIO);
	ASSERT_EQ_INT(cc_audio_decode("", 0, CC_AUDIO_ANY, &a, &err), CC_AUDIO_NOT_AUDIO);
	free(err);
}

/* A truncated header, flush against a PROT_NONE page: a read past the end
 * crashes. Then the header whole but the data cut: what is there plays. */
TEST(truncated_header)
{
	struct cc_audio a;
	char *err = NULL;
	size_t len, pg = (size_t)sysconf(_SC_PAGESIZE);
	unsigned char *b, *mem;

	mkdir_tmp();
	write_sine(dir_path("s.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, 8000, 1, 1.0, 440, 0.5);
	b = slurp(dir_path("s.wav"), &len);
	mem = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT(mem != MAP_FAILED);
	ASSERT(mprotect(mem + pg, pg, PROT_NONE) == 0);
	for (size_t cut = 0; cut <= 44; cut++) {
		memcpy(mem + pg - cut, b, cut);
		enum cc_audio_result rc = cc_audio_decode(mem + pg - cut, cut, CC_AUDIO_WAV, &a, &err);
		if (rc != CC_AUDIO_NOT_AUDIO && rc != CC_AUDIO_EMPTY)
			FAILF("cut at %zu: %d", cut, rc);
	}
	ASSERT_EQ_INT(cc_audio_decode(b, len / 2, CC_AUDIO_WAV, &a, &err), CC_AUDIO_OK);
	ASSERT(abs(a.duration_ms - 500) < 30);
	cc_audio_free(&a);
	munmap(mem, 2 * pg);
	free(b);
	free(err);
	rm_tmp();
}

TEST(too_long_422_too_big_413)
{
	struct cc_audio a;
	char *err = NULL;
	unsigned char *big;

	mkdir_tmp();
	/* 10 minutes and 1 s at 8 kHz: 9.6 MB, under the byte limit */
	run("sox -q -n -r 8000 -c 1 -b 16 long.wav synth 601 sine 440 vol 0.3");
	ASSERT_EQ_INT(decode_file("long.wav", CC_AUDIO_WAV, &a, &err), CC_AUDIO_TOO_LONG);
	ASSERT(strstr(err, "10 minutes"));
	ASSERT_EQ_INT(cc_audio_status(CC_AUDIO_TOO_LONG), 422);
	/* exactly 10 minutes passes */
	run("sox -q -n -r 8000 -c 1 -b 16 ten.wav synth 600 sine 440 vol 0.3");
	ASSERT_EQ_INT(decode_file("ten.wav", CC_AUDIO_WAV, &a, &err), CC_AUDIO_OK);
	ASSERT_EQ_INT(a.duration_ms, 600000);
	cc_audio_free(&a);
	big = calloc(1, CC_AUDIO_MAX_BYTES + 1);
	ASSERT(big);
	ASSERT_EQ_INT(cc_audio_decode(big, CC_AUDIO_MAX_BYTES + 1, CC_AUDIO_ANY, &a, &err), CC_AUDIO_TOO_BIG);
	ASSERT_EQ_INT(cc_audio_status(CC_AUDIO_TOO_BIG), 413);
	free(big);
	free(err);
	rm_tmp();
}

TEST(content_types)
{
	ASSERT_EQ_INT(cc_audio_format_of("audio/wav"), CC_AUDIO_WAV);
	ASSERT_EQ_INT(cc_audio_format_of("Audio/X-WAV; rate=8000"), CC_AUDIO_WAV);
	ASSERT_EQ_INT(cc_audio_format_of("audio/mpeg"), CC_AUDIO_MP3);
	ASSERT_EQ_INT(cc_audio_format_of("audio/flac"), CC_AUDIO_FLAC);
	ASSERT_EQ_INT(cc_audio_format_of("audio/ogg"), CC_AUDIO_OGG);
	ASSERT_EQ_INT(cc_audio_format_of("audio/wavx"), -1);
	ASSERT_EQ_INT(cc_audio_format_of("audio/"), -1);
	ASSERT_EQ_INT(cc_audio_format_of("video/mp4"), -1);
	ASSERT_EQ_INT(cc_audio_format_of(NULL), -1);
}

TEST(wav_out_reads_back)
{
	struct cc_audio a, b;
	char *err = NULL;
	size_t len;
	void *wav;

	mkdir_tmp();
	write_sine(dir_path("s.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, 22050, 1, 1.0, 440, 0.5);
	ASSERT_EQ_INT(decode_file("s.wav", CC_AUDIO_WAV, &a, &err), CC_AUDIO_OK);
	wav = cc_audio_wav(a.pcm8, a.n8, 8000, &len);
	ASSERT(wav && len == 44 + 2 * a.n8);
	ASSERT(memcmp(wav, "RIFF", 4) == 0);
	ASSERT_EQ_INT(cc_audio_decode(wav, len, CC_AUDIO_WAV, &b, &err), CC_AUDIO_OK);
	ASSERT_EQ_INT(b.in_rate, 8000);
	ASSERT(abs(b.duration_ms - 1000) < 5);
	free(wav);
	cc_audio_free(&a);
	cc_audio_free(&b);
	rm_tmp();
}

TEST(from_pcm)
{
	struct cc_audio a;
	char *err = NULL;
	int16_t s[22050];

	for (size_t i = 0; i < CC_ARRAY_LEN(s); i++)
		s[i] = (int16_t)(8000 * sin(2 * M_PI * 300 * (double)i / 22050));
	ASSERT_EQ_INT(cc_audio_from_pcm(s, CC_ARRAY_LEN(s), 22050, &a, &err), CC_AUDIO_OK);
	assert_sine(&a, 1000);
	cc_audio_free(&a);
	memset(s, 0, sizeof(s));
	ASSERT_EQ_INT(cc_audio_from_pcm(s, CC_ARRAY_LEN(s), 22050, &a, &err), CC_AUDIO_SILENT);
	ASSERT_EQ_INT(cc_audio_from_pcm(s, 10, 22050, &a, &err), CC_AUDIO_EMPTY);
	free(err);
}

/* in a child: the same answers, the same samples */
TEST(isolated_same_as_in_process)
{
	struct cc_audio a, b;
	char *err = NULL;
	size_t len;
	unsigned char *buf;

	mkdir_tmp();
	write_sine(dir_path("s.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 2, 2.0, 440, 0.5);
	run("sox -q s.wav s.ogg");
	buf = slurp(dir_path("s.ogg"), &len);
	ASSERT_EQ_INT(cc_audio_decode(buf, len, CC_AUDIO_OGG, &a, &err), CC_AUDIO_OK);
	ASSERT_EQ_INT(cc_audio_decode_isolated(buf, len, CC_AUDIO_OGG, &b, &err), CC_AUDIO_OK);
	ASSERT_EQ_INT(a.n8, b.n8);
	ASSERT_EQ_INT(a.n16, b.n16);
	ASSERT_EQ_INT(a.duration_ms, b.duration_ms);
	ASSERT(memcmp(a.pcm8, b.pcm8, a.n8 * 2) == 0 && memcmp(a.pcm16, b.pcm16, a.n16 * 2) == 0);
	cc_audio_free(&a);
	cc_audio_free(&b);
	ASSERT_EQ_INT(cc_audio_decode_isolated(buf, len, CC_AUDIO_MP3, &b, &err), CC_AUDIO_NOT_AUDIO);
	ASSERT(strstr(err, "not what its Content-Type says"));
	ASSERT(!b.pcm8);
	free(buf);
	write_sine(dir_path("z.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, 8000, 1, 1.0, 440, 0);
	buf = slurp(dir_path("z.wav"), &len);
	ASSERT_EQ_INT(cc_audio_decode_isolated(buf, len, CC_AUDIO_WAV, &b, &err), CC_AUDIO_SILENT);
	ASSERT(strstr(err, "silent"));
	free(buf);
	free(err);
	rm_tmp();
}

/* ------------------------------------------------------------- TTS */

static void speak(const char *text, const char *voice, int min_ms, int max_ms)
{
	struct cc_audio a;
	char *err = NULL;

	if (cc_tts_speak(text, voice, &a, &err) != CC_AUDIO_OK)
		FAILF("%s: %s", text, err);
	if (a.duration_ms < min_ms || a.duration_ms > max_ms)
		FAILF("%s: %d ms", text, a.duration_ms);
	ASSERT(rms(a.pcm8, a.n8) > 0.05);
	ASSERT(peak(a.pcm16, a.n16) > 22500);
	cc_audio_free(&a);
}

TEST(tts_zh_en)
{
	speak("您好，欢迎致电客服中心", "zh", 1500, 8000);
	speak("Welcome to the service center.", "en", 1000, 6000);
}

TEST(tts_zh_reads_hanzi_not_english)
{
	char *ph = cc_tts_phonemes("您好", "zh");

	/* cmn-latn-pinyin: "n'i35n_| X'Au214_|"; the plain cmn voice says
	 * "(en)nI55nt'u:55 ..." (pinyin read as English) */
	ASSERT(ph);
	ASSERT(!strstr(ph, "(en)"));
	ASSERT(strstr(ph, "35") && strstr(ph, "214"));
	free(ph);
}

TEST(tts_zh_digits_one_by_one)
{
	char *ph = cc_tts_phonemes("请拨12345", "zh");
	char *wan = cc_tts_phonemes("万", "zh");

	/* read as 1 2 3 4 5, not as 一万两千三百四十五 */
	ASSERT(ph && wan);
	ASSERT(!strstr(ph, wan));
	free(ph);
	free(wan);
}

TEST(tts_refusals)
{
	struct cc_audio a;
	char *err = NULL;
	char *longtext = malloc(CC_TTS_MAX_CHARS * 3 + 10);

	ASSERT_EQ_INT(cc_tts_speak("hello", "fr", &a, &err), CC_AUDIO_NOT_AUDIO);
	ASSERT(strstr(err, "voice"));
	ASSERT_EQ_INT(cc_tts_speak("", "en", &a, &err), CC_AUDIO_EMPTY);
	ASSERT_EQ_INT(cc_tts_speak("   ", "en", &a, &err), CC_AUDIO_EMPTY);
	for (int i = 0; i < CC_TTS_MAX_CHARS + 1; i++)
		memcpy(longtext + 3 * i, "\xe5\xa5\xbd", 3);  /* 好 */
	longtext[3 * (CC_TTS_MAX_CHARS + 1)] = '\0';
	ASSERT_EQ_INT(cc_tts_speak(longtext, "zh", &a, &err), CC_AUDIO_TOO_LONG);
	free(longtext);
	free(err);
}

TEST_LIST(T(wav_44k_stereo_to_8k_16k_mono), T(mp3_by_sox), T(flac_by_sox), T(ogg_vorbis_by_sox),
          T(wav_8k_float_by_sox), T(flac_by_libsndfile_16k_mono), T(silent_422), T(clipped_422),
          T(garbage_415), T(truncated_header), T(too_long_422_too_big_413), T(content_types),
          T(wav_out_reads_back), T(from_pcm), T(isolated_same_as_in_process), T(tts_zh_en), T(tts_zh_reads_hanzi_not_english),
          T(tts_zh_digits_one_by_one), T(tts_refusals))
