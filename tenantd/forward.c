/*
 * forward.c: requests tenantd hands to billingd (billing/rpc.h) without
 * waiting for them on the loop.
 *
 * billingd alone writes the money tables, so closing a month, rerating
 * and posting are NATS requests to it. Rerating a big tenant takes
 * seconds; tenantd's loop serves every other tenant meanwhile. The
 * request's connection is suspended (libmicrohttpd's
 * MHD_suspend_connection: it is neither read nor timed out), a worker
 * thread sends the NATS request on tenantd's billing connection and
 * waits for the reply (at most CC_BILLING_TIMEOUT_S), then queues the
 * result and wakes the loop through a pipe; the loop answers the request
 * with billingd's reply and resumes the connection. The worker never
 * touches a tn_req: only the loop does, and a request whose client went
 * away is detached from its forward, whose reply is then dropped.
 *
 * billingd not running: NATS answers "no responders" at once -> 503; NATS
 * itself away -> 503 at once. No reply in time -> 504 (the request may
 * still complete; each is safe to repeat). At most TN_FORWARDS_MAX at
 * once; more -> 503.
 *
 * Not done on purpose: a job resource (202 + polling). A rerate of 100k
 * calls takes a few seconds; the client waits for its answer as for any
 * other request, and the loop does not.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include "api.h"
#include "cc.h"
#include "clock.h"
#include "log.h"
#include "tenantd.h"

#define TN_FORWARDS_MAX 16

struct tn_fwd {
	TAILQ_ENTRY(tn_fwd) flight_link;/* in flight (loop only) */
	TAILQ_ENTRY(tn_fwd) done_link;/* done, waiting for the loop (under lock) */
	struct tn_req *r;             /* the request, NULL once its client went away */
	void (*after)(struct tn_req *r);/* on success, before the reply (a notice) */
	char subject[64];
	char *payload;
	int64_t timeout_ms;
	int64_t t0;                   /* sent (ms, monotonic) */
	natsStatus status;            /* of the NATS request (worker) */
	char *reply;                  /* its data, NUL-terminated (worker) */
	/* tn_offload: other work instead of a NATS request */
	void (*work)(void *arg);
	void (*done)(struct tn_req *r, void *arg);
	void *arg;
	/* tn_ask_routingd: an ACD request, answered in routingd's form */
	bool acd;
	char tenant[CC_UUID_LEN];     /* whose (its share of the ACD asks) */
	json_t *(*pick)(json_t *reply);
};

TAILQ_HEAD(tn_fwd_list, tn_fwd);

/* Shared by the loop and the workers; static, so a worker finishing after
 * main() returned still finds them. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct tn_fwd_list done_list = TAILQ_HEAD_INITIALIZER(done_list);
static int wake[2] = { -1, -1 };  /* worker -> loop: something is done */
static atomic_int running;        /* workers not yet finished */
static natsConnection *nc;        /* tenantd's billing connection */
/* loop only */
static struct tn_fwd_list flight = TAILQ_HEAD_INITIALIZER(flight);
static int in_flight;
static int acd_in_flight;         /* of which ACD requests to routingd */
static struct event *wake_ev;

static void fwd_free(struct tn_fwd *f)
{
	free(f->payload);
	free(f->reply);
	free(f);
}

/* ------------------------------------------------------------ worker */

static void *worker(void *arg)
{
	struct tn_fwd *f = arg;
	natsMsg *msg = NULL;

	if (f->work) {
		f->work(f->arg);
		goto done;
	}
	/* NATS away: said at once, not after the whole timeout (the
	 * connection would hold the request until it is back) */
	if (natsConnection_Status(nc) != NATS_CONN_STATUS_CONNECTED)
		f->status = NATS_CONNECTION_DISCONNECTED;
	else
		f->status = natsConnection_Request(&msg, nc, f->subject, f->payload,
		                                   (int)strlen(f->payload), f->timeout_ms);
	if (f->status == NATS_OK) {
		int n = natsMsg_GetDataLength(msg);

		f->reply = malloc((size_t)n + 1);
		if (f->reply) {
			memcpy(f->reply, natsMsg_GetData(msg), (size_t)n);
			f->reply[n] = '\0';
		}
		natsMsg_Destroy(msg);
	}
done:
	pthread_mutex_lock(&lock);
	TAILQ_INSERT_TAIL(&done_list, f, done_link);
	pthread_mutex_unlock(&lock);
	/* a full pipe already holds a wakeup */
	if (write(wake[1], "x", 1) < 0 && errno != EAGAIN)
		CC_WARN("forward: cannot wake the loop: %s", strerror(errno));
	atomic_fetch_sub(&running, 1);
	return NULL;
}

