/*
 * dtmf.c: one report per key press, whatever brought it (dtmf.h).
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "dtmf.h"

uint64_t md_dtmf_count[MD_DTMF__N];

static const char *const src_names[MD_DTMF__N] = { "rfc4733", "inband", "info" };

const char *md_dtmf_src_name(enum md_dtmf_src s)
{
	return (unsigned)s < MD_DTMF__N ? src_names[s] : "?";
}

static void report(struct md_dtmf *d, char digit, enum md_dtmf_src src)
{
	if (!strchr("0123456789*#ABCD", digit) || !digit)
		return;
	md_dtmf_count[src]++;
	if (d->h)
		d->h(digit, src, d->arg);
}

static void on_inband(void *arg, const char *digits, int len)
{
	struct md_dtmf *d = arg;

	for (int i = 0; i < len; i++)
		report(d, digits[i], MD_DTMF_INBAND);
}

void md_dtmf_init(struct md_dtmf *d, md_digit_h *h, void *arg)
{
	memset(d, 0, sizeof(*d));
	d->h = h;
	d->arg = arg;
	dtmf_rx_init(&d->rx, on_inband, d);
}

void md_dtmf_event(struct md_dtmf *d, uint32_t ts, int event, bool end)
{
	static const char codes[] = "0123456789*#ABCD";

	if (!end || event < 0 || event > 15)
		return;
	/* an event is named by its timestamp; its end is sent (at least) 3 times */
	if (d->have_end && d->end_ts == ts)
		return;
	d->have_end = true;
	d->end_ts = ts;
	report(d, codes[event], MD_DTMF_RFC4733);
}

void md_dtmf_audio(struct md_dtmf *d, const int16_t *pcm, size_t n, uint32_t rate)
{
	if (rate == 16000) {
		/* pairs averaged: a 2-tap low-pass is enough below 1.7 kHz */
		size_t m = n / 2 > MD_FRAME_MAX_DTMF ? MD_FRAME_MAX_DTMF : n / 2;

		for (size_t i = 0; i < m; i++)
			d->dec[i] = (int16_t)(((int32_t)pcm[2 * i] + pcm[2 * i + 1]) / 2);
		dtmf_rx(&d->rx, d->dec, (int)m);
		return;
	}
	dtmf_rx(&d->rx, pcm, (int)n);
}

/* application/dtmf-relay: lines "Signal=5" and "Duration=160" (any case,
 * spaces allowed around '='). The body is the peer's: bounded, no NUL. */
int md_dtmf_info(struct md_dtmf *d, const char *body, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t eol = i;
		while (eol < len && body[eol] != '\n' && body[eol] != '\r')
			eol++;
		if (eol - i >= 6 && strncasecmp(body + i, "signal", 6) == 0) {
			size_t j = i + 6;
			while (j < eol && body[j] == ' ')
				j++;
			if (j < eol && body[j] == '=') {
				j++;
				while (j < eol && body[j] == ' ')
					j++;
				if (j < eol) {
					char c = (char)toupper((unsigned char)body[j]);
					size_t k = j + 1;
					while (k < eol && body[k] == ' ')
						k++;
					if (k == eol && strchr("0123456789*#ABCD", c) && c) {
						report(d, c, MD_DTMF_INFO);
						return 0;
					}
				}
			}
			return EINVAL;
		}
		i = eol + 1;
	}
	return EINVAL;
}
