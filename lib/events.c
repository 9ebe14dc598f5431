/* events.c: see events.h. Three threads touch this state: the caller's
 * (publish), cnats's callbacks (acknowledgement errors, connection state)
 * and the replay thread; `mu` guards the spool and the counters. */
#include "events.h"
#include "cc.h"
#include "clock.h"
#include "id.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PUB_ACK_WAIT_MS 3000

struct cc_events {
	natsConnection *nc;       /* NULL until the first connect succeeded */
	natsOptions *opts;        /* kept for the connection's lifetime */
	jsCtx *js;                /* JetStream context on nc */
	char *spool;              /* path of the spool file */
	char *replaying;          /* path of the spool being replayed */
	pthread_mutex_t mu;       /* guards everything below */
	pthread_cond_t wake;      /* signals the replay thread */
	int fd;                   /* spool, open O_APPEND */
	uint64_t pending;         /* events in the spool files */
	bool stream_ok;           /* CC_EVENTS known to exist on this connection */
	bool stop;                /* close requested */
	pthread_t replayer;       /* replay thread */
	struct cc_events_stats st;
};

/* ---------------------------------------------------------------- spool */

/* Appends "subject\tjson\n"; called with mu held. */
static int spool_append(struct cc_events *ev, const char *subject, const char *data, int len)
{
	char *line = cc_sprintf("%s\t%.*s\n", subject, len, data);
	ssize_t n;

	if (!line)
		return CC_ERROR;
	n = write(ev->fd, line, strlen(line));
	free(line);
	if (n < 0) {
		cc_log(CC_LOG_ERR, errno, NULL, NULL, "events: cannot write spool %s", ev->spool);
		return CC_ERROR;
	}
	ev->pending++;
	ev->st.spooled++;
	pthread_cond_signal(&ev->wake);
	return CC_OK;
}

static uint64_t count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	uint64_t n = 0;
	int c;

	if (!f)
		return 0;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/* Publishes every line of the replay file in order. Returns CC_OK when the
 * file is drained (and removed), CC_AGAIN when NATS failed part-way: the
 * lines not yet acknowledged are kept for the next round. */
