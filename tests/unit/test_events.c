/* test_events.c: the event spool (lib/events.c) against a real
 * nats-server that each test starts on a free port with its own
 * JetStream store, stops, and starts again on the same port and store.
 * Events carry a field n; the stream must hold them in order, once. */
#define SUITE "events"
#include "test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "cc.h"
#include "events.h"
#include "log.h"

/* ---------------------------------------------------------- nats-server */

static char dir[128];      /* the test's folder: store, spool, logs */
static int nats_port;      /* nats-server's port */
static pid_t nats_pid;

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ASSERT(fd >= 0);
	ASSERT(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	ASSERT(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
	close(fd);
	return ntohs(a.sin_port);
}

static bool port_answers(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bool ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;

	close(fd);
	return ok;
}

static void msleep(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nats_start(void)
{
	char port[16], store[160], log[160];

	snprintf(port, sizeof(port), "%d", nats_port);
	snprintf(store, sizeof(store), "%s/js", dir);
	snprintf(log, sizeof(log), "%s/nats.log", dir);
	nats_pid = fork();
	ASSERT(nats_pid >= 0);
	if (nats_pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		dup2(fd, 1);
		dup2(fd, 2);
		execlp("nats-server", "nats-server", "-a", "127.0.0.1", "-p", port, "-js", "-sd", store,
		       (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200 && !port_answers(nats_port); i++)
		msleep(50);
	ASSERT(port_answers(nats_port));
}

static void nats_kill(int sig)
{
	kill(nats_pid, sig);
	if (sig == SIGKILL || sig == SIGTERM) {
		waitpid(nats_pid, NULL, 0);
		nats_pid = 0;
	}
}

/* A failing assertion exits, a timeout is SIGALRM: neither may leave the
 * test's nats-server running. */
static void kill_nats_at_exit(void)
{
	if (nats_pid > 0)
		kill(nats_pid, SIGKILL);
}

static void on_alarm(int sig)
{
	kill_nats_at_exit();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void setup(void)
{
	atexit(kill_nats_at_exit);
	signal(SIGALRM, on_alarm);
	snprintf(dir, sizeof(dir), "/tmp/cc-events.XXXXXX");
	ASSERT(mkdtemp(dir));
	nats_port = free_port();
	unsetenv("CC_NATS_CREDS");
	unsetenv("CC_SPOOL_MAX_MB");
	unsetenv("CC_SPOOL_SYNC_MS");
	cc_log_init("test_events");
	cc_log_level = getenv("CC_LOG_LEVEL") ? cc_log_level : CC_LOG_WARN;
}

static void teardown(void)
{
	char cmd[200];

	if (nats_pid > 0)
		nats_kill(SIGKILL);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

static char *url_of(int port)
{
	return cc_sprintf("nats://127.0.0.1:%d", port);
}

/* --------------------------------------------------------------- events */

static json_t *event_n(int n, int pad)
{
	json_t *e = cc_event_new("t1", "offered");

	ASSERT(e);
	json_object_set_new(e, "n", json_integer(n));
	if (pad) {
		char *p = malloc((size_t)pad + 1);

		memset(p, 'x', (size_t)pad);
		p[pad] = '\0';
		json_object_set_new(e, "pad", json_string(p));
		free(p);
	}
	return e;
}

static void publish_range(struct cc_events *ev, int from, int to)
{
	for (int i = from; i <= to; i++)
		ASSERT_EQ_INT(cc_events_publish(ev, "cc.call.t1.offered", event_n(i, 0)), CC_OK);
}

/* A spool line as cc_events_publish writes it. */
static char *spool_line_on(const char *subject, int n)
{
	json_t *e = event_n(n, 0);
	char *data = json_dumps(e, JSON_COMPACT);
	char *line = cc_sprintf("%s\t%s\n", subject, data);

	free(data);
	json_decref(e);
	return line;
}

static char *spool_line(int n)
{
	return spool_line_on("cc.call.t1.offered", n);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ASSERT(f);
	fputs(text, f);
	fclose(f);
}

static uint64_t pending(struct cc_events *ev)
{
	struct cc_events_stats st;

	cc_events_stats(ev, &st);
	return st.pending;
}

/* ------------------------------------------------------- reading the stream */

struct stream_view {
	int n[20000];  /* the events' n, in stream order */
	int len;
};

/* Reads the whole CC_EVENTS stream; 0 messages if it does not exist. */
static void read_stream(struct stream_view *v)
{
	char *url = url_of(nats_port);
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;

	v->len = 0;
	ASSERT(natsConnection_ConnectTo(&nc, url) == NATS_OK);
	ASSERT(natsConnection_JetStream(&js, nc, NULL) == NATS_OK);
	if (js_GetStreamInfo(&si, js, CC_EVENTS_STREAM, NULL, &jerr) == NATS_OK) {
		for (uint64_t seq = si->State.FirstSeq; seq && seq <= si->State.LastSeq; seq++) {
			natsMsg *m = NULL;
			json_t *doc;

			if (js_GetMsg(&m, js, CC_EVENTS_STREAM, seq, NULL, &jerr) != NATS_OK)
				continue;
			doc = json_loadb(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), 0, NULL);
			ASSERT(v->len < (int)CC_ARRAY_LEN(v->n));
			v->n[v->len++] = (int)json_integer_value(json_object_get(doc, "n"));
			json_decref(doc);
			natsMsg_Destroy(m);
		}
		jsStreamInfo_Destroy(si);
	}
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	free(url);
}

static int stream_len(void)
{
	static struct stream_view v;

	read_stream(&v);
	return v.len;
}

/* The stream holds exactly the ns listed, in this order. */
static void expect_stream(const int *want, int n)
{
	static struct stream_view v;

	read_stream(&v);
	for (int i = 0; i < v.len && i < n; i++)
		if (v.n[i] != want[i])
			FAILF("stream message %d has n=%d, want n=%d (%d messages)", i + 1, v.n[i],
			      want[i], v.len);
	ASSERT_EQ_INT(v.len, n);
}

static void expect_stream_1_to(int n)
{
	int *want = malloc(sizeof(int) * (size_t)n);

	for (int i = 0; i < n; i++)
		want[i] = i + 1;
	expect_stream(want, n);
	free(want);
}

#define WAIT_UNTIL(ms, cond) do { \
	int64_t _until = now_ms() + (ms); \
	while (!(cond) && now_ms() < _until) \
		msleep(20); \
} while (0)

/* Opens the producer and waits until the stream exists and the producer
 * had time to see it (events then go out directly). */
static struct cc_events *open_ready(int port)
{
	struct cc_events *ev = NULL;
	char *url = url_of(port), *spool = cc_sprintf("%s/spool", dir), *err = NULL;

	ASSERT_EQ_INT(cc_events_open(&ev, url, spool, "p", &err), CC_OK);
	free(url);
	free(spool);
	return ev;
}

static int lines_in(const char *path)
{
	FILE *f = fopen(path, "r");
	int n = 0, c;

	if (!f)
		return 0;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/* ------------------------------------------------------------------ tests */

/* Events in flight when NATS dies are lost with it; they go to the spool
 * before the events published after them, and reach the stream first. */
TEST(order_kept_when_acks_fail)
{
	struct cc_events *ev;

	setup();
	nats_start();
	ev = open_ready(nats_port);
	WAIT_UNTIL(10000, stream_len() >= 0 && pending(ev) == 0);
	msleep(800);
	publish_range(ev, 1, 5);
	WAIT_UNTIL(10000, stream_len() == 5);
	ASSERT_EQ_INT(stream_len(), 5);
	/* 6..10 leave while NATS is frozen, then it dies with them unread */
	nats_kill(SIGSTOP);
	publish_range(ev, 6, 10);
	msleep(200);
	nats_kill(SIGKILL);
	WAIT_UNTIL(5000, natsConnection_Status(cc_events_conn(ev)) != NATS_CONN_STATUS_CONNECTED);
	publish_range(ev, 11, 15);
	msleep(3500);  /* past the acknowledgement timeout of 6..10 */
	nats_start();
	WAIT_UNTIL(15000, pending(ev) == 0 && stream_len() >= 15);
	ASSERT_EQ_INT(pending(ev), 0);
	expect_stream_1_to(15);
	cc_events_close(ev, 1000);
	teardown();
}

/* A delaying TCP relay between the producer and NATS: a link with a few
 * milliseconds of round trip, as to a NATS on another host. */
struct relay {
	int listen_fd;
	int delay_ms;
};

struct pipe_half {
	int from, to, delay_ms;
};

static void *pipe_main(void *arg)
{
	struct pipe_half *h = arg;
	char buf[65536];
	ssize_t n;

	while ((n = read(h->from, buf, sizeof(buf))) > 0) {
		msleep(h->delay_ms);
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(h->to, buf + off, (size_t)(n - off));

			if (w <= 0)
				goto out;
			off += w;
		}
	}
out:
	shutdown(h->from, SHUT_RDWR);
	shutdown(h->to, SHUT_RDWR);
	free(h);
	return NULL;
}

static void *relay_main(void *arg)
{
	struct relay *r = arg;
	int c;

	while ((c = accept(r->listen_fd, NULL, NULL)) >= 0) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)nats_port),
		                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		int up = socket(AF_INET, SOCK_STREAM, 0);
		struct pipe_half *h1 = malloc(sizeof(*h1)), *h2 = malloc(sizeof(*h2));
		pthread_t t;

		if (connect(up, (struct sockaddr *)&a, sizeof(a)) != 0) {
			close(up);
			close(c);
			free(h1);
			free(h2);
			continue;
		}
		*h1 = (struct pipe_half){ c, up, r->delay_ms };
		*h2 = (struct pipe_half){ up, c, r->delay_ms };
		pthread_create(&t, NULL, pipe_main, h1);
		pthread_detach(t);
		pthread_create(&t, NULL, pipe_main, h2);
		pthread_detach(t);
	}
	return NULL;
}

static void relay_start(struct relay *r, int port, int delay_ms)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1;
	pthread_t t;

	r->delay_ms = delay_ms;
	r->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(r->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	ASSERT(bind(r->listen_fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	ASSERT(listen(r->listen_fd, 16) == 0);
	pthread_create(&t, NULL, relay_main, r);
	pthread_detach(t);
}

/* 4,000 spooled events and 300 new ones a second over a link with a 6 ms
 * round trip: the spool drains within 8 s (one publish per round trip
 * drains at most ~160 a second, less than arrive). */
TEST(replay_drains_under_load)
{
	struct relay r;
	struct cc_events *ev;
	int relay_port, n = 0;
	int64_t t0, drained_at = 0;

	setup();
	nats_start();
	relay_port = free_port();
	/* the relay does not listen yet: NATS unreachable, everything spools */
	ev = open_ready(relay_port);
	publish_range(ev, 1, 4000);
	n = 4000;
	ASSERT_EQ_INT(pending(ev), 4000);
	relay_start(&r, relay_port, 3);
	t0 = now_ms();
	while (now_ms() - t0 < 12000) {
		publish_range(ev, n + 1, n + 3);
		n += 3;
		msleep(10);
		if (pending(ev) == 0) {
			drained_at = now_ms();
			break;
		}
	}
	fprintf(stderr, "  drained after %lld ms (%d events)\n",
	        drained_at ? (long long)(drained_at - t0) : -1LL, n);
	ASSERT(drained_at);
	ASSERT(drained_at - t0 < 8000);
	WAIT_UNTIL(10000, stream_len() >= n);
	expect_stream_1_to(n);
	cc_events_close(ev, 1000);
	close(r.listen_fd);
	teardown();
}

/* Malformed lines (no subject, not JSON, cut short) are moved to the
 * dead-letter file; the rest is replayed and events go out directly again. */
TEST(malformed_lines_dead_lettered)
{
	struct cc_events *ev;
	struct cc_events_stats st;
	char *l1 = spool_line(1), *l2 = spool_line(2), *l3 = spool_line(3);
	char *text = cc_sprintf("%sgarbage without a tab\n%scc.call.t1.offered\tnot json\n%s"
	                        "cc.call.t1.offered\t{\"v\":1,\"id\":\"cut", l1, l2, l3);
	char *spool, *path, *dead;
	const int want[] = { 1, 2, 3, 4 };

	setup();
	spool = cc_sprintf("%s/spool", dir);
	mkdir(spool, 0700);
	path = cc_sprintf("%s/p.spool", spool);
	dead = cc_sprintf("%s/p.dead", spool);
	write_file(path, text);
	nats_start();
	ev = open_ready(nats_port);
	WAIT_UNTIL(10000, pending(ev) == 0);
	ASSERT_EQ_INT(pending(ev), 0);
	ASSERT_EQ_INT(lines_in(dead), 3);
	msleep(500);
	cc_events_stats(ev, &st);
	publish_range(ev, 4, 4);
	{
		struct cc_events_stats st2;

		cc_events_stats(ev, &st2);
		ASSERT_EQ_INT(st2.published, st.published + 1);  /* directly: the spool is drained */
	}
	WAIT_UNTIL(5000, stream_len() >= 4);
	expect_stream(want, 4);
	cc_events_close(ev, 1000);
	free(l1), free(l2), free(l3), free(text), free(spool), free(path), free(dead);
	teardown();
}

/* A line JetStream always refuses (a subject no stream takes) is moved to
 * the dead-letter file after a few tries; the lines after it go out. */
TEST(refused_line_does_not_block)
{
	struct cc_events *ev;
	char *l1 = spool_line(1), *l2 = spool_line(2), *bad = spool_line_on("cc.elsewhere.x", 99);
	char *text, *spool, *path, *dead;
	const int want[] = { 1, 2 };
	FILE *f;
	char buf[512] = "";

	setup();
	text = cc_sprintf("%s%s%s", l1, bad, l2);
	spool = cc_sprintf("%s/spool", dir);
	mkdir(spool, 0700);
	path = cc_sprintf("%s/p.spool", spool);
	dead = cc_sprintf("%s/p.dead", spool);
	write_file(path, text);
	nats_start();
	ev = open_ready(nats_port);
	WAIT_UNTIL(15000, pending(ev) == 0);
	ASSERT_EQ_INT(pending(ev), 0);
	WAIT_UNTIL(5000, stream_len() >= 2);
	expect_stream(want, 2);
	f = fopen(dead, "r");
	ASSERT(f);
	ASSERT(fgets(buf, sizeof(buf), f));
	fclose(f);
	ASSERT(strncmp(buf, "cc.elsewhere.x\t", 15) == 0);
	cc_events_close(ev, 1000);
	free(l1), free(l2), free(bad), free(text), free(spool), free(path), free(dead);
	teardown();
}

/* CC_SPOOL_MAX_MB bounds the spool: past it, events are refused and
 * counted, and what was spooled stays whole. */
TEST(spool_capped)
{
	struct cc_events *ev;
	struct cc_events_stats st;
	char *path;
	struct stat sb;
	int refused = 0, i;

	setup();
	setenv("CC_SPOOL_MAX_MB", "1", 1);
	ev = open_ready(free_port());  /* nothing listens there */
	for (i = 1; i <= 4000; i++)
		if (cc_events_publish(ev, "cc.call.t1.offered", event_n(i, 400)) != CC_OK)
			refused++;
	cc_events_stats(ev, &st);
	path = cc_sprintf("%s/spool/p.spool", dir);
	ASSERT(stat(path, &sb) == 0);
	ASSERT(sb.st_size <= 1 << 20);
	ASSERT(refused > 0);
	ASSERT_EQ_INT(st.dropped, refused);
	ASSERT_EQ_INT(st.spooled + st.dropped, 4000);
	ASSERT_EQ_INT(lines_in(path), st.spooled);
	cc_events_close(ev, 100);
	free(path);
	teardown();
}

/* The spool reaches the disk: with every event (CC_SPOOL_SYNC_MS=0) or
 * within the period. */
TEST(spool_synced)
{
	struct cc_events *ev;
	struct cc_events_stats st;
	int port;

	setup();
	port = free_port();
	setenv("CC_SPOOL_SYNC_MS", "0", 1);
	ev = open_ready(port);
	publish_range(ev, 1, 10);
	cc_events_stats(ev, &st);
	ASSERT(st.syncs >= 10);
	cc_events_close(ev, 100);
	setenv("CC_SPOOL_SYNC_MS", "50", 1);
	ev = open_ready(port);
	cc_events_stats(ev, &st);
	publish_range(ev, 11, 20);
	WAIT_UNTIL(2000, (cc_events_stats(ev, &st), st.syncs >= 1));
	ASSERT(st.syncs >= 1);
	cc_events_close(ev, 100);
	teardown();
}

/* A restart in the middle of a replay resumes at the committed position:
 * nothing lost, nothing out of order. */
TEST(restart_resumes_replay)
{
	struct cc_events *ev;

	setup();
	nats_start();
	ev = open_ready(free_port());  /* unreachable: spool 1..3000 */
	publish_range(ev, 1, 3000);
	cc_events_close(ev, 100);
	ev = open_ready(nats_port);
	WAIT_UNTIL(5000, stream_len() > 0);
	cc_events_close(ev, 100);    /* probably mid-replay */
	ev = open_ready(nats_port);
	WAIT_UNTIL(15000, pending(ev) == 0);
	ASSERT_EQ_INT(pending(ev), 0);
	publish_range(ev, 3001, 3001);
	WAIT_UNTIL(5000, stream_len() >= 3001);
	expect_stream_1_to(3001);
	cc_events_close(ev, 1000);
	teardown();
}

TEST_LIST(T(order_kept_when_acks_fail), T(replay_drains_under_load), T(malformed_lines_dead_lettered),
          T(refused_line_does_not_block), T(spool_capped), T(spool_synced), T(restart_resumes_replay))
