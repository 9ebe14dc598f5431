/*
 * tenantd: the provisioning API (HTTPS, JSON, /v1), see api.h and
 * openapi.yaml. This file only wires the parts: settings, the operator
 * token, PostgreSQL, NATS, and libmicrohttpd's HTTPS server run from the
 * libevent loop (its epoll fd and its timeout are two libevent events).
 *
 * Why libmicrohttpd and not evhttp: libevent 2.1's evhttp reads a whole
 * request body before the application sees the request (a server has no
 * way to set a header or chunk callback on an incoming request before
 * 2.2's evhttp_set_newreqcb), so authentication and size checks came after
 * up to 257 MiB were buffered. libmicrohttpd calls us once the headers are
 * in, hands the body over in pieces, and limits connections per address.
 *
 * Slow clients: a connection must deliver a request's headers within
 * CC_API_HEADER_TIMEOUT_S of connecting (TLS handshake included) or of its
 * previous reply, or it is shut down; silence of CC_API_IDLE_TIMEOUT_S
 * closes it at any stage; one address holds at most CC_API_MAX_CONN_PER_IP.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "api.h"
#include "cc.h"
#include "clock.h"
#include "config.h"
#include "id.h"
#include "log.h"
#include "tenantd.h"

#define S(f) offsetof(struct tn_settings, f)
static const struct cc_config_row settings_table[] = {
	{ "CC_PG_URL", CC_CFG_STR, NULL, 0, 0, S(pg_url), "PostgreSQL connection URL" },
	{ "CC_NATS_URL", CC_CFG_STR, "nats://127.0.0.1:4222", 0, 0, S(nats_url), "NATS server URL" },
	{ "CC_API_LISTEN", CC_CFG_STR, "127.0.0.1", 0, 0, S(listen), "API listen address" },
	{ "CC_API_PORT", CC_CFG_INT, "8443", 1, 65535, S(port), "API HTTPS port" },
	{ "CC_TLS_CERT", CC_CFG_STR, "var/secrets/tls.crt", 0, 0, S(cert), "TLS certificate (PEM)" },
	{ "CC_TLS_KEY", CC_CFG_STR, "var/secrets/tls.key", 0, 0, S(key), "TLS private key (PEM)" },
	{ "CC_OPERATOR_TOKEN_FILE", CC_CFG_STR, "var/operator.token", 0, 0, S(token_file),
	  "operator token file, created at first start" },
	{ "CC_SIP_DOMAIN", CC_CFG_STR, "cc.test", 0, 90, S(sip_domain),
	  "platform SIP domain; tenants get <slug>.<domain>" },
	{ "CC_RPC_SOCKET", CC_CFG_STR, "var/run/kamailio/rpc.sock", 0, 0, S(rpc_socket),
	  "Kamailio JSON-RPC unix datagram socket (reloads)" },
	{ "CC_SPOOL_DIR", CC_CFG_STR, "var/spool", 0, 0, S(spool_dir), "event spool folder" },
	{ "CC_PROMPTS_DIR", CC_CFG_STR, "", 0, 0, S(prompts_dir),
	  "the platform's default prompts (<name>.8k.raw); empty: ../prompts beside this binary" },
	{ "CC_REC_STORE", CC_CFG_STR, "", 0, 0, S(rec_store),
	  "the recordings' store (a folder, lib/recstore.h); empty: $CC_VAR/recordings" },
	{ "CC_SECRETS_DIR", CC_CFG_STR, "", 0, 0, S(secrets_dir),
	  "the local KMS's folder (master.key, lib/reccrypt.h); empty: $CC_VAR/secrets" },
	{ "CC_API_MAX_CONN_PER_IP", CC_CFG_INT, "32", 1, 10000, S(max_conn_per_ip),
	  "API connections open at once from one client address; more are refused" },
	{ "CC_API_HEADER_TIMEOUT_S", CC_CFG_INT, "10", 1, 600, S(header_timeout_s),
	  "seconds a connection has to send a request's headers (from connect or its last reply)" },
	{ "CC_API_IDLE_TIMEOUT_S", CC_CFG_INT, "30", 1, 3600, S(idle_timeout_s),
	  "seconds of silence after which an API connection is closed" },
	{ "CC_BILLING_TIMEOUT_S", CC_CFG_INT, "300", 1, 3600, S(billing_timeout_s),
	  "seconds billingd has to answer a money request (close, rerate, top-up); then 504" },
	{ "CC_ACD_RPC_TIMEOUT_MS", CC_CFG_INT, "2000", 100, 60000, S(acd_timeout_ms),
	  "milliseconds routingd has to answer an ACD request (agent state, live view, hold); then 503" },
	{ "CC_API_EVENT_STREAMS", CC_CFG_INT, "5", 1, 1000, S(sse_per_tenant),
	  "event streams (GET /v1/tenants/{slug}/events) open at once per tenant; more are 429" },
	{ "CC_API_EVENT_HEARTBEAT_S", CC_CFG_INT, "15", 1, 300, S(sse_heartbeat_s),
	  "seconds between the comment lines that keep an idle event stream open" },
	{ "CC_RETENTION_INTERVAL_S", CC_CFG_INT, "3600", 0, 604800, S(retention_interval_s),
	  "seconds between runs of the recordings' retention purge (every tenant); 0: never" },
	{ "CC_DESK_SESSION_S", CC_CFG_INT, "28800", 60, 86400, S(desk_session_s),
	  "seconds an agent's desk sign-in lasts (its session cookie); then the desktop signs in again" },
	{ "CC_WEB_DIR", CC_CFG_STR, "", 0, 0, S(web_dir),
	  "the agent desktop's files (served at /desk/); empty: ../web beside this binary" },
	{ "CC_DESK_WSS", CC_CFG_STR, "wss://127.0.0.1:5061", 0, 0, S(desk_wss),
	  "the SIP WebSocket the desktop connects to (Kamailio's TLS port)" },
};
#undef S

/* CC_REC_STORE unset: mediad's default, $CC_VAR/recordings (var/ when
 * CC_VAR is unset too), so that both daemons name the same folder */
