/*
 * leg.h: one RTP party of a call (the caller, an agent, a PSTN number):
 * its SDP offer/answer (PCMA, PCMU, G.722 and telephone-event, RFC 4733
 * both ways), its RTP/RTCP socket in the configured port range, and its
 * audio path as a mix member:
 *
 *   RTP in (read at the tick, md_legs_receive) -> (from the SDP address
 *   only) -> jbuf -> decode -> PLC -> mix
 *   mix -> encode -> RTP out (one mbuf kept per leg: no malloc per packet)
 *
 * Packets of any ptime up to 60 ms are decoded whole into a small FIFO
 * the mixer takes 20 ms from (carriers often send 30 ms).
 *
 * Digits: RFC 4733 when the far end offered telephone-event, else in-band
 * (spandsp dtmf_rx on the decoded audio), and SIP INFO bodies (passed in
 * by the SIP side); each digit once (dtmf.h).
 */
#ifndef MD_LEG_H
#define MD_LEG_H

#include <stdbool.h>
#include <stdint.h>

#include "codec.h"
#include "dtmf.h"
#include "mixer.h"

#define MD_TELEV_PT 101              /* our telephone-event payload type */
#define MD_PAYLOAD_MAX 480           /* 60 ms of G.711 or G.722: larger is dropped */
#define MD_LEG_FIFO (2 * MD_PAYLOAD_MAX + 2 * MD_FRAME_MAX)  /* samples */
#define MD_PLC_MAX_FRAMES 5          /* then silence: the far end stopped sending */

struct md_leg_stats {
	uint64_t packets_in;             /* RTP accepted (audio and events) */
	uint64_t packets_out;
	uint64_t dropped;                /* from elsewhere, unknown pt, malformed */
	int lost;                        /* RTCP's count of the far end's lost packets */
	double jitter_ms;                /* RTCP inter-arrival jitter */
	uint64_t concealed;              /* frames made by PLC (nothing arrived) */
};

/* RFC 3550 A.1, A.3 and A.8: the far end's stream as we receive it (the
 * legs read their RTP sockets themselves, so libre's RTCP does not see
 * the packets: these are the call record's loss and jitter) */
struct md_rx_stats {
	bool init;
	uint32_t ssrc;
	uint16_t max_seq;
	uint32_t cycles;                 /* sequence wraps, times 65536 */
	uint32_t base_seq;
	uint32_t received;
	bool have_transit;
	int32_t transit;                 /* arrival - RTP timestamp, in clock units */
	double jitter;                   /* in clock units */
};

struct md_leg {                      /* mem object */
	struct md_member member;         /* joins the call's mix once started */
	struct rtp_sock *rtp;
	int fd;                          /* its RTP socket, read at each tick (md_legs_receive) */
	struct le rx_le;                 /* in the legs read at each tick */
	struct md_rx_stats rx;
	struct sdp_session *sdp;
	struct sdp_media *sdpm;
	struct sa raddr;                 /* where its RTP goes and must come from */
	uint32_t ssrc_in;                /* the far end's SSRC (last accepted packet) */
	uint16_t seq_in;                 /* its last sequence number */
	bool have_seq;
	int put_fails;                    /* jbuf refusals in a row (a restarted stream) */
	bool started;
	uint64_t heard_ns;               /* the last RTP accepted, else when it started (cc_mono_ns) */
	struct md_codec codec;
	int pt;                          /* the audio payload type in use */
	int telev_pt;                    /* the far end's telephone-event pt, -1: none */
	struct jbuf *jb;
	plc_state_t plc;
	bool heard;                      /* audio arrived lately (PLC has a past) */
	int missing;                     /* frames in a row with nothing to play */
	int16_t fifo[MD_LEG_FIFO];       /* decoded, not played yet (ptime != 20 ms) */
	size_t n_fifo;
	struct md_dtmf dtmf;
	bool inband_off;                 /* md_leg_listen(leg, false) */
	struct telev *telev;             /* outgoing RFC 4733 */
	uint32_t ts_out, ts_tel;
	bool marker;
	int tel_frames;                  /* frames left until the event's end is sent */
	struct mbuf *out;                /* reused for every packet sent */
	struct md_leg_stats st;
	/* the frame the mixer made, sent after every mix has been mixed
	 * (md_legs_flush): the tick computes, then does its I/O */
	struct le send_le;
	bool send_marker;
	int send_pt;
	uint32_t send_ts;
};

/* Reads every leg's RTP socket (what arrived since the last tick, at most
 * 64 packets a leg) into its jitter buffer. The mixer calls it before each
 * tick: the loop is not woken per packet (at 160 bridged calls, 16,000 a
 * second); a packet waits in its socket for the tick instead of in the
 * jitter buffer, so the audio is no later. */
void md_legs_receive(void);
/* When the RTP packet being handled arrived (cc_mono_ns, from the kernel's
 * timestamp); outside the handling of a packet: now. */
uint64_t md_leg_rx_ns(void);

/* Sends every frame the mixer tick made (one RTP packet per leg, in the
 * order they were mixed). The mixer calls it after each tick. */
void md_legs_flush(void);

/* How long the far end has sent no RTP this leg takes (ms since the last
 * packet accepted, or since the leg started; 0 before it started). */
uint64_t md_leg_quiet_ms(const struct md_leg *leg);

/* Where legs bind (main sets it once): address and RTP port range. */
void md_leg_setup(const struct sa *laddr, uint16_t port_min, uint16_t port_max);

/* A new leg with its RTP socket bound; digits go to h. 0 or an errno. */
int md_leg_alloc(struct md_leg **legp, md_digit_h *h, void *arg);
/* Our offer (outgoing legs). *mbp is new. */
int md_leg_offer(struct md_leg *leg, struct mbuf **mbp);
/* The far end's offer (incoming legs): our answer in *mbp (new).
 * EPROTO: no common codec (answer 488); EBADMSG: not SDP. */
int md_leg_answer(struct md_leg *leg, struct mbuf *offer, struct mbuf **mbp);
/* The far end's answer to md_leg_offer. EPROTO: no common codec. */
int md_leg_answered(struct md_leg *leg, struct mbuf *answer);
/* Sends digit as RFC 4733 events (when negotiated; else EPROTO). */
int md_leg_send_digit(struct md_leg *leg, char digit);
/* In-band DTMF detection on (the default for a leg with a digit handler)
 * or off: off while nobody listens for keys (a caller bridged to an
 * agent; spandsp's detector is the dearest step of the leg's frame).
 * RFC 4733 and INFO digits are reported either way. */
void md_leg_listen(struct md_leg *leg, bool on);
/* Current figures (the leg's own loss and jitter, RFC 3550). */
void md_leg_stats(struct md_leg *leg, struct md_leg_stats *st);

/* Process-wide packet counters (metrics). */
extern uint64_t md_rtp_in, md_rtp_out, md_rtp_lost;
extern uint64_t md_leg_count;      /* legs alive */

#endif
