/*
 * ssebuf.h: the bytes an event stream (sse.c) has to send, appended by
 * the NATS thread and taken by the loop (the caller locks). Pure, so the
 * unit test drives it (tests/unit/test_ssebuf.c).
 *
 * What was sent is not kept: once the sent part passes half of the
 * buffer the unsent part moves to the front, so a long-lived stream
 * holds about twice what waits for its client, never all it ever sent.
 */
#ifndef TN_SSEBUF_H
#define TN_SSEBUF_H

#include <stddef.h>

struct sse_buf {
	char *buf;
	size_t len, off;             /* [off, len) waits to be sent */
};

/* Appends n bytes unless more than max would then wait: 0, ENOSPC (the
 * client reads too slowly), ENOMEM (nothing appended either way). */
int sse_buf_append(struct sse_buf *b, const char *data, size_t n, size_t max);
/* Up to max waiting bytes into out; how many. */
size_t sse_buf_take(struct sse_buf *b, char *out, size_t max);
size_t sse_buf_waiting(const struct sse_buf *b);
void sse_buf_free(struct sse_buf *b);

#endif