/* -------------------------------------------------------------- loop */

/* billingd's reply -> the API's answer. billingd is ours, but its reply is
 * still read as input: anything unexpected is a 502. */
static void answer(struct tn_req *r, struct tn_fwd *f)
{
	json_t *reply, *body, *e;
	int status;

	switch (f->status) {
	case NATS_OK:
		break;
	case NATS_NO_RESPONDERS:
		return tn_error(r, 503, "unavailable", NULL,
		                "billing is unavailable (billingd is not running); nothing was changed, "
		                "try again later");
	case NATS_TIMEOUT:
		return tn_error(r, 504, "timeout", NULL,
		                "billingd did not answer within %lld s; the operation may still complete "
		                "and is safe to repeat", (long long)(f->timeout_ms / 1000));
	default:
		return tn_error(r, 503, "unavailable", NULL, "billing is unreachable (%s); try again later",
		                natsStatus_GetText(f->status));
	}
	reply = f->reply ? json_loads(f->reply, JSON_REJECT_DUPLICATES, NULL) : NULL;
	status = (int)json_integer_value(json_object_get(reply, "status"));
	body = json_object_get(reply, "body");
	e = json_object_get(reply, "error");
	if (status >= 200 && status < 300 && json_is_object(body)) {
		if (f->after)
			f->after(r);
		tn_reply(r, status, json_incref(body));
	} else if (status >= 400 && status < 600 && json_is_object(e) &&
	           json_is_string(json_object_get(e, "code")) &&
	           json_is_string(json_object_get(e, "message"))) {
		const char *field = json_string_value(json_object_get(e, "field"));

		tn_error(r, status, json_string_value(json_object_get(e, "code")), field, "%s",
		         json_string_value(json_object_get(e, "message")));
	} else {
		CC_ERR("%s: billingd's reply is not one: %.200s", f->subject, f->reply ? f->reply : "");
		tn_error(r, 502, "bad_gateway", NULL, "billing answered something unexpected");
	}
	json_decref(reply);
}

