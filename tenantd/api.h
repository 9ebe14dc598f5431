/*
 * api.h: tenantd's request context, routing table and reply helpers.
 *
 * HTTP and TLS are libmicrohttpd's (GnuTLS), driven from tenantd's
 * libevent loop. Everything that can refuse a request is decided from the
 * request line and headers alone, before one byte of the body is read:
 * path (no control bytes once decoded), duplicate framing or credential
 * headers, declared size, bearer token -> operator or tenant (from the key,
 * never from the body), route match on method and path pattern, tenant
 * resolution for /v1/tenants/{slug}/... (another tenant's slug answers
 * 404), media type and Idempotency-Key syntax. A refusal is sent at once
 * and the body is never read (the connection closes after it). Then the
 * body: a JSON body is collected (at most TN_MAX_BODY) and checked against
 * the route's field table, its Idempotency-Key replayed or refused, then the
 * handler runs; a text/csv body is handed piece by piece to the route's
 * upload hooks and never held whole.
 */
#ifndef TN_API_H
#define TN_API_H

#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

#include "id.h"
#include "pg.h"

#define TN_MAX_BODY (1024 * 1024)          /* JSON bodies */
#define TN_MAX_CSV (256 * 1024 * 1024)     /* text/csv bodies (rate decks), streamed */
#define TN_MAX_MEDIA (20 * 1024 * 1024)    /* media routes (a prompt's audio, CC_AUDIO_MAX_BYTES) */
#define TN_MAX_IDEM_KEY 200                /* Idempotency-Key: 1..200 printable ASCII */

/* The one shape of every timestamp the API answers with: RFC 3339 in
 * UTC with microseconds, e.g. 2026-12-01T20:30:53.123456Z. */
#define TN_TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

struct tenantd;

/* The tenant a /v1/tenants/{slug}/... request works on. */
struct tn_tenant {
	char id[CC_UUID_LEN];
	char slug[40];
	char sip_domain[128];
	bool enabled;
};

struct tn_route;

/* One request, from its request line to the end of its reply; freed when
 * libmicrohttpd says the request is over (answered or the client left). */
struct tn_req {
	struct tenantd *d;
	struct MHD_Connection *conn;
	const char *method;          /* "GET", "POST", ... (libmicrohttpd's) */
	char *uri;                   /* the request target as received, undecoded */
	char *path;                  /* decoded path without query */
	char *params[4];             /* {placeholders} of the route, in order */
	struct evkeyvalq query;      /* parsed query string */
	const struct tn_route *route;/* matched route, NULL before / if none */
	json_t *body;                /* parsed JSON body or NULL */
	char *buf;                   /* JSON routes: the body so far */
	size_t len, cap;
	size_t dropped;              /* body bytes read and thrown away after a refusal */
	bool started;                /* the headers have been checked */
	bool phase_body;             /* the body is being read: replies wait (late_*) */
	bool answered;               /* a reply was queued */
	bool in_handler;             /* the route's handler runs: its replies are remembered */
	int late_status;             /* a reply made while the body was read */
	char *late_text;             /*   and its JSON text, sent when the body has ended */
	bool is_operator;            /* authenticated with the operator token */
	char key_tenant[CC_UUID_LEN];/* tenant of the API key ("" for operator) */
	char key_id[CC_UUID_LEN];    /* the API key's id ("" for operator) */
	unsigned role;               /* the key's role (TN_R_*); the operator's is 0 */
	char agent_ext[16];          /* supervisor and agent keys: their agent's extension */
	char *supervises;            /* supervisor keys: the queues, a PostgreSQL text[] literal */
	bool desk;                   /* a desk session (its cookie), not an API key: key_id is the session's */
	struct tn_tenant tenant;     /* resolved for tenant routes */
	char *idem_key;              /* Idempotency-Key of a POST, or NULL */
	char idem_scope[CC_UUID_LEN + 8];
	char idem_hash[CC_SHA256_HEX];/* SHA-256 of the request body, for the key */
	const struct tn_upload *upload_ops;/* csv routes: set by the handler to take the body */
	void *upload;                /*   and their state */
	int64_t t0;                  /* when the request line arrived (ms, monotonic) */
	void *forward;               /* its request to billingd in flight (forward.c), or NULL */
	bool deferred;               /* the handler returned; the reply comes later (tn_defer) */
	bool suspended;              /*   and libmicrohttpd holds the connection meanwhile */
};

