/*
 * routingd: every per-call routing decision of the platform.
 *
 * Wires the parts together: settings (table below), PostgreSQL (the model
 * source), NATS (call events out, configuration notices in), Kamailio's
 * evapi (questions in, answers out), and a libevent loop that runs them.
 * The model is built on the loader's thread (loader.h): whole at start and
 * every CC_ROUTING_RELOAD_S seconds and on a platform notice, one tenant's
 * part on its cc.cfg.<tenant> notice; the loop only swaps the model. When
 * PostgreSQL is down or slow the last model keeps routing.
 *
 * Metrics (Prometheus text) on http://127.0.0.1:CC_ROUTING_METRICS_PORT/metrics:
 * the time from a question's arrival to its answer being queued back to
 * Kamailio (histogram plus p50/p99), decisions, rejections, calls refused
 * by tenants' limits and slots held, model size and the last load's
 * duration.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/thread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

#include "acdrpc.h"
#include "calls.h"
#include "cc.h"
#include "config.h"
#include "credit.h"
#include "events.h"
#include "hist.h"
#include "id.h"
#include "evapi.h"
#include "log.h"
#include "loader.h"
#include "media.h"
#include "model.h"
#include "model_acd.h"
#include "sweep.h"

struct settings {
	char *pg_url;
	char *nats_url;
	char *spool_dir;
	char *evapi_host;
	long evapi_port;
	char *evapi_secret_file;
	long reload_s;
	long metrics_port;
	long grant_timeout_ms;
	long slice_s;
	long topup_s;
	long rt_prio;
	long sweep_s;
	long sweep_grace_s;
	char *kam_rpc_fifo;
	long media_dead_ms;
	long acd_reconcile_ms;
};

static const struct cc_config_row settings_table[] = {
	{ "CC_PG_URL", CC_CFG_STR, NULL, 0, 0, offsetof(struct settings, pg_url),
	  "PostgreSQL connection URL" },
	{ "CC_NATS_URL", CC_CFG_STR, "nats://127.0.0.1:4222", 0, 0,
	  offsetof(struct settings, nats_url), "NATS server URL" },
	{ "CC_SPOOL_DIR", CC_CFG_STR, "var/spool", 0, 0, offsetof(struct settings, spool_dir),
	  "folder for events waiting for NATS" },
	{ "CC_EVAPI_HOST", CC_CFG_STR, "127.0.0.1", 0, 0, offsetof(struct settings, evapi_host),
	  "Kamailio evapi address" },
	{ "CC_EVAPI_PORT", CC_CFG_INT, "8448", 1, 65535, offsetof(struct settings, evapi_port),
	  "Kamailio evapi port" },
	{ "CC_EVAPI_SECRET_FILE", CC_CFG_STR, "var/secrets/evapi", 0, 0,
	  offsetof(struct settings, evapi_secret_file),
	  "file with the secret routingd proves to Kamailio's evapi (mode 0600)" },
	{ "CC_ROUTING_RELOAD_S", CC_CFG_INT, "30", 1, 86400, offsetof(struct settings, reload_s),
	  "full model reload period, seconds" },
	{ "CC_ROUTING_METRICS_PORT", CC_CFG_INT, "9464", 0, 65535,
	  offsetof(struct settings, metrics_port),
	  "metrics endpoint port on 127.0.0.1 (0: none)" },
	{ "CC_ROUTING_GRANT_TIMEOUT_MS", CC_CFG_INT, "300", 10, 1400,
	  offsetof(struct settings, grant_timeout_ms),
	  "a call parked for billingd's credit lease is answered 503 after this, ms (below "
	  "Kamailio's 1500 ms wait for routingd, route[DECIDE], so routingd always answers)" },
	{ "CC_CREDIT_SLICE_S", CC_CFG_INT, "300", 10, 86400, offsetof(struct settings, slice_s),
	  "credit granted to a call at a time, seconds of talk (capped by the plan's maximum "
	  "and the lease); topped up during the call" },
	{ "CC_CREDIT_TOPUP_S", CC_CFG_INT, "30", 2, 3600, offsetof(struct settings, topup_s),
	  "an answered call gets its next slice this many seconds before its slice ends" },
	{ "CC_ROUTING_RT_PRIO", CC_CFG_INT, "0", 0, 99, offsetof(struct settings, rt_prio),
	  "real-time (SCHED_FIFO) priority of the thread deciding calls, so a busy machine "
	  "does not hold a call's setup behind other work; 0: the normal scheduler "
	  "(needs CAP_SYS_NICE)" },
	{ "CC_ROUTING_SWEEP_S", CC_CFG_INT, "60", 0, 86400, offsetof(struct settings, sweep_s),
	  "period of the sweep that ends answered calls whose dialog Kamailio no longer has, "
	  "seconds (0: no sweep)" },
	{ "CC_ROUTING_SWEEP_GRACE_S", CC_CFG_INT, "30", 5, 86400,
	  offsetof(struct settings, sweep_grace_s),
	  "a call answered less than this long ago is never swept, seconds" },
	{ "CC_KAM_RPC_FIFO", CC_CFG_STR, "var/run/kamailio/rpc.fifo", 0, 0,
	  offsetof(struct settings, kam_rpc_fifo),
	  "Kamailio's JSON-RPC FIFO, for the sweep and for ending the calls of a lost mediad "
	  "(replies come on a FIFO made beside it)" },
	{ "CC_ROUTING_MEDIA_DEAD_MS", CC_CFG_INT, "3000", 500, 600000,
	  offsetof(struct settings, media_dead_ms),
	  "a mediad whose last heartbeat (cc.rpc.route.media) is older than this is lost: no call "
	  "goes to it and its calls are ended, ms" },
	{ "CC_ROUTING_ACD_RECONCILE_MS", CC_CFG_INT, "5000", 200, 600000,
	  offsetof(struct settings, acd_reconcile_ms),
	  "the ACD's queue entries and reservations are checked against each alive mediad's calls "
	  "this often; those mediad does not have are released (docs/ACD.md), ms" },
};

struct routingd {
	struct settings cfg;
	struct event_base *base;
	struct cc_events *events;
	struct rt_loader *loader;    /* builds bundles off the loop (loader.h) */
	struct rt_bundle *bundle;    /* the live model and its decks */
	struct rt_model *model;      /* bundle->model, as the call code reads it */
	struct rt_calls calls;
	struct rt_credit credit;
	natsConnection *credit_nc;   /* credit leases and takes */
	struct rt_evapi *evapi;
	struct event *tick;          /* periodic reload */
	natsSubscription *cfg_sub;   /* cc.cfg.> */
	int loaded;                  /* a model from PostgreSQL is in place */
	double full_s, patch_s;      /* the last full build's and patch's duration */
	long since_reload;           /* seconds since the last reload was asked for */
	struct rt_sweep *sweep;      /* ends calls whose dialog is gone (NULL: off) */
	natsConnection *media_nc;    /* mediad's heartbeats and their answers */
	struct rt_media *media;      /* which mediad is alive, and its calls (media.h) */
	natsConnection *acd_nc;      /* the ACD's requests in and out (acdrpc.h) */
	struct rt_acdrpc *acd;       /* the ACD's runtime and its subjects */
	struct evhttp *http;         /* metrics endpoint */
	struct cc_hist decide_ns;    /* question in -> answer queued */
	struct cc_hist_window recent_ns;   /* the same, the last 10-20 s */

	int rt_prio;                 /* deciding at this SCHED_FIFO priority (0: not) */
};

