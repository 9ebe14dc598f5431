/* decks.c: see decks.h. */
#include "decks.h"
#include "cc.h"
#include "log.h"

#include <stdlib.h>

const struct bl_deck *bl_decks_get(struct bl_decks *ds, struct cc_pg *pg, const char *version)
{
	struct bl_deck *d = cc_map_get(&ds->map, version);
	const char *p[1] = { version };
	PGresult *res;

	if (d)
		return d;
	res = cc_pg_exec(pg, "SELECT prefix, description, rate_per_min_micro, connect_fee_micro, "
	                 "initial_s, increment_s, min_s, days, start_min, end_min, line "
	                 "FROM cc.tariff_rates WHERE version_id = $1", 1, p);
	if (!res)
		return NULL;
	d = malloc(sizeof(*d));
	CC_BUG_ON(!d);
	bl_deck_init(d);
	for (int i = 0; i < PQntuples(res); i++) {
		struct bl_rate r = {
			.description = PQgetvalue(res, i, 1),
			.per_min_micro = atoll(PQgetvalue(res, i, 2)),
			.connect_micro = atoll(PQgetvalue(res, i, 3)),
			.initial_s = atoi(PQgetvalue(res, i, 4)),
			.increment_s = atoi(PQgetvalue(res, i, 5)),
			.min_s = atoi(PQgetvalue(res, i, 6)),
			.days = (uint8_t)atoi(PQgetvalue(res, i, 7)),
			.start_min = (int16_t)atoi(PQgetvalue(res, i, 8)),
			.end_min = (int16_t)atoi(PQgetvalue(res, i, 9)),
			.line = (uint32_t)atoi(PQgetvalue(res, i, 10)),
		};
		snprintf(r.prefix, sizeof(r.prefix), "%s", PQgetvalue(res, i, 0));
		if (bl_deck_add(d, &r) != CC_OK)
			CC_WARN("deck %s: line %u overlaps another row; skipped", version, r.line);
	}
	PQclear(res);
	cc_map_put(&ds->map, version, d);
	CC_INFO("deck version %s loaded: %zu rows", version, d->n_rates);
	return d;
}

static void free_deck(void *p)
{
	bl_deck_free(p);
	free(p);
}

void bl_decks_keep(struct bl_decks *ds, const struct cc_map *versions)
{
	struct cc_map kept = { 0 };

	for (size_t i = 0; i < ds->map.cap; i++) {
		const char *v = ds->map.slots[i].key;

		if (!v)
			continue;
		if (cc_map_get(versions, v)) {
			cc_map_put(&kept, v, ds->map.slots[i].value);
		} else {
			CC_INFO("deck version %s no longer in force: dropped", v);
			free_deck(ds->map.slots[i].value);
		}
	}
	cc_map_free(&ds->map, NULL);
	ds->map = kept;
}

void bl_decks_free(struct bl_decks *ds)
{
	cc_map_free(&ds->map, free_deck);
}
