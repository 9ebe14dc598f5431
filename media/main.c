/*
 * mediad: the platform's media server (docs/MEDIA.md). Wires the parts:
 * settings (table below), libre's loop (re_main: no libevent here), the
 * mixer's one 20 ms timer (mixer.h), RTP legs in the port range (leg.h),
 * SIP on 127.0.0.1 for Kamailio (sip.h), the calls (call.h), the catalog
 * (PostgreSQL, off the loop: catalog.h), NATS (rpc.h) and the metrics
 * endpoint (metrics.h).
 *
 * SIGTERM or SIGINT: every call is ended (BYE to the answered, CANCEL to
 * legs still ringing), the loop runs on until their transactions are done
 * (at most 2 s), then everything is freed; mem_debug() shows what was not.
 * A second signal stops at once.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "call.h"
#include "catalog.h"
#include "cc.h"
#include "config.h"
#include "id.h"
#include "leg.h"
#include "log.h"
#include "metrics.h"
#include "mixer.h"
#include "recorder.h"
#include "rpc.h"
#include "sip.h"

struct settings {
	long sip_port;
	long rtp_min, rtp_max;
	char *proxy;
	long metrics_port;
	long heartbeat_ms;
	char *pg_url;
	char *nats_url;
	char *nats_creds;
	char *spool_dir;
	char *prompts_dir;
	char *secret_file;
	long rt_prio;
	char *rec_store;
	char *secrets_dir;
	long rtp_timeout_s;
};

static const struct cc_config_row settings_table[] = {
	{ "CC_MEDIA_SIP_PORT", CC_CFG_INT, "5090", 1, 65535, offsetof(struct settings, sip_port),
	  "SIP over UDP on 127.0.0.1 (Kamailio sends calls here)" },
	{ "CC_MEDIA_RTP_MIN", CC_CFG_INT, "40000", 1024, 65534, offsetof(struct settings, rtp_min),
	  "lowest RTP port (RTCP is the port above each RTP port)" },
	{ "CC_MEDIA_RTP_MAX", CC_CFG_INT, "40999", 1025, 65535, offsetof(struct settings, rtp_max),
	  "highest RTP/RTCP port" },
	{ "CC_MEDIA_PROXY", CC_CFG_STR, "127.0.0.1:5060", 0, 0, offsetof(struct settings, proxy),
	  "Kamailio, host:port: the only source of INVITEs taken, and where legs are sent" },
	{ "CC_MEDIA_METRICS_PORT", CC_CFG_INT, "9466", 0, 65535,
	  offsetof(struct settings, metrics_port), "metrics endpoint port on 127.0.0.1 (0: none)" },
	{ "CC_MEDIA_HEARTBEAT_MS", CC_CFG_INT, "1000", 100, 60000,
	  offsetof(struct settings, heartbeat_ms), "heartbeat to routingd every this often, ms" },
	{ "CC_PG_URL", CC_CFG_STR, NULL, 0, 0, offsetof(struct settings, pg_url),
	  "PostgreSQL connection URL (role cc_mediad: flows and prompts)" },
	{ "CC_NATS_URL", CC_CFG_STR, "nats://127.0.0.1:4222", 0, 0,
	  offsetof(struct settings, nats_url), "NATS server URL" },
	{ "CC_NATS_CREDS", CC_CFG_STR, "", 0, 0, offsetof(struct settings, nats_creds),
	  "file with the NATS user:password (empty: none)" },
	{ "CC_SPOOL_DIR", CC_CFG_STR, "var/spool", 0, 0, offsetof(struct settings, spool_dir),
	  "folder for events waiting for NATS" },
	{ "CC_PROMPTS_DIR", CC_CFG_STR, "", 0, 0, offsetof(struct settings, prompts_dir),
	  "the default prompts (<name>.8k.raw, <name>.16k.raw, made at build time; empty: "
	  "../prompts beside the binary, build/prompts), as tenantd's" },
	{ "CC_MEDIA_RT_PRIO", CC_CFG_INT, "10", 0, 99, offsetof(struct settings, rt_prio),
	  "real-time (SCHED_FIFO) priority of the loop's thread, which mixes every 20 ms frame, "
	  "so the pcap players and relays of a busy machine do not delay frames (0: the normal "
	  "scheduler; without the privilege it stays normal, with a warning)" },
	{ "CC_MEDIA_SECRET_FILE", CC_CFG_STR, "", 0, 0, offsetof(struct settings, secret_file),
	  "file with the secret Kamailio asks of mediad's legs (X-CC-Auth; empty: none is sent, "
	  "and a Kamailio of this platform refuses the legs)" },
	{ "CC_MEDIA_RTP_TIMEOUT_S", CC_CFG_INT, "30", 0, 3600,
	  offsetof(struct settings, rtp_timeout_s),
	  "an answered agent or number leg that sends no RTP this long (and does not hold the call) "
	  "is hung up as if it had (a browser closed mid-call, a phone gone off the network); 0: never" },
	{ "CC_REC_STORE", CC_CFG_STR, "", 0, 0, offsetof(struct settings, rec_store),
	  "the recordings' store (a folder, lib/recstore.h); empty: $CC_VAR/recordings" },
	{ "CC_SECRETS_DIR", CC_CFG_STR, "", 0, 0, offsetof(struct settings, secrets_dir),
	  "the local KMS's folder (master.key, lib/reccrypt.h); empty: $CC_VAR/secrets" },
};

static struct {
	struct settings cfg;
	struct tmr stop_tmr;
	int signals;
} D;

/* CC_PROMPTS_DIR unset: build/prompts beside build/media/mediad (as tenantd). */
static void prompts_dir_default(void)
{
	char exe[4096], *slash;
	ssize_t n;

	if (D.cfg.prompts_dir[0])
		return;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return;
	exe[n] = '\0';
	if ((slash = strrchr(exe, '/')))
		*slash = '\0';
	free(D.cfg.prompts_dir);
	D.cfg.prompts_dir = cc_sprintf("%s/../prompts", exe);
	CC_BUG_ON(!D.cfg.prompts_dir);
}

