/*
 * rtppcap: writes the pcap files SIPp plays into a call
 * (<exec play_pcap_audio="FILE"/>): RFC 4733 digit sequences, and G.711
 * audio from a raw file.
 *
 *   rtppcap dtmf OUT DIGITS [ON_MS [OFF_MS]]
 *       DIGITS (0-9 * # A-D) as telephone-event (payload type 101): each
 *       digit one event of ON_MS (100) sent every min(ON_MS, 20) ms, its
 *       end packet three times, then OFF_MS (100) of nothing; 200 ms of
 *       u-law silence (PT 0) before the first and 400 ms after the last:
 *       a receiver's jitter buffer holds the last packets until more come
 *       (baresip never saw the last key's end without them), and a real
 *       carrier's audio goes on around the keys.
 *   rtppcap audio OUT RAW PT
 *       RAW (headerless G.711: u-law for PT 0, A-law for PT 8) as 20 ms
 *       packets of 160 bytes, 20 ms apart.
 *
 * Why not SIPp's own dtmf_2833_<d>.pcap: each was cut from one recording
 * and keeps its sequence numbers and timestamps, so played one after the
 * other they go backwards (the '*' file's packets are numbered below the
 * '#' file's) and a repeated digit repeats the last event exactly: a
 * receiver rightly drops those as late or retransmitted (baresip did).
 * Here one stream (one SSRC) carries the whole sequence, its sequence
 * numbers and timestamps rising.
 *
 * The frames are Ethernet/IPv4/UDP from 127.0.0.1:7000 to 127.0.0.1:7001;
 * SIPp keeps only the UDP payload and its timing, and sends it from its
 * media port to the port the far end's SDP names.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct out {
	FILE *f;
	uint64_t us;        /* this packet's time */
	uint16_t seq;
	uint32_t ssrc;
};

static void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v & 0xff; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16); put16(p + 2, v & 0xffff); }

