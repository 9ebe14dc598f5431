/*
 * leg.c: a leg's SDP, RTP and audio path (leg.h).
 *
 * Hostile input: packets are taken only from the address the far end's
 * SDP named (rtpengine sends from where it receives), only with the
 * negotiated audio or telephone-event payload type, and only with a
 * payload that fits a 20 ms frame. Everything else is counted as dropped.
 *
 * RFC 4733 payloads are read here (4 bytes: event, E bit) rather than by
 * libre's telev_recv, which ignores an event's end when the end of the
 * previous one is still latched (its start packets lost): the digit is
 * named by its RTP timestamp instead (dtmf.c).
 *
 * PLC: spandsp's is tuned for 8 kHz; on a G.722 leg it runs on 16 kHz
 * samples (pitch search range halved in Hz), which still beats silence.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "leg.h"
#include "log.h"

#define JBUF_MIN 1                   /* frames held before playing */
#define JBUF_MAX 10                  /* frames at most (200 ms) */

uint64_t md_rtp_in, md_rtp_out, md_rtp_lost, md_leg_count;

#ifdef __SANITIZE_ADDRESS__
/* spandsp 0.0.6's PLC shifts its history with an overlapping memcpy
 * (save_history, from plc_rx and plc_fillin, once after a leg's first
 * frames at 8 kHz): undefined, harmless with glibc's memcpy (a memmove on
 * x86-64), and not ours to fix. ASan would stop at it; only those calls
 * are let through (interceptor_via_fun: any frame of the stack). */
const char *__asan_default_suppressions(void);
const char *__asan_default_suppressions(void)
{
	return "interceptor_via_fun:plc_fillin\ninterceptor_via_fun:plc_rx\n";
}
#endif

static struct {
	struct sa laddr;
	uint16_t min, max;
} L = { .min = 40000, .max = 40999 };

void md_leg_setup(const struct sa *laddr, uint16_t port_min, uint16_t port_max)
{
	L.laddr = *laddr;
	L.min = port_min;
	L.max = port_max;
	md_mixer_after(md_legs_flush);
	md_mixer_before(md_legs_receive);
}

/* Every leg, read at each tick (md_legs_receive). */
static struct list rx_legs = LIST_INIT;

static void leg_destructor(void *arg)
{
	struct md_leg *leg = arg;

	md_leg_count--;
	list_unlink(&leg->rx_le);
	list_unlink(&leg->send_le);      /* a frame it never sent */
	md_mix_leave(&leg->member);
	mem_deref(leg->rtp);
	mem_deref(leg->sdp);
	mem_deref(leg->jb);
	mem_deref(leg->telev);
	mem_deref(leg->out);
}

/* ---- audio in ------------------------------------------------------------ */

/* the packet in hand: its arrival (CLOCK_MONOTONIC ns), 0 outside one */
static uint64_t rx_now_ns;

uint64_t md_leg_rx_ns(void)
{
	return rx_now_ns ? rx_now_ns : cc_mono_ns();
}

/* RFC 3550 A.1 (without probation: rtpengine's stream is known), A.8 */
static void rx_update(struct md_rx_stats *r, const struct rtp_header *hdr, uint32_t clock,
                      bool audio)
{
	if (!r->init || hdr->ssrc != r->ssrc) {
		memset(r, 0, sizeof(*r));
		r->init = true;
		r->ssrc = hdr->ssrc;
		r->max_seq = hdr->seq;
		r->base_seq = hdr->seq;
	} else {
		uint16_t udelta = (uint16_t)(hdr->seq - r->max_seq);

		if (udelta < 3000) {             /* in order, maybe with a gap */
			if (hdr->seq < r->max_seq)
				r->cycles += 65536;
			r->max_seq = hdr->seq;
		} else if (udelta <= 65536 - 100) {
			/* a jump: the source restarted its sequence; count afresh */
			r->base_seq = hdr->seq;
			r->max_seq = hdr->seq;
			r->cycles = 0;
			r->received = 0;
		}                                /* else duplicate or reordered */
	}
	r->received++;
	if (!audio || !clock)                /* an event's timestamp is its start */
		return;
	uint32_t arrival = (uint32_t)(rx_now_ns / 1000 * clock / 1000000);
	int32_t transit = (int32_t)(arrival - hdr->ts);
	if (r->have_transit) {
		int32_t d = transit - r->transit;
		r->jitter += ((d < 0 ? -(double)d : (double)d) - r->jitter) / 16.0;
	}
	r->transit = transit;
	r->have_transit = true;
}