/* The deciding thread's scheduling: SCHED_FIFO at prio, or the normal
 * scheduler for prio 0. This thread only (sched_setscheduler with pid 0
 * on Linux), and SCHED_RESET_ON_FORK keeps the threads it starts later
 * (libnats starts some lazily) on the normal scheduler. 0 or an errno. */
static int sched_set(int prio)
{
	struct sched_param sp = { .sched_priority = prio };

	if (sched_setscheduler(0, prio ? SCHED_FIFO | SCHED_RESET_ON_FORK : SCHED_OTHER, &sp) != 0)
		return errno;
	return 0;
}

/* On the loop: a fresh bundle from the loader replaces the live one; the
 * old one goes back to the loader thread to be freed there. */
static void on_bundle(struct rt_bundle *fresh, void *arg)
{
	struct routingd *r = arg;
	struct rt_bundle *old = r->bundle;
	const struct rt_model *m = fresh->model;

	r->bundle = fresh;
	r->model = fresh->model;
	if (fresh->patched)
		r->patch_s = fresh->load_s;
	else
		r->full_s = fresh->load_s;
	if (r->credit.nc)
		rt_credit_use(&r->credit, &fresh->decks);
	if (!r->loaded)
		CC_INFO("model loaded in %.3f s: %zu tenants, %zu numbers, %zu agents, %zu trunks",
		        fresh->load_s, m->tenants.len, m->numbers.len, m->n_agents, m->trunks.len);
	r->loaded = 1;
	/* the tenants whose ACD configuration changed, before the old model
	 * (which the ACD may still point into) goes back to be freed */
	if (r->acd)
		rt_acdrpc_model(r->acd, m);
	if (old)
		rt_loader_done(r->loader, old);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct routingd *r = arg;

	rt_credit_tick(&r->credit);
	if (r->sweep)
		rt_sweep_link(r->sweep, rt_evapi_connected(r->evapi));
	/* until the first load worked, ask every second */
	if (!r->loaded || ++r->since_reload >= r->cfg.reload_s) {
		r->since_reload = 0;
		rt_loader_request(r->loader);
	}
}

