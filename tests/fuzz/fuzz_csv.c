/* libFuzzer target: the rate-deck CSV reader, fed the input in pieces
 * whose sizes come from the input's first byte (the deck import streams an
 * upload exactly so), and checked against the one-piece parse: the same
 * verdict and the same number of rows. */
#include "cc.h"
#include "rate.h"
#include "tariff_csv.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void count(const struct bl_rate *r, void *arg)
{
	(void)r;
	++*(size_t *)arg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bl_deck d1, d2;
	struct bl_csv_result r1 = { 0 }, r2 = { 0 };
	size_t n1 = 0, n2 = 0, step, off = 0;
	int v1, v2;

	if (!size)
		return 0;
	step = (size_t)(data[0] % 17) + 1;
	data++, size--;
	bl_deck_init(&d1);
	bl_deck_init(&d2);
	v1 = bl_csv_load_cb((const char *)data, size, &d1, &r1, count, &n1);
	struct bl_csv_reader *p = bl_csv_begin(&d2, &r2, count, &n2);
	while (off < size) {
		size_t len = size - off < step ? size - off : step;
		char *piece = malloc(len);

		memcpy(piece, data + off, len);   /* flush against its end for ASan */
		bl_csv_feed(p, piece, len);
		free(piece);
		off += len;
	}
	v2 = bl_csv_end(p);
	if (v1 != v2 || (v1 == CC_OK && n1 != n2))
		abort();
	bl_csv_result_free(&r1);
	bl_csv_result_free(&r2);
	bl_deck_free(&d1);
	bl_deck_free(&d2);
	return 0;
}
