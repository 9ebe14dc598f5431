/*
 * ogg2wav: an Ogg Opus file (the recorder's audio) to a 16-bit WAV of the
 * same channels and rate, decoded by libsndfile (sox cannot read Opus).
 *
 *   ogg2wav IN.ogg OUT.wav     prints "channels rate frames"
 */
#include <sndfile.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	static short buf[4096 * 2];
	SF_INFO in = { 0 }, out = { 0 };
	SNDFILE *a, *b;
	sf_count_t n, total = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: ogg2wav IN.ogg OUT.wav\n");
		return 2;
	}
	if (!(a = sf_open(argv[1], SFM_READ, &in))) {
		fprintf(stderr, "ogg2wav: %s: %s\n", argv[1], sf_strerror(NULL));
		return 1;
	}
	if (in.channels < 1 || in.channels > 2) {
		fprintf(stderr, "ogg2wav: %d channels\n", in.channels);
		return 1;
	}
	out.samplerate = in.samplerate;
	out.channels = in.channels;
	out.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
	if (!(b = sf_open(argv[2], SFM_WRITE, &out))) {
		fprintf(stderr, "ogg2wav: %s: %s\n", argv[2], sf_strerror(NULL));
		return 1;
	}
	while ((n = sf_readf_short(a, buf, 4096)) > 0) {
		sf_writef_short(b, buf, n);
		total += n;
	}
	printf("%d %d %lld\n", in.channels, in.samplerate, (long long)total);
	sf_close(a);
	sf_close(b);
	return 0;
}
