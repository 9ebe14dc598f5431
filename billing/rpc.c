/* rpc.c: see rpc.h. */
#include "rpc.h"
#include "cc.h"
#include "clock.h"
#include "engine.h"
#include "id.h"
#include "log.h"
#include "postings.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct bl_rpc_op {
	struct bl_rpc *rpc;
	const char *subject;
	/* answers one request: the reply object ({"status", "body"|"error"}) */
	json_t *(*run)(struct bl_rpc_op *op, const json_t *req, const char *tenant);
	struct cc_pg pg;              /* this subject's own connection */
	natsSubscription *sub;
};

enum { OP_CLOSE, OP_RERATE, OP_POST, OP__COUNT };

struct bl_rpc {
	struct bl_engine *engine;
	struct bl_rpc_op ops[OP__COUNT];
};

/* ------------------------------------------------------------- replies */

static json_t *ok(int status, json_t *body)
{
	return json_pack("{s:i, s:o}", "status", status, "body", body);
}

static json_t *error(int status, const char *code, const char *field, const char *message)
{
	return json_pack("{s:i, s:{s:s, s:s?, s:s}}", "status", status, "error", "code", code,
	                 "field", field, "message", message);
}

/* A database failure: 503 while it is away, else 500; its text is
 * logged, never sent. */
static json_t *db_error(struct bl_rpc_op *op, const char *what)
{
	CC_ERR("%s: %s: %s", op->subject, what, op->pg.message ? op->pg.message : "?");
	if (op->pg.error == CC_PG_UNAVAILABLE)
		return error(503, "unavailable", NULL, "the billing database is unavailable; try again");
	return error(500, "internal", NULL, "internal error");
}

static const char *field(const json_t *req, const char *name)
{
	return json_string_value(json_object_get(req, name));
}

/* ---------------------------------------------------------- the three */

static json_t *run_close(struct bl_rpc_op *op, const json_t *req, const char *tenant)
{
	const char *err;
	json_t *inv = bl_invoice_close(&op->pg, tenant, field(req, "month"), &err);

	if (!inv) {
		if (!err)
			return db_error(op, "closing the month");
		if (strstr(err, "no billing plan"))
			return error(404, "not_found", NULL, err);
		if (strstr(err, "not over"))
			return error(409, "conflict", "month", err);
		return error(400, "invalid_argument", "month", err);
	}
	json_object_del(inv, "seat_total_micro");
	json_object_del(inv, "number_total_micro");
	return ok(200, inv);
}

/* an RFC 3339 time, roughly (PostgreSQL checks it exactly) */
static bool time_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n >= 10 && n <= 35 && strspn(s, "0123456789-:.TtZz+ ") == n;
}

static json_t *run_rerate(struct bl_rpc_op *op, const json_t *req, const char *tenant)
{
	const char *from = field(req, "from"), *to = field(req, "to"), *err;
	struct bl_decks decks = { 0 };

	if (!time_ok(from) || !time_ok(to))
		return error(422, "invalid_argument", time_ok(from) ? "to" : "from",
		             "from/to: RFC 3339 times");
	json_t *out = bl_rerate(&op->pg, &decks, tenant, from, to, &err);

	bl_decks_free(&decks);
	if (!out) {
		if (op->pg.error == CC_PG_INVALID)
			return error(422, "invalid_argument", "from", "from/to: RFC 3339 times");
		return db_error(op, "rerating");
	}
	return ok(200, out);
}

static json_t *run_post(struct bl_rpc_op *op, const json_t *req, const char *tenant)
{
	struct bl_refusal why;
	json_t *out = bl_post(&op->pg, tenant, field(req, "kind"), field(req, "amount"),
	                      field(req, "reference"), field(req, "memo"), &why);

	if (out)
		return ok(201, out);
	if (!why.status)
		return db_error(op, "posting");
	return error(why.status, why.code, why.field, why.message);
}

/* ------------------------------------------------------------ handler */

