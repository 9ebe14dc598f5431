/*
 * mediatest: mediad's engine (media/libmedia.a: the SIP gate, legs, the
 * mixer, players, DTMF) without the flow, the catalog or NATS, for
 * tests/integration/70_mediad.sh. A real SIP peer (SIPp, baresip) talks
 * to the same code mediad runs:
 *
 *   mediatest SIP_PORT PROXY [DIAL_URI VIA HOLD_MS]
 *
 * INVITEs are taken only from PROXY (host:port) with mediad's X-CC-*
 * headers (else 403, sip.c); each is answered (180, then 200 with the SDP
 * answer; 488 without a common codec) and hears a 1 kHz tone, 1 s on and
 * 1 s off, from a player in its mix. With DIAL_URI, mediatest also places
 * one leg there through VIA (as mediad places agent legs through
 * Kamailio), plays it the same tone once answered, and hangs it up after
 * HOLD_MS. It prints one line per thing that happened:
 *
 *   call <Call-ID> <codec>         an INVITE answered
 *   digit <d> <source>             rfc4733 | inband | info
 *   ended <Call-ID> in=N out=N dropped=N concealed=N
 *   leg answered <codec> | leg failed <code> | leg ended in=N out=N
 *   mixer frames=N late=N p50_us=X p99_us=X max_us=X   (at exit)
 *
 * SIGTERM or SIGINT: BYE to every call, then exit (mem_debug on stderr).
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "leg.h"
#include "log.h"
#include "mixer.h"
#include "player.h"
#include "sip.h"

struct tcall {
	struct le le;
	char callid[128];
	struct sipsess *sess;
	struct md_leg *leg;
	struct md_mix *mix;
	struct md_player *player;
};

static struct list calls;
static struct md_prompt *tone;
static int16_t tone8[16000], tone16[32000];  /* 1 s on, 1 s off */
static struct {
	struct sipsess *sess;
	struct md_leg *leg;
	struct md_mix *mix;
	struct md_player *player;
	struct tmr hold, start;
	const char *uri;
	char route[80];
	long hold_ms;
} out;

static void on_digit(char d, enum md_dtmf_src src, void *arg)
{
	printf("digit %c %s\n", d, md_dtmf_src_name(src));
	fflush(stdout);
}

static void replay(struct md_player *p, void *arg)
{
	md_player_play(p, &tone, 1, replay, arg);
}

static void print_end(const char *what, struct md_leg *leg)
{
	struct md_leg_stats st;

	md_leg_stats(leg, &st);
	printf("%s in=%llu out=%llu dropped=%llu concealed=%llu lost=%d jitter_ms=%.1f\n", what,
	       (unsigned long long)st.packets_in, (unsigned long long)st.packets_out,
	       (unsigned long long)st.dropped, (unsigned long long)st.concealed, st.lost,
	       st.jitter_ms);
	fflush(stdout);
}

static void tcall_destructor(void *arg)
{
	struct tcall *c = arg;
	char what[160];

	snprintf(what, sizeof(what), "ended %s", c->callid);
	print_end(what, c->leg);
	list_unlink(&c->le);
	mem_deref(c->player);
	mem_deref(c->leg);
	mem_deref(c->mix);
	mem_deref(c->sess);
}

static void on_close(int err, const struct sip_msg *msg, void *arg)
{
	mem_deref(arg);
}

static int on_offer(struct mbuf **descp, const struct sip_msg *msg, void *arg)
{
	struct tcall *c = arg;

	return md_leg_answer(c->leg, msg->mb, descp);
}

static int on_answer(const struct sip_msg *msg, void *arg) { return 0; }
static void on_estab(const struct sip_msg *msg, void *arg) { }

static void on_info(struct sip *sip, const struct sip_msg *msg, void *arg)
{
	struct tcall *c = arg;

	if (msg_ctype_cmp(&msg->ctyp, "application", "dtmf-relay") &&
	    md_dtmf_info(&c->leg->dtmf, (const char *)mbuf_buf(msg->mb), mbuf_get_left(msg->mb)) == 0)
		(void)sip_treply(NULL, sip, msg, 200, "OK");
	else
		(void)sip_treply(NULL, sip, msg, 400, "Bad Request");
}

static void on_invite(const struct sip_msg *msg, const struct md_invite *inv, void *arg)
{
	struct tcall *c = mem_zalloc(sizeof(*c), tcall_destructor);
	struct mbuf *answer = NULL;
	int err;

	if (!c)
		return;
	snprintf(c->callid, sizeof(c->callid), "%.*s", (int)(msg->callid.l < 100 ? msg->callid.l : 100),
	         msg->callid.p);
	list_append(&calls, &c->le, c);
	if (md_leg_alloc(&c->leg, on_digit, c) != 0) {
		(void)sip_treply(NULL, md_sip(), msg, 503, "Service Unavailable");
		mem_deref(c);
		return;
	}
	err = md_leg_answer(c->leg, msg->mb, &answer);
	if (err) {
		printf("refused %s %s\n", c->callid, err == EPROTO ? "codec" : "sdp");
		fflush(stdout);
		(void)sip_treply(NULL, md_sip(), msg, 488, "Not Acceptable Here");
		mem_deref(c);
		return;
	}
	md_mix_alloc(&c->mix);
	md_player_alloc(&c->player);
	md_mix_join(c->mix, &c->leg->member);
	md_mix_join(c->mix, &c->player->member);
	err = sipsess_accept(&c->sess, md_sip_sock(), msg, 180, "Ringing", "mediatest",
	                     "application/sdp", NULL, NULL, NULL, false, on_offer, on_answer,
	                     on_estab, on_info, NULL, on_close, c, "");
	if (!err)
		err = sipsess_answer(c->sess, 200, "OK", answer, "");
	mem_deref(answer);
	if (err) {
		mem_deref(c);
		return;
	}
	md_player_play(c->player, &tone, 1, replay, c);
	printf("call %s %s\n", c->callid, c->leg->codec.name);
	fflush(stdout);
}

