/*
 * rpc.h: billingd's answers to the money requests of tenantd and the
 * `billing` CLI (core NATS request/reply). billingd alone writes the
 * money tables; everything else asks it here.
 *
 *   cc.rpc.billing.close   {"tenant","month"}                 -> the invoice
 *   cc.rpc.billing.rerate  {"tenant","from","to"}             -> {"checked","changed","difference"}
 *   cc.rpc.billing.post    {"tenant","kind","amount","reference"[,"memo"]} -> the posting
 *
 * tenant is the tenant's id (the caller resolved it and checked who may
 * ask; NATS permissions decide which users may publish these subjects).
 * Every reply is one JSON object: {"status": 200|201, "body": {...}} or
 * {"status": 4xx|5xx, "error": {"code", "field" (or null), "message"}},
 * the API's own answer, which tenantd relays as it is. Each request is safe
 * to repeat (postings.h): a caller that timed out may ask again.
 *
 * Each subject has its own subscription, so its own delivery thread and
 * its own PostgreSQL connection: a rerate of a big tenant running for a
 * minute delays other rerates, never a top-up or a close (nor the credit
 * requests, which are on another connection). Requests of one subject are
 * answered in the order they came. After a change billingd forgets the
 * tenant's cached account (the credit engine reloads it).
 */
#ifndef BL_RPC_H
#define BL_RPC_H

#include <nats/nats.h>

#define BL_RPC_CLOSE  "cc.rpc.billing.close"
#define BL_RPC_RERATE "cc.rpc.billing.rerate"
#define BL_RPC_POST   "cc.rpc.billing.post"

struct bl_engine;
struct bl_rpc;

/* Subscribes to the three subjects on nc, each with a connection to
 * pg_url of its own. CC_ERROR with *err (the caller frees) when a
 * subscription is refused. */
int bl_rpc_start(struct bl_rpc **out, natsConnection *nc, const char *pg_url,
                 struct bl_engine *engine, char **err) __attribute__((warn_unused_result));
/* Unsubscribes (waiting for a request in progress) and frees. */
void bl_rpc_stop(struct bl_rpc *rpc);

#endif
