/*
 * events.c: see events.h for the promises; this is how they are kept.
 *
 * Threads: the callers' (cc_events_publish), cnats's (acknowledgements and
 * connection state, one delivery thread) and the replayer's (drains the
 * spool, syncs it to disk). `mu` guards every field below it in struct
 * cc_events; `wake` tells the replayer (and a closing caller) that
 * something changed.
 *
 * Two modes.
 *   direct    nothing is spooled: each event leaves with an asynchronous
 *             JetStream publish and waits for its acknowledgement in `win`,
 *             a ring in send order.
 *   spooling  entered on the first sign of trouble (an acknowledgement
 *             failed or timed out, NATS disconnected or reconnected, the
 *             window is full, a publish was refused). Every event still
 *             unacknowledged in `win` is written to the spool first, in
 *             send order, then every new event after it; acknowledgements
 *             that arrive later for those are ignored (the replay sends
 *             them again with the same Nats-Msg-Id: the stream drops the
 *             duplicate). So the spool holds events in the order they
 *             were published, and nothing leaves directly while it does.
 * The replayer renames the spool to <name>.replaying and publishes its
 * lines in batches of asynchronous publishes (the batch doubles after each
 * batch acknowledged in full, up to REPLAY_MAX, and falls back to one line
 * after a failure), commits its read position after each batch (in
 * <name>.replaying.pos) and, when both files are empty and every replayed
 * event is acknowledged, switches back to direct. A line that can never go
 * out (malformed, or refused REFUSALS times while the stream exists) is
 * moved to <name>.dead with a log line and counted; it blocks nothing.
 */
#include "events.h"
#include "cc.h"
#include "clock.h"
#include "config.h"
#include "id.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define PUB_ACK_WAIT_MS 3000  /* an acknowledgement later than this failed */
#define WIN_MAX 4096          /* direct publishes awaiting acknowledgement */
#define REPLAY_MAX 1024       /* largest replay batch, lines */
#define REFUSALS 3            /* a line refused this often is dead */
#define SUBJECT_MAX 255       /* longest subject a spool line may carry */

/* ------------------------------------------------------------- settings */

struct spool_settings {
	long max_mb;   /* cap on unreplayed spool bytes, MiB */
	long sync_ms;  /* fdatasync period; 0: with every spooled event */
};

static const struct cc_config_row spool_rows[] = {
	{ "CC_SPOOL_MAX_MB", CC_CFG_INT, "1024", 1, 1048576,
	  offsetof(struct spool_settings, max_mb),
	  "cap on the event spool, MiB; when full, new events are dropped, logged and counted" },
	{ "CC_SPOOL_SYNC_MS", CC_CFG_INT, "100", 0, 60000,
	  offsetof(struct spool_settings, sync_ms),
	  "fdatasync the event spool this often, ms (0: with every event, on the publishing thread)" },
};
const struct cc_config_row *const cc_events_settings = spool_rows;
const size_t cc_events_settings_len = CC_ARRAY_LEN(spool_rows);

/* --------------------------------------------------------------- state */

enum { E_SENT, E_ACKED, E_FAILED };

/* One event handed to cnats and not yet resolved. The message is cnats's
 * from the publish until its acknowledgement handler returns: it is only
 * compared (and, while E_SENT, read under mu) here. */
struct entry {
	natsMsg *msg;     /* identity of the publish; NULL when not sent */
	uint64_t end;     /* replay: file offset just past the line */
	natsStatus err;   /* E_FAILED: what the acknowledgement said */
	jsErrCode jerr;   /* E_FAILED: JetStream's error code, if any */
	int state;        /* E_SENT, E_ACKED or E_FAILED */
};

/* One line of the replay file, read without the lock. */
struct line {
	char *buf;            /* the line, NUL-terminated, '\t' replaced */
	size_t len;           /* bytes on disk, '\n' included */
	const char *subject;  /* in buf */
	const char *data;     /* in buf */
	int dlen;             /* length of data */
	char id[64];          /* the event's id (Nats-Msg-Id) */
	const char *bad;      /* why it can never be sent, or NULL */
};

struct cc_events {
	natsConnection *nc;       /* NULL until the first connect succeeded */
	natsOptions *opts;        /* kept for the connection's lifetime */
	jsCtx *js;                /* JetStream context on nc */
	char *spool;              /* path of the live spool (appends) */
	char *replaying;          /* path of the spool being replayed */
	char *pos_path;           /* replay position in `replaying` */
	char *dead;               /* dead-letter file */
	uint64_t max_bytes;       /* cap on spool_bytes */
	long sync_ms;             /* CC_SPOOL_SYNC_MS */
	pthread_t replayer;       /* replay thread */
	/* replayer only */
	FILE *rf;                 /* `replaying`, open for reading */
	int pos_fd;               /* `pos_path` */
	uint64_t rf_off;          /* committed replay position */
	int rwin;                 /* next batch size */
	uint64_t blame_end;       /* the line refused last (its end offset) */
	int blame_n;              /* how often in a row */
	int64_t retry_at;         /* no batch before this (us, monotonic) */
	int64_t last_sync;        /* last fdatasync (us, monotonic) */

