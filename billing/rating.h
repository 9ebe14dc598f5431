/*
 * rating.h: the public header of librating.a (build/billing/librating.a),
 * billing's library for the programs that are not billingd: routingd sizes
 * credit grants with it, tenantd checks and stores rate decks and serves
 * statements, the `billing` CLI and the tests use it.
 *
 *   rate.h        decks in memory and the rating function (pure)
 *   decks.h       deck versions loaded from PostgreSQL, cached
 *   tariff_csv.h  the CSV deck reader, fed in pieces
 *   statements.h  invoices (drafts, listing, HTML) and reconciliation
 *
 * Not in it on purpose: what writes money (rating calls, credit, rerating,
 * posting, closing invoices: engine.h, rerate.h, rpc.h). Those are
 * billingd's alone, and other programs ask billingd for them over NATS.
 */
#ifndef BL_RATING_H
#define BL_RATING_H

#include "decks.h"
#include "rate.h"
#include "statements.h"
#include "tariff_csv.h"

#endif
