/*
 * billingd: a durable JetStream pull consumer ("billingd") on the
 * CC_EVENTS stream, subjects cc.call.>, writing one call record per call
 * (cdr.c) and, for tenants with a billing plan, one rated line and its
 * ledger posting per final call (engine.c). A batch of up to 256 events,
 * gathered for at most CC_BILLING_LINGER_MS after its first event, is
 * applied in one transaction and acknowledged only after COMMIT: a crash
 * before the commit redelivers the batch, and the event-id and call-id
 * keys make the replay harmless. An event whose body names another tenant
 * than its subject is dropped (logged, acknowledged, counted).
 *
 * It answers the money requests of tenantd and the `billing` CLI on
 * cc.rpc.billing.close, .rerate and .post (rpc.h): billingd alone writes
 * rated lines, the ledger and invoices.
 *
 * It also answers routingd's credit requests on cc.rpc.credit.lease and
 * cc.rpc.credit.take (core NATS request/reply, engine.h; the subjects stay
 * outside the CC_EVENTS stream, whose cc.billing.> capture would answer a
 * request with a publish ack), announces each start on
 * cc.rpc.hello.billingd, and drops its cached accounts on
 * cc.cfg.<tenant> notices (top-ups, plan changes, decks).
 */
#include <nats/nats.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "cc.h"
#include "cdr.h"
#include "clock.h"
#include "config.h"
#include "engine.h"
#include "event_types.h"
#include "events.h"
#include "log.h"
#include "pg.h"
#include "rpc.h"

struct settings {
	char *pg_url;
	char *nats_url;
	long batch;
	long linger_ms;
};

static const struct cc_config_row settings_table[] = {
	{ "CC_PG_URL", CC_CFG_STR, NULL, 0, 0, offsetof(struct settings, pg_url),
	  "PostgreSQL connection URL" },
	{ "CC_NATS_URL", CC_CFG_STR, "nats://127.0.0.1:4222", 0, 0,
	  offsetof(struct settings, nats_url), "NATS server URL" },
	{ "CC_BILLING_BATCH", CC_CFG_INT, "256", 1, 4096, offsetof(struct settings, batch),
	  "events per transaction" },
	{ "CC_BILLING_LINGER_MS", CC_CFG_INT, "100", 0, 5000, offsetof(struct settings, linger_ms),
	  "how long a batch waits for more events after its first one (fewer, larger transactions)" },
};

/* A batch: the lists of up to CC_BILLING_BATCH events that fetches
 * returned while it lingered. */
enum { BATCH_PARTS = 64 };

struct batch {
	natsMsgList parts[BATCH_PARTS];
	int nparts;
	int count;
};

static void batch_free(struct batch *b)
{
	for (int i = 0; i < b->nparts; i++)
		natsMsgList_Destroy(&b->parts[i]);
	b->nparts = b->count = 0;
}

/* Fetches into b: waits up to wait_ms for the first events, then up to
 * linger_ms more for further ones until b holds max. NATS_OK with
 * b->count > 0, NATS_TIMEOUT with nothing, or the fetch's error (b may
 * then hold events fetched before it). */
static natsStatus batch_fetch(natsSubscription *sub, struct batch *b, int max, int wait_ms,
                              int linger_ms)
{
	int64_t until = 0;
	jsErrCode jerr = 0;

	for (;;) {
		natsMsgList list = { 0 };
		int64_t timeout = wait_ms;

		if (b->count > 0) {
			timeout = until - cc_mono_ms();
			if (timeout <= 0 || b->count >= max || b->nparts == BATCH_PARTS)
				return NATS_OK;
		}
		natsStatus s = natsSubscription_Fetch(&list, sub, max - b->count, timeout, &jerr);

		if (list.Count > 0) {
			if (b->count == 0)
				until = cc_mono_ms() + linger_ms;
			b->parts[b->nparts++] = list;
			b->count += list.Count;
		} else {
			natsMsgList_Destroy(&list);
		}
		if (s == NATS_TIMEOUT || (s == NATS_OK && list.Count == 0))
			return b->count > 0 ? NATS_OK : NATS_TIMEOUT;
		if (s != NATS_OK)
			return s;
	}
}