	pthread_mutex_t mu;       /* guards everything below */
	pthread_cond_t wake;      /* replayer and closer wake-up */
	natsStatistics *nstats;   /* scratch for the reconnect count */
	uint64_t reconnects;      /* cnats's reconnect count last seen */
	int fd;                   /* live spool, open O_APPEND */
	uint64_t live_size;       /* bytes in the live spool */
	uint64_t spool_bytes;     /* bytes in both files not yet replayed */
	uint64_t pending;         /* events in both files not yet replayed */
	bool spooling;            /* new events go to the spool */
	bool dirty;               /* written since the last fdatasync */
	bool stream_ok;           /* CC_EVENTS known to exist on this connection */
	bool stop;                /* close requested: the replayer ends */
	bool closed;              /* acknowledgements are no longer looked at */
	bool nc_closed;           /* cnats's last callback (closed) has run */
	bool sent;                /* an asynchronous publish was made (cnats
	                           * crashes listing pending ones before) */
	struct entry win[WIN_MAX];/* direct publishes, ring in send order */
	unsigned win_head;        /* oldest */
	unsigned win_len;         /* in use */
	struct entry batch[REPLAY_MAX]; /* the replay batch in flight */
	int batch_len;            /* entries in batch */
	int batch_open;           /* of those, not yet resolved */
	struct cc_events_stats st;
};

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* cnats's count of reconnects (it counts before the connection is usable
 * again, so it is ahead of our callback); called with mu held. */
static uint64_t reconnect_count(struct cc_events *ev)
{
	uint64_t n = 0;

	if (natsConnection_GetStats(ev->nc, ev->nstats) != NATS_OK ||
	    natsStatistics_GetCounts(ev->nstats, NULL, NULL, NULL, NULL, &n) != NATS_OK)
		return 0;
	return n;
}

/* Waits on wake for at most ms; called with mu held. */
static void wait_ms(struct cc_events *ev, long ms)
{
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&ev->wake, &ev->mu, &until);
}

/* ---------------------------------------------------------------- spool */

/* Appends "subject\tdata\n"; called with mu held. CC_DECLINED when the
 * spool is full (the event is dropped and counted), CC_ERROR when it
 * cannot be written. */
static int spool_append(struct cc_events *ev, const char *subject, const char *data, int len)
{
	size_t slen = strlen(subject), need = slen + (size_t)len + 2;
	struct iovec iov[4] = {
		{ (void *)subject, slen }, { "\t", 1 }, { (void *)data, (size_t)len }, { "\n", 1 },
	};
	ssize_t n;

	if (ev->spool_bytes + need > ev->max_bytes) {
		ev->st.dropped++;
		if ((ev->st.dropped & (ev->st.dropped - 1)) == 0)
			CC_ERR("events: spool full (%llu bytes, CC_SPOOL_MAX_MB), event dropped "
			       "(%llu dropped so far)", (unsigned long long)ev->spool_bytes,
			       (unsigned long long)ev->st.dropped);
		return CC_DECLINED;
	}
	n = writev(ev->fd, iov, 4);
	if (n != (ssize_t)need) {
		cc_log(CC_LOG_ERR, n < 0 ? errno : ENOSPC, NULL, NULL, "events: cannot write spool %s",
		       ev->spool);
		/* no half line for the replay to choke on */
		if (n > 0 && ftruncate(ev->fd, (off_t)ev->live_size) != 0)
			CC_ERR("events: cannot cut a half-written line off %s", ev->spool);
		return CC_ERROR;
	}
	ev->live_size += need;
	ev->spool_bytes += need;
	ev->pending++;
	ev->st.spooled++;
	if (ev->sync_ms == 0) {
		fdatasync(ev->fd);
		ev->st.syncs++;
	} else {
		ev->dirty = true;
	}
	pthread_cond_signal(&ev->wake);
	return CC_OK;
}

/* Switches to spooling: every direct publish not yet acknowledged goes to
 * the spool first, in send order. Called with mu held. */
static void enter_spool(struct cc_events *ev, const char *why)
{
	unsigned moved = 0;

	if (!ev->spooling)
		CC_WARN("events: spooling (%s)", why);
	ev->spooling = true;
	for (unsigned i = 0; i < ev->win_len; i++) {
		struct entry *e = &ev->win[(ev->win_head + i) % WIN_MAX];

		if (e->state != E_SENT)
			continue;
		if (spool_append(ev, natsMsg_GetSubject(e->msg), natsMsg_GetData(e->msg),
		                 natsMsg_GetDataLength(e->msg)) != CC_OK)
			CC_ERR("events: LOST %s %.*s", natsMsg_GetSubject(e->msg),
			       natsMsg_GetDataLength(e->msg), natsMsg_GetData(e->msg));
		moved++;
	}
	ev->win_head = ev->win_len = 0;
	if (moved)
		CC_WARN("events: %u unacknowledged events moved to the spool", moved);
}

static uint64_t count_lines(FILE *f)
{
	uint64_t n = 0;
	int c;

	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	return n;
}