/* one RTP packet with payload pl[0..n) at time o->us */
static int packet(struct out *o, int pt, int marker, uint32_t ts, const uint8_t *pl, size_t n)
{
	uint8_t fr[14 + 20 + 8 + 12 + 200];
	if (n > 200)
		return -1;
	size_t udp = 8 + 12 + n, ip = 20 + udp, len = 14 + ip;
	memset(fr, 0, sizeof fr);
	fr[12] = 0x08;                            /* Ethernet: IPv4 */
	uint8_t *h = fr + 14;
	h[0] = 0x45; put16(h + 2, (uint16_t)ip); h[8] = 64; h[9] = 17;
	put32(h + 12, 0x7f000001); put32(h + 16, 0x7f000001);
	uint32_t sum = 0;
	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)(h[i] << 8 | h[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	put16(h + 10, (uint16_t)~sum);
	uint8_t *u = h + 20;
	put16(u, 7000); put16(u + 2, 7001); put16(u + 4, (uint16_t)udp);
	uint8_t *r = u + 8;
	r[0] = 0x80; r[1] = (uint8_t)(pt | (marker ? 0x80 : 0));
	put16(r + 2, o->seq++); put32(r + 4, ts); put32(r + 8, o->ssrc);
	memcpy(r + 12, pl, n);
	uint32_t rec[4] = { (uint32_t)(o->us / 1000000), (uint32_t)(o->us % 1000000), (uint32_t)len, (uint32_t)len };
	return fwrite(rec, sizeof rec, 1, o->f) == 1 && fwrite(fr, len, 1, o->f) == 1 ? 0 : -1;
}

static int event_code(char d)
{
	static const char keys[] = "0123456789*#ABCD";
	const char *p = d ? strchr(keys, d) : NULL;
	return p ? (int)(p - keys) : -1;
}

/* n ms of u-law silence from RTP time *ts, 20 ms a packet */
static int silence(struct out *o, uint32_t *ts, int ms, int marker)
{
	uint8_t pl[160];
	memset(pl, 0xff, sizeof pl);
	for (int t = 0; t < ms; t += 20) {
		if (packet(o, 0, marker && t == 0, *ts, pl, sizeof pl) < 0)
			return -1;
		*ts += 160;
		o->us += 20000;
	}
	return 0;
}

static int dtmf(struct out *o, const char *digits, int on, int off)
{
	int step = on < 20 ? on : 20;
	uint32_t ts = 8000;                       /* RTP clock, 8 kHz */
	if (silence(o, &ts, 200, 1) < 0)
		return -1;
	for (const char *d = digits; *d; d++) {
		int ev = event_code(*d);
		if (ev < 0) {
			fprintf(stderr, "rtppcap: not a DTMF key: '%c'\n", *d);
			return -1;
		}
		uint64_t start = o->us;
		for (int t = 0;; t += step) {
			int end = t + step < on ? t + step : on;
			int last = end >= on;
			uint8_t pl[4] = { (uint8_t)ev, (uint8_t)(10 | (last ? 0x80 : 0)), 0, 0 };
			put16(pl + 2, (uint16_t)(end * 8));   /* duration so far, 8 kHz */
			o->us = start + (uint64_t)t * 1000;
			if (packet(o, 101, t == 0, ts, pl, 4) < 0)
				return -1;
			if (last) {                       /* the end, twice more */
				for (int k = 0; k < 2; k++)
					if (packet(o, 101, 0, ts, pl, 4) < 0)
						return -1;
				break;
			}
		}
		o->us = start + (uint64_t)(on + off) * 1000;
		ts += (uint32_t)(on + off) * 8;
	}
	return silence(o, &ts, 400, 0);
}

static int audio(struct out *o, const char *path, int pt)
{
	FILE *in = fopen(path, "rb");
	if (!in) {
		perror(path);
		return -1;
	}
	uint8_t buf[160];
	uint32_t ts = 0;
	int rc = 0, first = 1;
	while (fread(buf, sizeof buf, 1, in) == 1) {
		if (packet(o, pt, first, ts, buf, sizeof buf) < 0) {
			rc = -1;
			break;
		}
		first = 0;
		ts += 160;
		o->us += 20000;
	}
	fclose(in);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 4 || (strcmp(argv[1], "dtmf") && strcmp(argv[1], "audio")) ||
	    (!strcmp(argv[1], "audio") && argc != 5)) {
		fprintf(stderr, "usage: rtppcap dtmf OUT DIGITS [ON_MS [OFF_MS]]\n"
		                "       rtppcap audio OUT RAW PT\n");
		return 2;
	}
	struct out o = { .f = fopen(argv[2], "wb"), .us = 1000000, .seq = 1000, .ssrc = 0x63630001 };
	if (!o.f) {
		perror(argv[2]);
		return 1;
	}
	/* pcap: magic, version 2.4, zone 0, sigfigs 0, snaplen, Ethernet */
	uint32_t gh[6] = { 0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1 };
	int rc = fwrite(gh, sizeof gh, 1, o.f) == 1 ? 0 : -1;
	if (rc == 0 && !strcmp(argv[1], "dtmf")) {
		int on = argc > 4 ? atoi(argv[4]) : 100, off = argc > 5 ? atoi(argv[5]) : 100;
		if (on < 1 || on > 5000 || off < 0 || off > 60000) {
			fprintf(stderr, "rtppcap: ON_MS 1..5000, OFF_MS 0..60000\n");
			rc = -1;
		} else {
			rc = dtmf(&o, argv[3], on, off);
		}
	} else if (rc == 0) {
		int pt = atoi(argv[4]);
		rc = pt == 0 || pt == 8 ? audio(&o, argv[3], pt) : (fprintf(stderr, "rtppcap: PT 0 or 8\n"), -1);
	}
	if (fclose(o.f) != 0)
		rc = -1;
	return rc == 0 ? 0 : 1;
}
