/*
 * map.h: a string-keyed hash map (open addressing, linear probing).
 *
 * Keys are copied (or, in a map made with cc_map_init_borrowed, the
 * caller's and kept alive by it: the routing model's million numbers,
 * whose digits live in the number structs); values are the caller's. Used for the routing model,
 * which is built off the loop and swapped in whole: a model patched for
 * one tenant starts as a clone of the live one's maps, then deletes and
 * inserts (deletion shifts the probe chain back, so no tombstones).
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
	int borrowed;              /* keys are the caller's, not copies */
};

void cc_map_init(struct cc_map *m);
/* A map whose keys are not copied: each must outlive its entry. */
void cc_map_init_borrowed(struct cc_map *m);
/* Frees the keys; calls free_value on each value if it is not NULL. */
void cc_map_free(struct cc_map *m, void (*free_value)(void *));
/* Inserts or replaces; returns the replaced value or NULL. */
void *cc_map_put(struct cc_map *m, const char *key, void *value);
void *cc_map_get(const struct cc_map *m, const char *key);
/* Removes key; returns its value or NULL if it was not there. */
void *cc_map_del(struct cc_map *m, const char *key);
/* dst (uninitialised) becomes a copy of src: keys copied (borrowed maps:
 * shared, one memcpy), values shared. */
void cc_map_clone(struct cc_map *dst, const struct cc_map *src);

#endif
