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

void cc_map_init_borrowed(struct cc_map *m)
{
	memset(m, 0, sizeof(*m));
	m->borrowed = 1;
}

void cc_map_free(struct cc_map *m, void (*free_value)(void *))
{
	int borrowed = m->borrowed;

	for (size_t i = 0; i < m->cap; i++) {
		if (!m->slots[i].key)
			continue;
		if (!borrowed)
			free(m->slots[i].key);
		if (free_value)
			free_value(m->slots[i].value);
	}
	free(m->slots);
	cc_map_init(m);
	m->borrowed = borrowed;
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
		if (m->borrowed)
			s->key = (char *)key;   /* the old value's key may go with it */
		return old;
	}
	s->key = m->borrowed ? (char *)key : strdup(key);
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

void *cc_map_del(struct cc_map *m, const char *key)
{
	struct cc_map_slot *s;
	void *value;
	size_t i, j, mask = m->cap - 1;

	if (!m->cap || !(s = find(m->slots, m->cap, key))->key)
		return NULL;
	value = s->value;
	if (!m->borrowed)
		free(s->key);
	s->key = NULL;
	s->value = NULL;
	m->len--;
	/* shift back every key after the hole whose home is not between the
	 * hole and it (Knuth 6.4, algorithm R) */
	i = (size_t)(s - m->slots);
	for (j = (i + 1) & mask; m->slots[j].key; j = (j + 1) & mask) {
		size_t home = hash(m->slots[j].key) & mask;

		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		m->slots[i] = m->slots[j];
		m->slots[j].key = NULL;
		m->slots[j].value = NULL;
		i = j;
	}
	return value;
}

void cc_map_clone(struct cc_map *dst, const struct cc_map *src)
{
	cc_map_init(dst);
	dst->borrowed = src->borrowed;
	if (!src->cap)
		return;
	dst->slots = calloc(src->cap, sizeof(*dst->slots));
	CC_BUG_ON(!dst->slots);
	dst->cap = src->cap;
	dst->len = src->len;
	if (src->borrowed) {
		memcpy(dst->slots, src->slots, src->cap * sizeof(*dst->slots));
		return;
	}
	for (size_t i = 0; i < src->cap; i++) {
		if (!src->slots[i].key)
			continue;
		dst->slots[i].key = strdup(src->slots[i].key);
		CC_BUG_ON(!dst->slots[i].key);
		dst->slots[i].value = src->slots[i].value;
	}
}