/* NATS thread: a notice asks the loader (requests coalesce there). The
 * subject names what changed: cc.cfg.<tenant id> that tenant alone,
 * anything else (cc.cfg._platform: trunks, decks, platform prefixes) all. */
static void on_cfg_notice(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *arg)
{
	struct routingd *r = arg;
	const char *subject = natsMsg_GetSubject(msg);

	if (strncmp(subject, "cc.cfg.", 7) == 0 && cc_uuid_valid(subject + 7))
		rt_loader_request_tenant(r->loader, subject + 7);
	else
		rt_loader_request(r->loader);
	natsMsg_Destroy(msg);
}

/* An answer to Kamailio: on the wire first, then what the grant queued;
 * the call's events are published by the caller after this. */
static void on_answer(void *arg, json_t *reply, uint64_t t0_ns)
{
	struct routingd *r = arg;

	if (rt_evapi_send(r->evapi, reply) != CC_OK) {
		CC_WARN("could not answer Kamailio");
	} else {
		uint64_t now = cc_mono_ns();

		cc_hist_add(&r->decide_ns, now - t0_ns);
		cc_hist_window_add(&r->recent_ns, now, now - t0_ns);
	}
	rt_evapi_push(r->evapi);
	rt_credit_flush(&r->credit);
}

static void on_evapi(struct rt_evapi *ev, json_t *msg, void *arg)
{
	struct routingd *r = arg;
	uint64_t t0 = cc_mono_ns();
	uint64_t lost = r->calls.lost;
	json_t *reply = rt_calls_handle(&r->calls, msg);
	json_t *key = json_object_get(msg, "k");

	if (reply) {
		on_answer(r, reply, t0);
		json_decref(reply);
	}
	/* a parked call's lease request, then the events, after the answer */
	rt_credit_flush(&r->credit);
	rt_calls_flush(&r->calls);
	/* a call event Kamailio keeps until told it was published (one that
	 * could not even be spooled stays with Kamailio for the next routingd) */
	if (json_is_integer(key) && r->calls.lost == lost)
		rt_evapi_ack(ev, json_integer_value(key));
}

/* A lost mediad's call that Kamailio ended without reporting it (media.h). */
static void on_media_end(void *arg, const char *call, const char *tenant, bool mediad,
                         int64_t ended_us)
{
	struct routingd *r = arg;

	rt_calls_media_ended(&r->calls, call, tenant, mediad, ended_us);
	rt_calls_flush(&r->calls);
}

/* A top-up (credit.h): the dialog's new lifetime, from now. */
static void on_extend(void *arg, const char *call, const char *tenant, long h_entry, long h_id,
                      int64_t seconds)
{
	struct routingd *r = arg;
	json_t *m = json_pack("{s:{s:s, s:s, s:I, s:I, s:I}}", "extend", "call", call, "tenant", tenant,
	                      "h_entry", (json_int_t)h_entry, "h_id", (json_int_t)h_id,
	                      "seconds", (json_int_t)seconds);

	if (!m || rt_evapi_send(r->evapi, m) != CC_OK)
		cc_log(CC_LOG_WARN, 0, tenant, call, "could not tell Kamailio the call's new lifetime");
	json_decref(m);
	rt_evapi_push(r->evapi);
}

