/* evapi.c: see evapi.h. */
#include "evapi.h"
#include "cc.h"
#include "log.h"
#include "netstring.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

#define MAX_FRAME (1 << 20)
#define ACKS_PER_FRAME 64          /* kamailio.cfg route[EV_ACKED] reads at most this many */

struct rt_evapi {
	struct event_base *base;
	struct bufferevent *bev;   /* NULL while disconnected */
	struct event *retry;       /* reconnect timer */
	struct sockaddr_in addr;   /* Kamailio's evapi address */
	rt_evapi_cb cb;
	void *arg;
	char secret[128];          /* proves to Kamailio that this is routingd */
	int connected;             /* 1 once the connect completed */
	char acks[ACKS_PER_FRAME * 12];  /* "k,k,...": events handled, not yet acknowledged */
	size_t acks_len;           /* bytes in acks */
	int n_acks;                /* keys in acks */
};

static void try_connect(evutil_socket_t fd, short what, void *arg);

static void schedule_retry(struct rt_evapi *ev)
{
	struct timeval tv = { 0, 200000 };

	if (ev->bev) {
		bufferevent_free(ev->bev);
		ev->bev = NULL;
	}
	ev->connected = 0;
	/* unacknowledged events stay with Kamailio, which sends them again */
	ev->acks_len = 0;
	ev->n_acks = 0;
	evtimer_add(ev->retry, &tv);
}

/* The keys gathered so far, in one frame {"ack":"k,k,..."}. */
static void flush_acks(struct rt_evapi *ev)
{
	json_t *m;

	if (!ev->n_acks)
		return;
	ev->acks[ev->acks_len] = '\0';
	m = json_pack("{ss}", "ack", ev->acks);
	if (!m || rt_evapi_send(ev, m) != CC_OK)
		CC_WARN("evapi: acknowledgement of %d events not sent (Kamailio sends them again)",
		        ev->n_acks);
	json_decref(m);
	ev->acks_len = 0;
	ev->n_acks = 0;
}

void rt_evapi_ack(struct rt_evapi *ev, long long key)
{
	int n;

	if (!rt_evapi_connected(ev) || key < 0)
		return;
	n = snprintf(ev->acks + ev->acks_len, sizeof(ev->acks) - ev->acks_len, "%s%lld",
	             ev->n_acks ? "," : "", key);
	CC_BUG_ON(n < 0 || (size_t)n >= sizeof(ev->acks) - ev->acks_len);
	ev->acks_len += (size_t)n;
	if (++ev->n_acks == ACKS_PER_FRAME)
		flush_acks(ev);
}

static void read_frames(struct rt_evapi *ev, struct bufferevent *bev);

/* Every frame that came, then one acknowledgement for the events among
 * them (what a loop turn read: one frame back instead of one per event). */
static void on_read(struct bufferevent *bev, void *arg)
{
	struct rt_evapi *ev = arg;

	read_frames(ev, bev);
	if (ev->bev == bev)
		flush_acks(ev);
}

static void read_frames(struct rt_evapi *ev, struct bufferevent *bev)
{
	struct evbuffer *in = bufferevent_get_input(bev);

	for (;;) {
		size_t len = evbuffer_get_length(in);
		const char *buf;
		struct cc_str payload;
		long used;
		json_t *msg;
		json_error_t jerr;

		if (!len)
			return;
		buf = (const char *)evbuffer_pullup(in, -1);
		used = cc_netstring_parse(buf, len, MAX_FRAME, &payload);
		if (used == CC_AGAIN)
			return;
		if (used < 0) {
			CC_ERR("evapi: bad frame from Kamailio; reconnecting");
			schedule_retry(ev);
			return;
		}
		msg = json_loadb(payload.s, payload.len, 0, &jerr);
		if (msg && json_is_object(msg))
			ev->cb(ev, msg, ev->arg);
		else
			CC_WARN("evapi: not a JSON object: %.*s", (int)payload.len, payload.s);
		json_decref(msg);
		evbuffer_drain(in, used);
	}
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct rt_evapi *ev = arg;

	if (what & BEV_EVENT_CONNECTED) {
		int one = 1;

		setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		ev->connected = 1;
		/* the first frame: Kamailio sends questions and events, and
		 * takes answers, only after it (kamailio.cfg, evapi routes) */
		json_t *auth = json_pack("{ss}", "auth", ev->secret);
		if (!auth || rt_evapi_send(ev, auth) != CC_OK) {
			json_decref(auth);
			CC_ERR("evapi: cannot send the authentication; reconnecting");
			schedule_retry(ev);
			return;
		}
		json_decref(auth);
		CC_INFO("evapi: connected to Kamailio");
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		if (ev->connected)
			CC_WARN("evapi: connection to Kamailio lost; reconnecting");
		schedule_retry(ev);
	}
}

static void try_connect(evutil_socket_t fd, short what, void *arg)
{
	struct rt_evapi *ev = arg;

	ev->bev = bufferevent_socket_new(ev->base, -1, BEV_OPT_CLOSE_ON_FREE);
	CC_BUG_ON(!ev->bev);
	bufferevent_setcb(ev->bev, on_read, NULL, on_event, ev);
	bufferevent_enable(ev->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(ev->bev, (struct sockaddr *)&ev->addr,
	                               sizeof(ev->addr)) < 0)
		schedule_retry(ev);
}

struct rt_evapi *rt_evapi_new(struct event_base *base, const char *host, int port,
                              const char *secret, rt_evapi_cb cb, void *arg)
{
	struct rt_evapi *ev = calloc(1, sizeof(*ev));

	CC_BUG_ON(!ev);
	if (!secret || !*secret || strlen(secret) >= sizeof(ev->secret)) {
		free(ev);
		return NULL;
	}
	strcpy(ev->secret, secret);
	ev->base = base;
	ev->cb = cb;
	ev->arg = arg;
	ev->addr.sin_family = AF_INET;
	ev->addr.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &ev->addr.sin_addr) != 1) {
		free(ev);
		return NULL;
	}
	ev->retry = evtimer_new(base, try_connect, ev);
	try_connect(-1, 0, ev);
	return ev;
}

void rt_evapi_free(struct rt_evapi *ev)
{
	if (!ev)
		return;
	if (ev->bev)
		bufferevent_free(ev->bev);
	event_free(ev->retry);
	explicit_bzero(ev->secret, sizeof(ev->secret));
	free(ev);
}

int rt_evapi_send(struct rt_evapi *ev, const json_t *msg)
{
	char *s;
	int rc;

	if (!ev->bev || !ev->connected)
		return CC_ERROR;
	s = json_dumps(msg, JSON_COMPACT);
	if (!s)
		return CC_ERROR;
	struct evbuffer *out = bufferevent_get_output(ev->bev);

	rc = evbuffer_add_printf(out, "%zu:%s,", strlen(s), s) < 0 ? CC_ERROR : CC_OK;
	free(s);
	return rc;
}

void rt_evapi_push(struct rt_evapi *ev)
{
	if (ev->bev && ev->connected)
		evbuffer_write(bufferevent_get_output(ev->bev), bufferevent_getfd(ev->bev));
}

int rt_evapi_connected(const struct rt_evapi *ev)
{
	return ev->bev && ev->connected;
}