static void on_rtp(const struct sa *src, const struct rtp_header *hdr, struct mbuf *mb, void *arg)
{
	struct md_leg *leg = arg;
	size_t len = mbuf_get_left(mb);
	struct mbuf *pm;
	int err;

	if (!leg->started || !sa_cmp(src, &leg->raddr, SA_ALL)) {
		leg->st.dropped++;
		return;
	}
	/* the far end is there, whatever it sends (comfort noise included) */
	leg->heard_ns = md_leg_rx_ns();
	if (leg->telev_pt >= 0 && (hdr->pt == leg->telev_pt || hdr->pt == MD_TELEV_PT)) {
		const uint8_t *b = mbuf_buf(mb);

		if (len < 4) {
			leg->st.dropped++;
			return;
		}
		leg->st.packets_in++;
		md_rtp_in++;
		rx_update(&leg->rx, hdr, leg->codec.clock, false);
		md_dtmf_event(&leg->dtmf, hdr->ts, b[0], (b[1] & 0x80) != 0);
		return;
	}
	if (hdr->pt != leg->pt || len == 0 || len > MD_PAYLOAD_MAX) {
		leg->st.dropped++;
		return;
	}
	leg->st.packets_in++;
	md_rtp_in++;
	rx_update(&leg->rx, hdr, leg->codec.clock, true);
	if (leg->have_seq && hdr->ssrc != leg->ssrc_in) {
		jbuf_flush(leg->jb);            /* a new source (re-INVITE, failover) */
		leg->have_seq = false;
	}
	leg->ssrc_in = hdr->ssrc;
	if (leg->have_seq) {
		int16_t gap = (int16_t)(hdr->seq - leg->seq_in);
		if (gap > 1 && gap < 100)
			md_rtp_lost += (uint64_t)(gap - 1);
		if (gap > 0)
			leg->seq_in = hdr->seq;
	} else {
		leg->have_seq = true;
		leg->seq_in = hdr->seq;
	}
	/* the jitter buffer keeps the payload: a copy of its size (mb is the
	 * tick's receive buffer) */
	pm = mbuf_alloc(len);
	if (!pm || mbuf_write_mem(pm, mbuf_buf(mb), len) != 0) {
		mem_deref(pm);
		leg->st.dropped++;
		return;
	}
	pm->pos = 0;
	err = jbuf_put(leg->jb, hdr, pm);
	if (err == 0) {
		leg->put_fails = 0;
		mem_deref(pm);
		return;
	}
	leg->st.dropped++;                  /* duplicate, too late or overflow */
	/* a stream that jumped back for good (its sender restarted it with
	 * the same SSRC) would be "too late" from now on: start afresh */
	if (++leg->put_fails >= 5) {
		jbuf_flush(leg->jb);
		leg->put_fails = 0;
		if (jbuf_put(leg->jb, hdr, pm) == 0)
			leg->st.dropped--;
	}
	mem_deref(pm);
}

/* ---- reading at the tick ------------------------------------------------- */

#define RX_BATCH   8                 /* packets per recvmmsg */
#define RX_BATCHES 8                 /* per leg and tick: 64 packets (3,200/s);
                                        a flood beyond waits in (and overflows)
                                        the socket's buffer, bounding the tick */
#define RX_SIZE    1500              /* bigger is truncated, dropped */

static struct {
	uint8_t buf[RX_BATCH][RX_SIZE];
	struct iovec iov[RX_BATCH];
	struct sockaddr_storage from[RX_BATCH];
	union {
		char b[CMSG_SPACE(sizeof(struct timespec))];
		struct cmsghdr align;
	} ctl[RX_BATCH];
	struct mmsghdr msgs[RX_BATCH];
} R;

static uint64_t ts_ns(const struct timespec *ts)
{
	return (uint64_t)ts->tv_sec * 1000000000u + (uint64_t)ts->tv_nsec;
}

/* The kernel's receive time of a message (CLOCK_REALTIME) as CLOCK_MONOTONIC
 * ns; now when it has none. */
static uint64_t arrival_ns(struct msghdr *mh, uint64_t real_now, uint64_t mono_now)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct timespec))) {
			struct timespec ts;
			uint64_t at;

			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
			at = ts_ns(&ts);
			if (at > real_now || real_now - at > mono_now)
				return mono_now;
			return mono_now - (real_now - at);
		}
	}
	return mono_now;
}

