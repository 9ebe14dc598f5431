/* tenantd.h: the daemon's state, shared by the resource handlers. */
#ifndef TN_TENANTD_H
#define TN_TENANTD_H

#include <event2/event.h>
#include <event2/http.h>
#include <openssl/ssl.h>

#include "events.h"
#include "pg.h"

struct tn_settings {
	char *pg_url;            /* CC_PG_URL */
	char *nats_url;          /* CC_NATS_URL */
	char *listen;            /* CC_API_LISTEN */
	long port;               /* CC_API_PORT */
	char *cert, *key;        /* CC_TLS_CERT, CC_TLS_KEY */
	char *token_file;        /* CC_OPERATOR_TOKEN_FILE */
	char *sip_domain;        /* CC_SIP_DOMAIN */
	char *rpc_socket;        /* CC_RPC_SOCKET: Kamailio JSON-RPC, unix datagram */
	char *spool_dir;         /* CC_SPOOL_DIR */
};

struct tenantd {
	struct tn_settings cfg;
	struct event_base *base;
	struct evhttp *http;
	SSL_CTX *ssl;
	struct cc_pg pg;
	struct cc_events *events;
	char operator_hash[65];  /* SHA-256 of the operator token */
	int rpc_fd;              /* unix datagram socket to Kamailio's JSON-RPC */
	/* Kamailio's permissions module refuses a second address reload
	 * within 5 s (reload_delta); a later one waits for its turn */
	int64_t addr_reload_ms;  /* when the last one was sent */
	struct event *addr_reload_ev;
};

/* After a committed change: tell routingd (cc.cfg.<tenant>) and, when
 * Kamailio's cached tables changed, Kamailio ("domain.reload",
 * "permissions.addressReload"). tenant may be NULL for platform-wide. */
void tn_notify(struct tenantd *d, const char *tenant, const char *what, const char *kamailio_rpc);

#endif
