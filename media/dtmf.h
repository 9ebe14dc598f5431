/*
 * dtmf.h: digits from a leg, each reported once, from three sources:
 * RFC 4733 events (the end packet comes three times: one digit per event
 * timestamp), in-band tones (spandsp dtmf_rx on the decoded audio, when
 * the far end did not offer telephone-event), and SIP INFO
 * application/dtmf-relay bodies ("Signal=5").
 */
#ifndef MD_DTMF_H
#define MD_DTMF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"

#define MD_FRAME_MAX_DTMF 160      /* 20 ms at 8 kHz */

enum md_dtmf_src { MD_DTMF_RFC4733, MD_DTMF_INBAND, MD_DTMF_INFO, MD_DTMF__N };

typedef void (md_digit_h)(char digit, enum md_dtmf_src src, void *arg);

struct md_dtmf {
	md_digit_h *h;
	void *arg;
	bool have_end;               /* an RFC 4733 end was reported ... */
	uint32_t end_ts;             /* ... for the event of this RTP timestamp */
	dtmf_rx_state_t rx;          /* in-band detector, 8 kHz */
	int16_t dec[MD_FRAME_MAX_DTMF];
};

/* Counters by source, process-wide (metrics). */
extern uint64_t md_dtmf_count[MD_DTMF__N];
const char *md_dtmf_src_name(enum md_dtmf_src s);

void md_dtmf_init(struct md_dtmf *d, md_digit_h *h, void *arg);
/* An RFC 4733 packet's event (0..15) and end bit, with its RTP timestamp. */
void md_dtmf_event(struct md_dtmf *d, uint32_t ts, int event, bool end);
/* Decoded audio at rate (8000 or 16000; 16 kHz is decimated by 2). */
void md_dtmf_audio(struct md_dtmf *d, const int16_t *pcm, size_t n, uint32_t rate);
/* A SIP INFO body of type application/dtmf-relay. 0, or EINVAL (no digit). */
int md_dtmf_info(struct md_dtmf *d, const char *body, size_t len);

#endif