static atomic_int stopping;

static void on_signal(int sig)
{
	atomic_store(&stopping, 1);
}

/* Applies a batch in one transaction, CC_OK when committed. If the
 * database refuses the batch for its content (not for being down), the
 * events are applied one by one and an event refused alone for its data is
 * logged and dropped, so one bad event cannot stop the consumer. Any other
 * refusal keeps the batch for a retry: a bug of ours stalls the consumer
 * loudly rather than dropping good events. */
static struct bl_engine engine;

static int commit(struct cc_pg *pg, const json_t *events)
{
	json_t *final = json_array(), *pending = NULL, *ev;
	size_t i;
	int rc;

	/* every call the batch touched is rated if its record is final now
	 * (ended, not rated yet): not only those it ended. After a kill -9,
	 * JetStream redelivers the lost batch's events (an offered) after
	 * newer ones (the ended), and a call whose ended came first was
	 * never rated, its grant left open */
	json_array_foreach(events, i, ev) {
		const char *call = json_string_value(json_object_get(ev, "call"));

		if (cc_uuid_valid(call))
			json_array_append(final, json_object_get(ev, "call"));
	}
	if (cc_pg_cmd(pg, "BEGIN", 0, NULL) != CC_OK) {
		json_decref(final);
		return CC_ERROR;
	}
	if (bl_cdr_apply(pg, events) != CC_OK || bl_engine_rate(&engine, pg, final, &pending) != CC_OK) {
		if (pg->conn)
			PQclear(PQexec(pg->conn, "ROLLBACK"));
		json_decref(final);
		json_decref(pending);
		return CC_ERROR;
	}
	rc = bl_engine_commit(&engine, pg, pending);
	json_decref(final);
	json_decref(pending);
	return rc;
}

/* cc.cfg.<tenant> notices (NATS thread): cached accounts go stale. */
static void on_cfg_notice(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *arg)
{
	json_t *n = json_loadb(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), 0, NULL);
	const char *tenant = json_string_value(json_object_get(n, "tenant"));

	bl_engine_stale(&engine, tenant ? tenant : "");
	json_decref(n);
	natsMsg_Destroy(msg);
}

/* Events whose body names another tenant than their subject
 * (cc.call.<tenant>.<type>): dropped, acknowledged and counted. The
 * subject is what NATS permissions and the stream's filters see, so the
 * body must not claim anything else. */
static uint64_t mismatched;

/* true when subject is cc.call.<tenant>.<anything> and ev's tenant is
 * exactly <tenant> */
static bool subject_tenant_ok(const char *subject, const json_t *ev)
{
	const char *tenant = json_string_value(json_object_get(ev, "tenant"));
	const char *t = subject, *dot;

	if (!tenant || strncmp(t, "cc.call.", 8) != 0)
		return false;
	t += 8;
	dot = strchr(t, '.');
	return dot && (size_t)(dot - t) == strlen(tenant) && strncmp(t, tenant, strlen(tenant)) == 0;
}