/* A text/csv body, streamed. The route's handler runs once the request
 * has passed every header check and before any of the body is read: it
 * either answers (and the body is never read) or sets r->upload_ops and
 * r->upload. Then data() gets each piece of the body as it arrives (it
 * may refuse with tn_error(); it then gets nothing more);
 * end() answers once the body is complete; release() frees r->upload
 * whatever happened (also when the client went away). */
struct tn_upload {
	void (*data)(struct tn_req *r, const char *buf, size_t len);
	void (*end)(struct tn_req *r);
	void (*release)(struct tn_req *r);
};

/* A field whose value may be of any JSON type (its check decides). */
#define TN_ANY (-1)

/* A field of a JSON request body. Unknown fields and wrong types answer
 * 400 naming the field; check() failures answer 422 naming it. */
struct tn_field {
	const char *name;
	int type;                    /* JSON_STRING, JSON_INTEGER, JSON_OBJECT, JSON_TRUE (boolean) */
	bool required;
	int (*check)(struct tn_req *r, json_t *value, char **err);
	const struct tn_field *sub;  /* fields of a JSON_OBJECT, NULL-name terminated */
	bool nullable;               /* JSON null allowed ("clear it"); check is not called for it */
};

/* The field table of a route whose JSON body is a document its handler
 * checks as a whole (a flow's graph, lib/flow.h): api.c only parses it (any
 * JSON object), and a body over CC_FLOW_MAX_BYTES is answered 422 naming
 * the field "body" (it is the document's limit, not the transport's:
 * declared, after the headers' checks, or read in chunks, once it ends). */
extern const struct tn_field tn_whole_json[];

/* API key roles (cc.api_keys.role, docs/RECORDING.md "Roles"). */
#define TN_R_ADMIN   (1u << 0)
#define TN_R_SUP     (1u << 1)
#define TN_R_AGENT   (1u << 2)
#define TN_R_RECADM  (1u << 3)
#define TN_R_RO      (1u << 4)
#define TN_R_ALL     (TN_R_ADMIN | TN_R_SUP | TN_R_AGENT | TN_R_RECADM | TN_R_RO)
/* "admin" -> TN_R_ADMIN, ...; 0 if unknown; and back */
unsigned tn_role_bit(const char *name);
const char *tn_role_name(unsigned bit);
/* After the tenant is resolved: may this key's role use r->route (403
 * forbidden if not), and is the object named in the path within its reach
 * (a supervisor's queues, an agent's own extension: 404 if not)? The
 * operator may do everything. CC_ERROR after answering (roles.c). */
int tn_authorize(struct tn_req *r);
/* true if r is a supervisor key (its reach is its queues only) */
bool tn_is_supervisor(const struct tn_req *r);

/* Appends a row to the audit log (cc.audit): actor 'operator' or
 * 'key:<id>' (or actor_override, e.g. "system:retention"), the key's role,
 * the client's address. detail (taken over) may be NULL. CC_ERROR when it
 * could not be written (logged; the caller decides). */
int tn_audit(struct tn_req *r, const char *action, const char *object_type, const char *object_id,
             json_t *detail);
/* The same without a request: a job of tenantd's own (remote NULL). */
int tn_audit_system(struct cc_pg *pg, const char *tenant_id, const char *actor, const char *action,
                    const char *object_type, const char *object_id, json_t *detail);
/* The actor of r as the audit names it ("operator", "key:<id>"): buf of 48. */
void tn_actor(const struct tn_req *r, char *buf, size_t n);

enum tn_scope {
	TN_OPERATOR,                 /* operator token only */
	TN_TENANT,                   /* a tenant's key for {slug}, or the operator */
	TN_OPERATOR_ON_TENANT,       /* operator only, on the tenant {slug} */
	TN_PUBLIC,                   /* no key: the handler authenticates (the desk's sign-in) */
	TN_STATIC,                   /* no key, no tenant: the desktop's page (its files) */
};