static void rec_store_default(struct tenantd *d)
{
	const char *var = getenv("CC_VAR");

	if (d->cfg.rec_store[0])
		return;
	free(d->cfg.rec_store);
	d->cfg.rec_store = cc_sprintf("%s/recordings", var && *var ? var : "var");
	CC_BUG_ON(!d->cfg.rec_store);
}

static void secrets_dir_default(struct tenantd *d)
{
	const char *var = getenv("CC_VAR");

	if (d->cfg.secrets_dir[0])
		return;
	free(d->cfg.secrets_dir);
	d->cfg.secrets_dir = cc_sprintf("%s/secrets", var && *var ? var : "var");
	CC_BUG_ON(!d->cfg.secrets_dir);
}

/* ------------------------------------------------- folders of the build */

/* A folder the build puts beside build/tenantd/tenantd, for a setting
 * left empty: CC_PROMPTS_DIR (build/prompts, tenantd/Makefile runs
 * mkprompts there), CC_WEB_DIR (build/web, make all's). */
static void beside_binary(char **dir, const char *name)
{
	char exe[4096];
	ssize_t n;

	if ((*dir)[0])
		return;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return;
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	free(*dir);
	*dir = cc_sprintf("%s/../%s", exe, name);
	CC_BUG_ON(!*dir);
}

/* ------------------------------------------------------ operator token */

static int load_operator_token(struct tenantd *d, char **err)
{
	char tok[CC_TOKEN_LEN + 8] = { 0 };
	int fd = open(d->cfg.token_file, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0 && errno == ENOENT) {
		if (cc_token(tok) != CC_OK)
			return cc_fail(err, "no randomness for the operator token");
		fd = open(d->cfg.token_file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 || write(fd, tok, strlen(tok)) < 0 || write(fd, "\n", 1) < 0) {
			int e = errno;

			if (fd >= 0)
				close(fd);
			return cc_fail(err, "cannot write %s: %s", d->cfg.token_file, strerror(e));
		}
		close(fd);
		CC_INFO("operator token written to %s", d->cfg.token_file);
	} else {
		if (fd < 0)
			return cc_fail(err, "cannot read %s: %s", d->cfg.token_file, strerror(errno));
		n = read(fd, tok, sizeof(tok) - 1);
		close(fd);
		while (n > 0 && (tok[n - 1] == '\n' || tok[n - 1] == ' '))
			tok[--n] = '\0';
		if (n < 16)
			return cc_fail(err, "%s holds no usable token", d->cfg.token_file);
	}
	cc_sha256_hex(tok, strlen(tok), d->operator_hash);
	return CC_OK;
}