static int apply_batch(struct cc_pg *pg, const struct batch *b, int *applied)
{
	json_t *events = json_array();
	const char *why = NULL;
	int rc;

	for (int p = 0; p < b->nparts; p++) {
		for (int i = 0; i < b->parts[p].Count; i++) {
			natsMsg *m = b->parts[p].Msgs[i];
			json_t *raw = json_loadb(natsMsg_GetData(m), natsMsg_GetDataLength(m), 0, NULL);
			json_t *ev = raw ? bl_cdr_clean(raw, &why) : NULL;

			if (ev && !subject_tenant_ok(natsMsg_GetSubject(m), ev)) {
				char *text = json_dumps(ev, JSON_COMPACT);

				mismatched++;
				CC_WARN("dropping an event whose tenant is not its subject's (%llu so far): %s %s",
				        (unsigned long long)mismatched, natsMsg_GetSubject(m), text);
				free(text);
				json_decref(ev);
			} else if (ev)
				json_array_append_new(events, ev);
			else
				CC_WARN("skipping a message on %s: %s", natsMsg_GetSubject(m),
				        raw ? why : "not JSON");
			json_decref(raw);
		}
	}
	*applied = (int)json_array_size(events);
	rc = commit(pg, events);
	if (rc != CC_OK && pg->error != CC_PG_UNAVAILABLE) {
		size_t i;
		json_t *ev;

		CC_WARN("batch refused (%s); applying its events one by one", pg->message);
		rc = CC_OK;
		json_array_foreach(events, i, ev) {
			json_t *one = json_pack("[O]", ev);

			if (commit(pg, one) != CC_OK) {
				/* only a data error (SQLSTATE class 22 or 23) is the
				 * event's fault; anything else (the database away, or a
				 * statement of ours it cannot run) stops the batch
				 * unacknowledged, to be retried, instead of losing events */
				if (pg->error != CC_PG_INVALID) {
					CC_ERR("event not applied, batch kept for retry: %s", pg->message);
					rc = CC_ERROR;
					json_decref(one);
					break;
				}
				char *text = json_dumps(ev, JSON_COMPACT);
				CC_ERR("dropping event the database refuses: %s (%s)", text, pg->message);
				free(text);
				(*applied)--;
			}
			json_decref(one);
		}
	}
	json_decref(events);
	return rc;
}

