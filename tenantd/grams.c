/* grams.c: see grams.h. */
#include "grams.h"
#include "cc.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void crm_fold(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

size_t crm_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* bytes of the code point at s (valid UTF-8) */
static size_t cp_len(const char *s)
{
	size_t n = 1;

	while (s[n] && ((unsigned char)s[n] & 0xc0) == 0x80)
		n++;
	return n;
}

/* a space or a control character: no gram holds one (they part values) */
static bool gap(const char *s)
{
	return (unsigned char)*s <= 0x20 || *s == 0x7f;
}

struct gram {
	const char *s;
	size_t n;
};

static int cmp(const void *a, const void *b)
{
	const struct gram *x = a, *y = b;
	int c = memcmp(x->s, y->s, x->n < y->n ? x->n : y->n);

	return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* s[0..n) quoted onto out (room checked by the caller: 2n + 3) */
static char *quote(char *out, const char *s, size_t n)
{
	*out++ = '\'';
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\'' || s[i] == '\\')
			*out++ = s[i];
		*out++ = s[i];
	}
	*out++ = '\'';
	return out;
}

char *crm_grams(const char *text)
{
	size_t len = strlen(text), n = 0, room = 1;
	struct gram *g = malloc((2 * len + 1) * sizeof(*g));
	char *out, *o;

	CC_BUG_ON(!g);
	for (const char *s = text; *s; s += cp_len(s)) {
		const char *next = s + cp_len(s);

		if (gap(s))
			continue;
		g[n++] = (struct gram){ s, (size_t)(next - s) };
		if (*next && !gap(next))
			g[n++] = (struct gram){ s, (size_t)(next - s) + cp_len(next) };
	}
	qsort(g, n, sizeof(*g), cmp);
	for (size_t i = 0; i < n; i++)
		room += 2 * g[i].n + 3;
	o = out = malloc(room);
	CC_BUG_ON(!out);
	for (size_t i = 0; i < n; i++) {
		if (i && cmp(&g[i - 1], &g[i]) == 0)
			continue;
		if (o != out)
			*o++ = ' ';
		o = quote(o, g[i].s, g[i].n);
	}
	*o = '\0';
	free(g);
	return out;
}

char *crm_lexeme(const char *term)
{
	size_t n = strlen(term);
	char *out = malloc(2 * n + 3), *o;

	CC_BUG_ON(!out);
	o = quote(out, term, n);
	*o = '\0';
	return out;
}
