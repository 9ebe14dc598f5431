/*
 * sse.c: GET /v1/tenants/{slug}/events, a server-sent events stream
 * (text/event-stream) of the tenant's call and agent events, read from
 * the JetStream stream CC_EVENTS.
 *
 * Each stream is two ordered consumers (ephemeral, push, no acks; the
 * library recreates one on a gap) filtered to `cc.call.<tenant id>.>` and
 * `cc.agent.<tenant id>.>`, so the server sends a stream only its own
 * tenant's events; the callback also checks the subject's tenant and kind
 * before anything is written. Two, not one on `cc.*.<tenant>.>`: NATS 2.9
 * refuses a filter that is not a subset of one of the stream's subjects
 * (JSConsumerFilterNotSubsetErr, 10093) and takes one filter per consumer.
 * Each event is
 *
 *     id: <C>-<A>
 *     event: <type>
 *     data: <the event's JSON, one line>
 *
 * where C and A are the CC_EVENTS stream sequences of the last call and
 * the last agent event sent so far (each kind arrives in stream order; the
 * two kinds interleave as they come). A client that reconnects with
 * `Last-Event-ID: C-A` resumes exactly after both (`N` alone means N-N);
 * without it the stream starts with the events published after it opened. A comment line (": ...") goes out at
 * the start and every CC_API_EVENT_HEARTBEAT_S (15 s) so that proxies and
 * tenantd's own idle timeout keep the connection.
 *
 * The loop never waits: creating and deleting a consumer are NATS requests
 * made on a worker thread (tn_offload, and a detached thread at the end);
 * events arrive on the NATS library's thread, which only appends to the
 * stream's buffer and wakes the loop through a pipe. libmicrohttpd asks
 * the stream for bytes from the loop (a content reader); with nothing to
 * send the connection is suspended, not polled, until an event or a
 * heartbeat resumes it. A client that reads slower than its events come
 * is cut off once CC_SSE_BUFFER (1 MiB) waits for it (it resumes with
 * Last-Event-ID; nothing is lost, JetStream keeps the events). What was
 * sent is dropped as it goes (ssebuf.h), so a stream open for days holds
 * what waits for its client, not everything it ever sent.
 *
 * At most CC_API_EVENT_STREAMS (5) streams per tenant at once: one more
 * is 429.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include "api.h"
#include "cc.h"
#include "log.h"
#include "ssebuf.h"
#include "tenantd.h"

#define CC_SSE_BUFFER (1024 * 1024)

struct sse {
	LIST_ENTRY(sse) link;        /* loop only */
	struct tenantd *d;
	char tenant[CC_UUID_LEN];
	uint64_t start[2];           /* call, agent: the first sequence wanted (0: new only) */
	natsSubscription *sub[2];    /* call, agent */
	struct MHD_Connection *conn; /* loop only; NULL until the stream is the reply */
	bool suspended;              /* loop only */
	bool heartbeat;              /* loop only: a comment is due */
	bool ending;                 /* loop only: tenantd stops */
	atomic_int refs;             /* the loop's and the subscription's */
	/* under lock: the NATS thread writes, the loop reads */
	struct sse_buf out;          /* compacted as it is sent (ssebuf.h) */
	bool overflow;
	uint64_t last[2];            /* call, agent: the last sequence sent */
	char err[160];               /* of the subscribe (worker) */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static LIST_HEAD(, sse) streams = LIST_HEAD_INITIALIZER(streams);
static natsConnection *nc;
static jsCtx *js;
static int wake[2] = { -1, -1 };
static struct event *wake_ev, *beat_ev;
static atomic_int threads;       /* detached unsubscribers running */