/* ---------------------------------------------------------- notifying */

#define ADDR_RELOAD_GAP_MS 5200   /* permissions' reload_delta is 5 s */

/* Kamailio's JSON-RPC listens on a unix datagram socket (mode 0600 in the
 * stack's run folder), so only the platform's own user can reach it. The
 * client socket is autobound to an abstract name: Kamailio answers there. */
static int rpc_open(struct tenantd *d, char **err)
{
	struct sockaddr_un self = { .sun_family = AF_UNIX };

	if (strlen(d->cfg.rpc_socket) >= sizeof(self.sun_path))
		return cc_fail(err, "CC_RPC_SOCKET %s: longer than a unix socket path may be",
		               d->cfg.rpc_socket);
	d->rpc_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (d->rpc_fd < 0)
		return cc_fail(err, "cannot create the Kamailio RPC socket: %s", strerror(errno));
	if (bind(d->rpc_fd, (struct sockaddr *)&self, sizeof(sa_family_t)) < 0)
		return cc_fail(err, "cannot bind the Kamailio RPC socket: %s", strerror(errno));
	return CC_OK;
}

static void send_rpc(struct tenantd *d, const char *method)
{
	struct sockaddr_un to = { .sun_family = AF_UNIX };
	char *req = cc_sprintf("{\"jsonrpc\":\"2.0\",\"method\":\"%s\",\"id\":1}", method);

	memcpy(to.sun_path, d->cfg.rpc_socket, strlen(d->cfg.rpc_socket)); /* length checked */
	if (sendto(d->rpc_fd, req, strlen(req), 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		cc_log(CC_LOG_WARN, errno, NULL, NULL, "Kamailio RPC %s not sent to %s", method,
		       d->cfg.rpc_socket);
	free(req);
}

static void on_addr_reload(evutil_socket_t fd, short what, void *arg)
{
	struct tenantd *d = arg;

	d->addr_reload_ms = cc_mono_ms();
	send_rpc(d, "permissions.addressReload");
}

void tn_notify(struct tenantd *d, const char *tenant, const char *what, const char *kamailio_rpc)
{
	char subject[96];

	snprintf(subject, sizeof(subject), "cc.cfg.%s", tenant ? tenant : "_platform");
	json_t *msg = json_pack("{s:s, s:s}", "tenant", tenant ? tenant : "", "what", what);
	char *text = json_dumps(msg, JSON_COMPACT);

	if (cc_events_notify(d->events, subject, text) != CC_OK)
		CC_WARN("could not publish %s; routingd will catch up at its next reload", subject);
	free(text);
	json_decref(msg);
	if (!kamailio_rpc)
		return;
	if (strcmp(kamailio_rpc, "permissions.addressReload") != 0) {
		send_rpc(d, kamailio_rpc);
		return;
	}
	/* at most one address reload per gap; a change inside the gap is
	 * picked up by one reload at its end */
	int64_t wait = d->addr_reload_ms + ADDR_RELOAD_GAP_MS - cc_mono_ms();

	if (d->addr_reload_ms == 0 || wait <= 0) {
		on_addr_reload(-1, 0, d);
	} else if (!evtimer_pending(d->addr_reload_ev, NULL)) {
		struct timeval tv = { wait / 1000, (wait % 1000) * 1000 };

		evtimer_add(d->addr_reload_ev, &tv);
	}
}

/* Kamailio's RPC answers; read and dropped (the tables reload on their own). */
static void on_rpc_reply(evutil_socket_t fd, short what, void *arg)
{
	char buf[2048];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return;
	buf[n] = '\0';                 /* before any string function reads it */
	if (strstr(buf, "\"error\""))
		CC_WARN("Kamailio RPC error: %s", buf);
}

/* ---------------------------------------------------------- HTTPS */

/* The whole of a (small) file as text, or NULL with *err set. */
static char *read_text(const char *path, char **err)
{
	FILE *f = fopen(path, "re");
	char *text = NULL;
	size_t n = 0;

	if (!f) {
		cc_fail(err, "cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	if (getdelim(&text, &n, '\0', f) < 0) {
		cc_fail(err, "cannot read %s: %s", path, feof(f) ? "empty" : strerror(errno));
		free(text);
		text = NULL;
	}
	fclose(f);
	return text;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	CC_DEBUG("http: %s", msg);
}

void tn_mhd_run(struct tenantd *d)
{
	MHD_UNSIGNED_LONG_LONG ms;

	MHD_run(d->mhd);
	if (MHD_get_timeout(d->mhd, &ms) == MHD_YES) {
		struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };

		evtimer_add(d->mhd_timer, &tv);
	} else {
		evtimer_del(d->mhd_timer);
	}
}

static void on_mhd(evutil_socket_t fd, short what, void *arg)
{
	tn_mhd_run(arg);
}

static struct tn_conn *conn_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *i =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return i ? i->socket_context : NULL;
}

void tn_conn_busy(struct MHD_Connection *conn, bool busy)
{
	struct tn_conn *c = conn_of(conn);

	if (!c)
		return;
	c->busy = busy;
	if (!busy)
		c->since = cc_mono_ms();
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
	struct tenantd *d = cls;
	struct tn_conn *c = *socket_context;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		c = calloc(1, sizeof(*c));
		CC_BUG_ON(!c);
		c->conn = conn;
		c->since = cc_mono_ms();
		LIST_INSERT_HEAD(&d->conns, c, link);
		*socket_context = c;
	} else if (c) {
		LIST_REMOVE(c, link);
		free(c);
		*socket_context = NULL;
	}
}

