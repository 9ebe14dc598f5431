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
	long rpc_port;           /* CC_RPC_PORT: Kamailio JSON-RPC over UDP */
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
	int rpc_fd;              /* UDP socket to Kamailio's JSON-RPC */
	/* Kamailio's permissions module refuses a second address reload
	 * within 5 s (reload_delta); a later one waits for its turn */
	int64_t addr_reload_ms;  /* when the last one was sent */
	struct event *addr_reload_ev;
};

/* After a committed change: tell routingd (cc.cfg.<tenant>) and, when
 * Kamailio's cached tables changed, Kamailio ("domain.reload",
 * "permissions.addressReload"). tenant may be NULL for platform-wide. */
void tn_notify(struct tenantd *d, const char *tenant, const char *what, const char *kamailio_rpc);

struct tn_req;
struct tn_field;

/* ------------------------------------------------ PATCH bodies (patch.c) */

/* A PATCH body whose fields may be JSON null ("clear it"), which the route
 * table's field checks refuse: such routes have fields = NULL and their
 * handler calls this. The same answers as api.c: 415 (not JSON), 400
 * (malformed, unknown field, wrong type, null where not allowed), 422 (a
 * check failed; checks never see null). nullable lists the fields that
 * may be null, NULL-terminated. Sets r->body. CC_ERROR after replying. */
int tn_patch_body(struct tn_req *r, const struct tn_field *fields, const char *const *nullable);

/* An UPDATE of the columns a PATCH body names: "UPDATE <table> SET c = $k,
 * ... , updated_at = now() WHERE <where>" with the where's parameters
 * first. Each column comes from the body field of the same name (a JSON
 * null becomes SQL NULL, a boolean "true"/"false", an integer its digits).
 * cols and where are the caller's constants, never input. Returns the
 * statement's result (NULL on error); nothing to set runs only the where. */
PGresult *tn_patch_update(struct tn_req *r, const char *table, const char *const *cols,
                          const char *where, int n_where, const char *const *where_params,
                          const char *returning);

/* ------------------------------------------- numbers and caller IDs */

/* 1 if e164 is one of the tenant's numbers, 0 if not, CC_ERROR on a
 * database error (after answering it). */
int tn_number_of_tenant(struct tn_req *r, const char *tenant_id, const char *e164);

#endif
