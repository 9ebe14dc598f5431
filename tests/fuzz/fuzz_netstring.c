/* libFuzzer target: the netstring parser routingd reads evapi with. The
 * input is copied flush against the end of a heap block, so ASan sees any
 * read past it; a consumed length must fit the input and the payload lie
 * inside the frame. */
#include "netstring.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);
	struct cc_str payload = { 0 };
	size_t off = 0;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	/* frames back to back, as evapi sends them */
	while (off < size) {
		long used = cc_netstring_parse(buf + off, size - off, 1 << 20, &payload);

		if (used < 0)
			break;
		if ((size_t)used > size - off || !used)
			abort();
		if (payload.s < buf + off || payload.s + payload.len > buf + off + (size_t)used)
			abort();
		off += (size_t)used;
	}
	free(buf);
	return 0;
}
