/* ssebuf.c: see ssebuf.h. */
#include "ssebuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int sse_buf_append(struct sse_buf *b, const char *data, size_t n, size_t max)
{
	char *nb;

	if (b->len - b->off + n > max)
		return ENOSPC;
	nb = realloc(b->buf, b->len + n);
	if (!nb)
		return ENOMEM;
	memcpy(nb + b->len, data, n);
	b->buf = nb;
	b->len += n;
	return 0;
}

size_t sse_buf_take(struct sse_buf *b, char *out, size_t max)
{
	size_t n = b->len - b->off < max ? b->len - b->off : max;

	memcpy(out, b->buf + b->off, n);
	b->off += n;
	if (b->off == b->len) {
		b->off = b->len = 0;
	} else if (b->off > b->len / 2) {
		/* a client that never quite catches up: drop what was sent (the
		 * next append's realloc shrinks the block to what is kept) */
		memmove(b->buf, b->buf + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
	}
	return n;
}

size_t sse_buf_waiting(const struct sse_buf *b)
{
	return b->len - b->off;
}

void sse_buf_free(struct sse_buf *b)
{
	free(b->buf);
	b->buf = NULL;
	b->len = b->off = 0;
}