static void counter(FILE *f, const char *name, const char *type, const char *help, double v)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n%s %.9g\n", name, help, name, type, name, v);
}

static void on_metrics(struct evhttp_request *req, void *arg)
{
	struct routingd *r = arg;
	const struct rt_model *m = r->model;
	struct cc_events_stats es;
	struct evbuffer *out;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (strcmp(evhttp_request_get_uri(req), "/metrics") != 0) {
		evhttp_send_error(req, HTTP_NOTFOUND, "try /metrics");
		return;
	}
	f = open_memstream(&text, &len);
	CC_BUG_ON(!f);
	cc_hist_prometheus(f, &r->decide_ns, "cc_routing_decision_seconds",
	                   "time from Kamailio's question arriving to the answer queued back");
	cc_hist_prometheus(f, &r->credit.grant_ns, "cc_routing_grant_seconds",
	                   "credit grant at call setup, as the call waits for it");
	counter(f, "cc_routing_grants_local_total", "counter",
	        "grants decided from the tenant's lease without asking billingd",
	        (double)r->credit.local);
	counter(f, "cc_routing_grant_waits_total", "counter",
	        "grants parked for billingd (lease short of a slice)",
	        (double)r->credit.waited);
	counter(f, "cc_routing_grant_failures_total", "counter",
	        "parked calls billingd's lease did not come for (refused with 503)",
	        (double)r->credit.failures);
	counter(f, "cc_routing_grants_parked", "gauge",
	        "calls parked now, waiting for billingd's lease", (double)r->credit.parked);
	counter(f, "cc_routing_grants_parked_total", "counter",
	        "calls parked for billingd's lease so far", (double)r->calls.parked);
	counter(f, "cc_routing_credit_topups_total", "counter",
	        "slices added to answered calls", (double)r->credit.topups);
	counter(f, "cc_routing_credit_cut_total", "counter",
	        "answered calls that got no further slice (ended by their credit)",
	        (double)r->credit.cut);
	counter(f, "cc_routing_lease_refills_total", "counter",
	        "lease requests sent ahead of need", (double)r->credit.refills);
	counter(f, "cc_routing_takes_pending", "gauge",
	        "grants billingd has not acknowledged yet", (double)rt_credit_pending(&r->credit));
	counter(f, "cc_routing_takes_resent_total", "counter",
	        "grant reports sent again", (double)r->credit.resent);
	uint64_t now = cc_mono_ns();

	counter(f, "cc_routing_decision_recent_seconds_p50", "gauge",
	        "median decision time over the last 10 to 20 s",
	        (double)cc_hist_window_quantile(&r->recent_ns, now, 0.50) / 1e9);
	counter(f, "cc_routing_decision_recent_seconds_p99", "gauge",
	        "99th percentile of the decision time over the last 10 to 20 s",
	        (double)cc_hist_window_quantile(&r->recent_ns, now, 0.99) / 1e9);
	counter(f, "cc_routing_decision_recent_count", "gauge",
	        "decisions in that window", (double)cc_hist_window_count(&r->recent_ns, now));
	counter(f, "cc_routing_decisions_total", "counter", "routing decisions made",
	        (double)r->calls.decisions);
	counter(f, "cc_routing_rejected_total", "counter", "decisions that rejected the call",
	        (double)r->calls.rejected);
	counter(f, "cc_routing_limit_refused_calls_total", "counter",
	        "calls refused with 503: the tenant's concurrent-call limit",
	        (double)r->calls.limits.refused_calls);
	counter(f, "cc_routing_limit_refused_rate_total", "counter",
	        "calls refused with 503: the tenant's calls-per-second limit",
	        (double)r->calls.limits.refused_cps);
	counter(f, "cc_routing_calls_active", "gauge",
	        "inbound and outbound calls holding a tenant's call slot",
	        (double)r->calls.limits.active);
	counter(f, "cc_routing_call_slots_expired_total", "counter",
	        "call slots freed by their deadline because no end event came",
	        (double)r->calls.limits.expired);
	counter(f, "cc_routing_progress_events_total", "counter",
	        "answered/ended/failed reports received from Kamailio", (double)r->calls.events_in);
	counter(f, "cc_routing_events_lost_total", "counter",
	        "call events neither published nor spooled (Kamailio keeps them if it sent them)",
	        (double)r->calls.lost);
	counter(f, "cc_routing_swept_calls_total", "counter",
	        "answered calls ended by the sweep: their dialog was gone", (double)r->calls.swept);
	if (r->media) {
		struct rt_media_stats ms;

		rt_media_stats(r->media, &ms);
		counter(f, "cc_routing_media_instances_alive", "gauge",
		        "mediad instances whose heartbeat is recent", (double)ms.alive);
		counter(f, "cc_routing_media_calls_total", "counter",
		        "calls sent to mediad (answered `media`)", (double)ms.sent);
		counter(f, "cc_routing_media_legs_total", "counter",
		        "legs mediad placed through Kamailio and routingd decided", (double)ms.legs);
		counter(f, "cc_routing_media_calls", "gauge",
		        "calls and legs of mediad instances followed now", (double)ms.tracked);
		counter(f, "cc_routing_media_lost_total", "counter",
		        "mediad instances declared lost (silent, or replaced)", (double)ms.lost_instances);
		counter(f, "cc_routing_media_lost_calls_total", "counter",
		        "calls ended because their mediad was lost", (double)ms.lost_calls);
		counter(f, "cc_routing_media_ends_reported_total", "counter",
		        "ends of a lost mediad's calls that Kamailio ended but did not report within "
		        "1 s, reported by routingd", (double)r->calls.media_ends);
		counter(f, "cc_routing_media_heartbeats_total", "counter",
		        "mediad heartbeats applied", (double)ms.heartbeats);
		counter(f, "cc_routing_media_heartbeats_refused_total", "counter",
		        "mediad heartbeats refused (malformed, or from a lost instance)", (double)ms.refused);
	}
	if (r->acd) {
		struct rt_acdrpc_stats as;
		struct acd_stats st;

		rt_acdrpc_stats(r->acd, &as, &st);
		counter(f, "cc_routing_acd_waiting", "gauge", "callers waiting in the ACD's queues",
		        (double)st.waiting);
		counter(f, "cc_routing_acd_agents", "gauge", "agents the ACD knows", (double)st.agents);
		counter(f, "cc_routing_acd_sticky_callers", "gauge",
		        "callers in the sticky-agent maps (at most 100000 per tenant)", (double)st.sticky);
		counter(f, "cc_routing_acd_ready", "gauge", "agents ready now", (double)st.ready);
		counter(f, "cc_routing_acd_reserved", "gauge", "agents reserved or ringing now",
		        (double)st.reserved);
		counter(f, "cc_routing_acd_enqueued_total", "counter", "callers queued",
		        (double)st.enqueued);
		counter(f, "cc_routing_acd_offers_total", "counter", "offers sent to mediad",
		        (double)st.offers);
		counter(f, "cc_routing_acd_answered_total", "counter", "queue calls answered by an agent",
		        (double)st.answered);
		counter(f, "cc_routing_acd_abandoned_total", "counter", "callers who hung up waiting",
		        (double)st.abandoned);
		counter(f, "cc_routing_acd_overflowed_total", "counter",
		        "callers sent to the queue's overflow (time, size, no agents)", (double)st.overflowed);
		counter(f, "cc_routing_acd_blocked_total", "counter", "callers not queued: the queue was full",
		        (double)st.blocked);
		counter(f, "cc_routing_acd_stale_total", "counter",
		        "results of a stale reservation epoch, ignored", (double)st.stale);
		counter(f, "cc_routing_acd_orphans_total", "counter",
		        "entries and reservations released by the reconcile against mediad",
		        (double)st.orphans);
		counter(f, "cc_routing_acd_missed_total", "counter", "offers an agent did not answer",
		        (double)st.missed);
		counter(f, "cc_routing_acd_dispatch_seconds_max", "gauge", "the longest dispatch so far",
		        (double)st.dispatch_ns_max / 1e9);
		counter(f, "cc_routing_acd_requests_total", "counter",
		        "ACD requests from mediad and tenantd applied", (double)as.requests);
		counter(f, "cc_routing_acd_requests_repeated_total", "counter",
		        "ACD requests answered again from the cache (retries)", (double)as.retries_in);
		counter(f, "cc_routing_acd_requests_refused_total", "counter",
		        "ACD requests refused: malformed, or naming a call of another tenant or mediad",
		        (double)as.refused);
		counter(f, "cc_routing_acd_config_left_out_total", "counter",
		        "queues, agents, VIPs, pause reasons the loader left out of the ACD (logged)",
		        (double)rt_model_acd_left_out());
		counter(f, "cc_routing_acd_requests_untracked_total", "counter",
		        "of them, naming a call routingd neither follows nor holds for that tenant and mediad",
		        (double)as.untracked);
		counter(f, "cc_routing_acd_sent_total", "counter", "requests sent to mediad",
		        (double)as.sent);
		counter(f, "cc_routing_acd_resent_total", "counter", "requests to mediad sent again",
		        (double)as.resent);
		counter(f, "cc_routing_acd_unanswered_total", "counter",
		        "requests to mediad given up unanswered", (double)as.unanswered);
		counter(f, "cc_routing_acd_journaled_total", "counter", "journal records published (CC_ACD)",
		        (double)as.journaled);
		counter(f, "cc_routing_acd_journal_failures_total", "counter",
		        "journal records NATS refused", (double)as.journal_failed);
		counter(f, "cc_routing_acd_restored_total", "counter",
		        "journal records read back at start", (double)as.restored);
		counter(f, "cc_routing_acd_reconciles_total", "counter",
		        "reconciliations against a mediad's calls", (double)as.reconciles);
		counter(f, "cc_routing_acd_registrations_total", "counter",
		        "phone registrations told to the ACD", (double)as.registrations);
		counter(f, "cc_routing_acd_answers_kept", "gauge",
		        "ACD answers kept by request id for retries (at most 4096)", (double)as.cached);
		counter(f, "cc_routing_acd_answers_evicted_total", "counter",
		        "ACD answers dropped before 60 s to keep that bound", (double)as.cache_evicted);
	}
	if (r->sweep) {
		counter(f, "cc_routing_sweeps_total", "counter", "sweeps run", (double)rt_sweep_runs(r->sweep));
		counter(f, "cc_routing_sweep_failures_total", "counter",
		        "sweeps skipped: Kamailio's RPC or the database failed",
		        (double)rt_sweep_failures(r->sweep));
	}
	counter(f, "cc_routing_model_tenants", "gauge", "tenants in the model", (double)m->tenants.len);
	counter(f, "cc_routing_model_numbers", "gauge", "numbers in the model", (double)m->numbers.len);
	counter(f, "cc_routing_model_agents", "gauge", "agents in the model", (double)m->n_agents);
	counter(f, "cc_routing_model_loads_total", "counter", "successful model loads",
	        (double)rt_loader_loads(r->loader));
	counter(f, "cc_routing_model_patches_total", "counter",
	        "of the loads, those that read one or a few tenants again (cc.cfg.<tenant>)",
	        (double)rt_loader_patches(r->loader));
	counter(f, "cc_routing_model_patch_seconds", "gauge",
	        "duration of the last reload of one or a few tenants", r->patch_s);
	counter(f, "cc_routing_model_load_failures_total", "counter", "failed model loads",
	        (double)rt_loader_failures(r->loader));
	counter(f, "cc_routing_model_load_seconds", "gauge", "duration of the last full model load",
	        r->full_s);
	counter(f, "cc_routing_kamailio_connected", "gauge", "1 while the evapi link is up",
	        rt_evapi_connected(r->evapi));
	/* the event spool (lib/events.h) */
	cc_events_stats(r->events, &es);
	counter(f, "cc_routing_events_spooled_total", "counter", "events written to the spool",
	        (double)es.spooled);
	counter(f, "cc_routing_events_spool_pending", "gauge", "events in the spool now",
	        (double)es.pending);
	counter(f, "cc_routing_events_dropped_total", "counter",
	        "events dropped: the spool was full (CC_SPOOL_MAX_MB)", (double)es.dropped);
	counter(f, "cc_routing_events_dead_total", "counter",
	        "spool lines moved to the dead-letter file", (double)es.dead);
	fclose(f);
	out = evbuffer_new();
	evbuffer_add(out, text, len);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	                  "text/plain; version=0.0.4");
	evhttp_send_reply(req, HTTP_OK, "OK", out);
	evbuffer_free(out);
	free(text);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct routingd *r = arg;

	CC_INFO("signal %d: stopping after %llu decisions", (int)sig,
	        (unsigned long long)r->calls.decisions);
	event_base_loopexit(r->base, NULL);
}