static void leg_read(struct md_leg *leg, uint64_t real_now, uint64_t mono_now)
{
	for (int b = 0; b < RX_BATCHES; b++) {
		int n;

		for (int i = 0; i < RX_BATCH; i++) {
			R.iov[i].iov_base = R.buf[i];
			R.iov[i].iov_len = RX_SIZE;
			R.msgs[i].msg_hdr = (struct msghdr){
				.msg_name = &R.from[i], .msg_namelen = sizeof(R.from[i]),
				.msg_iov = &R.iov[i], .msg_iovlen = 1,
				.msg_control = R.ctl[i].b, .msg_controllen = sizeof(R.ctl[i].b),
			};
			R.msgs[i].msg_len = 0;
		}
		n = recvmmsg(leg->fd, R.msgs, RX_BATCH, MSG_DONTWAIT, NULL);
		if (n < 0) {
			/* an ICMP error queued on the socket is reported once: go on */
			if (errno == EINTR || errno == ECONNREFUSED)
				continue;
			return;                  /* EAGAIN: all read */
		}
		for (int i = 0; i < n; i++) {
			struct msghdr *mh = &R.msgs[i].msg_hdr;
			struct mbuf mb = { .buf = R.buf[i], .size = RX_SIZE, .pos = 0,
			                   .end = R.msgs[i].msg_len };
			struct rtp_header hdr;
			struct sa src;

			if ((mh->msg_flags & MSG_TRUNC) ||
			    sa_set_sa(&src, (struct sockaddr *)&R.from[i]) != 0 ||
			    rtp_decode(leg->rtp, &mb, &hdr) != 0) {
				leg->st.dropped++;
				continue;
			}
			rx_now_ns = arrival_ns(mh, real_now, mono_now);
			on_rtp(&src, &hdr, &mb, leg);
			rx_now_ns = 0;
		}
		if (n < RX_BATCH)
			return;
	}
}

void md_legs_receive(void)
{
	struct timespec rt;
	uint64_t mono = cc_mono_ns();

	clock_gettime(CLOCK_REALTIME, &rt);
	/* a digit's handler may end its call (and free the leg) only from a
	 * timer (mixer.h): the list holds while it is walked */
	for (struct le *le = list_head(&rx_legs); le; le = le->next)
		leg_read(le->data, ts_ns(&rt), mono);
}

static bool leg_pull(struct md_member *m, int16_t *pcm, size_t n, void *arg)
{
	struct md_leg *leg = arg;
	size_t got;

	/* decode packets until a frame is there (a 10 ms ptime takes two) */
	for (int i = 0; i < 4 && leg->n_fifo < n; i++) {
		struct rtp_header hdr;
		void *mem = NULL;

		if (jbuf_get(leg->jb, &hdr, &mem) != 0 || !mem)
			break;
		struct mbuf *mb = mem;
		leg->n_fifo += md_codec_decode(&leg->codec, leg->fifo + leg->n_fifo,
		                               MD_LEG_FIFO - leg->n_fifo, mbuf_buf(mb),
		                               mbuf_get_left(mb));
		mem_deref(mem);
	}
	got = leg->n_fifo < n ? leg->n_fifo : n;
	if (got) {
		memcpy(pcm, leg->fifo, got * sizeof(*pcm));
		memmove(leg->fifo, leg->fifo + got, (leg->n_fifo - got) * sizeof(*pcm));
		leg->n_fifo -= got;
		plc_rx(&leg->plc, pcm, (int)got);
		if (got < n)
			plc_fillin(&leg->plc, pcm + got, (int)(n - got));
		leg->heard = true;
		leg->missing = 0;
	} else if (leg->heard && ++leg->missing <= MD_PLC_MAX_FRAMES) {
		plc_fillin(&leg->plc, pcm, (int)n);
		leg->st.concealed++;
	} else {
		leg->heard = false;             /* the far end stopped: silence */
		return false;
	}
	/* in-band digits: only where telephone-event was not negotiated, and
	 * only on a leg whose digits someone takes (an agent's leg has no
	 * handler: its tones go to the caller as audio, as they always did)
	 * while someone listens (md_leg_listen); dtmf_rx was 3 % of mediad's
	 * CPU at 160 bridged calls */
	if (leg->telev_pt < 0 && leg->dtmf.h && !leg->inband_off)
		md_dtmf_audio(&leg->dtmf, pcm, n, leg->codec.rate);
	return true;
}

/* ---- audio out ----------------------------------------------------------- */

/* The legs whose frame waits for md_legs_flush, in the order mixed. */
static struct list sends = LIST_INIT;

static int send_now(struct md_leg *leg, bool marker, int pt, uint32_t ts)
{
	int err;

	leg->out->pos = RTP_HEADER_SIZE;
	err = rtp_send(leg->rtp, &leg->raddr, false, marker, (uint8_t)pt, ts, leg->out);
	if (!err) {
		leg->st.packets_out++;
		md_rtp_out++;
	}
	return err;
}