static void unref(struct sse *s)
{
	if (atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	sse_buf_free(&s->out);
	free(s);
}

/* ------------------------------------------------- the NATS thread */

static void on_msg(natsConnection *c, natsSubscription *sub, natsMsg *msg, void *closure)
{
	struct sse *s = closure;
	const char *subj = natsMsg_GetSubject(msg);
	jsMsgMetaData *meta = NULL;
	char kind[8] = "", tenant[CC_UUID_LEN] = "", type[48] = "";
	json_t *ev = NULL;
	char *line = NULL, *text = NULL;
	bool wakeup = false;

	/* cc.<kind>.<tenant>.<type>: this stream's tenant, a call or agent event */
	if (sscanf(subj, "cc.%7[a-z].%36[0-9a-f-].%47[a-z_]", kind, tenant, type) != 3 ||
	    strcmp(tenant, s->tenant) != 0 || (strcmp(kind, "call") != 0 && strcmp(kind, "agent") != 0))
		goto done;
	if (natsMsg_GetMetaData(&meta, msg) != NATS_OK)
		goto done;
	ev = json_loadb(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), 0, NULL);
	if (!json_is_object(ev))
		goto done;
	/* compact: one line, whatever the producer wrote */
	text = json_dumps(ev, JSON_COMPACT | JSON_ENSURE_ASCII);
	if (!text)
		goto done;
	pthread_mutex_lock(&lock);
	{
		int k = kind[0] == 'a';

		if (meta->Sequence.Stream > s->last[k])
			s->last[k] = meta->Sequence.Stream;
		line = cc_sprintf("id: %llu-%llu\nevent: %s\ndata: %s\n\n",
		                  (unsigned long long)s->last[0], (unsigned long long)s->last[1],
		                  type, text);
	}
	if (!s->overflow) {
		int rc = sse_buf_append(&s->out, line, strlen(line), CC_SSE_BUFFER);

		s->overflow = rc == ENOSPC;
		wakeup = rc != ENOMEM;
	}
	pthread_mutex_unlock(&lock);
	if (wakeup && write(wake[1], "x", 1) < 0 && errno != EAGAIN)
		CC_WARN("events: cannot wake the loop: %s", strerror(errno));
done:
	free(line);
	free(text);
	json_decref(ev);
	jsMsgMetaData_Destroy(meta);
	natsMsg_Destroy(msg);
}

/* The subscription will call on_msg no more. */
static void on_complete(void *closure)
{
	unref(closure);
}

/* ------------------------------------------------------ worker threads */

static void subscribe(void *arg)
{
	static const char *const kinds[2] = { "call", "agent" };
	struct sse *s = arg;

	if (!js || natsConnection_Status(nc) != NATS_CONN_STATUS_CONNECTED) {
		snprintf(s->err, sizeof(s->err), "NATS is not connected");
		return;
	}
	for (int k = 0; k < 2; k++) {
		jsSubOptions so;
		jsErrCode jerr = 0;
		char subject[64];
		natsStatus st;

		snprintf(subject, sizeof(subject), "cc.%s.%s.>", kinds[k], s->tenant);
		jsSubOptions_Init(&so);
		so.Stream = CC_EVENTS_STREAM;
		so.Ordered = true;
		if (s->start[k]) {
			so.Config.DeliverPolicy = js_DeliverByStartSequence;
			so.Config.OptStartSeq = s->start[k];
		} else {
			so.Config.DeliverPolicy = js_DeliverNew;
		}
		atomic_fetch_add(&s->refs, 1);   /* the subscription's */
		st = js_Subscribe(&s->sub[k], js, subject, on_msg, s, NULL, &so, &jerr);
		if (st == NATS_OK)
			st = natsSubscription_SetOnCompleteCB(s->sub[k], on_complete, s);
		if (st == NATS_OK)
			continue;
		snprintf(s->err, sizeof(s->err), "%s: %s (%d)", subject, natsStatus_GetText(st),
		         (int)jerr);
		if (s->sub[k]) {
			natsSubscription_Unsubscribe(s->sub[k]);
			natsSubscription_Destroy(s->sub[k]);   /* its on_complete unrefs */
			s->sub[k] = NULL;
		} else {
			atomic_fetch_sub(&s->refs, 1);
		}
		if (k == 1) {                            /* all or nothing */
			natsSubscription_Unsubscribe(s->sub[0]);
			natsSubscription_Destroy(s->sub[0]);
			s->sub[0] = NULL;
		}
		return;
	}
}

