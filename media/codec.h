/*
 * codec.h: the audio codecs of mediad's legs, on spandsp: G.711 A-law
 * (PCMA, pt 8), mu-law (PCMU, pt 0) and G.722 (pt 9, 16 kHz audio on an
 * 8 kHz RTP clock, RFC 3551 4.5.2). States live in the struct (no
 * allocation per frame).
 */
#ifndef MD_CODEC_H
#define MD_CODEC_H

#include <stddef.h>
#include <stdint.h>

#define SPANDSP_EXPOSE_INTERNAL_STRUCTURES
#include <spandsp.h>

enum md_codec_id { MD_PCMU = 0, MD_PCMA = 8, MD_G722 = 9 };

struct md_codec {
	enum md_codec_id id;
	const char *name;            /* "PCMU", "PCMA", "G722" */
	uint32_t rate;               /* audio samples per second: 8000 or 16000 */
	uint32_t clock;              /* RTP clock: 8000 for all three */
	g711_state_t g711;
	g722_encode_state_t g722e;
	g722_decode_state_t g722d;
};

/* pt is one of md_codec_id: 0 or EINVAL. */
int md_codec_init(struct md_codec *c, int pt);
/* Encodes n samples into out (room for n bytes); bytes written. */
size_t md_codec_encode(struct md_codec *c, uint8_t *out, const int16_t *pcm, size_t n);
/* Decodes len bytes into pcm (room for max samples); samples written. */
size_t md_codec_decode(struct md_codec *c, int16_t *pcm, size_t max, const uint8_t *in, size_t len);
/* The codec of an SDP encoding name and rate ("PCMA", 8000): pt or -1. */
int md_codec_pt(const char *name, uint32_t srate);

#endif