static uint64_t file_size(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

static uint64_t read_pos(const char *path)
{
	FILE *f = fopen(path, "re");
	unsigned long long pos = 0;

	if (f) {
		if (fscanf(f, "%llu", &pos) != 1)
			pos = 0;
		fclose(f);
	}
	return pos;
}

/* ------------------------------------------------------------- replay */

/* Splits and checks one line; sets l->bad when it can never be sent. */
static void parse_line(struct line *l)
{
	char *tab, *nl;
	json_t *doc, *id;

	nl = l->len ? memchr(l->buf, '\n', l->len) : NULL;
	if (!nl || nl != l->buf + l->len - 1) {
		l->bad = "truncated line";
		return;
	}
	*nl = '\0';
	tab = memchr(l->buf, '\t', l->len);
	if (!tab || tab == l->buf || tab - l->buf > SUBJECT_MAX) {
		l->bad = "no subject";
		return;
	}
	for (const char *p = l->buf; p < tab; p++)
		if (*p <= ' ' || *p == '*' || *p == '>' || *p > '~' ||
		    (*p == '.' && (p == l->buf || p[-1] == '.' || p + 1 == tab))) {
			l->bad = "not a subject";
			return;
		}
	*tab = '\0';
	l->subject = l->buf;
	l->data = tab + 1;
	l->dlen = (int)(nl - (tab + 1));
	doc = json_loadb(l->data, (size_t)l->dlen, JSON_REJECT_DUPLICATES, NULL);
	id = json_object_get(doc, "id");
	if (!json_is_object(doc) || !json_is_string(id) || !json_string_length(id) ||
	    json_string_length(id) >= sizeof(l->id))
		l->bad = "not a JSON event with an id";
	else
		memcpy(l->id, json_string_value(id), json_string_length(id) + 1);
	json_decref(doc);
}

/* Whether a refusal is the line's fault rather than NATS's state: it will
 * be refused again. Timeouts, lost connections and a full store are not
 * (they block the spool until NATS is fixed; the cap bounds the wait). */
static bool refused(natsStatus s, jsErrCode jerr)
{
	switch (s) {
	case NATS_NO_RESPONDERS:     /* no stream takes the subject */
	case NATS_INVALID_SUBJECT:
	case NATS_MAX_PAYLOAD:
	case NATS_INVALID_ARG:
		return true;
	case NATS_ERR:               /* a JetStream API error about this message */
		return jerr != 0 && jerr != JSInsufficientResourcesErr &&
		       jerr != JSStorageResourcesExceededErr && jerr != JSStreamStoreFailedErr &&
		       jerr != JSClusterNotAvailErr && jerr != JSNotEnabledErr &&
		       jerr != JSNotEnabledForAccountErr;
	default:
		return false;
	}
}

static void dead_letter(struct cc_events *ev, const struct line *l, uint64_t at, const char *why)
{
	int fd = open(ev->dead, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	bool ok = false;

	if (fd >= 0) {
		struct iovec iov[4];
		int n = 0;

		/* the original bytes: the subject, its tab, the rest, a newline */
		if (l->subject) {
			iov[n++] = (struct iovec){ (void *)l->subject, strlen(l->subject) };
			iov[n++] = (struct iovec){ "\t", 1 };
			iov[n++] = (struct iovec){ (void *)l->data, (size_t)l->dlen };
		} else {
			iov[n++] = (struct iovec){ l->buf, strcspn(l->buf, "\n") };
		}
		iov[n++] = (struct iovec){ "\n", 1 };
		ok = writev(fd, iov, n) > 0 && fdatasync(fd) == 0;
		close(fd);
	}
	CC_WARN("events: spool line at byte %llu %s: %s %s",
	        (unsigned long long)at, why, ok ? "moved to" : "LOST, cannot write",
	        ev->dead);
}

static void write_pos(struct cc_events *ev)
{
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%020llu\n", (unsigned long long)ev->rf_off);

	if (ev->pos_fd >= 0 && pwrite(ev->pos_fd, buf, (size_t)n, 0) != n)
		CC_WARN("events: cannot write %s", ev->pos_path);
}

/* Opens the replay file, first moving the live spool there if none is
 * left from before. CC_DECLINED when there is nothing to replay. Called
 * with mu held (the rename races no append). */
static int replay_open(struct cc_events *ev)
{
	if (access(ev->replaying, F_OK) != 0) {
		if (!ev->live_size)
			return CC_DECLINED;
		if (rename(ev->spool, ev->replaying) != 0) {
			cc_log(CC_LOG_ERR, errno, NULL, NULL, "events: cannot rename %s", ev->spool);
			return CC_ERROR;
		}
		close(ev->fd);
		ev->fd = open(ev->spool, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		CC_BUG_ON(ev->fd < 0);
		ev->live_size = 0;
		unlink(ev->pos_path);
	}
	ev->rf = fopen(ev->replaying, "re");
	if (!ev->rf) {
		cc_log(CC_LOG_ERR, errno, NULL, NULL, "events: cannot read %s", ev->replaying);
		return CC_ERROR;
	}
	ev->rf_off = read_pos(ev->pos_path);
	ev->pos_fd = open(ev->pos_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fseeko(ev->rf, (off_t)ev->rf_off, SEEK_SET) != 0)
		ev->rf_off = 0;
	return CC_OK;
}

/* Done with the replay file: removed with its position. */
static void replay_done(struct cc_events *ev)
{
	fclose(ev->rf);
	ev->rf = NULL;
	if (ev->pos_fd >= 0)
		close(ev->pos_fd);
	ev->pos_fd = -1;
	unlink(ev->replaying);
	unlink(ev->pos_path);
}

/* Syncs the live spool if it is due; called with mu held. */
static void sync_if_due(struct cc_events *ev, bool now)
{
	int fd = ev->fd;

	if (!ev->dirty || ev->sync_ms == 0 || (!now && mono_us() - ev->last_sync < ev->sync_ms * 1000))
		return;
	ev->dirty = false;
	ev->last_sync = mono_us();
	pthread_mutex_unlock(&ev->mu);
	fdatasync(fd);  /* the replayer alone closes fd */
	pthread_mutex_lock(&ev->mu);
	ev->st.syncs++;
}

/* Reads, publishes and commits one batch. Called with mu held; drops it
 * to read the file and while the acknowledgements come. */
static void replay_batch(struct cc_events *ev)
{
	struct line *lines = calloc((size_t)ev->rwin, sizeof(*lines));
	int n = 0, done = 0, acked = 0;
	size_t cap = 0;
	uint64_t off, start, bytes = 0;
	int64_t until;

	CC_BUG_ON(!lines);
	pthread_mutex_unlock(&ev->mu);
	while (n < ev->rwin) {
		char *buf = NULL;
		ssize_t len = getline(&buf, &cap, ev->rf);

		cap = 0;
		if (len <= 0) {
			free(buf);
			break;
		}
		lines[n].buf = buf;
		lines[n].len = (size_t)len;
		parse_line(&lines[n++]);
	}
	pthread_mutex_lock(&ev->mu);
	if (n == 0) {
		/* the file is drained: everything in it was acknowledged */
		replay_done(ev);
		free(lines);
		return;
	}
	/* publish the batch, in order; the lock is dropped around each publish
	 * so that publishers (spooling meanwhile) never wait for a whole batch */
	off = ev->rf_off;
	ev->batch_len = ev->batch_open = 0;
	for (int i = 0; i < n; i++) {
		struct entry *e = &ev->batch[ev->batch_len++];
		jsPubOptions po;
		natsMsg *m = NULL;
		natsStatus s;

		off += lines[i].len;
		*e = (struct entry){ .end = off, .state = E_FAILED, .err = NATS_INVALID_ARG };
		if (lines[i].bad)
			continue;
		jsPubOptions_Init(&po);
		po.MsgId = lines[i].id;
		po.MaxWait = PUB_ACK_WAIT_MS;
		s = natsMsg_Create(&m, lines[i].subject, NULL, lines[i].data, lines[i].dlen);
		if (s == NATS_OK) {
			natsMsg *sent = m;

			/* known before cnats can acknowledge it */
			*e = (struct entry){ .msg = m, .end = off, .state = E_SENT };
			ev->batch_open++;
			ev->sent = true;
			pthread_mutex_unlock(&ev->mu);
			s = js_PublishMsgAsync(ev->js, &sent, &po);
			pthread_mutex_lock(&ev->mu);
			if (s != NATS_OK) {
				natsMsg_Destroy(m);  /* still ours: not sent */
				ev->batch_open--;
			}
		}
		if (s != NATS_OK)
			*e = (struct entry){ .end = off, .state = E_FAILED, .err = s };
	}
	/* every publish resolves within its MaxWait; a little more, then give up */
	until = mono_us() + (PUB_ACK_WAIT_MS + 2000) * 1000LL;
	while (ev->batch_open > 0 && !ev->stop && mono_us() < until) {
		sync_if_due(ev, false);  /* the spool grows meanwhile (NATS hung) */
		wait_ms(ev, ev->sync_ms && ev->sync_ms < 100 ? ev->sync_ms : 100);
	}
	/* commit the longest prefix that is done */
	start = ev->rf_off;
	for (done = 0; done < n; done++) {
		struct entry *e = &ev->batch[done];

		if (e->state == E_ACKED) {
			acked++;
		} else if (lines[done].bad) {
			dead_letter(ev, &lines[done], e->end - lines[done].len, lines[done].bad);
			ev->st.dead++;
		} else if (e->state == E_FAILED && refused(e->err, e->jerr)) {
			bool exists;
			char *err = NULL;

			/* refused while the stream is there: the line's fault */
			pthread_mutex_unlock(&ev->mu);
			exists = cc_events_ensure_stream(ev->js, &err) == CC_OK;
			free(err);
			pthread_mutex_lock(&ev->mu);
			if (!exists) {
				ev->stream_ok = false;
				break;
			}
			if (ev->blame_end != e->end)
				ev->blame_n = 0;
			ev->blame_end = e->end;
			if (++ev->blame_n < REFUSALS && e->err != NATS_INVALID_SUBJECT &&
			    e->err != NATS_MAX_PAYLOAD)
				break;
			{
				char *why = cc_sprintf("refused %d times (%s, %d)", ev->blame_n,
				                       natsStatus_GetText(e->err), (int)e->jerr);

				dead_letter(ev, &lines[done], e->end - lines[done].len, why ? why : "refused");
				free(why);
			}
			ev->st.dead++;
			ev->blame_n = 0;
		} else {
			break;
		}
		bytes += lines[done].len;
	}
	ev->batch_len = ev->batch_open = 0;  /* late acknowledgements are ignored */
	ev->rf_off = done ? ev->batch[done - 1].end : start;
	ev->pending -= (uint64_t)done;
	ev->spool_bytes -= bytes;
	ev->st.replayed += (uint64_t)acked;
	write_pos(ev);
	if (done < n) {
		/* read again from the first line not done, one at a time */
		fseeko(ev->rf, (off_t)ev->rf_off, SEEK_SET);
		ev->rwin = 1;
		ev->retry_at = mono_us() + 250000;
	} else if (ev->rwin < REPLAY_MAX) {
		ev->rwin = ev->rwin * 2 > REPLAY_MAX ? REPLAY_MAX : ev->rwin * 2;
	}
	for (int i = 0; i < n; i++)
		free(lines[i].buf);
	free(lines);
}

static void *replay_main(void *arg)
{
	struct cc_events *ev = arg;

	pthread_mutex_lock(&ev->mu);
	while (!ev->stop) {
		bool up;

		sync_if_due(ev, false);
		if (!ev->spooling) {
			wait_ms(ev, ev->dirty ? ev->sync_ms : 1000);
			continue;
		}
		up = ev->nc && natsConnection_Status(ev->nc) == NATS_CONN_STATUS_CONNECTED;
		if (!up || mono_us() < ev->retry_at) {
			wait_ms(ev, ev->dirty && ev->sync_ms < 250 ? ev->sync_ms : 250);
			continue;
		}
		if (!ev->stream_ok) {
			char *err = NULL;
			int ok;

			pthread_mutex_unlock(&ev->mu);
			ok = cc_events_ensure_stream(ev->js, &err) == CC_OK;
			if (!ok)
				CC_WARN("events: %s", err);
			free(err);
			pthread_mutex_lock(&ev->mu);
			ev->stream_ok = ok;
			if (!ok) {
				ev->retry_at = mono_us() + 1000000;
				continue;
			}
		}
		if (!ev->rf) {
			int rc = replay_open(ev);

			if (rc == CC_DECLINED && !ev->pending) {
				/* drained: events go out directly again */
				ev->spooling = false;
				ev->rwin = 1;
				ev->reconnects = reconnect_count(ev);  /* the ones before do not matter */
				if (ev->st.replayed || ev->st.dead)
					CC_INFO("events: spool drained (%llu replayed, %llu dead so far)",
					        (unsigned long long)ev->st.replayed,
					        (unsigned long long)ev->st.dead);
				continue;
			}
			if (rc != CC_OK) {
				/* pending but no file: counted lines that are gone */
				if (rc == CC_DECLINED)
					ev->pending = ev->spool_bytes = 0;
				ev->retry_at = mono_us() + 1000000;
				continue;
			}
		}
		replay_batch(ev);
	}
	sync_if_due(ev, true);
	if (ev->rf) {
		write_pos(ev);
		fclose(ev->rf);
		ev->rf = NULL;
		if (ev->pos_fd >= 0)
			close(ev->pos_fd);
		ev->pos_fd = -1;
	}
	pthread_mutex_unlock(&ev->mu);
	return NULL;
}

/* ------------------------------------------------------------ NATS side */

/* Every asynchronous publish ends here once: acknowledged, refused or
 * timed out. */
static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
	struct cc_events *ev = closure;

	pthread_mutex_lock(&ev->mu);
	if (ev->closed)
		goto out;
	for (int i = 0; i < ev->batch_len; i++) {
		struct entry *e = &ev->batch[i];

		if (e->msg != msg || e->state != E_SENT)
			continue;
		e->state = pa ? E_ACKED : E_FAILED;
		if (pae) {
			e->err = pae->Err;
			e->jerr = pae->ErrCode;
			if (pae->Err == NATS_NO_RESPONDERS)
				ev->stream_ok = false;
		}
		e->msg = NULL;
		if (--ev->batch_open == 0)
			pthread_cond_broadcast(&ev->wake);
		goto out;
	}
	for (unsigned i = 0; i < ev->win_len; i++) {
		struct entry *e = &ev->win[(ev->win_head + i) % WIN_MAX];

		if (e->msg != msg || e->state != E_SENT)
			continue;
		if (!pa) {
			/* this one and every later one go to the spool, in order */
			char *why = cc_sprintf("publish to %s not acknowledged: %s",
			                       natsMsg_GetSubject(msg), pae->ErrText);

			if (pae->Err == NATS_NO_RESPONDERS)
				ev->stream_ok = false;
			enter_spool(ev, why ? why : "publish not acknowledged");
			free(why);
			goto out;
		}
		e->state = E_ACKED;
		e->msg = NULL;
		ev->st.acked++;
		while (ev->win_len && ev->win[ev->win_head].state == E_ACKED) {
			ev->win_head = (ev->win_head + 1) % WIN_MAX;
			ev->win_len--;
		}
		if (!ev->win_len && ev->stop)
			pthread_cond_broadcast(&ev->wake);
		goto out;
	}
out:
	pthread_mutex_unlock(&ev->mu);
	natsMsg_Destroy(msg);
}

static void on_disconnected(natsConnection *nc, void *closure)
{
	struct cc_events *ev = closure;

	pthread_mutex_lock(&ev->mu);
	if (!ev->closed)
		enter_spool(ev, "NATS disconnected");
	pthread_mutex_unlock(&ev->mu);
}

/* cnats's last callback for the connection, after any disconnected one:
 * once it ran, nothing of cnats's callback thread touches ev any more. */
static void on_closed(natsConnection *nc, void *closure)
{
	struct cc_events *ev = closure;

	pthread_mutex_lock(&ev->mu);
	ev->nc_closed = true;
	pthread_cond_broadcast(&ev->wake);
	pthread_mutex_unlock(&ev->mu);
}

static void on_reconnected(natsConnection *nc, void *closure)
{
	struct cc_events *ev = closure;

	CC_INFO("events: NATS connected");
	pthread_mutex_lock(&ev->mu);
	ev->stream_ok = false;
	pthread_cond_signal(&ev->wake);
	pthread_mutex_unlock(&ev->mu);
}

int cc_events_ensure_stream(jsCtx *js, char **err)
{
	static const char *subjects[] = { "cc.call.>", "cc.agent.>", "cc.billing.>" };
	jsStreamInfo *si = NULL;
	jsStreamConfig sc;
	jsErrCode jerr = 0;
	natsStatus s;

	s = js_GetStreamInfo(&si, js, CC_EVENTS_STREAM, NULL, &jerr);
	if (s == NATS_OK) {
		jsStreamInfo_Destroy(si);
		return CC_OK;
	}
	jsStreamConfig_Init(&sc);
	sc.Name = CC_EVENTS_STREAM;
	sc.Subjects = subjects;
	sc.SubjectsLen = 3;
	sc.Storage = js_FileStorage;
	sc.Duplicates = (int64_t)120 * 1000000000LL;
	s = js_AddStream(&si, js, &sc, NULL, &jerr);
	if (s != NATS_OK && jerr != JSStreamNameExistErr)
		return cc_fail(err, "cannot create stream %s: %s (%d)", CC_EVENTS_STREAM,
		               natsStatus_GetText(s), (int)jerr);
	jsStreamInfo_Destroy(si);
	return CC_OK;
}

int cc_events_open(struct cc_events **out, const char *url, const char *spool_dir,
                   const char *name, char **err)
{
	struct cc_events *ev = calloc(1, sizeof(*ev));
	struct spool_settings set;
	jsOptions jo;
	natsStatus s;
	FILE *f;

	CC_BUG_ON(!ev);
	ev->fd = ev->pos_fd = -1;
	pthread_mutex_init(&ev->mu, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&ev->wake, &ca);
		pthread_condattr_destroy(&ca);
	}
	if (cc_config_load(cc_events_settings, cc_events_settings_len, &set, err) != CC_OK)
		goto fail;
	ev->max_bytes = (uint64_t)set.max_mb << 20;
	ev->sync_ms = set.sync_ms;
	ev->rwin = 1;
	mkdir(spool_dir, 0700);
	ev->spool = cc_sprintf("%s/%s.spool", spool_dir, name);
	ev->replaying = cc_sprintf("%s/%s.replaying", spool_dir, name);
	ev->pos_path = cc_sprintf("%s/%s.replaying.pos", spool_dir, name);
	ev->dead = cc_sprintf("%s/%s.dead", spool_dir, name);
	CC_BUG_ON(!ev->spool || !ev->replaying || !ev->pos_path || !ev->dead);
	ev->fd = open(ev->spool, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (ev->fd < 0) {
		cc_fail(err, "cannot open spool %s: %s", ev->spool, strerror(errno));
		goto fail;
	}
	/* what an earlier run left: the live spool and the unreplayed part of
	 * the replay file */
	ev->live_size = file_size(ev->spool);
	if ((f = fopen(ev->spool, "re"))) {
		/* a line cut short by a crash ends here, as its own (malformed)
		 * line, instead of swallowing the next one */
		if (ev->live_size && fseeko(f, -1, SEEK_END) == 0 && fgetc(f) != '\n' &&
		    write(ev->fd, "\n", 1) == 1)
			ev->live_size++;
		rewind(f);
		ev->pending = count_lines(f);
		fclose(f);
	}
	ev->spool_bytes = ev->live_size;
	if ((f = fopen(ev->replaying, "re"))) {
		uint64_t pos = read_pos(ev->pos_path), size = file_size(ev->replaying);

		if (pos > size || fseeko(f, (off_t)pos, SEEK_SET) != 0)
			pos = 0;
		ev->pending += count_lines(f);
		ev->spool_bytes += size - pos;
		fclose(f);
	}
	if (ev->pending)
		CC_INFO("events: %llu events in the spool from an earlier run",
		        (unsigned long long)ev->pending);
	ev->spooling = true;  /* until the stream is known to be there */
	if (natsStatistics_Create(&ev->nstats) != NATS_OK) {
		cc_fail(err, "out of memory for NATS statistics");
		goto fail;
	}

	if (!(ev->opts = cc_nats_options(url, name, err)))
		goto fail;
	natsOptions_SetReconnectBufSize(ev->opts, 0); /* no hidden buffer: we spool */
	natsOptions_SetTimeout(ev->opts, 1000);
	natsOptions_SetDisconnectedCB(ev->opts, on_disconnected, ev);
	natsOptions_SetReconnectedCB(ev->opts, on_reconnected, ev);
	natsOptions_SetClosedCB(ev->opts, on_closed, ev);
	natsOptions_SetRetryOnFailedConnect(ev->opts, true, on_reconnected, ev);
	s = natsConnection_Connect(&ev->nc, ev->opts);
	if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) {
		cc_fail(err, "NATS %s: %s", url, natsStatus_GetText(s));
		goto fail;
	}
	jsOptions_Init(&jo);
	jo.PublishAsync.AckHandler = on_ack;
	jo.PublishAsync.AckHandlerClosure = ev;
	/* above WIN_MAX + REPLAY_MAX plus the flushed ones still timing out,
	 * so a publish never stalls; if it would, it fails after 1 ms and the
	 * event is spooled */
	jo.PublishAsync.MaxPending = 65536;
	jo.PublishAsync.StallWait = 1;
	s = natsConnection_JetStream(&ev->js, ev->nc, &jo);
	if (s != NATS_OK) {
		cc_fail(err, "JetStream: %s", natsStatus_GetText(s));
		goto fail;
	}
	pthread_create(&ev->replayer, NULL, replay_main, ev);
	*out = ev;
	return CC_OK;
fail:
	if (ev->nc)
		natsConnection_Destroy(ev->nc);
	natsOptions_Destroy(ev->opts);
	natsStatistics_Destroy(ev->nstats);
	if (ev->fd >= 0)
		close(ev->fd);
	free(ev->spool);
	free(ev->replaying);
	free(ev->pos_path);
	free(ev->dead);
	pthread_mutex_destroy(&ev->mu);
	pthread_cond_destroy(&ev->wake);
	free(ev);
	return CC_ERROR;
}

void cc_events_close(struct cc_events *ev, int wait_ms_)
{
	natsMsgList pending = { 0 };
	int64_t until;

	if (!ev)
		return;
	pthread_mutex_lock(&ev->mu);
	ev->stop = true;
	pthread_cond_broadcast(&ev->wake);
	pthread_mutex_unlock(&ev->mu);
	pthread_join(ev->replayer, NULL);
	/* direct publishes: wait for their acknowledgements a while, then
	 * spool what is left (the replay batch's lines are still in the file,
	 * after the committed position) */
	until = mono_us() + (int64_t)wait_ms_ * 1000;
	pthread_mutex_lock(&ev->mu);
	while (ev->win_len && mono_us() < until &&
	       natsConnection_Status(ev->nc) == NATS_CONN_STATUS_CONNECTED)
		wait_ms(ev, 20);
	if (ev->win_len)
		enter_spool(ev, "closing");
	ev->closed = true;
	pthread_mutex_unlock(&ev->mu);
	fdatasync(ev->fd);
	/* take every message back from cnats: no acknowledgement handler runs after */
	if (ev->sent && js_PublishAsyncGetPendingList(&pending, ev->js) == NATS_OK)
		natsMsgList_Destroy(&pending);
	/* close first and wait for the closed callback: a disconnected
	 * callback still queued would otherwise run on a freed ev */
	natsConnection_Close(ev->nc);
	until = mono_us() + 5000000;
	pthread_mutex_lock(&ev->mu);
	while (!ev->nc_closed && mono_us() < until)
		wait_ms(ev, 20);
	pthread_mutex_unlock(&ev->mu);
	jsCtx_Destroy(ev->js);
	natsConnection_Destroy(ev->nc);
	natsOptions_Destroy(ev->opts);
	natsStatistics_Destroy(ev->nstats);
	close(ev->fd);
	pthread_mutex_destroy(&ev->mu);
	pthread_cond_destroy(&ev->wake);
	free(ev->spool);
	free(ev->replaying);
	free(ev->pos_path);
	free(ev->dead);
	free(ev);
}

/* ------------------------------------------------------------ publishing */

json_t *cc_event_new(const char *tenant, const char *type)
{
	char id[CC_UUID_LEN], ts[CC_RFC3339_LEN];

	if (cc_uuid(id) != CC_OK)
		return NULL;
	cc_rfc3339(cc_now_us(), ts);
	return json_pack("{s:i, s:s, s:s, s:s, s:s}", "v", CC_EVENT_VERSION, "id", id,
	                 "ts", ts, "tenant", tenant ? tenant : "", "type", type);
}

/* Why an event cannot go out directly now, or NULL; called with mu held. */
static const char *not_direct(struct cc_events *ev)
{
	uint64_t reconnects;

	if (ev->spooling)
		return "spooling";
	if (!ev->stream_ok)
		return "stream not checked";
	if (natsConnection_Status(ev->nc) != NATS_CONN_STATUS_CONNECTED)
		return "NATS not connected";
	if (ev->win_len == WIN_MAX)
		return "too many events unacknowledged";
	/* a reconnect whose callback has not run yet: what was in flight on
	 * the old connection may be lost, so nothing may overtake it */
	if ((reconnects = reconnect_count(ev)) != ev->reconnects) {
		ev->reconnects = reconnects;
		return "NATS reconnected";
	}
	return NULL;
}

int cc_events_publish(struct cc_events *ev, const char *subject, json_t *event)
{
	char *data = json_dumps(event, JSON_COMPACT);
	const char *id = json_string_value(json_object_get(event, "id"));
	const char *why;
	int rc = CC_OK, len;

	if (!data) {
		json_decref(event);
		return CC_ERROR;
	}
	len = (int)strlen(data);
	pthread_mutex_lock(&ev->mu);
	why = not_direct(ev);
	if (!why) {
		struct entry *e = &ev->win[(ev->win_head + ev->win_len) % WIN_MAX];
		jsPubOptions po;
		natsMsg *m = NULL;
		natsStatus s;

		jsPubOptions_Init(&po);
		po.MsgId = id;
		po.MaxWait = PUB_ACK_WAIT_MS;
		s = natsMsg_Create(&m, subject, NULL, data, len);
		if (s == NATS_OK) {
			*e = (struct entry){ .msg = m, .state = E_SENT };
			ev->win_len++;
			ev->sent = true;
			s = js_PublishMsgAsync(ev->js, &m, &po);
			if (s != NATS_OK) {
				ev->win_len--;  /* not sent: it goes to the spool below */
				natsMsg_Destroy(m);
			}
		}
		if (s == NATS_OK)
			ev->st.published++;
		else
			why = natsStatus_GetText(s);
	}
	if (why) {
		if (!ev->spooling)
			enter_spool(ev, why);
		rc = spool_append(ev, subject, data, len);
		if (rc == CC_ERROR)
			CC_ERR("events: LOST %s %s", subject, data);
	}
	pthread_mutex_unlock(&ev->mu);
	free(data);
	json_decref(event);
	return rc == CC_OK ? CC_OK : CC_ERROR;
}

int cc_events_notify(struct cc_events *ev, const char *subject, const char *text)
{
	return natsConnection_PublishString(ev->nc, subject, text) == NATS_OK ? CC_OK : CC_ERROR;
}

natsConnection *cc_events_conn(struct cc_events *ev)
{
	return ev->nc;
}

void cc_events_stats(struct cc_events *ev, struct cc_events_stats *st)
{
	pthread_mutex_lock(&ev->mu);
	*st = ev->st;
	st->pending = ev->pending;
	st->spool_bytes = ev->spool_bytes;
	st->spooling = ev->spooling;
	pthread_mutex_unlock(&ev->mu);
}

/* ------------------------------------------------------------ connecting */

/* Permission violations and other asynchronous errors would otherwise be
 * silent: a refused subscription simply never delivers. */
static void on_nats_error(natsConnection *nc, natsSubscription *sub, natsStatus s, void *closure)
{
	const char *text = NULL;

	natsConnection_GetLastError(nc, &text);
	cc_log(s == NATS_NOT_PERMITTED ? CC_LOG_ERR : CC_LOG_WARN, 0, NULL, NULL,
	       "NATS %s: %s", natsStatus_GetText(s), text ? text : "");
}

/* Reads "user:password" from path into user and pw (each shorter than
 * cap). The user becomes a subject token (its inbox), so it is letters,
 * digits, '-' and '_' only. */
static int read_creds(const char *path, char *user, char *pw, size_t cap, char **err)
{
	static const char user_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                                 "0123456789-_";
	char line[512];
	FILE *f = fopen(path, "re");
	char *colon;
	size_t n, ulen;
	int rc = CC_OK;

	if (!f)
		return cc_fail(err, "CC_NATS_CREDS %s: %s", path, strerror(errno));
	n = fread(line, 1, sizeof(line) - 1, f);
	fclose(f);
	line[n] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	colon = strchr(line, ':');
	ulen = colon ? (size_t)(colon - line) : 0;
	if (!colon || ulen == 0 || ulen >= cap || strspn(line, user_chars) != ulen || !colon[1] ||
	    strlen(colon + 1) >= cap) {
		rc = cc_fail(err, "CC_NATS_CREDS %s does not hold one line user:password "
		             "(user of letters, digits, - and _)", path);
	} else {
		memcpy(user, line, ulen);
		user[ulen] = '\0';
		strcpy(pw, colon + 1);
	}
	explicit_bzero(line, sizeof(line));
	return rc;
}

natsOptions *cc_nats_options(const char *url, const char *name, char **err)
{
	const char *creds = getenv("CC_NATS_CREDS");
	char user[128], pw[256], inbox[160];
	natsOptions *opts = NULL;

	if (natsOptions_Create(&opts) != NATS_OK) {
		cc_fail(err, "out of memory for NATS options");
		return NULL;
	}
	natsOptions_SetURL(opts, url);
	natsOptions_SetName(opts, name);
	natsOptions_SetMaxReconnect(opts, -1);
	natsOptions_SetReconnectWait(opts, 250);
	natsOptions_SetErrorHandler(opts, on_nats_error, NULL);
	if (creds && *creds) {
		if (read_creds(creds, user, pw, sizeof(user), err) != CC_OK) {
			natsOptions_Destroy(opts);
			return NULL;
		}
		natsOptions_SetUserInfo(opts, user, pw);
		explicit_bzero(pw, sizeof(pw));
		/* replies come to _INBOX.<user>.>, the only inboxes the user may
		 * subscribe to (ops/stack.sh's NATS permissions) */
		snprintf(inbox, sizeof(inbox), "_INBOX.%s", user);
		natsOptions_SetCustomInboxPrefix(opts, inbox);
	}
	return opts;
}

natsConnection *cc_nats_connect(const char *url, const char *name, bool send_asap)
{
	natsConnection *nc = NULL;
	char *err = NULL;
	natsOptions *opts = cc_nats_options(url, name, &err);

	if (!opts) {
		CC_ERR("%s", err);
		free(err);
		return NULL;
	}
	natsOptions_SetRetryOnFailedConnect(opts, true, NULL, NULL);
	natsOptions_SetSendAsap(opts, send_asap);
	natsConnection_Connect(&nc, opts);  /* pending while NATS is away */
	natsOptions_Destroy(opts);          /* the connection keeps a copy */
	return nc;
}
