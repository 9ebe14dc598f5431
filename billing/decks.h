/*
 * decks.h: deck versions in memory, loaded from cc.tariff_rates on first
 * use and kept (versions never change). Not locked: each owner (billingd's
 * engine, under its mutex; tenantd's rerating) has its own.
 */
#ifndef BL_DECKS_H
#define BL_DECKS_H

#include "map.h"
#include "pg.h"
#include "rate.h"

struct bl_decks {
	struct cc_map map;   /* version id -> struct bl_deck */
};

/* The deck of a version, or NULL if the database failed (pg->error). */
const struct bl_deck *bl_decks_get(struct bl_decks *ds, struct cc_pg *pg, const char *version);
/* Drops every version not among the keys of versions (a set). */
void bl_decks_keep(struct bl_decks *ds, const struct cc_map *versions);
void bl_decks_free(struct bl_decks *ds);

#endif
