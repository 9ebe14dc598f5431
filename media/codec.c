/*
 * codec.c: spandsp's G.711 and G.722 behind one small interface (codec.h).
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "codec.h"

int md_codec_init(struct md_codec *c, int pt)
{
	memset(c, 0, sizeof(*c));
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
	if (c->id == MD_G722)
		return (size_t)g722_encode(&c->g722e, out, pcm, (int)n);
	return (size_t)g711_encode(&c->g711, out, pcm, (int)n);
}

size_t md_codec_decode(struct md_codec *c, int16_t *pcm, size_t max, const uint8_t *in, size_t len)
{
	/* G.722: one byte is two samples; G.711: one */
	size_t room = c->id == MD_G722 ? max / 2 : max;

	if (len > room)
		len = room;
	if (c->id == MD_G722)
		return (size_t)g722_decode(&c->g722d, pcm, in, (int)len);
	return (size_t)g711_decode(&c->g711, pcm, in, (int)len);
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
