/*
 * bench_events: the event spool's drain rate against the direct-publish
 * rate, measured in the same run on the same nats-server (started here on
 * a free port with a fresh JetStream store, like tests/unit/test_events.c).
 *
 *   direct  N events published while NATS is up, at most 2,048 awaiting
 *           acknowledgement (a burst beyond 4,096 would spool the rest, by
 *           design; direct_spooled says if any did), until all acknowledged
 *   spool   N events appended while NATS is down, with CC_SPOOL_SYNC_MS=0
 *           (an fdatasync per event) and with the default period
 *   drain   a producer opened on those N spooled events, until the spool
 *           is empty and every replayed event acknowledged
 * Prints one "key value" per line and the ratio drain/direct.
 *
 *   bench_events [N]   (default 50000; events of ~330 bytes like routingd's)
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cc.h"
#include "events.h"
#include "hist.h"
#include "log.h"

static char dir[64] = "/tmp/cc-bench-events.XXXXXX";
static int port;
static pid_t nats_pid;

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) != 0)
		exit(1);
	close(fd);
	return ntohs(a.sin_port);
}

static int answers(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;

	close(fd);
	return ok;
}

static void nats_start(void)
{
	char p[16], store[96];

	snprintf(p, sizeof(p), "%d", port);
	snprintf(store, sizeof(store), "%s/js", dir);
	if ((nats_pid = fork()) == 0) {
		int fd = open("/dev/null", O_WRONLY);

		dup2(fd, 1);
		dup2(fd, 2);
		execlp("nats-server", "nats-server", "-a", "127.0.0.1", "-p", p, "-js", "-sd", store,
		       (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 400 && !answers(); i++)
		usleep(25000);
}

static void nats_stop(void)
{
	kill(nats_pid, SIGTERM);
	waitpid(nats_pid, NULL, 0);
}

static struct cc_events *open_events(void)
{
	struct cc_events *ev = NULL;
	char *url = cc_sprintf("nats://127.0.0.1:%d", port), *spool = cc_sprintf("%s/spool", dir);
	char *err = NULL;

	if (cc_events_open(&ev, url, spool, "bench", &err) != CC_OK) {
		fprintf(stderr, "bench_events: %s\n", err);
		exit(1);
	}
	free(url);
	free(spool);
	return ev;
}

static struct cc_events_stats stats(struct cc_events *ev)
{
	struct cc_events_stats st;

	cc_events_stats(ev, &st);
	return st;
}

/* Publishes n events; paced: at most `window` unacknowledged (0: no pacing). */
static void publish(struct cc_events *ev, int n, uint64_t window)
{
	for (int i = 0; i < n; i++) {
		if (window) {
			struct cc_events_stats st;

			while (cc_events_stats(ev, &st), st.published - st.acked >= window)
				usleep(50);
		}
		json_t *e = cc_event_new("6f1c1c1e-8a4e-4b61-9a51-3f7d2b8c9d10", "routed");

		json_object_set_new(e, "call", json_string("2f0d3a4b-5c6d-4e7f-8a9b-0c1d2e3f4a5b"));
		json_object_set_new(e, "direction", json_string("inbound"));
		json_object_set_new(e, "from", json_string("+8613800000001"));
		json_object_set_new(e, "to", json_string("+8657112345678"));
		json_object_set_new(e, "agent", json_string("1001"));
		json_object_set_new(e, "n", json_integer(i));
		cc_events_publish(ev, "cc.call.6f1c1c1e-8a4e-4b61-9a51-3f7d2b8c9d10.routed", e);
	}
}

static double secs(uint64_t t0)
{
	return (double)(cc_mono_ns() - t0) / 1e9;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 50000;
	struct cc_events *ev;
	uint64_t t0;
	double direct_s, drain_s, sync_each_s, sync_period_s;
	char cmd[96];

	if (n <= 0 || !mkdtemp(dir))
		return 2;
	cc_log_init("bench_events");
	cc_log_level = CC_LOG_ERR;
	unsetenv("CC_NATS_CREDS");
	setenv("CC_SPOOL_MAX_MB", "4096", 1);
	port = free_port();
	nats_start();

	/* direct: published and acknowledged */
	ev = open_events();
	while (stats(ev).spooling)
		usleep(10000);
	t0 = cc_mono_ns();
	publish(ev, n, 2048);
	/* a burst above the 4,096 unacknowledged spools the rest (by design):
	 * done when every event is acknowledged, directly or from the spool */
	while ((stats(ev).acked + stats(ev).replayed < (uint64_t)n || stats(ev).pending) &&
	       secs(t0) < 120)
		usleep(1000);
	direct_s = secs(t0);
	printf("direct_spooled %llu\n", (unsigned long long)stats(ev).spooled);
	cc_events_close(ev, 1000);
	nats_stop();

	/* spooled, NATS down: the cost of an fdatasync per event */
	setenv("CC_SPOOL_SYNC_MS", "0", 1);
	ev = open_events();
	t0 = cc_mono_ns();
	publish(ev, n / 10, 0);
	sync_each_s = secs(t0) / (n / 10);
	cc_events_close(ev, 0);
	setenv("CC_SPOOL_SYNC_MS", "100", 1);
	ev = open_events();
	t0 = cc_mono_ns();
	publish(ev, n, 0);
	sync_period_s = secs(t0) / n;
	cc_events_close(ev, 0);

	/* drain: n / 10 + n events spooled, NATS back */
	nats_start();
	ev = open_events();
	{
		uint64_t spooled = stats(ev).pending;

		t0 = cc_mono_ns();
		while (stats(ev).pending && secs(t0) < 300)
			usleep(1000);
		drain_s = secs(t0);
		printf("events %d\n", n);
		printf("direct_per_s %.0f\n", n / direct_s);
		printf("spool_append_us_sync_each %.1f\n", sync_each_s * 1e6);
		printf("spool_append_us_sync_100ms %.1f\n", sync_period_s * 1e6);
		printf("drained %llu\n", (unsigned long long)spooled);
		printf("drain_per_s %.0f\n", spooled / drain_s);
		printf("drain_to_direct %.2f\n", (spooled / drain_s) / (n / direct_s));
	}
	cc_events_close(ev, 1000);
	nats_stop();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : 1;
}