/* Queues the frame in leg->out for md_legs_flush: one per leg and tick. */
static void send_payload(struct md_leg *leg, bool marker, int pt, uint32_t ts)
{
	leg->send_marker = marker;
	leg->send_pt = pt;
	leg->send_ts = ts;
	if (!list_contains(&sends, &leg->send_le))
		list_append(&sends, &leg->send_le, leg);
}

void md_legs_flush(void)
{
	struct le *le;

	while ((le = list_head(&sends))) {
		struct md_leg *leg = le->data;

		list_unlink(le);
		(void)send_now(leg, leg->send_marker, leg->send_pt, leg->send_ts);
	}
}

static void leg_push(struct md_member *m, const int16_t *pcm, size_t n, void *arg)
{
	struct md_leg *leg = arg;
	uint32_t step = (uint32_t)(n * leg->codec.clock / leg->codec.rate);
	bool marker;

	if (!leg->started)
		return;
	if (leg->telev) {
		if (leg->tel_frames > 0 && --leg->tel_frames == 0)
			telev_send(leg->telev, 0, true);
		leg->out->pos = leg->out->end = RTP_HEADER_SIZE;
		if (telev_poll(leg->telev, &marker, leg->out) == 0 &&
		    leg->out->end > RTP_HEADER_SIZE) {
			if (marker)
				leg->ts_tel = leg->ts_out;
			send_payload(leg, marker, leg->telev_pt, leg->ts_tel);
			leg->ts_out += step;
			return;
		}
	}
	leg->out->pos = leg->out->end = RTP_HEADER_SIZE;
	/* allocated this size; a resize would realloc every frame */
	if (leg->out->size < RTP_HEADER_SIZE + MD_FRAME_MAX &&
	    mbuf_resize(leg->out, RTP_HEADER_SIZE + MD_FRAME_MAX) != 0)
		return;
	leg->out->end = RTP_HEADER_SIZE + md_codec_encode(&leg->codec, mbuf_buf(leg->out), pcm, n);
	send_payload(leg, leg->marker, leg->pt, leg->ts_out);
	leg->marker = false;
	leg->ts_out += step;
}

/* ---- SDP ----------------------------------------------------------------- */

int md_leg_alloc(struct md_leg **legp, md_digit_h *h, void *arg)
{
	struct md_leg *leg = mem_zalloc(sizeof(*leg), leg_destructor);
	int err;

	if (!leg)
		return ENOMEM;
	md_leg_count++;
	leg->telev_pt = -1;
	leg->pt = -1;
	md_dtmf_init(&leg->dtmf, h, arg);
	plc_init(&leg->plc);
	leg->ts_out = rand_u32();
	leg->marker = true;
	leg->fd = -1;
	err = rtp_listen(&leg->rtp, IPPROTO_UDP, &L.laddr, L.min, L.max, true, on_rtp, NULL, leg);
	/* the loop does not watch the RTP socket: the tick reads it (leg.h
	 * md_legs_receive); libre's RTCP socket stays on the loop */
	if (!err) {
		struct udp_sock *us = rtp_sock(leg->rtp);
		int on = 1;

		leg->fd = udp_sock_fd(us, sa_af(&L.laddr));
		if (leg->fd < 0)
			err = EBADF;
		else {
			udp_thread_detach(us);
			if (setsockopt(leg->fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on)) != 0)
				err = errno;
		}
		if (!err)
			list_append(&rx_legs, &leg->rx_le, leg);
	}
	if (!err)
		err = sdp_session_alloc(&leg->sdp, &L.laddr);
	if (!err)
		err = sdp_media_add(&leg->sdpm, leg->sdp, "audio", sa_port(rtp_local(leg->rtp)),
		                    "RTP/AVP");
	/* our order of preference: wideband first */
	if (!err)
		err = sdp_format_add(NULL, leg->sdpm, false, "9", "G722", 8000, 1, NULL, NULL, NULL,
		                     false, NULL);
	if (!err)
		err = sdp_format_add(NULL, leg->sdpm, false, "8", "PCMA", 8000, 1, NULL, NULL, NULL,
		                     false, NULL);
	if (!err)
		err = sdp_format_add(NULL, leg->sdpm, false, "0", "PCMU", 8000, 1, NULL, NULL, NULL,
		                     false, NULL);
	if (!err)
		err = sdp_format_add(NULL, leg->sdpm, false, "101", "telephone-event", 8000, 1, NULL,
		                     NULL, NULL, false, "0-15");
	if (!err)
		err = jbuf_alloc(&leg->jb, JBUF_MIN, JBUF_MAX);
	if (!err)
		err = (leg->out = mbuf_alloc(RTP_HEADER_SIZE + MD_FRAME_MAX)) ? 0 : ENOMEM;
	if (err) {
		mem_deref(leg);
		return err;
	}
	leg->member.pull = leg_pull;
	leg->member.push = leg_push;
	leg->member.arg = leg;
	*legp = leg;
	return 0;
}

