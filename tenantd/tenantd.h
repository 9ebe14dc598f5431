/* tenantd.h: the daemon's state, shared by the resource handlers. */
#ifndef TN_TENANTD_H
#define TN_TENANTD_H

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include <jansson.h>

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
	char *prompts_dir;       /* CC_PROMPTS_DIR: the default prompts (mkprompts' output) */
	char *rec_store;         /* CC_REC_STORE: the recordings' store (lib/recstore.h) */
	char *secrets_dir;       /* CC_SECRETS_DIR: the local KMS's master.key (lib/reccrypt.h) */
	long max_conn_per_ip;    /* CC_API_MAX_CONN_PER_IP: open connections from one address */
	long header_timeout_s;   /* CC_API_HEADER_TIMEOUT_S: connect (or last reply) to headers */
	long idle_timeout_s;     /* CC_API_IDLE_TIMEOUT_S: silence that closes a connection */
	long billing_timeout_s;  /* CC_BILLING_TIMEOUT_S: how long a request to billingd may take */
	long acd_timeout_ms;     /* CC_ACD_RPC_TIMEOUT_MS: how long routingd has to answer */
	long sse_per_tenant;     /* CC_API_EVENT_STREAMS: event streams open at once per tenant */
	long sse_heartbeat_s;    /* CC_API_EVENT_HEARTBEAT_S: a comment on each stream this often */
	long retention_interval_s;/* CC_RETENTION_INTERVAL_S: the retention purge this often (0: never) */
	long desk_session_s;     /* CC_DESK_SESSION_S: how long a desk sign-in lasts */
	char *web_dir;           /* CC_WEB_DIR: the desktop's files (make all's build/web) */
	char *desk_wss;          /* CC_DESK_WSS: where the desktop's SIP stack connects */
};

/* An open API connection, for the header deadline. */
struct tn_conn {
	LIST_ENTRY(tn_conn) link;
	struct MHD_Connection *conn;
	int64_t since;           /* when it began waiting for headers (ms, monotonic) */
	bool busy;               /* its headers are in; a request is being served */
};