struct tn_route {
	const char *method;
	const char *pattern;         /* "/v1/tenants/{slug}/agents/{ext}" */
	enum tn_scope scope;
	const struct tn_field *fields;/* request body, NULL = no body */
	void (*handler)(struct tn_req *r);
	bool partial;                /* PATCH: no field is required */
	bool csv;                    /* body is text/csv, up to TN_MAX_CSV, streamed (tn_upload) */
};

/* Routes whose body is media (a prompt's audio): their handlers,
 * NULL-terminated (prompts.c). Such a body may be any media type (the
 * handler checks Content-Type) up to TN_MAX_MEDIA and is streamed to the
 * handler's tn_upload like a csv one; every other route keeps TN_MAX_BODY.
 * A list, not a flag of tn_route: the route tables are positional. */
extern void (*const tn_media_handlers[])(struct tn_req *r);

/* Replies. Each takes over `body` and ends the request. One made while
 * the body is being read (by a tn_upload's data()) is sent when the body
 * has ended; the rest of the body is then thrown away. */
void tn_reply(struct tn_req *r, int status, json_t *body);
void tn_error(struct tn_req *r, int status, const char *code, const char *field,
              const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Answers from pg->error after a failed query: 503, 409, 422 or 500. The
 * database's own text is logged, never sent. */
void tn_db_error(struct tn_req *r, const char *what);

void tn_no_content(struct tn_req *r);
/* A 200 text/event-stream reply of unknown length whose bytes come from
 * read() (libmicrohttpd's content reader, on the loop); release(cls) when
 * the connection is done with it. */
void tn_reply_stream(struct tn_req *r, MHD_ContentReaderCallback read, void *cls,
                     MHD_ContentReaderFreeCallback release);
/* A reply of len bytes of any content (a WAV), copied. */
void tn_reply_bytes(struct tn_req *r, int status, const char *content_type, const void *body,
                    size_t len);
/* The same with headers: name, value, ..., NULL. */
void tn_reply_bytes_h(struct tn_req *r, int status, const char *content_type, const void *body,
                      size_t len, const char *const *extra);
/* A non-JSON answer (e.g. text/html), with extra headers as name, value,
 * ..., NULL. */
void tn_reply_raw(struct tn_req *r, int status, const char *content_type, const char *body,
                  ...) __attribute__((sentinel));

/* The reply comes later, from the loop (a request to billingd,
 * forward.c): the connection is suspended until tn_resume(), after the
 * reply, and other requests go on meanwhile. */
void tn_defer(struct tn_req *r);
void tn_resume(struct tn_req *r);

/* Query parameters: limit (1..500, default 50) and after. CC_ERROR after
 * replying 400 on a bad value. */
int tn_page(struct tn_req *r, int *limit, const char **after);
const char *tn_query(struct tn_req *r, const char *name);

/* Transactions: tn_rollback() also answers from pg->error (via
 * tn_db_error, naming `what` on a conflict). */
int tn_begin(struct tn_req *r);
int tn_commit(struct tn_req *r);
void tn_rollback(struct tn_req *r, const char *what);
/* Rolls back without answering (the caller answers). */
void tn_abort(struct tn_req *r);

/* {"items": items, "next": cursor-or-null}; takes over items. */
json_t *tn_list(json_t *items, const char *next);

/* Answers 200 with a page built from res (one item per row, via row()),
 * whose `next` is column cursor_col of the last row when the page is full.
 * Frees res. */
void tn_reply_page(struct tn_req *r, PGresult *res, json_t *(*row)(const PGresult *, int),
                   int limit, int cursor_col);

/* The tenant's list of one kind, a page at a time: sql (freed here) takes
 * $1 the tenant's id, $2 the `after` cursor ("" when none: keys are
 * compared with >) and $3 the limit; what names the kind in a 503. */
void tn_list_page(struct tn_req *r, char *sql, const char *what,
                  json_t *(*row)(const PGresult *, int), int cursor_col);

/* A fresh id / API secret; CC_ERROR after answering 503 if the RNG failed. */
int tn_new_id(struct tn_req *r, char out[CC_UUID_LEN]) __attribute__((warn_unused_result));
int tn_new_token(struct tn_req *r, char out[CC_TOKEN_LEN]) __attribute__((warn_unused_result));

/* A JSON string field of the body, or NULL. */
const char *tn_str(struct tn_req *r, const char *name);

/* The route tables of each resource file. */
extern const struct tn_route tn_tenant_routes[];
extern const struct tn_route tn_trunk_routes[];
extern const struct tn_route tn_agent_routes[];
extern const struct tn_route tn_number_routes[];
extern const struct tn_route tn_blocklist_routes[];
extern const struct tn_route tn_call_routes[];
extern const struct tn_route tn_recording_routes[];
extern const struct tn_route tn_evaluation_routes[]; /* evaluations.c: score forms, evaluations, monitoring score */
extern const struct tn_route tn_desk_routes[];   /* desk.c: the agent desktop's sign-in */
/* A desk session's cookie value, or NULL (desk.c). */
const char *tn_desk_cookie(struct tn_req *r);
/* The session of cookie token as the agent's key (role agent), the CSRF
 * token checked on what is not a GET. CC_ERROR after answering 401 / 403. */
int tn_desk_authenticate(struct tn_req *r, const char *token);
extern const struct tn_route tn_tariff_routes[];
extern const struct tn_route tn_billing_routes[];
extern const struct tn_route tn_statement_routes[];
extern const struct tn_route tn_dialplan_routes[];
extern const struct tn_route tn_prompt_routes[];
extern const struct tn_route tn_flow_routes[];
extern const struct tn_route tn_queue_routes[];     /* queues.c */
extern const struct tn_route tn_viplist_routes[];   /* viplist.c */
extern const struct tn_route tn_list_routes[];      /* lists.c: pause reasons, disposition codes */
extern const struct tn_route tn_acd_agent_routes[]; /* acd.c: before tn_agent_routes (agents/live) */
extern const struct tn_route tn_acd_call_routes[];  /* acd.c: disposition, hold, transfer */
extern const struct tn_route tn_sse_routes[];       /* sse.c: the event stream */
extern const struct tn_route tn_key_routes[];       /* keys.c: API keys, audit, recording policy */
extern const struct tn_route tn_customer_routes[];  /* customers.c: the CRM, the screen pop */

/* libmicrohttpd's callbacks (main.c passes them to MHD_start_daemon):
 * tn_begin_request is the URI log callback (allocates the tn_req),
 * tn_handle the access handler, tn_end_request the completion notice. */
void *tn_begin_request(void *cls, const char *uri, struct MHD_Connection *conn);
enum MHD_Result tn_handle(void *cls, struct MHD_Connection *conn, const char *url,
                          const char *method, const char *version, const char *upload_data,
                          size_t *upload_data_size, void **con_cls);
void tn_end_request(void *cls, struct MHD_Connection *conn, void **con_cls,
                    enum MHD_RequestTerminationCode toe);

/* Steps of the pipeline, also driven alone by the fuzz targets
 * (tests/fuzz/fuzz_api_*.c). Each CC_ERROR is after replying.
 * tn_parse_target: r->uri -> r->path (decoded: no control byte, valid
 * UTF-8) and r->query. tn_find_route: the route for r->method and r->path
 * (r->params its placeholders) or NULL, *path_known if another method
 * has that path. tn_check_body: r->buf as r->route's JSON body -> r->body,
 * checked against the route's field table. */
int tn_parse_target(struct tn_req *r);
const struct tn_route *tn_find_route(struct tn_req *r, bool *path_known);
int tn_check_body(struct tn_req *r);

/* All tables, NULL-terminated; the OpenAPI test walks it. */
extern const struct tn_route *const tn_route_tables[];

/* Checks shared by several resources. */
int tn_check_e164(struct tn_req *r, json_t *v, char **err);
int tn_check_extension(struct tn_req *r, json_t *v, char **err);
/* 1 to 200 characters (UTF-8 code points; jansson has checked the UTF-8) */
int tn_check_name(struct tn_req *r, json_t *v, char **err);
/* Number of UTF-8 code points of a valid UTF-8 string. */
size_t tn_utf8_len(const char *s);

/* RFC 3339 text of a timestamptz column value, or JSON null. */
json_t *tn_time(const PGresult *res, int row, int col);

#endif
