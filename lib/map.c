/* map.c: see map.h. FNV-1a hash; the table doubles at 50% load. */
#include "map.h"
#include "cc.h"

#include <stdint.h>
#include <string.h>

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

void cc_map_init(struct cc_map *m)
{
	memset(m, 0, sizeof(*m));
}

void cc_map_free(struct cc_map *m, void (*free_value)(void *))
{
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->slots[i].key)
			continue;
		free(m->slots[i].key);
		if (free_value)
			free_value(m->slots[i].value);
	}
	free(m->slots);
	cc_map_init(m);
}

static struct cc_map_slot *find(struct cc_map_slot *slots, size_t cap, const char *key)
{
	size_t i = hash(key) & (cap - 1);

	while (slots[i].key && strcmp(slots[i].key, key) != 0)
		i = (i + 1) & (cap - 1);
	return &slots[i];
}

static void grow(struct cc_map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 16;
	struct cc_map_slot *slots = calloc(cap, sizeof(*slots));

	CC_BUG_ON(!slots);
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key)
			*find(slots, cap, m->slots[i].key) = m->slots[i];
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
}

void *cc_map_put(struct cc_map *m, const char *key, void *value)
{
	struct cc_map_slot *s;
	void *old;

	if ((m->len + 1) * 2 > m->cap)
		grow(m);
	s = find(m->slots, m->cap, key);
	if (s->key) {
		old = s->value;
		s->value = value;
		return old;
	}
	s->key = strdup(key);
	CC_BUG_ON(!s->key);
	s->value = value;
	m->len++;
	return NULL;
}

void *cc_map_get(const struct cc_map *m, const char *key)
{
	if (!m->cap)
		return NULL;
	return find(m->slots, m->cap, key)->value;
}