/* routingd's reply (docs/ACD.md) -> the API's answer; read as input. */
static void answer_acd(struct tn_req *r, struct tn_fwd *f)
{
	json_t *reply, *ok, *out;
	int status;

	switch (f->status) {
	case NATS_OK:
		break;
	case NATS_NO_RESPONDERS:
		return tn_error(r, 503, "unavailable", NULL,
		                "the ACD is unavailable (routingd is not running); try again later");
	case NATS_TIMEOUT:
		return tn_error(r, 503, "unavailable", NULL, "routingd did not answer within %lld ms; "
		                "try again later", (long long)f->timeout_ms);
	default:
		return tn_error(r, 503, "unavailable", NULL, "the ACD is unreachable (%s); try again later",
		                natsStatus_GetText(f->status));
	}
	reply = f->reply ? json_loads(f->reply, JSON_REJECT_DUPLICATES, NULL) : NULL;
	ok = json_object_get(reply, "ok");
	status = (int)json_integer_value(json_object_get(reply, "status"));
	if (json_is_true(ok)) {
		json_object_del(reply, "ok");
		json_object_del(reply, "id");
		out = f->pick ? f->pick(reply) : json_incref(reply);
		if (json_is_object(out))
			tn_reply(r, 200, out);
		else {
			json_decref(out);
			CC_ERR("%s: routingd's answer lacks what was asked: %.200s", f->subject, f->reply);
			tn_error(r, 502, "bad_gateway", NULL, "the ACD answered something unexpected");
		}
	} else if (json_is_false(ok) && status >= 400 && status < 600 &&
	           json_is_string(json_object_get(reply, "message"))) {
		const char *code = status == 404 ? "not_found" : status == 409 ? "conflict"
		                   : status < 500 ? "invalid_argument" : "unavailable";

		tn_error(r, status, code, json_string_value(json_object_get(reply, "field")), "%s",
		         json_string_value(json_object_get(reply, "message")));
	} else {
		CC_ERR("%s: routingd's reply is not one: %.200s", f->subject, f->reply ? f->reply : "");
		tn_error(r, 502, "bad_gateway", NULL, "the ACD answered something unexpected");
	}
	json_decref(reply);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct tenantd *d = arg;
	struct tn_fwd_list ready = TAILQ_HEAD_INITIALIZER(ready);
	char buf[64];
	struct tn_fwd *f;

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&lock);
	TAILQ_CONCAT(&ready, &done_list, done_link);
	pthread_mutex_unlock(&lock);
	while ((f = TAILQ_FIRST(&ready))) {
		TAILQ_REMOVE(&ready, f, done_link);
		TAILQ_REMOVE(&flight, f, flight_link);
		in_flight--;
		if (f->r)
			f->r->forward = NULL;
		if (f->work) {
			/* done() answers, or frees what the work left when r is gone */
			f->done(f->r, f->arg);
		} else if (f->r && f->acd) {
			CC_DEBUG("%s: routingd answered in %lld ms", f->subject, (long long)(cc_mono_ms() - f->t0));
			answer_acd(f->r, f);
		} else if (f->r) {
			CC_DEBUG("%s: billingd answered in %lld ms", f->subject, (long long)(cc_mono_ms() - f->t0));
			answer(f->r, f);
		}
		if (f->acd)
			acd_in_flight--;
		if (f->r)
			tn_resume(f->r);
		fwd_free(f);
	}
	tn_mhd_run(d);
}

int tn_forward_init(struct tenantd *d, char **err)
{
	if (pipe2(wake, O_NONBLOCK | O_CLOEXEC) < 0)
		return cc_fail(err, "cannot create a pipe: %s", strerror(errno));
	/* replies someone waits for: sent at once, not batched */
	if (!(nc = cc_nats_connect(d->cfg.nats_url, "tenantd-billing", true)))
		return cc_fail(err, "cannot create a NATS connection to %s", d->cfg.nats_url);
	wake_ev = event_new(d->base, wake[0], EV_READ | EV_PERSIST, on_wake, d);
	event_add(wake_ev, NULL);
	return CC_OK;
}

/* The thread and the bookkeeping of both. */
static void start(struct tn_req *r, struct tn_fwd *f)
{
	pthread_t t;
	pthread_attr_t attr;

	f->r = r;
	f->t0 = cc_mono_ms();
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	atomic_fetch_add(&running, 1);
	if (pthread_create(&t, &attr, worker, f) != 0) {
		atomic_fetch_sub(&running, 1);
		pthread_attr_destroy(&attr);
		f->r = NULL;
		if (f->work)
			f->done(NULL, f->arg);
		fwd_free(f);
		return tn_error(r, 503, "unavailable", NULL, "no thread for the request");
	}
	pthread_attr_destroy(&attr);
	TAILQ_INSERT_TAIL(&flight, f, flight_link);
	in_flight++;
	r->forward = f;
	tn_defer(r);
}

void tn_offload(struct tn_req *r, void (*work)(void *arg), void (*done)(struct tn_req *r, void *arg),
                void *arg)
{
	struct tn_fwd *f = calloc(1, sizeof(*f));

	CC_BUG_ON(!f);
	snprintf(f->subject, sizeof(f->subject), "%s %s", r->method, "work");
	f->work = work;
	f->done = done;
	f->arg = arg;
	start(r, f);
}

