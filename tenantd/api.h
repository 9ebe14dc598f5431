/*
 * api.h: tenantd's request context, routing table and reply helpers.
 *
 * HTTP parsing is libevent's evhttp; TLS is OpenSSL through
 * bufferevent_openssl. A request goes: size and media-type checks, bearer
 * token -> operator or tenant (from the key, never from the body), route
 * match on method and path pattern, tenant resolution for
 * /v1/tenants/{slug}/... (another tenant's slug answers 404), JSON body
 * checked against the route's field table, Idempotency-Key replay, then
 * the handler.
 */
#ifndef TN_API_H
#define TN_API_H

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <stdbool.h>

#include "id.h"
#include "pg.h"

#define TN_MAX_BODY (1024 * 1024)          /* JSON bodies */
#define TN_MAX_CSV (256 * 1024 * 1024)     /* text/csv bodies (rate decks) */

struct tenantd;

/* The tenant a /v1/tenants/{slug}/... request works on. */
struct tn_tenant {
	char id[CC_UUID_LEN];
	char slug[40];
	char sip_domain[128];
	bool enabled;
};

struct tn_req {
	struct tenantd *d;
	struct evhttp_request *req;
	const char *method;          /* "GET", "POST", ... */
	char *path;                  /* decoded path without query */
	char *params[4];             /* {placeholders} of the route, in order */
	struct evkeyvalq query;      /* parsed query string */
	json_t *body;                /* parsed JSON body or NULL */
	const char *raw_body;        /* csv routes: the body (not NUL-terminated) */
	size_t raw_len;
	bool is_operator;            /* authenticated with the operator token */
	char key_tenant[CC_UUID_LEN];/* tenant of the API key ("" for operator) */
	struct tn_tenant tenant;     /* resolved for tenant routes */
	char *idem_key;              /* Idempotency-Key of a POST, or NULL */
	char idem_scope[CC_UUID_LEN + 8];
};

/* A field of a JSON request body. Unknown fields and wrong types answer
 * 400 naming the field; check() failures answer 422 naming it. */
struct tn_field {
	const char *name;
	int type;                    /* JSON_STRING, JSON_INTEGER, JSON_OBJECT, JSON_TRUE (boolean) */
	bool required;
	int (*check)(struct tn_req *r, json_t *value, char **err);
	const struct tn_field *sub;  /* fields of a JSON_OBJECT, NULL-name terminated */
};

enum tn_scope {
	TN_OPERATOR,                 /* operator token only */
	TN_TENANT,                   /* a tenant's key for {slug}, or the operator */
	TN_OPERATOR_ON_TENANT,       /* operator only, on the tenant {slug} */
};

struct tn_route {
	const char *method;
	const char *pattern;         /* "/v1/tenants/{slug}/agents/{ext}" */
	enum tn_scope scope;
	const struct tn_field *fields;/* request body, NULL = no body */
	void (*handler)(struct tn_req *r);
	bool partial;                /* PATCH: no field is required */
	bool csv;                    /* body is text/csv, up to TN_MAX_CSV (raw_body) */
};

/* Replies. Each takes over `body` and ends the request. */
void tn_reply(struct tn_req *r, int status, json_t *body);
void tn_error(struct tn_req *r, int status, const char *code, const char *field,
              const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Answers from pg->error after a failed query: 503, 409, 422 or 500. */
void tn_db_error(struct tn_req *r, const char *what);
void tn_no_content(struct tn_req *r);
/* A non-JSON answer (e.g. text/html). */
void tn_reply_raw(struct tn_req *r, int status, const char *content_type, const char *body);

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

/* A JSON string field of the body, or NULL. */
const char *tn_str(struct tn_req *r, const char *name);

/* The route tables of each resource file. */
extern const struct tn_route tn_tenant_routes[];
extern const struct tn_route tn_trunk_routes[];
extern const struct tn_route tn_agent_routes[];
extern const struct tn_route tn_number_routes[];
extern const struct tn_route tn_blocklist_routes[];
extern const struct tn_route tn_call_routes[];
extern const struct tn_route tn_tariff_routes[];
extern const struct tn_route tn_billing_routes[];
extern const struct tn_route tn_statement_routes[];
extern const struct tn_route tn_dialplan_routes[];

/* The request callback given to evhttp. */
void tn_handle(struct evhttp_request *req, void *arg);

/* All tables, NULL-terminated; the OpenAPI test walks it. */
extern const struct tn_route *const tn_route_tables[];

/* Checks shared by several resources. */
int tn_check_e164(struct tn_req *r, json_t *v, char **err);
int tn_check_extension(struct tn_req *r, json_t *v, char **err);
int tn_check_name(struct tn_req *r, json_t *v, char **err);

/* RFC 3339 text of a timestamptz column value, or JSON null. */
json_t *tn_time(const PGresult *res, int row, int col);

#endif