static void *unsubscribe(void *arg)
{
	struct sse *s = arg;

	/* deletes the consumers (NATS requests): never on the loop */
	for (int k = 0; k < 2; k++) {
		natsSubscription_Unsubscribe(s->sub[k]);
		natsSubscription_Destroy(s->sub[k]);
	}
	unref(s);                        /* the loop's */
	atomic_fetch_sub(&threads, 1);
	return NULL;
}

/* The loop lets go of s: its subscription ends off the loop. */
static void release(struct sse *s)
{
	pthread_t t;
	pthread_attr_t attr;

	LIST_REMOVE(s, link);
	if (!s->sub[0]) {
		unref(s);
		return;
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	atomic_fetch_add(&threads, 1);
	if (pthread_create(&t, &attr, unsubscribe, s) != 0) {
		atomic_fetch_sub(&threads, 1);
		/* without the deletes: the consumers expire on the server */
		natsSubscription_Destroy(s->sub[0]);
		natsSubscription_Destroy(s->sub[1]);
		unref(s);
	}
	pthread_attr_destroy(&attr);
}

/* ------------------------------------------------------------ the loop */

static ssize_t reader(void *cls, uint64_t pos, char *out, size_t max)
{
	static const char beat[] = ": heartbeat\n\n";
	struct sse *s = cls;
	size_t n = 0;
	bool overflow;

	pthread_mutex_lock(&lock);
	overflow = s->overflow;
	if (!overflow)
		n = sse_buf_take(&s->out, out, max);
	pthread_mutex_unlock(&lock);
	if (overflow) {
		CC_INFO("events: a client of tenant %s reads too slowly; its stream ends", s->tenant);
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	if (n)
		return (ssize_t)n;
	if (s->ending)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (s->heartbeat && max >= sizeof(beat) - 1) {
		s->heartbeat = false;
		memcpy(out, beat, sizeof(beat) - 1);
		return (ssize_t)(sizeof(beat) - 1);
	}
	/* nothing to send: wait, suspended, for an event or a heartbeat */
	s->suspended = true;
	MHD_suspend_connection(s->conn);
	return 0;
}

static void reader_free(void *cls)
{
	release(cls);
}

static void resume(struct sse *s)
{
	if (s->conn && s->suspended) {
		s->suspended = false;
		MHD_resume_connection(s->conn);
	}
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct tenantd *d = arg;
	char buf[64];
	struct sse *s;

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	LIST_FOREACH(s, &streams, link) {
		bool has;

		pthread_mutex_lock(&lock);
		has = sse_buf_waiting(&s->out) || s->overflow;
		pthread_mutex_unlock(&lock);
		if (has)
			resume(s);
	}
	tn_mhd_run(d);
}

static void on_beat(evutil_socket_t fd, short what, void *arg)
{
	struct sse *s;

	LIST_FOREACH(s, &streams, link) {
		s->heartbeat = true;
		resume(s);
	}
	tn_mhd_run(arg);
}

/* The subscribe is done (on the loop): start the stream, or answer why not. */
static void subscribed(struct tn_req *r, void *arg)
{
	struct sse *s = arg;

	if (!r || !s->sub[0]) {
		if (r) {
			CC_WARN("events: cannot read CC_EVENTS for tenant %s: %s", s->tenant, s->err);
			tn_error(r, 503, "unavailable", NULL, "the event stream is unavailable now; try "
			         "again later");
		}
		release(s);
		return;
	}
	s->conn = r->conn;
	s->heartbeat = true;             /* the first bytes: the reply's headers go out at once */
	tn_reply_stream(r, reader, s, reader_free);
}

static void stream(struct tn_req *r)
{
	const char *last = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Last-Event-ID");
	unsigned long long seq[2] = { 0, 0 };
	struct sse *s;
	long open = 0;

	if (last) {
		char *end = NULL;
		bool ok = strspn(last, "0123456789-") == strlen(last) && last[0] != '-' &&
		          strlen(last) <= 41;

		errno = 0;
		if (ok) {
			seq[0] = strtoull(last, &end, 10);
			seq[1] = seq[0];
			if (*end == '-')
				seq[1] = strtoull(end + 1, &end, 10);
			ok = !errno && end && !*end && end[-1] != '-';
		}
		if (!ok)
			return tn_error(r, 400, "invalid_argument", "Last-Event-ID",
			                "Last-Event-ID must be the id of an event of this stream");
	}
	LIST_FOREACH(s, &streams, link)
		open += strcmp(s->tenant, r->tenant.id) == 0;
	if (open >= r->d->cfg.sse_per_tenant)
		return tn_error(r, 429, "too_many_requests", NULL,
		                "this tenant has %ld event streams open (the most allowed); close one",
		                open);
	s = calloc(1, sizeof(*s));
	CC_BUG_ON(!s);
	s->d = r->d;
	snprintf(s->tenant, sizeof(s->tenant), "%s", r->tenant.id);
	s->start[0] = last ? seq[0] + 1 : 0;
	s->start[1] = last ? seq[1] + 1 : 0;
	s->last[0] = seq[0];
	s->last[1] = seq[1];
	atomic_init(&s->refs, 1);
	LIST_INSERT_HEAD(&streams, s, link);
	tn_offload(r, subscribe, subscribed, s);
}

int tn_sse_init(struct tenantd *d, char **err)
{
	struct timeval tv = { d->cfg.sse_heartbeat_s, 0 };

	if (pipe2(wake, O_NONBLOCK | O_CLOEXEC) < 0)
		return cc_fail(err, "cannot create a pipe: %s", strerror(errno));
	if (!(nc = cc_nats_connect(d->cfg.nats_url, "tenantd-events", true)))
		return cc_fail(err, "cannot create a NATS connection to %s", d->cfg.nats_url);
	if (natsConnection_JetStream(&js, nc, NULL) != NATS_OK)
		return cc_fail(err, "cannot create a JetStream context");
	wake_ev = event_new(d->base, wake[0], EV_READ | EV_PERSIST, on_wake, d);
	beat_ev = event_new(d->base, -1, EV_PERSIST, on_beat, d);
	event_add(wake_ev, NULL);
	event_add(beat_ev, &tv);
	return CC_OK;
}

void tn_sse_shutdown(struct tenantd *d)
{
	struct sse *s;

	/* libmicrohttpd cannot stop with a connection suspended: each stream
	 * ends (and the daemon's stop then frees them) */
	LIST_FOREACH(s, &streams, link) {
		s->ending = true;
		resume(s);
	}
	if (wake_ev)
		event_free(wake_ev);
	if (beat_ev)
		event_free(beat_ev);
	wake_ev = beat_ev = NULL;
}

/* After libmicrohttpd stopped: the unsubscribers finish, then NATS goes. */
void tn_sse_close(void)
{
	for (int i = 0; i < 300 && atomic_load(&threads) > 0; i++)
		usleep(10000);
	if (js)
		jsCtx_Destroy(js);
	js = NULL;
	if (nc) {
		natsConnection_Close(nc);
		natsConnection_Destroy(nc);
	}
	nc = NULL;
}

const struct tn_route tn_sse_routes[] = {
	{ "GET", "/v1/tenants/{slug}/events", TN_TENANT, NULL, stream, false, false },
	{ NULL, NULL, 0, NULL, NULL, false, false },
};
