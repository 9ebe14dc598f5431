/* libFuzzer target: the rate-deck CSV reader, fed the input in pieces
 * whose sizes come from the input's first byte (the deck import streams an
 * upload exactly so), and checked against the one-piece parse: the same
 * verdict and the same number of rows. The same for its records mode (the
 * customer import, tenantd/customers.c): the same records, rows and
 * errors; each field that is UTF-8 goes through the customer search's
 * grams (tenantd/grams.c), as the import does. */
#include "cc.h"
#include "grams.h"
#include "rate.h"
#include "tariff_csv.h"

#include <jansson.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void count(const struct bl_rate *r, void *arg)
{
	(void)r;
	++*(size_t *)arg;
}

struct tally {
	size_t records, fields;
	unsigned long long lines;     /* the sum of the records' line numbers */
};

static void on_record(struct bl_csv_reader *p, char *const *field, size_t n, bool too_many,
                      unsigned line, void *arg)
{
	struct tally *t = arg;

	t->records++;
	t->fields += n + too_many;
	t->lines += line;
	for (size_t i = 0; i < n; i++) {
		json_t *valid = json_string(field[i]);

		if (valid) {
			char *g = crm_grams(field[i]);

			free(g);
			json_decref(valid);
		}
		if (i == 0 && field[i][0] == '!')
			bl_csv_error(p, "bang");
	}
}

/* records mode: whole against pieces of step bytes */
static void records(const uint8_t *data, size_t size, size_t step)
{
	struct bl_csv_result r1 = { 0 }, r2 = { 0 };
	struct tally t1 = { 0 }, t2 = { 0 };
	struct bl_csv_reader *p = bl_csv_begin_records(&r1, on_record, &t1);
	int v1, v2;

	bl_csv_feed(p, (const char *)data, size);
	v1 = bl_csv_end(p);
	p = bl_csv_begin_records(&r2, on_record, &t2);
	for (size_t off = 0; off < size;) {
		size_t len = size - off < step ? size - off : step;
		char *piece = malloc(len);

		memcpy(piece, data + off, len);
		bl_csv_feed(p, piece, len);
		free(piece);
		off += len;
	}
	v2 = bl_csv_end(p);
	/* a bad file may differ in what it reports (a NUL found in a piece
	 * after an earlier one already gave a record), a good one in nothing */
	if (v1 != v2 || (v1 == CC_OK && (r1.rows != r2.rows || t1.records != t2.records ||
	                                  t1.fields != t2.fields || t1.lines != t2.lines)))
		abort();
	bl_csv_result_free(&r1);
	bl_csv_result_free(&r2);
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
	records(data, size, step);
	return 0;
}
