/* Unit tests of an event stream's send buffer (tenantd/ssebuf.h). */
#define SUITE "ssebuf"
#include "test.h"

#include <errno.h>

#include "ssebuf.h"

#define MAX (1024 * 1024)            /* sse.c's CC_SSE_BUFFER */

/* issue 14: a stream whose client never quite catches up kept everything
 * ever sent (off advanced, the buffer only grew); now it holds about twice
 * what waits, whatever went through it */
TEST(long_stream_compacts)
{
	struct sse_buf b = { 0 };
	char line[100], out[100];
	size_t sent = 0;

	memset(line, 'x', sizeof(line));
	for (int i = 0; i < 40000; i++) {   /* 4 MB through a 1 MiB bound */
		ASSERT_EQ_INT(sse_buf_append(&b, line, sizeof(line), MAX), 0);
		sent += sse_buf_take(&b, out, sizeof(out) - 1);   /* one byte behind each time */
		ASSERT(b.len <= 2 * sse_buf_waiting(&b) + 2 * sizeof(line));
	}
	ASSERT(sent > 2 * MAX);
	ASSERT_EQ_INT(sse_buf_waiting(&b), 40000);
	/* what waits is still in order */
	size_t n = sse_buf_take(&b, out, sizeof(out));

	ASSERT_EQ_INT(n, sizeof(out));
	ASSERT(out[0] == 'x' && out[99] == 'x');
	sse_buf_free(&b);
}

/* the bound is on what waits: a client too slow is refused, not grown for */
TEST(slow_client_refused_at_bound)
{
	struct sse_buf b = { 0 };
	static char big[MAX / 4];
	char out[16];

	for (int i = 0; i < 4; i++)
		ASSERT_EQ_INT(sse_buf_append(&b, big, sizeof(big), MAX), 0);
	ASSERT_EQ_INT(sse_buf_append(&b, "y", 1, MAX), ENOSPC);
	ASSERT_EQ_INT(sse_buf_waiting(&b), MAX);
	ASSERT_EQ_INT(sse_buf_take(&b, out, sizeof(out)), sizeof(out));
	ASSERT_EQ_INT(sse_buf_append(&b, "y", 1, MAX), 0);
	sse_buf_free(&b);
	/* drained: back to empty */
	ASSERT_EQ_INT(sse_buf_append(&b, "ab", 2, MAX), 0);
	ASSERT_EQ_INT(sse_buf_take(&b, out, sizeof(out)), 2);
	ASSERT_EQ_INT(b.len, 0);
	ASSERT_EQ_INT(sse_buf_take(&b, out, sizeof(out)), 0);
	sse_buf_free(&b);
}

TEST_LIST(T(long_stream_compacts), T(slow_client_refused_at_bound))