int main(int argc, char **argv)
{
	struct settings cfg;
	struct cc_pg pg;
	natsConnection *nc = NULL, *grant_nc = NULL, *rpc_nc = NULL;
	struct bl_rpc *rpc = NULL;
	jsCtx *js = NULL;
	natsSubscription *sub = NULL, *grant_sub = NULL, *cfg_sub = NULL;
	jsSubOptions so;
	jsErrCode jerr = 0;
	uint64_t total = 0;
	char *err = NULL;

	cc_log_init("billingd");
	if (argc > 1) {
		cc_config_usage("billingd", settings_table, CC_ARRAY_LEN(settings_table));
		return strcmp(argv[1], "--help") == 0 ? 0 : 2;
	}
	if (cc_config_load(settings_table, CC_ARRAY_LEN(settings_table), &cfg, &err) != CC_OK) {
		CC_ERR("%s", err);
		free(err);
		return 2;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	cc_pg_init(&pg, cfg.pg_url);

	if (!(nc = cc_nats_connect(cfg.nats_url, "billingd", false))) {
		CC_ERR("cannot create NATS connection to %s", cfg.nats_url);
		return 1;
	}
	bl_engine_init(&engine, cfg.pg_url);
	/* credit on a connection of its own that sends each reply at once
	 * (the default batching costs a millisecond or more per reply) */
	if (!(grant_nc = cc_nats_connect(cfg.nats_url, "billingd-credit", true))) {
		CC_ERR("cannot create NATS connection to %s", cfg.nats_url);
		return 1;
	}
	/* without these billingd would run and answer nothing: routingd's
	 * every billed call would wait out its grant timeout */
	natsStatus s;

	if ((s = natsConnection_Subscribe(&grant_sub, grant_nc, "cc.rpc.credit.*", bl_engine_on_credit,
	                                  &engine)) != NATS_OK) {
		CC_ERR("cannot subscribe to cc.rpc.credit.*: %s", natsStatus_GetText(s));
		return 1;
	}
	/* the money requests of tenantd and the CLI (rpc.h), on a connection
	 * of their own: a long rerate never queues a credit reply behind it */
	if (!(rpc_nc = cc_nats_connect(cfg.nats_url, "billingd-rpc", true))) {
		CC_ERR("cannot create NATS connection to %s", cfg.nats_url);
		return 1;
	}
	if (bl_rpc_start(&rpc, rpc_nc, cfg.pg_url, &engine, &err) != CC_OK) {
		CC_ERR("%s", err);
		free(err);
		return 1;
	}
	bl_engine_hello(&engine, grant_nc);
	if ((s = natsConnection_Subscribe(&cfg_sub, nc, "cc.cfg.>", on_cfg_notice, NULL)) != NATS_OK) {
		CC_ERR("cannot subscribe to cc.cfg.>: %s", natsStatus_GetText(s));
		return 1;
	}
	if ((s = natsConnection_JetStream(&js, nc, NULL)) != NATS_OK) {
		CC_ERR("cannot get a JetStream context: %s", natsStatus_GetText(s));
		return 1;
	}
	jsSubOptions_Init(&so);
	so.Stream = CC_EVENTS_STREAM;
	so.Config.AckPolicy = js_AckExplicit;
	so.Config.AckWait = (int64_t)30 * 1000000000LL;
	so.Config.MaxAckPending = 20000;
	so.Config.FilterSubject = "cc.call.>";

	CC_INFO("billingd started");
	while (!atomic_load(&stopping)) {
		struct batch b = { 0 };
		int applied = 0;

		if (!sub) {
			if (cc_events_ensure_stream(js, &err) != CC_OK ||
			    js_PullSubscribe(&sub, js, "cc.call.>", "billingd", NULL, &so, &jerr) != NATS_OK) {
				if (err)
					CC_DEBUG("%s", err);
				free(err);
				err = NULL;
				sub = NULL;
				usleep(500000);
				continue;
			}
			CC_INFO("consuming call events (durable consumer billingd)");
		}
		s = batch_fetch(sub, &b, (int)cfg.batch, 1000, (int)cfg.linger_ms);
		/* connection or consumer trouble: resubscribe, after applying
		 * what was fetched before it */
		bool trouble = s != NATS_OK && s != NATS_TIMEOUT;

		if (b.count == 0) {
			if (trouble) {
				natsSubscription_Destroy(sub);
				sub = NULL;
				usleep(250000);
			}
			continue;
		}
		bool committed;

		while (!(committed = apply_batch(&pg, &b, &applied) == CC_OK) &&
		       !atomic_load(&stopping)) {
			CC_WARN("database: %s; retrying the batch", pg.message);
			applied = 0;
			usleep(500000);
		}
		if (!committed) {
			/* not acknowledged: JetStream redelivers it to the next run */
			batch_free(&b);
			break;
		}
		for (int p = 0; p < b.nparts; p++)
			for (int i = 0; i < b.parts[p].Count; i++)
				natsMsg_Ack(b.parts[p].Msgs[i], NULL);
		total += (uint64_t)b.count;
		CC_DEBUG("batch of %d events in %d fetches, %d applied", b.count, b.nparts, applied);
		batch_free(&b);
		if (trouble) {
			natsSubscription_Destroy(sub);
			sub = NULL;
		}
	}
	CC_INFO("billingd stopping after %llu events (%llu dropped for a tenant not their subject's)",
	        (unsigned long long)total, (unsigned long long)mismatched);
	if (sub)
		natsSubscription_Destroy(sub);
	bl_rpc_stop(rpc);
	natsSubscription_Unsubscribe(grant_sub);
	natsSubscription_Destroy(grant_sub);
	natsSubscription_Unsubscribe(cfg_sub);
	natsSubscription_Destroy(cfg_sub);
	CC_INFO("credit: %llu leases given, %llu grants taken; service time p50 %llu us, p99 %llu us "
	        "(storing a take p50 %llu us, p99 %llu us)",
	        (unsigned long long)engine.leases_given, (unsigned long long)engine.takes,
	        (unsigned long long)cc_hist_quantile(&engine.credit_ns, 0.5) / 1000,
	        (unsigned long long)cc_hist_quantile(&engine.credit_ns, 0.99) / 1000,
	        (unsigned long long)cc_hist_quantile(&engine.store_ns, 0.5) / 1000,
	        (unsigned long long)cc_hist_quantile(&engine.store_ns, 0.99) / 1000);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	natsConnection_Destroy(grant_nc);
	natsConnection_Destroy(rpc_nc);
	cc_pg_close(&pg);
	bl_engine_free(&engine);
	cc_config_free(settings_table, CC_ARRAY_LEN(settings_table), &cfg);
	nats_Close();
	return 0;
}
