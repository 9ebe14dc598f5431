/*
 * postings.h: the writes to the money tables (rated lines, the ledger,
 * invoices) that billingd makes on request. billingd alone writes those
 * tables (ops/db/roles.sql); tenantd and the `billing` CLI ask for these
 * over NATS (rpc.h). Each is one transaction on the caller's connection
 * and safe to repeat: closing returns the same invoice, rerating again
 * changes nothing, a posting's reference is posted once.
 */
#ifndef BL_POSTINGS_H
#define BL_POSTINGS_H

#include <jansson.h>

#include "decks.h"
#include "pg.h"

/* Closes a finished month (idempotent): posts its seat and number
 * charges once (keyed on the month) and freezes the invoice. NULL with
 * *err (static text: the month is malformed, the tenant has no plan, "the
 * month is not over yet") or with *err NULL on a database failure
 * (pg->error). */
json_t *bl_invoice_close(struct cc_pg *pg, const char *tenant_id, const char *month,
                         const char **err);

/* Rates again every rated call of the tenant started in [from, to) against
 * the deck versions in force at its start; a line that comes out different
 * gets a new revision and the difference posts as a 'rerate' ledger
 * transaction. Running it again changes nothing. One transaction.
 * {"checked","changed","difference"}; NULL on failure (*err or pg->error). */
json_t *bl_rerate(struct cc_pg *pg, struct bl_decks *decks, const char *tenant_id,
                  const char *from, const char *to, const char **err);

/* A refusal of bl_post: the HTTP status the API answers, its error code,
 * the field at fault (or NULL) and a message for people (static text). */
struct bl_refusal {
	int status;
	const char *code;
	const char *field;
	const char *message;
};

/* One ledger transaction of two entries summing to zero: kind "topup"
 * (tenant +amount, "cash" -amount; amount > 0) or "adjustment" (counter
 * "adjustments"; any sign but 0). amount is a decimal string with at most
 * the plan currency's minor-unit digits; reference keys the posting per
 * tenant and kind (1 to 200 characters), memo is free text (may be NULL).
 * The posting as the API shows it ({"id","kind","amount","currency",
 * "reference","created_at"}); NULL with *why filled (no plan 409, a bad
 * amount 422, the reference already posted 409) or with why->status 0 on
 * a database failure (pg->error). */
json_t *bl_post(struct cc_pg *pg, const char *tenant_id, const char *kind, const char *amount,
                const char *reference, const char *memo, struct bl_refusal *why);

#endif