/* Shuts down connections that have waited past the header deadline;
 * libmicrohttpd then sees the end of the stream and closes them. */
static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct tenantd *d = arg;
	int64_t now = cc_mono_ms(), limit = d->cfg.header_timeout_s * 1000;
	struct tn_conn *c;

	LIST_FOREACH(c, &d->conns, link) {
		if (c->busy || now - c->since <= limit)
			continue;
		const union MHD_ConnectionInfo *i =
			MHD_get_connection_info(c->conn, MHD_CONNECTION_INFO_CONNECTION_FD);

		if (i)
			shutdown(i->connect_fd, SHUT_RDWR);
		c->since = INT64_MAX / 2;   /* once */
		CC_DEBUG("http: a connection sent no headers within %lds", d->cfg.header_timeout_s);
	}
	tn_mhd_run(d);
}

static int https_start(struct tenantd *d, char **err)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	/* suspend/resume: a request waiting for billingd holds its connection,
	 * not the loop (forward.c) */
	unsigned flags = MHD_USE_TLS | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;

	if (inet_pton(AF_INET, d->cfg.listen, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)d->cfg.port);
	} else if (inet_pton(AF_INET6, d->cfg.listen, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)d->cfg.port);
		flags |= MHD_USE_IPv6;
	} else {
		return cc_fail(err, "CC_API_LISTEN %s is not an IP address", d->cfg.listen);
	}
	if (!(d->tls_cert = read_text(d->cfg.cert, err)) || !(d->tls_key = read_text(d->cfg.key, err)))
		return CC_ERROR;
	LIST_INIT(&d->conns);
	d->mhd = MHD_start_daemon(flags, (uint16_t)d->cfg.port, NULL, NULL, tn_handle, d,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
		MHD_OPTION_HTTPS_MEM_CERT, d->tls_cert,
		MHD_OPTION_HTTPS_MEM_KEY, d->tls_key,
		MHD_OPTION_HTTPS_PRIORITIES, "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2",
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)d->cfg.idle_timeout_s,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)d->cfg.max_conn_per_ip,
		/* headers up to 64 KiB, as before; the body never lives here */
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(128 * 1024),
		MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
		MHD_OPTION_URI_LOG_CALLBACK, tn_begin_request, d,
		MHD_OPTION_NOTIFY_COMPLETED, tn_end_request, d,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, d,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, d,
		MHD_OPTION_END);
	if (!d->mhd)
		return cc_fail(err, "cannot listen on %s:%ld (or the TLS certificate %s / key %s "
		               "is unusable)", d->cfg.listen, d->cfg.port, d->cfg.cert, d->cfg.key);
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	struct timeval second = { 1, 0 };

	d->mhd_ev = event_new(d->base, info->epoll_fd, EV_READ | EV_PERSIST, on_mhd, d);
	d->mhd_timer = evtimer_new(d->base, on_mhd, d);
	d->deadline_ev = event_new(d->base, -1, EV_PERSIST, on_deadline, d);
	event_add(d->mhd_ev, NULL);
	event_add(d->deadline_ev, &second);
	tn_mhd_run(d);
	return CC_OK;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	CC_INFO("signal %d: stopping", (int)sig);
	event_base_loopexit(arg, NULL);
}

