/*
 * map.h: a string-keyed hash map (open addressing, linear probing).
 *
 * Keys are copied; values are the caller's. Used for the routing model,
 * which is built whole and swapped, so the map supports no deletion.
 */
#ifndef CC_MAP_H
#define CC_MAP_H

#include <stddef.h>

struct cc_map_slot {
	char *key;    /* owned copy, NULL for an empty slot */
	void *value;  /* the caller's */
};

struct cc_map {
	struct cc_map_slot *slots; /* cap entries */
	size_t cap;                /* power of two */
	size_t len;                /* keys in use */
};

void cc_map_init(struct cc_map *m);
/* Frees the keys; calls free_value on each value if it is not NULL. */
void cc_map_free(struct cc_map *m, void (*free_value)(void *));
/* Inserts or replaces; returns the replaced value or NULL. */
void *cc_map_put(struct cc_map *m, const char *key, void *value);
void *cc_map_get(const struct cc_map *m, const char *key);

#endif