/* NATS thread of op's subscription: one request at a time. */
static void on_request(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *arg)
{
	struct bl_rpc_op *op = arg;
	int64_t t0 = cc_mono_ms();
	json_t *req = json_loadb(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg),
	                         JSON_REJECT_DUPLICATES, NULL);
	const char *tenant = field(req, "tenant");
	json_t *reply;

	if (!natsMsg_GetReply(msg)) {
		CC_WARN("%s: a request without a reply subject: ignored", op->subject);
		goto out;
	}
	if (!json_is_object(req))
		reply = error(400, "invalid_json", NULL, "the request must be a JSON object");
	else if (!tenant || !cc_uuid_valid(tenant))
		reply = error(400, "invalid_argument", "tenant", "tenant: a tenant id");
	else
		reply = op->run(op, req, tenant);
	int status = (int)json_integer_value(json_object_get(reply, "status"));
	char *text = json_dumps(reply, JSON_COMPACT | JSON_ENSURE_ASCII);

	if (status >= 200 && status < 300)
		bl_engine_stale(op->rpc->engine, tenant);
	natsStatus s = text ? natsConnection_PublishString(nc, natsMsg_GetReply(msg), text)
	                    : NATS_NO_MEMORY;
	cc_log(s == NATS_OK ? CC_LOG_INFO : CC_LOG_WARN, 0, tenant, NULL, "%s: %d in %lld ms%s",
	       op->subject, status, (long long)(cc_mono_ms() - t0),
	       s == NATS_OK ? "" : " (the reply could not be sent)");
	free(text);
	json_decref(reply);
out:
	json_decref(req);
	natsMsg_Destroy(msg);
}

int bl_rpc_start(struct bl_rpc **out, natsConnection *nc, const char *pg_url,
                 struct bl_engine *engine, char **err)
{
	static const struct { const char *subject; json_t *(*run)(struct bl_rpc_op *, const json_t *,
	                                                           const char *); } table[OP__COUNT] = {
		[OP_CLOSE] = { BL_RPC_CLOSE, run_close },
		[OP_RERATE] = { BL_RPC_RERATE, run_rerate },
		[OP_POST] = { BL_RPC_POST, run_post },
	};
	struct bl_rpc *rpc = calloc(1, sizeof(*rpc));

	CC_BUG_ON(!rpc);
	rpc->engine = engine;
	for (int i = 0; i < OP__COUNT; i++) {
		struct bl_rpc_op *op = &rpc->ops[i];

		op->rpc = rpc;
		op->subject = table[i].subject;
		op->run = table[i].run;
		cc_pg_init(&op->pg, pg_url);
	}
	for (int i = 0; i < OP__COUNT; i++) {
		struct bl_rpc_op *op = &rpc->ops[i];
		natsStatus s = natsConnection_Subscribe(&op->sub, nc, op->subject, on_request, op);

		if (s != NATS_OK) {
			cc_fail(err, "cannot subscribe to %s: %s", op->subject, natsStatus_GetText(s));
			bl_rpc_stop(rpc);
			return CC_ERROR;
		}
	}
	*out = rpc;
	return CC_OK;
}

void bl_rpc_stop(struct bl_rpc *rpc)
{
	bool busy = false;

	if (!rpc)
		return;
	for (int i = 0; i < OP__COUNT; i++)
		if (rpc->ops[i].sub)
			natsSubscription_Drain(rpc->ops[i].sub);
	for (int i = 0; i < OP__COUNT; i++) {
		struct bl_rpc_op *op = &rpc->ops[i];

		if (!op->sub)
			continue;
		/* a request in progress (a long rerate) finishes and is answered
		 * first; one still running after 10 s keeps op: it is not freed */
		if (natsSubscription_WaitForDrainCompletion(op->sub, 10000) != NATS_OK) {
			CC_WARN("%s: a request still runs; stopping without waiting for it", op->subject);
			busy = true;
			continue;
		}
		natsSubscription_Destroy(op->sub);
		op->sub = NULL;
	}
	if (busy)
		return;
	for (int i = 0; i < OP__COUNT; i++)
		cc_pg_close(&rpc->ops[i].pg);
	free(rpc);
}
