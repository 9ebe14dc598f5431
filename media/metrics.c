/*
 * metrics.c: see metrics.h. Every figure is read on the loop that owns it.
 */
#include <stdio.h>
#include <stdlib.h>

#include "bridge.h"
#include "call.h"
#include "dtmf.h"
#include "leg.h"
#include "metrics.h"
#include "mixer.h"
#include "player.h"
#include "recorder.h"
#include "sip.h"

static struct http_sock *hsock;

static void gauge(FILE *f, const char *name, const char *help, double v)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n%s %.9g\n", name, help, name, name, v);
}

static void counter(FILE *f, const char *name, const char *help, uint64_t v)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
	        (unsigned long long)v);
}

static void render(FILE *f)
{
	const struct md_calls_stats *cs = md_calls_stats();
	const struct md_mixer_stats *ms = md_mixer_stats();
	struct md_rec_stats rs;

	gauge(f, "cc_media_calls", "calls mediad has now", (double)md_calls_count(NULL));
	gauge(f, "cc_media_legs", "RTP legs now (callers, agents, numbers)", (double)md_leg_count);
	gauge(f, "cc_media_bridges", "caller-agent bridges now", (double)md_bridge_count());
	gauge(f, "cc_media_mixes", "mixes the mixer runs now", (double)md_mixer_count());
	cc_hist_prometheus(f, &ms->tick_ns, "cc_media_mixer_frame_seconds",
	                   "time to mix one 20 ms frame of every mix (made and encoded; sent after)");
	cc_hist_prometheus(f, &md_digit_to_prompt, "cc_media_dtmf_to_prompt_seconds",
	                   "a caller's key (as mediad got it) to the first frame of the prompt it led to");
	cc_hist_prometheus(f, &ms->send_ns, "cc_media_send_seconds",
	                   "time to send the packets of one tick (after its mixing)");
	cc_hist_prometheus(f, &ms->recv_ns, "cc_media_recv_seconds",
	                   "time to read the packets of one tick (before its mixing)");
	cc_hist_prometheus(f, &ms->tick_cpu_ns, "cc_media_mixer_frame_cpu_seconds",
	                   "CPU time of mixing one 20 ms frame of every mix (the loop's thread's own)");
	counter(f, "cc_media_mixer_frames_total", "20 ms frames mixed", ms->ticks);
	counter(f, "cc_media_mixer_late_total", "frames skipped: the loop was over 100 ms late",
	        ms->late);
	counter(f, "cc_media_rtp_packets_in_total", "RTP packets taken", md_rtp_in);
	counter(f, "cc_media_rtp_packets_out_total", "RTP packets sent", md_rtp_out);
	counter(f, "cc_media_rtp_packets_lost_total", "RTP packets missing (sequence gaps)",
	        md_rtp_lost);
	fprintf(f, "# HELP cc_media_dtmf_total digits received, by source\n"
	           "# TYPE cc_media_dtmf_total counter\n");
	for (int s = 0; s < MD_DTMF__N; s++)
		fprintf(f, "cc_media_dtmf_total{source=\"%s\"} %llu\n", md_dtmf_src_name(s),
		        (unsigned long long)md_dtmf_count[s]);
	counter(f, "cc_media_calls_started_total", "calls answered into a flow", cs->started);
	counter(f, "cc_media_refers_refused_total", "REFERs refused: not relayed by Kamailio",
	        md_sip_refers_refused);
	counter(f, "cc_media_calls_ended_total", "calls ended", cs->ended);
	fprintf(f, "# HELP cc_media_invites_refused_total INVITEs refused, by reason\n"
	           "# TYPE cc_media_invites_refused_total counter\n"
	           "cc_media_invites_refused_total{reason=\"source\"} %llu\n"
	           "cc_media_invites_refused_total{reason=\"headers\"} %llu\n"
	           "cc_media_invites_refused_total{reason=\"codec\"} %llu\n"
	           "cc_media_invites_refused_total{reason=\"ports\"} %llu\n",
	        (unsigned long long)md_sip_refused_source,
	        (unsigned long long)md_sip_refused_headers,
	        (unsigned long long)cs->refused_codec, (unsigned long long)cs->refused_busy);
	counter(f, "cc_media_legs_placed_total", "agent and number legs placed", cs->legs_placed);
	counter(f, "cc_media_legs_answered_total", "legs that answered", cs->legs_answered);
	counter(f, "cc_media_legs_failed_total", "legs that did not answer", cs->legs_failed);
	counter(f, "cc_media_legs_rtp_timeout_total",
	        "answered legs hung up for sending no RTP (CC_MEDIA_RTP_TIMEOUT_S)", cs->rtp_timeouts);
	md_rec_stats(&rs);
	counter(f, "cc_media_recordings_total", "recordings started", rs.total);
	counter(f, "cc_media_recordings_failed_total",
	        "recordings that failed (store, key, database): the call went on unrecorded", rs.failed);
	gauge(f, "cc_media_recordings_active", "recordings being made or finished now",
	      (double)rs.active);
	counter(f, "cc_media_recording_frames_dropped_total",
	        "20 ms frames a recording's full ring dropped (its writer was behind)", rs.dropped);
	counter(f, "cc_media_ivr_events_truncated_total",
	        "calls whose ivr events reached the cap (200): the rest are not published",
	        cs->ivr_truncated);
}

static void on_http(struct http_conn *conn, const struct http_msg *msg, void *arg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if (pl_strcmp(&msg->met, "GET") || pl_strcmp(&msg->path, "/metrics")) {
		(void)http_ereply(conn, 404, "Not Found");
		return;
	}
	f = open_memstream(&buf, &len);
	if (!f) {
		(void)http_ereply(conn, 500, "Server Error");
		return;
	}
	render(f);
	fclose(f);
	(void)http_creply(conn, 200, "OK", "text/plain; version=0.0.4", "%b", buf, len);
	free(buf);
}

int md_metrics_start(uint16_t port)
{
	struct sa laddr;

	if (!port)
		return 0;
	sa_set_str(&laddr, "127.0.0.1", port);
	return http_listen(&hsock, &laddr, on_http, NULL);
}

void md_metrics_stop(void)
{
	hsock = mem_deref(hsock);
}
