/*
 * cdr.h: turning call events into call records (cc.calls), one row per
 * call, idempotent: an event whose id is already in cc.call_events
 * changes nothing, and each event only fills what it knows, so events may
 * arrive in any order, in any batch, or twice.
 *
 * A batch is applied with one statement (the events go in as one JSON
 * array; PostgreSQL records the new ones, folds them per call and upserts
 * each call once), which costs far less than statements per event.
 */
#ifndef BL_CDR_H
#define BL_CDR_H

#include <jansson.h>

#include "pg.h"

/* Checks one event and returns a clean copy holding only the fields the
 * records use, with their types checked; NULL (with *why set to a static
 * reason) if it is not a well-formed call event. */
json_t *bl_cdr_clean(const json_t *event, const char **why);

/* Applies clean events (an array from bl_cdr_clean) inside the caller's
 * transaction. CC_OK or CC_ERROR (see pg->error). */
int bl_cdr_apply(struct cc_pg *pg, const json_t *events);

#endif