static int replay_file(struct cc_events *ev)
{
	FILE *f = fopen(ev->replaying, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	long done_at = 0;
	int rc = CC_OK;

	if (!f)
		return CC_OK;
	while ((n = getline(&line, &cap, f)) > 0) {
		char *tab = memchr(line, '\t', n);
		jsPubOptions po;
		jsErrCode jerr = 0;
		json_t *doc;
		natsStatus s;

		if (line[n - 1] == '\n')
			line[--n] = '\0';
		if (!tab) {
			CC_WARN("events: dropping malformed spool line");
			done_at = ftell(f);
			continue;
		}
		*tab = '\0';
		doc = json_loadb(tab + 1, n - (tab + 1 - line), 0, NULL);
		jsPubOptions_Init(&po);
		po.MaxWait = PUB_ACK_WAIT_MS;
		if (doc && json_is_string(json_object_get(doc, "id")))
			po.MsgId = json_string_value(json_object_get(doc, "id"));
		s = js_Publish(NULL, ev->js, line, tab + 1, (int)(n - (tab + 1 - line)), &po, &jerr);
		json_decref(doc);
		if (s != NATS_OK) {
			rc = CC_AGAIN;
			break;
		}
		done_at = ftell(f);
		pthread_mutex_lock(&ev->mu);
		ev->pending--;
		ev->st.replayed++;
		pthread_mutex_unlock(&ev->mu);
	}
	if (rc == CC_OK) {
		fclose(f);
		unlink(ev->replaying);
		free(line);
		return CC_OK;
	}
	/* keep the tail: copy it to a fresh file and rename over the old one */
	{
		char *tmp = cc_sprintf("%s.tmp", ev->replaying);
		FILE *out = tmp ? fopen(tmp, "w") : NULL;

		if (out) {
			fseek(f, done_at, SEEK_SET);
			while ((n = getline(&line, &cap, f)) > 0)
				fwrite(line, 1, n, out);
			fclose(out);
			rename(tmp, ev->replaying);
		}
		free(tmp);
	}
	fclose(f);
	free(line);
	return CC_AGAIN;
}

static void *replay_main(void *arg)
{
	struct cc_events *ev = arg;

	pthread_mutex_lock(&ev->mu);
	while (!ev->stop) {
		struct timespec until;
		bool up;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 300 * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&ev->wake, &ev->mu, &until);
		if (ev->stop)
			break;
		up = ev->nc && natsConnection_Status(ev->nc) == NATS_CONN_STATUS_CONNECTED;
		if (!up)
			continue;
		if (!ev->stream_ok) {
			char *err = NULL;

			pthread_mutex_unlock(&ev->mu);
			int ok = cc_events_ensure_stream(ev->js, &err) == CC_OK;
			if (!ok)
				CC_WARN("events: %s", err);
			free(err);
			pthread_mutex_lock(&ev->mu);
			ev->stream_ok = ok;
			if (!ok)
				continue;
		}
		if (!ev->pending)
			continue;
		/* Move the live spool aside (unless a replay file is left over),
		 * then publish it without holding the lock. */
		if (access(ev->replaying, F_OK) != 0) {
			close(ev->fd);
			rename(ev->spool, ev->replaying);
			ev->fd = open(ev->spool, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
			CC_BUG_ON(ev->fd < 0);
		}
		pthread_mutex_unlock(&ev->mu);
		int rc = replay_file(ev);
		pthread_mutex_lock(&ev->mu);
		if (rc == CC_OK)
			CC_INFO("events: spool replayed, %llu left", (unsigned long long)ev->pending);
	}
	pthread_mutex_unlock(&ev->mu);
	return NULL;
}

/* ------------------------------------------------------------ NATS side */

static void on_ack_error(jsCtx *js, jsPubAckErr *pae, void *closure)
{
	struct cc_events *ev = closure;
	const char *subject = natsMsg_GetSubject(pae->Msg);

	pthread_mutex_lock(&ev->mu);
	ev->stream_ok = pae->ErrCode == 0 ? ev->stream_ok : false;
	spool_append(ev, subject, natsMsg_GetData(pae->Msg), natsMsg_GetDataLength(pae->Msg));
	pthread_mutex_unlock(&ev->mu);
	CC_WARN("events: publish to %s not acknowledged (%s); spooled", subject,
	        natsStatus_GetText(pae->Err));
}

static void on_disconnected(natsConnection *nc, void *closure)
{
	CC_WARN("events: NATS disconnected; spooling events");
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
	jsOptions jo;
	natsStatus s;

	CC_BUG_ON(!ev);
	pthread_mutex_init(&ev->mu, NULL);
	pthread_cond_init(&ev->wake, NULL);
	mkdir(spool_dir, 0700);
	ev->spool = cc_sprintf("%s/%s.spool", spool_dir, name);
	ev->replaying = cc_sprintf("%s/%s.replaying", spool_dir, name);
	ev->fd = open(ev->spool, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (ev->fd < 0) {
		cc_fail(err, "cannot open spool %s: %s", ev->spool, strerror(errno));
		goto fail;
	}
	ev->pending = count_lines(ev->spool) + count_lines(ev->replaying);
	if (ev->pending)
		CC_INFO("events: %llu events in the spool from an earlier run",
		        (unsigned long long)ev->pending);

	if (!(ev->opts = cc_nats_options(url, name, err)))
		goto fail;
	natsOptions_SetReconnectBufSize(ev->opts, 0); /* no hidden buffer: we spool */
	natsOptions_SetTimeout(ev->opts, 1000);
	natsOptions_SetDisconnectedCB(ev->opts, on_disconnected, ev);
	natsOptions_SetReconnectedCB(ev->opts, on_reconnected, ev);
	natsOptions_SetRetryOnFailedConnect(ev->opts, true, on_reconnected, ev);
	s = natsConnection_Connect(&ev->nc, ev->opts);
	if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) {
		cc_fail(err, "NATS %s: %s", url, natsStatus_GetText(s));
		goto fail;
	}
	jsOptions_Init(&jo);
	jo.PublishAsync.ErrHandler = on_ack_error;
	jo.PublishAsync.ErrHandlerClosure = ev;
	jo.PublishAsync.MaxPending = 65536;
	jo.PublishAsync.StallWait = 50;
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
	if (ev->fd >= 0)
		close(ev->fd);
	free(ev->spool);
	free(ev->replaying);
	free(ev);
	return CC_ERROR;
}

void cc_events_close(struct cc_events *ev, int wait_ms)
{
	jsPubOptions po;

	if (!ev)
		return;
	pthread_mutex_lock(&ev->mu);
	ev->stop = true;
	pthread_cond_signal(&ev->wake);
	pthread_mutex_unlock(&ev->mu);
	pthread_join(ev->replayer, NULL);
	jsPubOptions_Init(&po);
	po.MaxWait = wait_ms;
	if (natsConnection_Status(ev->nc) == NATS_CONN_STATUS_CONNECTED &&
	    js_PublishAsyncComplete(ev->js, &po) != NATS_OK) {
		natsMsgList pending = { 0 };

		/* anything still unacknowledged goes to the spool */
		if (js_PublishAsyncGetPendingList(&pending, ev->js) == NATS_OK) {
			for (int i = 0; i < pending.Count; i++)
				spool_append(ev, natsMsg_GetSubject(pending.Msgs[i]),
				             natsMsg_GetData(pending.Msgs[i]),
				             natsMsg_GetDataLength(pending.Msgs[i]));
			natsMsgList_Destroy(&pending);
		}
	}
	jsCtx_Destroy(ev->js);
	natsConnection_Destroy(ev->nc);
	natsOptions_Destroy(ev->opts);
	close(ev->fd);
	pthread_mutex_destroy(&ev->mu);
	pthread_cond_destroy(&ev->wake);
	free(ev->spool);
	free(ev->replaying);
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

int cc_events_publish(struct cc_events *ev, const char *subject, json_t *event)
{
	char *data = json_dumps(event, JSON_COMPACT);
	const char *id = json_string_value(json_object_get(event, "id"));
	int rc = CC_OK;
	bool direct;

	if (!data) {
		json_decref(event);
		return CC_ERROR;
	}
	pthread_mutex_lock(&ev->mu);
	direct = !ev->pending && ev->stream_ok &&
	         natsConnection_Status(ev->nc) == NATS_CONN_STATUS_CONNECTED;
	if (!direct)
		rc = spool_append(ev, subject, data, (int)strlen(data));
	pthread_mutex_unlock(&ev->mu);
	if (direct) {
		jsPubOptions po;
		natsStatus s;

		jsPubOptions_Init(&po);
		po.MsgId = id;
		po.MaxWait = PUB_ACK_WAIT_MS;
		s = js_PublishAsync(ev->js, subject, data, (int)strlen(data), &po);
		pthread_mutex_lock(&ev->mu);
		if (s == NATS_OK)
			ev->st.published++;
		else
			rc = spool_append(ev, subject, data, (int)strlen(data));
		pthread_mutex_unlock(&ev->mu);
	}
	if (rc != CC_OK)
		CC_ERR("events: LOST %s %s", subject, data);
	free(data);
	json_decref(event);
	return rc;
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