int main(int argc, char **argv)
{
	struct routingd r = { 0 };
	struct event *sigterm, *sigint;
	struct timeval one_s = { 1, 0 };
	char *err = NULL;

	cc_log_init("routingd");
	if (argc > 1) {
		cc_config_usage("routingd", settings_table, CC_ARRAY_LEN(settings_table));
		return strcmp(argv[1], "--help") == 0 ? 0 : 2;
	}
	if (cc_config_load(settings_table, CC_ARRAY_LEN(settings_table), &r.cfg, &err) != CC_OK) {
		CC_ERR("%s", err);
		free(err);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	evthread_use_pthreads();
	r.base = event_base_new();
	cc_hist_window_init(&r.recent_ns, 10ULL * 1000000000ULL);
	if (cc_events_open(&r.events, r.cfg.nats_url, r.cfg.spool_dir, "routingd", &err) != CC_OK) {
		CC_ERR("%s", err);
		free(err);
		return 1;
	}
	/* credit on a connection of its own: its requests and replies do not
	 * queue behind the event stream's publishes and acknowledgements */
	if (!(r.credit_nc = cc_nats_connect(r.cfg.nats_url, "routingd-credit", true)) ||
	    rt_credit_init(&r.credit, r.base, r.credit_nc, (int)r.cfg.grant_timeout_ms, r.cfg.slice_s,
	                   r.cfg.topup_s) != CC_OK) {
		CC_ERR("cannot create NATS connection to %s", r.cfg.nats_url);
		return 1;
	}
	/* the first model is built here, before any call can arrive; later
	 * ones on the loader thread */
	if (!(r.loader = rt_loader_new(r.cfg.pg_url, r.base, on_bundle, &r))) {
		CC_ERR("cannot start the model loader");
		return 1;
	}
	/* the ACD: its journal read back (before any request of mediad's is
	 * answered and before the tenants are configured), then the sticky
	 * agents; mediad's instances come with their heartbeats (below) */
	if (!(r.media_nc = cc_nats_connect(r.cfg.nats_url, "routingd-media", true)) ||
	    !(r.media = rt_media_new(r.base, r.media_nc, r.cfg.kam_rpc_fifo, r.cfg.media_dead_ms))) {
		CC_ERR("cannot follow mediad on %s (%s)", r.cfg.nats_url, RT_MEDIA_SUBJECT);
		return 1;
	}
	if (!(r.acd_nc = cc_nats_connect(r.cfg.nats_url, "routingd-acd", true)) ||
	    !(r.acd = rt_acdrpc_new(r.base, r.acd_nc, r.events, r.media, r.cfg.acd_reconcile_ms, &err))) {
		CC_ERR("cannot start the ACD: %s", err ? err : "no NATS connection");
		free(err);
		return 1;
	}
	rt_media_on_lost(r.media, rt_acdrpc_lost, r.acd);
	rt_acdrpc_restore(r.acd, 5000);
	struct rt_bundle *first = rt_loader_build_now(r.loader);

	if (first) {
		on_bundle(first, &r);
	} else {
		/* the database is not there yet: the loader asks again each second */
		r.bundle = rt_bundle_empty();
		r.model = r.bundle->model;
		rt_credit_use(&r.credit, &r.bundle->decks);
	}
	if (first) {
		long n = rt_loader_sticky(r.loader, rt_acdrpc_sticky, r.acd);

		if (n >= 0)
			CC_INFO("acd: %ld sticky caller(s) seeded", n);
	}
	if (rt_acdrpc_start(r.acd, &err) != CC_OK) {
		CC_ERR("%s", err);
		free(err);
		return 1;
	}
	if (rt_loader_run(r.loader, r.bundle) != CC_OK) {
		CC_ERR("cannot start the model loader's thread");
		return 1;
	}
	r.calls.media = r.media;
	rt_media_on_end(r.media, on_media_end, &r);
	r.calls.agent_busy = rt_acdrpc_busy;
	r.calls.agent_reg = rt_acdrpc_registered;
	r.calls.acd_arg = r.acd;
	r.calls.model = &r.model;
	r.calls.events = r.events;
	r.calls.publish = cc_events_publish;
	r.calls.credit = &r.credit;
	r.calls.answer = on_answer;
	r.calls.answer_arg = &r;
	r.credit.extend = on_extend;
	r.credit.extend_arg = &r;

	r.tick = event_new(r.base, -1, EV_PERSIST, on_tick, &r);
	event_add(r.tick, &one_s);
	if (natsConnection_Subscribe(&r.cfg_sub, cc_events_conn(r.events), "cc.cfg.>", on_cfg_notice,
	                             &r) != NATS_OK) {
		CC_ERR("cannot subscribe to cc.cfg.>: routingd would never see a change");
		return 1;
	}
	char secret[128], *serr = NULL;

	if (cc_read_secret(r.cfg.evapi_secret_file, secret, sizeof(secret), &serr) != CC_OK) {
		CC_ERR("CC_EVAPI_SECRET_FILE: %s", serr);
		free(serr);
		return 2;
	}
	r.evapi = rt_evapi_new(r.base, r.cfg.evapi_host, (int)r.cfg.evapi_port, secret, on_evapi, &r);
	explicit_bzero(secret, sizeof(secret));
	if (!r.evapi) {
		CC_ERR("bad CC_EVAPI_HOST %s", r.cfg.evapi_host);
		return 2;
	}
	if (r.cfg.sweep_s &&
	    !(r.sweep = rt_sweep_new(r.base, r.cfg.pg_url, r.cfg.kam_rpc_fifo, r.cfg.sweep_s,
	                             r.cfg.sweep_grace_s, &r.calls))) {
		CC_ERR("cannot start the sweep's thread");
		return 1;
	}
	if (r.cfg.metrics_port) {
		r.http = evhttp_new(r.base);
		evhttp_set_allowed_methods(r.http, EVHTTP_REQ_GET);
		evhttp_set_gencb(r.http, on_metrics, &r);
		if (evhttp_bind_socket(r.http, "127.0.0.1", (uint16_t)r.cfg.metrics_port) != 0) {
			CC_ERR("cannot listen on 127.0.0.1:%ld for metrics", r.cfg.metrics_port);
			return 1;
		}
	}
	sigterm = evsignal_new(r.base, SIGTERM, on_signal, &r);
	sigint = evsignal_new(r.base, SIGINT, on_signal, &r);
	event_add(sigterm, NULL);
	event_add(sigint, NULL);
	CC_INFO("routingd started; Kamailio evapi %s:%ld", r.cfg.evapi_host, r.cfg.evapi_port);
	if (r.cfg.rt_prio) {
		int e = sched_set((int)r.cfg.rt_prio);

		if (e) {
			CC_WARN("cannot decide at real-time priority %ld: %s; using the normal scheduler",
			        r.cfg.rt_prio, strerror(e));
		} else {
			r.rt_prio = (int)r.cfg.rt_prio;
			CC_INFO("deciding at real-time priority %d (SCHED_FIFO)", r.rt_prio);
		}
	}

	event_base_dispatch(r.base);

	if (r.http)
		evhttp_free(r.http);
	natsSubscription_Unsubscribe(r.cfg_sub);
	natsSubscription_Destroy(r.cfg_sub);
	rt_sweep_free(r.sweep);
	rt_media_on_lost(r.media, NULL, NULL);
	rt_acdrpc_free(r.acd);
	rt_media_free(r.media);
	/* parked calls are answered (503) while Kamailio is still there */
	rt_credit_free(&r.credit);
	rt_calls_flush(&r.calls);
	rt_evapi_free(r.evapi);
	cc_events_close(r.events, 2000);
	rt_loader_stop(r.loader, r.bundle);
	rt_limits_free(&r.calls.limits);
	rt_calls_free(&r.calls);
	event_free(r.tick);
	event_free(sigterm);
	event_free(sigint);
	event_base_free(r.base);
	cc_config_free(settings_table, CC_ARRAY_LEN(settings_table), &r.cfg);
	natsConnection_Destroy(r.credit_nc);
	natsConnection_Destroy(r.media_nc);
	natsConnection_Destroy(r.acd_nc);
	nats_Close();
	libevent_global_shutdown();
	return 0;
}