int main(int argc, char **argv)
{
	struct tenantd d = { .rpc_fd = -1 };
	struct event *sigterm, *sigint, *rpc_ev;
	char *err = NULL;

	cc_log_init("tenantd");
	if (argc > 1 && strcmp(argv[1], "--routes") == 0) {
		for (const struct tn_route *const *t = tn_route_tables; *t; t++)
			for (const struct tn_route *r = *t; r->method; r++)
				printf("%s %s\n", r->method, r->pattern);
		return 0;
	}
	if (argc > 1) {
		printf("       %s --routes  prints every route served\n", argv[0]);
		cc_config_usage("tenantd", settings_table, CC_ARRAY_LEN(settings_table));
		return strcmp(argv[1], "--help") == 0 ? 0 : 2;
	}
	if (cc_config_load(settings_table, CC_ARRAY_LEN(settings_table), &d.cfg, &err) != CC_OK ||
	    load_operator_token(&d, &err) != CC_OK) {
		CC_ERR("%s", err);
		free(err);
		return 2;
	}
	beside_binary(&d.cfg.prompts_dir, "prompts");
	beside_binary(&d.cfg.web_dir, "web");
	rec_store_default(&d);
	secrets_dir_default(&d);
	signal(SIGPIPE, SIG_IGN);
	/* the loop must never wait for ever on a row lock: a deck upload holds
	 * its transaction across turns of the loop (tariffs.c) */
	setenv("PGOPTIONS", "-c lock_timeout=10s", 0);
	d.base = event_base_new();
	cc_pg_init(&d.pg, d.cfg.pg_url);
	if (cc_events_open(&d.events, d.cfg.nats_url, d.cfg.spool_dir, "tenantd", &err) != CC_OK) {
		CC_ERR("%s", err);
		free(err);
		return 1;
	}
	if (rpc_open(&d, &err) != CC_OK) {
		CC_ERR("%s", err);
		free(err);
		return 1;
	}
	d.addr_reload_ev = evtimer_new(d.base, on_addr_reload, &d);
	rpc_ev = event_new(d.base, d.rpc_fd, EV_READ | EV_PERSIST, on_rpc_reply, &d);
	event_add(rpc_ev, NULL);

	if (tn_forward_init(&d, &err) != CC_OK) {
		CC_ERR("%s", err);
		free(err);
		return 1;
	}
	if (tn_sse_init(&d, &err) != CC_OK) {
		CC_ERR("%s", err);
		free(err);
		return 1;
	}
	if (https_start(&d, &err) != CC_OK) {
		CC_ERR("%s", err);
		free(err);
		return 1;
	}
	tn_retention_start(&d);
	sigterm = evsignal_new(d.base, SIGTERM, on_signal, d.base);
	sigint = evsignal_new(d.base, SIGINT, on_signal, d.base);
	event_add(sigterm, NULL);
	event_add(sigint, NULL);
	CC_INFO("tenantd listening on https://%s:%ld", d.cfg.listen, d.cfg.port);

	event_base_dispatch(d.base);

	tn_retention_stop();
	tn_forward_shutdown(&d);
	tn_sse_shutdown(&d);
	tn_mhd_run(&d);
	MHD_stop_daemon(d.mhd);
	tn_sse_close();
	event_free(d.mhd_ev);
	event_free(d.mhd_timer);
	event_free(d.deadline_ev);
	free(d.tls_cert);
	free(d.tls_key);
	event_free(rpc_ev);
	event_free(d.addr_reload_ev);
	event_free(sigterm);
	event_free(sigint);
	close(d.rpc_fd);
	cc_events_close(d.events, 1000);
	cc_pg_close(&d.pg);
	event_base_free(d.base);
	cc_config_free(settings_table, CC_ARRAY_LEN(settings_table), &d.cfg);
	nats_Close();
	libevent_global_shutdown();
	return 0;
}
