/*
 * cdr.h: turning call events into call records (cc.calls), one row per
 * call, idempotent: an event whose id is already in cc.call_events
 * changes nothing, and each event only fills what it knows
 * (COALESCE/LEAST), so events may arrive in any order or twice.
 */
#ifndef BL_CDR_H
#define BL_CDR_H

#include <jansson.h>

#include "pg.h"

/* Applies one event inside the caller's transaction. CC_OK (applied or a
 * duplicate), CC_DECLINED (not a call event; skipped), CC_ERROR (database;
 * the caller rolls back and retries the batch). */
int bl_cdr_apply(struct cc_pg *pg, const json_t *event);

#endif
