/*
 * codec.c: spandsp's G.711 and G.722 behind one small interface (codec.h).
 *
 * G.711 goes through tables made once from spandsp's own conversions
 * (ulaw_to_linear, linear_to_alaw, ...): 256 entries per law to decode,
 * 65536 to encode (every 16-bit sample), so a frame is 160 loads instead of
 * 160 calls of bit arithmetic (perf at 160 bridged calls: g711_decode and
 * g711_encode 2.3 % of mediad's CPU). The values are spandsp's, bit for bit
 * (tests/unit/test_media.c g711_tables_match_spandsp).
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "codec.h"

static struct {
	bool made;
	int16_t dec[2][256];             /* [0] mu-law, [1] A-law */
	uint8_t enc[2][65536];           /* index: the sample as uint16_t */
} T;

static void tables_make(void)
{
	if (T.made)
		return;
	for (int b = 0; b < 256; b++) {
		T.dec[0][b] = ulaw_to_linear((uint8_t)b);
		T.dec[1][b] = alaw_to_linear((uint8_t)b);
	}
	for (int v = INT16_MIN; v <= INT16_MAX; v++) {
		T.enc[0][(uint16_t)v] = linear_to_ulaw(v);
		T.enc[1][(uint16_t)v] = linear_to_alaw(v);
	}
	T.made = true;
}

int md_codec_init(struct md_codec *c, int pt)
{
	memset(c, 0, sizeof(*c));
	tables_make();
	switch (pt) {
	case MD_PCMU:
		c->name = "PCMU";
		c->rate = 8000;
		g711_init(&c->g711, G711_ULAW);
		break;
	case MD_PCMA:
		c->name = "PCMA";
		c->rate = 8000;
		g711_init(&c->g711, G711_ALAW);
		break;
	case MD_G722:
		c->name = "G722";
		c->rate = 16000;
		g722_encode_init(&c->g722e, 64000, 0);
		g722_decode_init(&c->g722d, 64000, 0);
		break;
	default:
		return EINVAL;
	}
	c->id = pt;
	c->clock = 8000;
	return 0;
}

size_t md_codec_encode(struct md_codec *c, uint8_t *out, const int16_t *pcm, size_t n)
{
	const uint8_t *t;

	if (c->id == MD_G722)
		return (size_t)g722_encode(&c->g722e, out, pcm, (int)n);
	t = T.enc[c->id == MD_PCMA];
	for (size_t i = 0; i < n; i++)
		out[i] = t[(uint16_t)pcm[i]];
	return n;
}

size_t md_codec_decode(struct md_codec *c, int16_t *pcm, size_t max, const uint8_t *in, size_t len)
{
	/* G.722: one byte is two samples; G.711: one */
	size_t room = c->id == MD_G722 ? max / 2 : max;
	const int16_t *t;

	if (len > room)
		len = room;
	if (c->id == MD_G722)
		return (size_t)g722_decode(&c->g722d, pcm, in, (int)len);
	t = T.dec[c->id == MD_PCMA];
	for (size_t i = 0; i < len; i++)
		pcm[i] = t[in[i]];
	return len;
}

int md_codec_pt(const char *name, uint32_t srate)
{
	if (!name)
		return -1;
	if (!strcasecmp(name, "PCMU") && srate == 8000)
		return MD_PCMU;
	if (!strcasecmp(name, "PCMA") && srate == 8000)
		return MD_PCMA;
	if (!strcasecmp(name, "G722") && srate == 8000)
		return MD_G722;
	return -1;
}