struct tenantd {
	struct tn_settings cfg;
	struct event_base *base;
	struct MHD_Daemon *mhd;  /* libmicrohttpd, run from the loop (epoll mode) */
	struct event *mhd_ev;    /* its epoll fd is readable */
	struct event *mhd_timer; /* its next timeout */
	struct event *deadline_ev;/* once a second: connections past the header deadline */
	LIST_HEAD(, tn_conn) conns;
	char *tls_cert, *tls_key;/* PEM text of CC_TLS_CERT, CC_TLS_KEY */
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

/* A connection's request started (busy) or ended (idle: waiting for the
 * next request, which must come with its headers within
 * CC_API_HEADER_TIMEOUT_S). */
struct MHD_Connection;
void tn_conn_busy(struct MHD_Connection *conn, bool busy);

struct tn_req;
struct tn_field;

/* Runs libmicrohttpd's work now (after resuming a connection) and sets
 * its next timeout. */
void tn_mhd_run(struct tenantd *d);

/* ------------------------------------ requests to billingd (forward.c) */

/* Money is billingd's to write (billing/rpc.h): asks it on subject with
 * body (taken over) and answers r with its reply when it comes, without
 * holding the loop. after(r) runs first when billingd says yes (e.g. a
 * cc.cfg notice). 503 at once when billingd is not running. */
void tn_forward(struct tn_req *r, const char *subject, json_t *body, void (*after)(struct tn_req *r));
int tn_forward_init(struct tenantd *d, char **err);
/* Answers every request still waiting (503) and lets go of NATS. */
void tn_forward_shutdown(struct tenantd *d);
/* The client's request is over: a reply still to come is dropped. */
void tn_forward_detach(struct tn_req *r);
/* Long work of a request off the loop (the end of a deck import): work(arg)
 * runs on a worker thread and must touch nothing of the loop's (nor r),
 * then done(r, arg) on the loop answers r, or only frees arg when r is
 * NULL (the client went away, or tenantd stops and answered 503). */
void tn_offload(struct tn_req *r, void (*work)(void *arg), void (*done)(struct tn_req *r, void *arg),
                void *arg);

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

/* ---------------------------------------------------- prompts (prompts.c) */

/* The prompts the platform ships (docs/PROMPTS.md), in the order GET lists
 * them, NULL-terminated: a flow may play them without the tenant uploading
 * its own. The one list (flows.c checks against it). */
extern const char *const tn_default_prompts[];
bool tn_prompt_is_default(const char *name);

/* ------------------------------------------- numbers and caller IDs */

/* 1 if e164 is one of the tenant's numbers, 0 if not, CC_ERROR on a
 * database error (after answering it). */
int tn_number_of_tenant(struct tn_req *r, const char *tenant_id, const char *e164);

/* ------------------------------------------------------------ the ACD */

/* 1 if name is one of the tenant's current prompts or a default one, 0 if
 * not, CC_ERROR after answering a database error. */
int tn_prompt_exists(struct tn_req *r, const char *name);
/* The form of a queue, skill, team or list code name: [a-z0-9][a-z0-9_-]{0,max-1}. */
bool tn_code_ok(const char *s, size_t max);
/* A column of a result as JSON: null when NULL, else the text / the integer. */
json_t *tn_col_text(const PGresult *res, int i, int col);
json_t *tn_col_int(const PGresult *res, int i, int col);
/* RFC 3339 in form (2026-11-23T10:00:00Z, optional fraction and offset);
 * PostgreSQL's cast decides the rest. */
bool tn_rfc3339(const char *s);
/* v is {"name": level}: names of the code form, at most 32, levels lo..hi. */
int tn_check_levels(json_t *v, int lo, int hi, char **err);
/* The ACD runtime's limit of skills of one agent or queue (routing/acd.h
 * ACD_SKILLS_MAX): more would be 200 here and left out by routingd. */
#define TN_ACD_SKILLS_MAX 16
/* v is an agent's or a queue's skills: tn_check_levels 1..5, at most
 * TN_ACD_SKILLS_MAX. */
int tn_check_skills(json_t *v, char **err);
/* 1 if code is in the tenant's list (table cc.pause_reasons or
 * cc.disposition_codes; the defaults when it has none), 0 if not,
 * CC_ERROR after answering a database error (lists.c). */
int tn_list_has(struct tn_req *r, const char *table, const char *code);
/* The tenant's queue called name: its id into id (CC_UUID_LEN) and 1, 0
 * if none, CC_ERROR after answering a database error. lock: FOR SHARE. */
int tn_queue_id(struct tn_req *r, const char *name, char *id, bool lock);

/* Asks routingd (docs/ACD.md "tenantd -> routingd") on subject with body
 * (taken over; "id" is added) and answers r from its reply, without
 * holding the loop: {"ok":true,...} -> 200 with pick(reply) (the reply
 * itself when pick is NULL), {"ok":false,"status","message"} -> that
 * status; no answer within CC_ACD_RPC_TIMEOUT_MS, no responder or NATS
 * away -> 503. */
void tn_ask_routingd(struct tn_req *r, const char *subject, json_t *body,
                     json_t *(*pick)(json_t *reply));

/* ------------------------------------- recording policy (keys.c) */

/* "all" | "none" | "percent"; a percent 0..100 */
int tn_check_rec_policy(struct tn_req *r, json_t *v, char **err);
int tn_check_rec_percent(struct tn_req *r, json_t *v, char **err);
/* A percent goes with "percent" and only with it: CC_ERROR after a 422
 * naming field. */
int tn_rec_policy_whole(struct tn_req *r, const char *policy, json_t *percent, const char *field);
/* In the open transaction: the body's "recording" and "recording_percent"
 * (null: inherit) onto the row id of table (cc.queues, cc.agents). Nothing
 * when the body has neither. CC_ERROR after answering. */
int tn_rec_policy_write(struct tn_req *r, const char *table, const char *id);

/* The retention purge's timer (recordings.c): started when
 * CC_RETENTION_INTERVAL_S > 0; stop waits for a run still going. */
void tn_retention_start(struct tenantd *d);
void tn_retention_stop(void);

/* The SSE streams (sse.c): set up at start, closed at the end. */
int tn_sse_init(struct tenantd *d, char **err);
void tn_sse_shutdown(struct tenantd *d);
void tn_sse_close(void);     /* after libmicrohttpd stopped */

#endif
