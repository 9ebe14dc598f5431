/*
 * tenantd: the provisioning API (HTTPS, JSON, /v1), see api.h and
 * openapi.yaml. This file only wires the parts: settings, the operator
 * token, TLS, PostgreSQL, NATS, and libevent's HTTP server.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <signal.h>
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
	{ "CC_SIP_DOMAIN", CC_CFG_STR, "cc.test", 0, 0, S(sip_domain),
	  "platform SIP domain; tenants get <slug>.<domain>" },
	{ "CC_RPC_SOCKET", CC_CFG_STR, "var/run/kamailio/rpc.sock", 0, 0, S(rpc_socket),
	  "Kamailio JSON-RPC unix datagram socket (reloads)" },
	{ "CC_SPOOL_DIR", CC_CFG_STR, "var/spool", 0, 0, S(spool_dir), "event spool folder" },
};
#undef S

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
		if (fd < 0 || write(fd, tok, strlen(tok)) < 0 || write(fd, "\n", 1) < 0)
			return cc_fail(err, "cannot write %s: %s", d->cfg.token_file, strerror(errno));
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

	if (n > 0 && strstr(buf, "\"error\"")) {
		buf[n] = '\0';
		CC_WARN("Kamailio RPC error: %s", buf);
	}
}

/* ---------------------------------------------------------------- TLS */

static struct bufferevent *tls_bev(struct event_base *base, void *arg)
{
	SSL *ssl = SSL_new(arg);

	return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
	                                      BEV_OPT_CLOSE_ON_FREE);
}

static SSL_CTX *tls_context(struct tenantd *d, char **err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	if (SSL_CTX_use_certificate_chain_file(ctx, d->cfg.cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, d->cfg.key, SSL_FILETYPE_PEM) != 1) {
		cc_fail(err, "TLS certificate %s / key %s: %s", d->cfg.cert, d->cfg.key,
		        ERR_reason_error_string(ERR_get_error()));
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
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
	    load_operator_token(&d, &err) != CC_OK || !(d.ssl = tls_context(&d, &err))) {
		CC_ERR("%s", err);
		free(err);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
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

	d.http = evhttp_new(d.base);
	evhttp_set_bevcb(d.http, tls_bev, d.ssl);
	/* evhttp refuses bodies past this with its own 413; the API answers a
	 * JSON 413 for anything between 1 MiB and this bound */
	evhttp_set_max_body_size(d.http, TN_MAX_CSV + TN_MAX_BODY);
	evhttp_set_max_headers_size(d.http, 64 * 1024);
	evhttp_set_timeout(d.http, 30);
	evhttp_set_allowed_methods(d.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
	                           EVHTTP_REQ_PATCH | EVHTTP_REQ_DELETE);
	evhttp_set_gencb(d.http, tn_handle, &d);
	if (!evhttp_bind_socket_with_handle(d.http, d.cfg.listen, (uint16_t)d.cfg.port)) {
		CC_ERR("cannot listen on %s:%ld", d.cfg.listen, d.cfg.port);
		return 1;
	}
	sigterm = evsignal_new(d.base, SIGTERM, on_signal, d.base);
	sigint = evsignal_new(d.base, SIGINT, on_signal, d.base);
	event_add(sigterm, NULL);
	event_add(sigint, NULL);
	CC_INFO("tenantd listening on https://%s:%ld", d.cfg.listen, d.cfg.port);

	event_base_dispatch(d.base);

	evhttp_free(d.http);
	event_free(rpc_ev);
	event_free(d.addr_reload_ev);
	event_free(sigterm);
	event_free(sigint);
	close(d.rpc_fd);
	cc_events_close(d.events, 1000);
	cc_pg_close(&d.pg);
	SSL_CTX_free(d.ssl);
	event_base_free(d.base);
	cc_config_free(settings_table, CC_ARRAY_LEN(settings_table), &d.cfg);
	nats_Close();
	libevent_global_shutdown();
	return 0;
}