/* ---- the dialled leg ----------------------------------------------------- */

static void out_end(void)
{
	if (!out.leg)
		return;
	tmr_cancel(&out.hold);
	print_end("leg ended", out.leg);
	out.sess = mem_deref(out.sess);
	out.player = mem_deref(out.player);
	out.leg = mem_deref(out.leg);
	out.mix = mem_deref(out.mix);
}

static void on_hold(void *arg) { out_end(); }

static int out_answer(const struct sip_msg *msg, void *arg)
{
	return md_leg_answered(out.leg, msg->mb);
}

static void out_progress(const struct sip_msg *msg, void *arg) { }

static void out_estab(const struct sip_msg *msg, void *arg)
{
	md_mix_join(out.mix, &out.leg->member);
	md_player_play(out.player, &tone, 1, replay, NULL);
	printf("leg answered %s\n", out.leg->codec.name);
	fflush(stdout);
	tmr_start(&out.hold, (uint64_t)out.hold_ms, on_hold, NULL);
}

static void out_close(int err, const struct sip_msg *msg, void *arg)
{
	if (!msg || msg->scode >= 300) {
		printf("leg failed %u\n", msg ? msg->scode : 0);
		fflush(stdout);
	}
	out.sess = NULL;                  /* libre frees a closed session itself */
	out_end();
}

static int out_offer(struct mbuf **descp, const struct sip_msg *msg, void *arg)
{
	return md_leg_answer(out.leg, msg->mb, descp);
}

static void dial(void *arg)
{
	struct mbuf *offer = NULL;
	const char *routev[1] = { out.route };
	int err;

	if (md_leg_alloc(&out.leg, on_digit, NULL) || md_mix_alloc(&out.mix) ||
	    md_player_alloc(&out.player) || md_leg_offer(out.leg, &offer)) {
		printf("leg failed 0\n");
		fflush(stdout);
		return;
	}
	md_mix_join(out.mix, &out.player->member);
	err = sipsess_connect(&out.sess, md_sip_sock(), out.uri, NULL, "sip:+8613800000000@cc.test",
	                      "mediatest", routev, 1, "application/sdp", offer, NULL, NULL, false,
	                      out_offer, out_answer, out_progress, out_estab, NULL, NULL, out_close,
	                      NULL, "X-CC-Leg: agent\r\n");
	mem_deref(offer);
	if (err) {
		printf("leg failed 0\n");
		fflush(stdout);
		out_end();
	}
}

static void on_signal(int sig)
{
	re_cancel();
}

int main(int argc, char **argv)
{
	struct sa laddr, proxy, via;
	int err;

	if (argc != 3 && argc != 6) {
		fprintf(stderr, "usage: mediatest SIP_PORT PROXY [DIAL_URI VIA HOLD_MS]\n");
		return 2;
	}
	cc_log_init("mediatest");
	if (libre_init())
		return 1;
	for (int i = 0; i < 16000; i++)
		tone8[i] = i < 8000 ? (int16_t)(8000 * sin(2 * M_PI * 1000 * i / 8000.0)) : 0;
	for (int i = 0; i < 32000; i++)
		tone16[i] = i < 16000 ? (int16_t)(8000 * sin(2 * M_PI * 1000 * i / 16000.0)) : 0;
	tone = mem_zalloc(sizeof(*tone), NULL);
	tone->pcm8 = tone8;
	tone->n8 = 16000;
	tone->pcm16 = tone16;
	tone->n16 = 32000;
	sa_set_str(&laddr, "127.0.0.1", 0);
	md_leg_setup(&laddr, 30000, 39999);
	md_mixer_init();
	sa_set_port(&laddr, (uint16_t)atoi(argv[1]));
	if (sa_decode(&proxy, argv[2], strlen(argv[2])) != 0) {
		fprintf(stderr, "mediatest: PROXY is not host:port\n");
		return 2;
	}
	err = md_sip_init(&laddr, &proxy, on_invite, NULL);
	if (err) {
		fprintf(stderr, "mediatest: SIP: %s\n", strerror(err));
		return 1;
	}
	tmr_init(&out.hold);
	tmr_init(&out.start);
	if (argc == 6) {
		if (sa_decode(&via, argv[4], strlen(argv[4])) != 0)
			return 2;
		out.uri = argv[3];
		out.hold_ms = atol(argv[5]);
		re_snprintf(out.route, sizeof(out.route), "sip:%J", &via);
		tmr_start(&out.start, 100, dial, NULL);
	}
	printf("ready\n");
	fflush(stdout);
	re_main(on_signal);
	{
		const struct md_mixer_stats *ms = md_mixer_stats();
		printf("mixer frames=%llu late=%llu p50_us=%.1f p99_us=%.1f max_us=%.1f\n",
		       (unsigned long long)ms->ticks, (unsigned long long)ms->late,
		       cc_hist_quantile(&ms->tick_ns, 0.5) / 1e3, cc_hist_quantile(&ms->tick_ns, 0.99) / 1e3,
		       ms->tick_ns.max_ns / 1e3);
		fflush(stdout);
	}
	tmr_cancel(&out.start);
	out_end();
	while (list_head(&calls))
		mem_deref(list_head(&calls)->data);
	md_sip_close(true);
	md_mixer_close();
	mem_deref(tone);
	libre_close();
	mem_debug();
	return 0;
}