/* CC_REC_STORE, CC_SECRETS_DIR unset: under $CC_VAR (var/ when it is
 * unset too), as tenantd's, so that both daemons name the same folders */
static void var_default(char **v, const char *name)
{
	const char *var = getenv("CC_VAR");

	if ((*v)[0])
		return;
	free(*v);
	*v = cc_sprintf("%s/%s", var && *var ? var : "var", name);
	CC_BUG_ON(!*v);
}

static void on_stop_wait(void *arg)
{
	(void)arg;
	re_cancel();
}

static void on_signal(int sig)
{
	if (++D.signals > 1) {
		re_cancel();
		return;
	}
	CC_INFO("signal %d: ending %zu calls", sig, md_calls_count(NULL));
	md_calls_end_all();
	/* BYEs and CANCELs want their answers: the loop runs on a little */
	tmr_start(&D.stop_tmr, 2000, on_stop_wait, NULL);
}

int main(int argc, char **argv)
{
	char *err = NULL, instance[CC_UUID_LEN], sip_addr[64];
	struct sa laddr, proxy;
	int e, rc = 1;

	cc_log_init("mediad");
	/* TZ exists before any thread does: schedules swap it in place
	 * (cc_flow_local_time), never add or remove it under another thread */
	if (!getenv("TZ"))
		setenv("TZ", "UTC", 1);
	if (argc > 1) {
		cc_config_usage("mediad", settings_table, CC_ARRAY_LEN(settings_table));
		return strcmp(argv[1], "--help") == 0 ? 0 : 2;
	}
	if (cc_config_load(settings_table, CC_ARRAY_LEN(settings_table), &D.cfg, &err) != CC_OK) {
		CC_ERR("%s", err);
		free(err);
		return 2;
	}
	prompts_dir_default();
	var_default(&D.cfg.rec_store, "recordings");
	var_default(&D.cfg.secrets_dir, "secrets");
	if (D.cfg.secret_file[0]) {
		char secret[128], *serr = NULL;

		if (cc_read_secret(D.cfg.secret_file, secret, sizeof(secret), &serr) != CC_OK ||
		    md_sip_set_auth(secret) != 0) {
			CC_ERR("CC_MEDIA_SECRET_FILE: %s", serr ? serr : "not a header value");
			free(serr);
			goto out_cfg;
		}
	}
	if (D.cfg.rtp_min >= D.cfg.rtp_max) {
		CC_ERR("CC_MEDIA_RTP_MIN must be below CC_MEDIA_RTP_MAX");
		goto out_cfg;
	}
	if (sa_decode(&proxy, D.cfg.proxy, strlen(D.cfg.proxy)) != 0) {
		CC_ERR("CC_MEDIA_PROXY is not host:port: %s", D.cfg.proxy);
		goto out_cfg;
	}
	if (cc_uuid(instance) != CC_OK) {
		CC_ERR("no random instance id");
		goto out_cfg;
	}
	signal(SIGPIPE, SIG_IGN);
	if ((e = libre_init()) != 0) {
		cc_log(CC_LOG_ERR, e, NULL, NULL, "libre");
		goto out_cfg;
	}
	tmr_init(&D.stop_tmr);
	sa_set_str(&laddr, "127.0.0.1", 0);
	md_leg_setup(&laddr, (uint16_t)D.cfg.rtp_min, (uint16_t)D.cfg.rtp_max);
	md_calls_set_rtp_timeout((unsigned)D.cfg.rtp_timeout_s);
	md_mixer_init();
	sa_set_port(&laddr, (uint16_t)D.cfg.sip_port);
	snprintf(sip_addr, sizeof(sip_addr), "127.0.0.1:%ld", D.cfg.sip_port);
	if ((e = md_catalog_init(D.cfg.pg_url, D.cfg.prompts_dir)) != 0) {
		cc_log(CC_LOG_ERR, e, NULL, NULL, "catalog");
		goto out_re;
	}
	/* the rows it writes name this mediad by host and SIP port, which a
	 * restart keeps: its rows left 'recording' by a crash are its own */
	char host[256], rec_instance[320];
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	snprintf(rec_instance, sizeof(rec_instance), "%s:%ld", host, D.cfg.sip_port);
	if ((e = md_recorder_init(D.cfg.pg_url, D.cfg.rec_store, D.cfg.secrets_dir, rec_instance)) != 0)
		cc_log(CC_LOG_WARN, e, NULL, NULL, "recorder (store %s, secrets %s): nothing is recorded",
		       D.cfg.rec_store, D.cfg.secrets_dir);
	if ((e = md_sip_init(&laddr, &proxy, md_call_invite, NULL)) != 0) {
		cc_log(CC_LOG_ERR, e, NULL, NULL, "SIP on %s", sip_addr);
		goto out_catalog;
	}
	if ((e = md_metrics_start((uint16_t)D.cfg.metrics_port)) != 0) {
		cc_log(CC_LOG_ERR, e, NULL, NULL, "metrics on port %ld", D.cfg.metrics_port);
		goto out_sip;
	}
	struct md_rpc_cfg rc_cfg = {
		.nats_url = D.cfg.nats_url, .nats_creds = *D.cfg.nats_creds ? D.cfg.nats_creds : NULL,
		.instance = instance, .sip_addr = sip_addr, .spool_dir = D.cfg.spool_dir,
		.heartbeat_ms = (int)D.cfg.heartbeat_ms,
	};
	struct md_rpc_handlers rc_h = {
		.acd = md_calls_acd, .calls = md_calls_json, .count = md_calls_count, .hangup = md_calls_hangup, .cfg = md_calls_cfg, .arg = NULL,
	};
	if ((e = md_rpc_start(&rc_cfg, &rc_h)) != 0) {
		cc_log(CC_LOG_ERR, e, NULL, NULL, "NATS");
		goto out_metrics;
	}
	CC_INFO("mediad %s on %s, RTP %ld-%ld, legs via %s", instance, sip_addr, D.cfg.rtp_min,
	        D.cfg.rtp_max, D.cfg.proxy);
	/* this thread only: the catalog's and libnats' threads stay normal
	 * (SCHED_RESET_ON_FORK for any started later) */
	if (D.cfg.rt_prio > 0) {
		struct sched_param sp = { .sched_priority = (int)D.cfg.rt_prio };

		if (sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp) != 0)
			CC_WARN("CC_MEDIA_RT_PRIO %ld: %s; mixing at the normal priority", D.cfg.rt_prio,
			        strerror(errno));
		else
			CC_INFO("mixing at real-time priority %ld (SCHED_FIFO)", D.cfg.rt_prio);
	}
	re_main(on_signal);
	md_calls_end_all();
	rc = 0;
	md_rpc_stop();
out_metrics:
	md_metrics_stop();
out_sip:
	md_sip_close(true);
out_catalog:
	md_recorder_close();             /* after the calls: their recordings are finished */
	md_catalog_close();
out_re:
	tmr_cancel(&D.stop_tmr);
	md_mixer_close();
	libre_close();
	mem_debug();
out_cfg:
	cc_config_free(settings_table, CC_ARRAY_LEN(settings_table), &D.cfg);
	return rc;
}