/* After a decoded offer or answer: the codec, the far address, RTCP. */
static int leg_start(struct md_leg *leg)
{
	const struct sdp_format *f = sdp_media_rformat(leg->sdpm, NULL);
	const struct sdp_format *te;
	struct sa rtcp;
	int pt;

	/* the far end's first common format that is audio (telephone-event
	 * alone is not); a static payload type needs no rtpmap (RFC 3551):
	 * libre matches it by number and leaves its name empty */
	pt = -1;
	for (struct le *le = list_head(sdp_media_format_lst(leg->sdpm, false)); le; le = le->next) {
		const struct sdp_format *c = le->data;
		int cpt = c->pt < 96 ? (c->pt == MD_PCMU || c->pt == MD_PCMA || c->pt == MD_G722 ? c->pt : -1)
		                     : md_codec_pt(c->name, c->srate);
		if (c->sup && cpt >= 0) {
			f = c;
			pt = cpt;
			break;
		}
	}
	if (!f || pt < 0)
		return EPROTO;
	if (!sa_isset(sdp_media_raddr(leg->sdpm), SA_ALL))
		return EPROTO;
	if (leg->started && pt == leg->pt)
		return 0;
	md_codec_init(&leg->codec, pt);
	leg->pt = f->pt;
	te = sdp_media_rformat(leg->sdpm, "telephone-event");
	leg->telev_pt = te && te->srate == 8000 ? te->pt : -1;
	if (leg->telev_pt >= 0 && !leg->telev) {
		if (telev_alloc(&leg->telev, MD_PTIME_MS) != 0)
			leg->telev = NULL;
	}
	leg->raddr = *sdp_media_raddr(leg->sdpm);
	leg->member.rate = leg->codec.rate;
	sdp_media_raddr_rtcp(leg->sdpm, &rtcp);
	if (!leg->started) {
		rtcp_start(leg->rtp, "mediad", &rtcp);
		leg->heard_ns = cc_mono_ns();
	}
	rtcp_set_srate(leg->rtp, leg->codec.clock, leg->codec.clock);
	leg->started = true;
	return 0;
}

uint64_t md_leg_quiet_ms(const struct md_leg *leg)
{
	uint64_t now = cc_mono_ns();

	if (!leg || !leg->started || now < leg->heard_ns)
		return 0;
	return (now - leg->heard_ns) / 1000000;
}

int md_leg_offer(struct md_leg *leg, struct mbuf **mbp)
{
	return sdp_encode(mbp, leg->sdp, true);
}

int md_leg_answer(struct md_leg *leg, struct mbuf *offer, struct mbuf **mbp)
{
	int err;

	if (!offer || !mbuf_get_left(offer))
		return EBADMSG;
	err = sdp_decode(leg->sdp, offer, true);
	if (err)
		return EBADMSG;
	err = leg_start(leg);
	if (err)
		return err;
	return sdp_encode(mbp, leg->sdp, false);
}

int md_leg_answered(struct md_leg *leg, struct mbuf *answer)
{
	if (!answer || !mbuf_get_left(answer))
		return EBADMSG;
	if (sdp_decode(leg->sdp, answer, false))
		return EBADMSG;
	return leg_start(leg);
}

int md_leg_send_digit(struct md_leg *leg, char digit)
{
	int ev = telev_digit2code(digit);

	if (!leg->telev || ev < 0)
		return EPROTO;
	if (leg->tel_frames > 0)
		return EBUSY;
	leg->tel_frames = 5;                /* 100 ms of event, then its end */
	return telev_send(leg->telev, ev, false);
}

void md_leg_listen(struct md_leg *leg, bool on)
{
	if (leg)
		leg->inband_off = !on;
}

void md_leg_stats(struct md_leg *leg, struct md_leg_stats *st)
{

	*st = leg->st;
	if (leg->rx.init) {
		const struct md_rx_stats *r = &leg->rx;
		int64_t expected = (int64_t)r->cycles + r->max_seq - r->base_seq + 1;
		int64_t lost = expected - r->received;

		st->lost = lost < 0 ? 0 : lost > INT32_MAX ? INT32_MAX : (int)lost;
		st->jitter_ms = leg->codec.clock ? r->jitter * 1000.0 / leg->codec.clock : 0;
	}
}
