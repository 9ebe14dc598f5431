/* kamrpc.c: see kamrpc.h. */
#include "kamrpc.h"
#include "cc.h"
#include "clock.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RPC_MAX_REPLY (64u << 20)

/* One JSON-RPC request over Kamailio's FIFO; its whole answer, parsed, or
 * NULL with *err. The reply comes on a FIFO of our own next to Kamailio's
 * (jsonrpcs' fifo_reply_dir), opened for reading before the request goes,
 * so Kamailio's open for writing finds a reader. */
json_t *rt_kamrpc(const char *fifo, const char *reply_dir, const char *tag, const char *method,
                  const char *params, int timeout_ms, char **err)
{
	char name[64], *path = NULL, *req = NULL, *buf = NULL;
	size_t len = 0, cap = 0;
	int rfd = -1, wfd = -1, got_writer = 0;
	int64_t deadline = cc_mono_ms() + timeout_ms;
	json_t *reply = NULL;
	json_error_t jerr;

	/* a bare name: Kamailio refuses dots and slashes in reply_name */
	snprintf(name, sizeof(name), "routingd_%s_%ld", tag, (long)getpid());
	if (!(path = cc_sprintf("%s/%s", reply_dir, name)) ||
	    !(req = cc_sprintf("{\"jsonrpc\":\"2.0\",\"method\":\"%s\",\"params\":%s,"
	                       "\"reply_name\":\"%s\",\"id\":1}\n", method, params, name))) {
		cc_fail(err, "out of memory");
		goto out;
	}
	unlink(path);
	if (mkfifo(path, 0600) != 0) {
		cc_fail(err, "cannot make the reply FIFO %s: %s", path, strerror(errno));
		goto out;
	}
	if ((rfd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0) {
		cc_fail(err, "cannot open the reply FIFO %s: %s", path, strerror(errno));
		goto out;
	}
	/* ENXIO: no Kamailio reads its FIFO */
	if ((wfd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC)) < 0) {
		cc_fail(err, "Kamailio's FIFO %s: %s", fifo, strerror(errno));
		goto out;
	}
	/* shorter than PIPE_BUF: written whole or not at all */
	if (write(wfd, req, strlen(req)) != (ssize_t)strlen(req)) {
		cc_fail(err, "cannot write to Kamailio's FIFO %s: %s", fifo, strerror(errno));
		goto out;
	}
	close(wfd);
	wfd = -1;
	for (;;) {
		struct pollfd p = { .fd = rfd, .events = POLLIN };
		int64_t left = deadline - cc_mono_ms();
		ssize_t n;

		if (left <= 0) {
			cc_fail(err, "Kamailio did not answer %s within %d ms", method, timeout_ms);
			goto out;
		}
		if (poll(&p, 1, (int)left) < 0) {
			if (errno == EINTR)
				continue;
			cc_fail(err, "poll: %s", strerror(errno));
			goto out;
		}
		/* Linux reports a FIFO's hang-up only after a writer came and went */
		if (!(p.revents & (POLLIN | POLLHUP)))
			continue;
		if (cap - len < 65536) {
			if (cap >= RPC_MAX_REPLY) {
				cc_fail(err, "Kamailio's answer to %s is over %u bytes", method, RPC_MAX_REPLY);
				goto out;
			}
			cap = cap ? cap * 2 : 1 << 20;
			char *nb = realloc(buf, cap);

			if (!nb) {
				cc_fail(err, "out of memory");
				goto out;
			}
			buf = nb;
		}
		n = read(rfd, buf + len, cap - len);
		if (n > 0) {
			len += (size_t)n;
			got_writer = 1;
		} else if (n == 0 && (got_writer || (p.revents & POLLHUP))) {
			break;                /* Kamailio wrote its answer and closed */
		} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
			cc_fail(err, "reading Kamailio's answer: %s", strerror(errno));
			goto out;
		}
	}
	reply = json_loadb(buf ? buf : "", len, 0, &jerr);
	if (!json_is_object(reply)) {
		cc_fail(err, "Kamailio's answer to %s is not a JSON object: %s", method, jerr.text);
		json_decref(reply);
		reply = NULL;
	}
out:
	if (wfd >= 0)
		close(wfd);
	if (rfd >= 0)
		close(rfd);
	if (path)
		unlink(path);
	free(path);
	free(req);
	free(buf);
	return reply;
}

