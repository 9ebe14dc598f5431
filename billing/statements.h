/*
 * statements.h: what billing says back: invoices and the reconciliation
 * report. Each works on one PostgreSQL connection and answers JSON;
 * tenantd serves them over the API and the `billing` CLI prints them.
 * Closing an invoice writes the ledger and cc.invoices: that is
 * billingd's (postings.h; tenantd and the CLI ask it over NATS, rpc.h).
 *
 * Invoices. The month YYYY-MM of a tenant runs from its anchor day of that
 * month, 00:00 in the tenant's zone, to the same day a month later. Lines:
 *   seats     each named agent seat, billed per local day on which it
 *             existed: seat_price_per_month x days / days in the period
 *   numbers   likewise with number_price_per_month
 *   usage     rated calls started in the period (latest revision), by
 *             direction and destination description
 *   adjustments and rerating differences posted in the period
 * Each line is rounded once, half up, to the currency's minor unit; the
 * total is the sum of the lines. Payments (top-ups) are listed apart.
 * A month still running is a draft; closing a finished month posts its
 * seat and number charges to the ledger (once: keyed on the month) and
 * freezes the invoice; closing it again returns the same invoice.
 */
#ifndef BL_STATEMENTS_H
#define BL_STATEMENTS_H

#include <jansson.h>

#include "decks.h"
#include "pg.h"

/* NULL with *err (static text) if the month is malformed or the tenant
 * has no plan; NULL with *err NULL on a database failure (pg->error). */
json_t *bl_invoice(struct cc_pg *pg, const char *tenant_id, const char *month, const char **err);
/* Months with activity, newest first: [{"month","status":"draft|open|closed"}]. */
json_t *bl_invoice_list(struct cc_pg *pg, const char *tenant_id);
/* The invoice as a printable HTML page (every text escaped). */
char *bl_invoice_html(const json_t *invoice);

/* Compares call events, call records and rated lines per tenant (NULL =
 * every tenant) per local day in [from, to), and lists every gap. */
json_t *bl_reconcile(struct cc_pg *pg, const char *tenant_id, const char *from, const char *to,
                     const char **err);

/* "YYYY-MM" with a real month; the amount as the API prints it. Shared
 * with billingd's postings. */
bool bl_valid_month(const char *m);
json_t *bl_money_json(int64_t micro, int minor);

#endif