void tn_forward(struct tn_req *r, const char *subject, json_t *body, void (*after)(struct tn_req *r))
{
	struct tn_fwd *f;

	if (in_flight - acd_in_flight >= TN_FORWARDS_MAX) {
		json_decref(body);
		return tn_error(r, 503, "unavailable", NULL,
		                "%d billing operations are running; try again when one has finished",
		                TN_FORWARDS_MAX);
	}
	f = calloc(1, sizeof(*f));
	CC_BUG_ON(!f);
	snprintf(f->subject, sizeof(f->subject), "%s", subject);
	f->payload = json_dumps(body, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(body);
	CC_BUG_ON(!f->payload);
	f->after = after;
	f->timeout_ms = r->d->cfg.billing_timeout_s * 1000;
	start(r, f);
}

#define TN_ACD_ASKS_MAX 64
#define TN_ACD_ASKS_PER_TENANT 16    /* so one tenant cannot take all 64 */

/* the tenant's ACD requests waiting for routingd (at most 64 to count) */
static int acd_asks_of(const char *tenant)
{
	const struct tn_fwd *f;
	int n = 0;

	TAILQ_FOREACH(f, &flight, flight_link)
		n += f->acd && strcmp(f->tenant, tenant) == 0;
	return n;
}

void tn_ask_routingd(struct tn_req *r, const char *subject, json_t *body,
                     json_t *(*pick)(json_t *reply))
{
	char id[CC_UUID_LEN];
	struct tn_fwd *f;

	if (acd_asks_of(r->tenant.id) >= TN_ACD_ASKS_PER_TENANT) {
		char msg[128], *text;
		json_t *e;

		snprintf(msg, sizeof(msg), "this tenant has %d ACD requests waiting for routingd "
		         "(the most allowed); retry shortly", TN_ACD_ASKS_PER_TENANT);
		e = json_pack("{s:{s:s, s:s}}", "error", "code", "too_many_requests", "message", msg);
		text = e ? json_dumps(e, JSON_COMPACT) : NULL;
		CC_BUG_ON(!text);
		json_decref(body);
		json_decref(e);
		/* 429, not the global 503: the others' requests still go */
		char *line = cc_sprintf("%s\n", text);

		CC_BUG_ON(!line);
		tn_reply_raw(r, 429, "application/json", line, "Retry-After", "1", NULL);
		free(line);
		free(text);
		return;
	}
	if (acd_in_flight >= TN_ACD_ASKS_MAX) {
		json_decref(body);
		return tn_error(r, 503, "unavailable", NULL,
		                "%d ACD requests are waiting for routingd; try again shortly",
		                TN_ACD_ASKS_MAX);
	}
	if (tn_new_id(r, id) != CC_OK) {
		json_decref(body);
		return;
	}
	json_object_set_new(body, "id", json_string(id));
	f = calloc(1, sizeof(*f));
	CC_BUG_ON(!f);
	snprintf(f->subject, sizeof(f->subject), "%s", subject);
	f->payload = json_dumps(body, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(body);
	CC_BUG_ON(!f->payload);
	f->acd = true;
	snprintf(f->tenant, sizeof(f->tenant), "%s", r->tenant.id);
	f->pick = pick;
	f->timeout_ms = r->d->cfg.acd_timeout_ms;
	acd_in_flight++;
	start(r, f);
	if (!r->forward)          /* no thread: answered 503, f freed */
		acd_in_flight--;
}

void tn_forward_detach(struct tn_req *r)
{
	struct tn_fwd *f = r->forward;

	if (f) {
		f->r = NULL;
		r->forward = NULL;
	}
}

void tn_forward_shutdown(struct tenantd *d)
{
	struct tn_fwd *f;

	/* every request still waiting is answered now (libmicrohttpd cannot
	 * stop with a connection suspended) */
	TAILQ_FOREACH(f, &flight, flight_link) {
		struct tn_req *r = f->r;

		if (!r)
			continue;
		f->r = NULL;
		r->forward = NULL;
		tn_error(r, 503, "unavailable", NULL, "tenantd is stopping; the operation may still "
		         "complete and is safe to repeat");
		tn_resume(r);
	}
	if (nc)
		natsConnection_Close(nc);  /* requests in progress end at once */
	for (int i = 0; i < 300 && atomic_load(&running) > 0; i++)
		usleep(10000);
	if (atomic_load(&running) == 0 && nc) {
		natsConnection_Destroy(nc);
		nc = NULL;
	}
	if (wake_ev)
		event_free(wake_ev);
	wake_ev = NULL;
}
