/* Unit tests of billing/: golden rating cases, properties over random
 * calls, credit grants, the CSV deck reader and money strings. */
#define SUITE "billing"
#include "test.h"

#include "cc.h"
#include "cdr.h"
#include "event_types.h"
#include "events.h"
#include "money.h"
#include "rate.h"
#include "rnd.h"
#include "tariff_csv.h"

static struct bl_rate rate(const char *prefix, const char *per_min, const char *connect, int initial,
                           int increment, int min)
{
	struct bl_rate r = { .initial_s = initial, .increment_s = increment, .min_s = min,
	                     .days = BL_ALL_DAYS, .start_min = 0, .end_min = 1440,
	                     .description = "test" };
	const char *why;

	snprintf(r.prefix, sizeof(r.prefix), "%s", prefix);
	CC_BUG_ON(cc_money_parse(per_min, 6, &r.per_min_micro, &why) != CC_OK);
	CC_BUG_ON(cc_money_parse(connect, 6, &r.connect_micro, &why) != CC_OK);
	return r;
}

/* cost in micro of talk_ms under r, minor unit 2 */
static int64_t cost(const struct bl_rate *r, int64_t talk_ms, int64_t *billable)
{
	int64_t exact, c;

	*billable = bl_billable_s(r, talk_ms);
	bl_cost(r, *billable, 2, &exact, &c);
	return c;
}

TEST(money)
{
	int64_t m;
	const char *why;
	char out[CC_MONEY_LEN];

	ASSERT_EQ_INT(cc_money_parse("100.00", 2, &m, &why), CC_OK);
	ASSERT(m == 100000000);
	ASSERT_EQ_INT(cc_money_parse("-0.5", 6, &m, &why), CC_OK);
	ASSERT(m == -500000);
	ASSERT_EQ_INT(cc_money_parse("0.123", 2, &m, &why), CC_ERROR);
	ASSERT_EQ_INT(cc_money_parse("1.2345678", 6, &m, &why), CC_ERROR);
	ASSERT_EQ_INT(cc_money_parse("1e3", 6, &m, &why), CC_ERROR);
	ASSERT_EQ_INT(cc_money_parse("", 6, &m, &why), CC_ERROR);
	ASSERT_EQ_INT(cc_money_parse(".", 6, &m, &why), CC_ERROR);
	ASSERT_EQ_INT(cc_money_parse("5.", 6, &m, &why), CC_ERROR);
	ASSERT_EQ_INT(cc_money_parse("99999999999999", 6, &m, &why), CC_ERROR);
	cc_money_format(99400000, 2, out);
	ASSERT_EQ_STR(out, "99.40");
	cc_money_format(-600000, 2, out);
	ASSERT_EQ_STR(out, "-0.60");
	cc_money_format(1234567, 2, out);
	ASSERT_EQ_STR(out, "1.234567");
	cc_money_format(5000000, 0, out);
	ASSERT_EQ_STR(out, "5");
	ASSERT(cc_div_round_half_up(5, 10) == 1 && cc_div_round_half_up(4, 10) == 0);
	ASSERT(cc_div_round_half_up(-5, 10) == -1 && cc_div_round_half_up(-4, 10) == 0);
}

/* 60/60: every started minute; 1/1: every second. Rate 1.20/min. */
TEST(increments_60_60_and_1_1)
{
	struct bl_rate m = rate("86", "1.20", "0", 60, 60, 0), s = rate("86", "1.20", "0", 1, 1, 0);
	int64_t b;

	ASSERT(cost(&m, 1, &b) == 1200000 && b == 60);
	ASSERT(cost(&m, 60000, &b) == 1200000 && b == 60);
	ASSERT(cost(&m, 60001, &b) == 2400000 && b == 120);
	ASSERT(cost(&s, 1, &b) == 20000 && b == 1);          /* 0.02 */
	ASSERT(cost(&s, 61500, &b) == 1240000 && b == 62);   /* 62 s = 1.24 */
	ASSERT(cost(&s, 0, &b) == 0 && b == 0);
}

/* 30/6: first 30 s, then 6 s steps. 60/1: a minute, then seconds. */
TEST(increments_30_6_and_60_1)
{
	struct bl_rate r = rate("44", "0.60", "0", 30, 6, 0), t = rate("44", "0.60", "0", 60, 1, 0);
	int64_t b;

	ASSERT(cost(&r, 10000, &b) == 300000 && b == 30);    /* 0.30 */
	ASSERT(cost(&r, 30001, &b) == 360000 && b == 36);
	ASSERT(cost(&r, 37000, &b) == 420000 && b == 42);
	ASSERT(cost(&t, 5000, &b) == 600000 && b == 60);
	ASSERT(cost(&t, 60500, &b) == 610000 && b == 61);
}

/* A connect fee once per call; a minimum duration; rounding once per
 * line, not per increment (0.10/min, 1/1: 7 s = 0.011666 -> 0.01). */
TEST(connect_fee_minimum_and_rounding)
{
	struct bl_rate c = rate("1", "0.10", "0.15", 1, 1, 0), m = rate("1", "1.00", "0", 1, 1, 30);
	int64_t b, exact, out;

	ASSERT(cost(&c, 7000, &b) == 160000);                /* 0.15 + 0.011666 = 0.161666 -> 0.16 */
	bl_cost(&c, 7, 2, &exact, &out);
	ASSERT(exact == 150000 * 60 + 100000 * 7);
	ASSERT(cost(&c, 30000, &b) == 200000);               /* 0.15 + 0.05 */
	ASSERT(cost(&m, 3000, &b) == 500000 && b == 30);     /* minimum 30 s at 1.00/min */
	ASSERT(cost(&m, 45000, &b) == 750000 && b == 45);
	/* per-increment rounding would have made 1 s of 0.10/min cost 0.01 */
	ASSERT(cost(&c, 1000, &b) == 150000);                /* 0.15 + 0.001666 -> 0.15 */
	/* halves go up: 0.30/min for 1 s = 0.005 -> 0.01 */
	struct bl_rate h = rate("1", "0.30", "0", 1, 1, 0);
	ASSERT(cost(&h, 1000, &b) == 10000);
}

/* Time bands: the row in force at the local answer time rates the whole
 * call; the boundary minute belongs to the later band. */
TEST(time_band_boundary)
{
	struct bl_deck d;
	struct bl_rate peak = rate("86", "1.00", "0", 60, 60, 0), off = rate("86", "0.50", "0", 60, 60, 0),
	               wknd = rate("86", "0.20", "0", 60, 60, 0);

	peak.days = 0x1f, peak.start_min = 8 * 60, peak.end_min = 18 * 60;     /* mon-fri 08-18 */
	off.days = 0x1f, off.start_min = 18 * 60, off.end_min = 8 * 60;        /* mon-fri 18-08 */
	wknd.days = 0x60;                                                       /* sat, sun */
	bl_deck_init(&d);
	ASSERT_EQ_INT(bl_deck_add(&d, &peak), CC_OK);
	ASSERT_EQ_INT(bl_deck_add(&d, &off), CC_OK);
	ASSERT_EQ_INT(bl_deck_add(&d, &wknd), CC_OK);
	ASSERT(bl_deck_match(&d, "8613800000000", 0, 8 * 60 - 1)->per_min_micro == 500000);
	ASSERT(bl_deck_match(&d, "8613800000000", 0, 8 * 60)->per_min_micro == 1000000);
	ASSERT(bl_deck_match(&d, "8613800000000", 4, 18 * 60 - 1)->per_min_micro == 1000000);
	ASSERT(bl_deck_match(&d, "8613800000000", 4, 18 * 60)->per_min_micro == 500000);
	/* a wrapped band covers both ends of each of its days */
	ASSERT(bl_deck_match(&d, "8613800000000", 0, 3 * 60)->per_min_micro == 500000);
	ASSERT(bl_deck_match(&d, "8613800000000", 4, 23 * 60 + 59)->per_min_micro == 500000);
	ASSERT(bl_deck_match(&d, "8613800000000", 5, 3 * 60)->per_min_micro == 200000);
	ASSERT(bl_deck_match(&d, "8613800000000", 6, 23 * 60 + 59)->per_min_micro == 200000);
	/* an overlapping row for the same prefix is refused */
	struct bl_rate clash = rate("86", "9.00", "0", 60, 60, 0);
	clash.days = 0x01, clash.start_min = 17 * 60, clash.end_min = 19 * 60;
	ASSERT_EQ_INT(bl_deck_add(&d, &clash), CC_DECLINED);
	bl_deck_free(&d);
}

TEST(longest_prefix)
{
	struct bl_deck d;
	struct bl_rate a = rate("86", "1.00", "0", 1, 1, 0), b = rate("86138", "0.30", "0", 1, 1, 0),
	               c = rate("8613800", "0.10", "0", 1, 1, 0);
	struct bl_line line;
	struct bl_call call = { .digits = "8613812345678", .answered = true, .talk_ms = 60000,
	                        .grant_s = -1, .max_s = 14400 };

	bl_deck_init(&d);
	bl_deck_add(&d, &a);
	bl_deck_add(&d, &b);
	bl_deck_add(&d, &c);
	ASSERT_EQ_INT(bl_deck_add(&d, &b), CC_DECLINED);     /* duplicate prefix */
	bl_rate_call(&d, &call, 2, &line);
	ASSERT_EQ_STR(line.rate->prefix, "86138");
	ASSERT(line.cost_micro == 300000 && line.billable_s == 60);
	call.digits = "8613800999";
	bl_rate_call(&d, &call, 2, &line);
	ASSERT_EQ_STR(line.rate->prefix, "8613800");
	call.digits = "4420";
	bl_rate_call(&d, &call, 2, &line);
	ASSERT(!line.rate && line.flags == BL_NO_RATE && line.cost_micro == 0);
	/* unanswered: nothing; too long: flagged, not billed; capped at the grant */
	call.digits = "8613812345678";
	call.answered = false;
	bl_rate_call(&d, &call, 2, &line);
	ASSERT(line.cost_micro == 0 && line.billable_s == 0 && !line.flags);
	call.answered = true;
	call.talk_ms = 14401000;
	bl_rate_call(&d, &call, 2, &line);
	ASSERT(line.flags == BL_TOO_LONG && line.cost_micro == 0);
	call.talk_ms = 10400, call.grant_s = 10;
	bl_rate_call(&d, &call, 2, &line);
	ASSERT(line.flags == BL_CAPPED && line.billable_s == 10 && line.cost_micro == 50000);
	/* no deck in force at all */
	bl_rate_call(NULL, &call, 2, &line);
	ASSERT(!line.rate && line.flags == BL_NO_RATE && line.cost_micro == 0);
	bl_deck_free(&d);
}

/* Properties over 200,000 random tariffs and durations: cost never
 * decreases with duration; a grant's talk fits the money and one second
 * more would not (unless capped by the maximum). */
TEST(properties)
{
	for (int i = 0; i < 200000; i++) {
		struct bl_rate r = { .per_min_micro = (int64_t)(rnd() % 20000000),
		                     .connect_micro = (int64_t)(rnd() % 3 ? 0 : rnd() % 1000000),
		                     .initial_s = (int32_t)(rnd() % 4 ? rnd() % 61 : 0),
		                     .increment_s = (int32_t)(1 + rnd() % 60),
		                     .min_s = (int32_t)(rnd() % 3 ? 0 : rnd() % 120) };
		int minor = (int)(rnd() % 4);
		int64_t t1 = (int64_t)(rnd() % 7200000), t2 = t1 + (int64_t)(rnd() % 120000);
		int64_t e, c1, c2;

		bl_cost(&r, bl_billable_s(&r, t1), minor, &e, &c1);
		bl_cost(&r, bl_billable_s(&r, t2), minor, &e, &c2);
		ASSERT(c2 >= c1);
		ASSERT(bl_billable_s(&r, t1) * 1000 >= t1);
		ASSERT(c1 % cc_minor_micro(minor) == 0);

		int64_t avail = (int64_t)(rnd() % 50000000), reserved, after;
		int64_t g = bl_grant_s(&r, avail, minor, 14400, &reserved);

		ASSERT(reserved <= avail);
		if (g > 0) {
			bl_cost(&r, bl_billable_s(&r, g * 1000), minor, &e, &after);
			ASSERT(after == reserved);
		}
		if (g < 14400) {
			bl_cost(&r, bl_billable_s(&r, (g + 1) * 1000), minor, &e, &after);
			ASSERT(after > avail);
		}
	}
}

TEST(grant_exact_credit)
{
	struct bl_rate r = rate("86", "6.00", "0", 1, 1, 0);   /* 0.10 per second */
	int64_t reserved;

	ASSERT(bl_grant_s(&r, 1000000, 2, 14400, &reserved) == 10 && reserved == 1000000);
	ASSERT(bl_grant_s(&r, 99999, 2, 14400, &reserved) == 0);
	ASSERT(bl_grant_s(&r, 0, 2, 14400, &reserved) == 0);
	ASSERT(bl_grant_s(&r, 1000000000, 2, 3600, &reserved) == 3600);
}

static int load(const char *csv, struct bl_deck *d, struct bl_csv_result *res)
{
	bl_deck_init(d);
	return bl_csv_load(csv, strlen(csv), d, res);
}

TEST(csv_good)
{
	struct bl_deck d;
	struct bl_csv_result res;
	const char *csv =
		"prefix,description,rate_per_min,connect_fee,initial_s,increment_s,min_s,days,start,end\r\n"
		"86,\"China, all\",0.10,0,60,60,0,,,\n"
		"86138,\"China Mobile \"\"138\"\"\",0.05,0.01,30,6,0,mon-fri,08:00,18:00\n"
		"86138,China Mobile off-peak,0.03,0.01,30,6,0,mon-fri,18:00,08:00\n"
		"86138,China Mobile weekend,0.02,0,30,6,0,\"sat,sun\",,\n";

	int rc = load(csv, &d, &res);
	if (rc != CC_OK) {
		char *e = json_dumps(res.errors, 0);
		FAILF("%s", e);
	}
	ASSERT(res.rows == 4 && d.n_rates == 4);
	ASSERT_EQ_STR(bl_deck_match(&d, "8613800", 6, 600)->description, "China Mobile weekend");
	ASSERT_EQ_STR(bl_deck_match(&d, "8613800", 1, 600)->description, "China Mobile \"138\"");
	ASSERT_EQ_STR(bl_deck_match(&d, "8610", 1, 600)->description, "China, all");
	bl_csv_result_free(&res);
	bl_deck_free(&d);
}

TEST(csv_bad_rows_listed)
{
	struct bl_deck d;
	struct bl_csv_result res;
	const char *csv =
		"prefix,description,rate_per_min,connect_fee,initial_s,increment_s,min_s\n"
		"86,ok,0.10,0,60,60,0\n"
		"+86,plus,0.10,0,60,60,0\n"
		"44,negative,-0.10,0,60,60,0\n"
		"45,absurd,5000,0,60,60,0\n"
		"46,zero increment,0.1,0,60,0,0\n"
		"86,duplicate,0.20,0,60,60,0\n"
		"47,short row,0.1\n"
		"49,float,1e-3,0,1,1,0\n"
		"48,\"unterminated,0.1,0,1,1,0\n";   /* a quoted field may span lines: to the end */
	const char *want[][2] = { { "3", "prefix" }, { "4", "rate_per_min" }, { "5", "rate_per_min" },
	                          { "6", "increment_s" }, { "7", "duplicate" }, { "8", "fields" },
	                          { "9", "rate_per_min" }, { "10", "malformed" } };

	ASSERT_EQ_INT(load(csv, &d, &res), CC_ERROR);
	ASSERT_EQ_INT((int)res.n_errors, 8);
	for (size_t i = 0; i < 8; i++) {
		json_t *e = json_array_get(res.errors, i);
		char line[8];

		snprintf(line, sizeof(line), "%d", (int)json_integer_value(json_object_get(e, "line")));
		ASSERT_EQ_STR(line, want[i][0]);
		ASSERT(strstr(json_string_value(json_object_get(e, "error")), want[i][1]));
	}
	bl_csv_result_free(&res);
	bl_deck_free(&d);
}

/* errors of a deck as "line:error|..." */
static char *error_list(const struct bl_csv_result *res)
{
	size_t cap = 4096, len = 0;
	char *out = calloc(1, cap);

	for (size_t i = 0; i < json_array_size(res->errors); i++) {
		json_t *e = json_array_get(res->errors, i);

		len += (size_t)snprintf(out + len, cap - len, "%d:%s|",
		                        (int)json_integer_value(json_object_get(e, "line")),
		                        json_string_value(json_object_get(e, "error")));
		CC_BUG_ON(len >= cap);
	}
	return out;
}

/* The reader gets the deck in pieces as they arrive: one byte at a time
 * must read exactly as the whole. */
TEST(csv_fed_byte_by_byte)
{
	const char *decks[] = {
		"\xef\xbb\xbfprefix,description,rate_per_min,connect_fee,initial_s,increment_s,min_s\r\n"
		"86,\"China,\r\nall\",0.10,0,60,60,0\r\n\r\n"
		"44,UK,0.10,0,60,60,0\r\n",
		"prefix,description,rate_per_min,connect_fee,initial_s,increment_s,min_s\n"
		"86,ok,0.10,0,60,60,0\n+86,plus,0.10,0,60,60,0\n47,short\n"
		"48,\"two\nlines\",-1,0,1,1,0\n49,x\"y,0.1,0,1,1,0\n50,\"open,0.1\n",
	};

	for (size_t k = 0; k < CC_ARRAY_LEN(decks); k++) {
		struct bl_deck whole, bytes;
		struct bl_csv_result rw, rb;
		int a = load(decks[k], &whole, &rw);

		bl_deck_init(&bytes);
		struct bl_csv_reader *p = bl_csv_begin(&bytes, &rb, NULL, NULL);
		for (const char *c = decks[k]; *c; c++)
			bl_csv_feed(p, c, 1);
		int b = bl_csv_end(p);
		char *ew = error_list(&rw), *eb = error_list(&rb);

		ASSERT_EQ_INT(b, a);
		ASSERT_EQ_STR(eb, ew);
		ASSERT_EQ_INT((int)bytes.n_rates, (int)whole.n_rates);
		ASSERT_EQ_INT((int)rb.rows, (int)rw.rows);
		if (k == 0) {
			ASSERT_EQ_INT(a, CC_OK);
			ASSERT_EQ_STR(bl_deck_match(&bytes, "8610", 1, 600)->description, "China,\r\nall");
		} else {
			ASSERT_EQ_STR(ew, "3:prefix: 1 to 15 digits of E.164 without '+'|"
			              "4:2 fields, the header has 7|5:rate_per_min: must be between 0 and 1000|"
			              "7:malformed CSV (error parsing data while strict checking enabled)|"
			              "8:malformed CSV (error parsing data while strict checking enabled)|");
		}
		free(ew);
		free(eb);
		bl_csv_result_free(&rw);
		bl_csv_result_free(&rb);
		bl_deck_free(&whole);
		bl_deck_free(&bytes);
	}
}

TEST(csv_description_utf8_and_length)
{
	struct bl_deck d;
	struct bl_csv_result res;
	const char *head = "prefix,description,rate_per_min,connect_fee,initial_s,increment_s,min_s\n";
	char csv[2048], e200[401] = "", e201[403] = "";

	for (int i = 0; i < 200; i++)
		strcat(e200, "\xc3\xa9");             /* 200 x U+00E9: 400 bytes, 200 characters */
	snprintf(e201, sizeof(e201), "%s\xc3\xa9", e200);
	snprintf(csv, sizeof(csv), "%s86,%s,0.1,0,1,1,0\n", head, e200);
	ASSERT_EQ_INT(load(csv, &d, &res), CC_OK);
	bl_csv_result_free(&res);
	bl_deck_free(&d);
	snprintf(csv, sizeof(csv), "%s86,%s,0.1,0,1,1,0\n44,bad \xff\xfe,0.1,0,1,1,0\n", head, e201);
	ASSERT_EQ_INT(load(csv, &d, &res), CC_ERROR);
	char *e = error_list(&res);
	ASSERT_EQ_STR(e, "2:description: longer than 200 characters|3:description: not valid UTF-8|");
	free(e);
	bl_csv_result_free(&res);
	bl_deck_free(&d);
}

TEST(csv_record_too_long)
{
	struct bl_deck d;
	struct bl_csv_result res;
	size_t n = BL_CSV_MAX_RECORD + 100;
	char *csv = malloc(n + 200);

	strcpy(csv, "prefix,description,rate_per_min,connect_fee,initial_s,increment_s,min_s\n86,");
	size_t at = strlen(csv);
	memset(csv + at, 'x', n);
	strcpy(csv + at + n, ",0.1,0,1,1,0\n44,UK,0.1,0,1,1,0\n");
	ASSERT_EQ_INT(load(csv, &d, &res), CC_ERROR);
	char *e = error_list(&res);
	ASSERT_EQ_STR(e, "2:record longer than 65536 bytes|");
	ASSERT_EQ_INT((int)d.n_rates, 1);          /* the next line is read again */
	free(e);
	free(csv);
	bl_csv_result_free(&res);
	bl_deck_free(&d);
}

TEST(csv_bad_header)
{
	struct bl_deck d;
	struct bl_csv_result res;

	ASSERT_EQ_INT(load("prefix,description,rate,connect_fee\n86,x,1,0\n", &d, &res), CC_ERROR);
	ASSERT(res.n_errors >= 2);   /* unknown "rate", missing columns */
	bl_csv_result_free(&res);
	bl_deck_free(&d);
	ASSERT_EQ_INT(load("", &d, &res), CC_ERROR);
	ASSERT_EQ_INT((int)res.n_errors, 1);
	bl_csv_result_free(&res);
	bl_deck_free(&d);
}

/* ------------------------------------------------------ event types */

/* docs/EVENTS.md's table lists exactly lib/event_types.h's rows: name,
 * kind and flags, in the same order. */
/* the reader's records mode (the customer import): a bare CR ends a record
 * (libcsv) and the next one may begin on the same line; a piece of just
 * "\n" after it is that record's end, not an empty line to drop (it was:
 * "0" and "8" came out as one record "08", found by fuzz_csv) */
static void rec_join(struct bl_csv_reader *p, char *const *f, size_t n, bool too_many,
                     unsigned line, void *arg)
{
	char *out = arg;

	(void)p;
	(void)too_many;
	snprintf(out + strlen(out), 256 - strlen(out), "%u:%s%s|", line, n ? f[0] : "", n > 1 ? "+" : "");
}

TEST(csv_records_bare_cr_pieces)
{
	static const char *const pieces[][4] = {
		{ "h\r0", "\n8\n", NULL },           /* the "\n" piece after a record begun */
		{ "h\r0\n8\n", NULL },               /* whole */
		{ "h\r", "0", "\n8", "\n" },
	};

	for (size_t i = 0; i < CC_ARRAY_LEN(pieces); i++) {
		struct bl_csv_result res;
		char out[256] = "";
		struct bl_csv_reader *p = bl_csv_begin_records(&res, rec_join, out);

		for (int k = 0; k < 4 && pieces[i][k]; k++)
			bl_csv_feed(p, pieces[i][k], strlen(pieces[i][k]));
		ASSERT_EQ_INT(bl_csv_end(p), CC_OK);
		ASSERT_EQ_STR(out, "1:h|1:0|2:8|");
		ASSERT_EQ_INT(res.rows, 2);
		bl_csv_result_free(&res);
	}
}

TEST(event_types_docs)
{
	FILE *f = fopen(CC_TOP "/docs/EVENTS.md", "r");
	char line[512];
	int row = 0;

	ASSERT(f);
	while (fgets(line, sizeof(line), f)) {
		char name[64], kind[16], flags[32];

		if (strncmp(line, "| `", 3) != 0)
			continue;
		flags[0] = '\0';
		if (sscanf(line, "| `%63[^`]` | %15[a-z] | %31[a-z, ]|", name, kind, flags) < 2 &&
		    sscanf(line, "| `%63[^`]` | %15[a-z] | |", name, kind) != 2)
			FAILF("docs/EVENTS.md: a row I cannot read: %s", line);
		if (!strchr(line + 3, '|') || strstr(line, "| |"))
			flags[0] = '\0';
		ASSERT(row < CC_EV__COUNT);
		const struct cc_event_info *t = &cc_event_infos[row];
		char want[32] = "";

		if (t->flags & CC_EVF_START)
			strcat(want, "start");
		if (t->flags & CC_EVF_FINAL)
			strcat(want, *want ? ", final" : "final");
		for (size_t n = strlen(flags); n && flags[n - 1] == ' '; )
			flags[--n] = '\0';
		ASSERT_EQ_STR(name, t->name);
		ASSERT_EQ_STR(kind, t->kind == CC_EVK_CALL ? "call" : "agent");
		ASSERT_EQ_STR(flags, want);
		ASSERT_EQ_INT(cc_event_type_parse(name), row);
		row++;
	}
	fclose(f);
	ASSERT_EQ_INT(row, CC_EV__COUNT);
}

/* billingd keeps an event of every call type of the list and of no
 * other type; its subject is cc.call.<tenant>.<type>. */
TEST(event_types_billingd)
{
	const char *why;
	char subject[128];

	for (int t = 0; t < CC_EV__COUNT; t++) {
		json_t *ev = cc_event_new("3f0c7a8e-2b1d-4c5e-9f6a-7b8c9d0e1f2a", cc_event_name(t));
		json_object_set_new(ev, "call", json_string("8a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"));
		json_t *clean = bl_cdr_clean(ev, &why);

		if (cc_event_infos[t].kind == CC_EVK_CALL)
			ASSERT(clean);
		else
			ASSERT(!clean);
		ASSERT_EQ_INT(cc_event_subject(subject, sizeof(subject), t, "acme"), CC_OK);
		ASSERT(strncmp(subject, cc_event_infos[t].kind == CC_EVK_CALL ? "cc.call.acme." :
		               "cc.agent.acme.", cc_event_infos[t].kind == CC_EVK_CALL ? 13 : 14) == 0);
		ASSERT_EQ_STR(strrchr(subject, '.') + 1, cc_event_name(t));
		json_decref(clean);
		json_decref(ev);
	}
	static const char *const refused[] = { "failed", "Offered", "offered ", "", "ringing" };

	for (size_t i = 0; i < CC_ARRAY_LEN(refused); i++) {
		json_t *ev = cc_event_new(NULL, refused[i]);

		json_object_set_new(ev, "call", json_string("8a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"));
		ASSERT(!bl_cdr_clean(ev, &why));
		json_decref(ev);
	}
	/* a subject that does not fit is an error, never cut */
	volatile size_t small = 20;   /* not a constant: the compiler would refuse the call */

	ASSERT_EQ_INT(cc_event_subject(subject, small, CC_EV_OFFERED, "3f0c7a8e-2b1d-4c5e-9f6a-7b8c9d0e1f2a"),
	              CC_ERROR);
}

/* The ACD's fields (docs/ACD.md) kept by the clean copy: the queue, waits,
 * hold time, a disposition's code (a word, never taken for a SIP status)
 * and note; hostile ones (too long, negative, of the wrong type) dropped. */
TEST(cdr_clean_acd_fields)
{
	const char *why;
	json_t *ev = cc_event_new("3f0c7a8e-2b1d-4c5e-9f6a-7b8c9d0e1f2a", "agent_answered");

	json_object_set_new(ev, "call", json_string("8a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"));
	json_object_set_new(ev, "queue", json_string("repair"));
	json_object_set_new(ev, "agent", json_string("1001"));
	json_object_set_new(ev, "wait_ms", json_integer(12345));
	json_t *c = bl_cdr_clean(ev, &why);

	ASSERT(c);
	ASSERT_EQ_STR(json_string_value(json_object_get(c, "queue")), "repair");
	ASSERT_EQ_INT(json_integer_value(json_object_get(c, "wait_ms")), 12345);
	ASSERT_EQ_STR(json_string_value(json_object_get(c, "agent")), "1001");
	json_decref(c);
	json_decref(ev);

	/* the agent an offer rang is not the call's */
	ev = cc_event_new("3f0c7a8e-2b1d-4c5e-9f6a-7b8c9d0e1f2a", "offered_agent");
	json_object_set_new(ev, "call", json_string("8a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"));
	json_object_set_new(ev, "agent", json_string("1003"));
	c = bl_cdr_clean(ev, &why);
	ASSERT(c && !json_object_get(c, "agent"));
	json_decref(c);
	json_decref(ev);

	ev = cc_event_new("3f0c7a8e-2b1d-4c5e-9f6a-7b8c9d0e1f2a", "disposition");
	json_object_set_new(ev, "call", json_string("8a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"));
	json_object_set_new(ev, "code", json_string("complaint"));
	json_object_set_new(ev, "note", json_string("the washer leaks"));
	json_object_set_new(ev, "follow_up", json_string("2027-01-15"));
	c = bl_cdr_clean(ev, &why);
	ASSERT(c);
	ASSERT_EQ_STR(json_string_value(json_object_get(c, "disposition")), "complaint");
	ASSERT_EQ_STR(json_string_value(json_object_get(c, "note")), "the washer leaks");
	ASSERT_EQ_STR(json_string_value(json_object_get(c, "follow_up")), "2027-01-15");
	ASSERT(!json_object_get(c, "code"));          /* no SIP status */
	json_decref(c);
	json_decref(ev);

	/* a transfer's agent, kind and target kept; a target that is no small
	 * flat object dropped */
	ev = cc_event_new("3f0c7a8e-2b1d-4c5e-9f6a-7b8c9d0e1f2a", "transferred");
	json_object_set_new(ev, "call", json_string("8a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"));
	json_object_set_new(ev, "from_agent", json_string("1001"));
	json_object_set_new(ev, "kind", json_string("consult"));
	json_object_set_new(ev, "target", json_pack("{s:s,s:s}", "type", "queue", "name", "general"));
	c = bl_cdr_clean(ev, &why);
	ASSERT(c);
	ASSERT_EQ_STR(json_string_value(json_object_get(c, "from_agent")), "1001");
	ASSERT_EQ_STR(json_string_value(json_object_get(c, "kind")), "consult");
	ASSERT_EQ_STR(json_string_value(json_object_get(json_object_get(c, "target"), "name")), "general");
	json_decref(c);
	json_decref(ev);
	ev = cc_event_new("3f0c7a8e-2b1d-4c5e-9f6a-7b8c9d0e1f2a", "overflowed");
	json_object_set_new(ev, "call", json_string("8a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"));
	json_object_set_new(ev, "why", json_string("max_wait"));
	json_object_set_new(ev, "target", json_pack("{s:{s:s}}", "type", "deep", "x"));
	c = bl_cdr_clean(ev, &why);
	ASSERT(c);
	ASSERT_EQ_STR(json_string_value(json_object_get(c, "why")), "max_wait");
	ASSERT(!json_object_get(c, "target"));
	json_decref(c);
	json_decref(ev);

	/* a failed callback's number and attempts on its abandoned event; a
	 * number that is not +digits and attempts out of range dropped */
	ev = cc_event_new("3f0c7a8e-2b1d-4c5e-9f6a-7b8c9d0e1f2a", "abandoned");
	json_object_set_new(ev, "call", json_string("8a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"));
	json_object_set_new(ev, "callback", json_string("+8613800000020"));
	json_object_set_new(ev, "attempts", json_integer(2));
	c = bl_cdr_clean(ev, &why);
	ASSERT(c);
	ASSERT_EQ_STR(json_string_value(json_object_get(c, "callback")), "+8613800000020");
	ASSERT_EQ_INT(json_integer_value(json_object_get(c, "attempts")), 2);
	json_decref(c);
	json_decref(ev);
	ev = cc_event_new("3f0c7a8e-2b1d-4c5e-9f6a-7b8c9d0e1f2a", "abandoned");
	json_object_set_new(ev, "call", json_string("8a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"));
	json_object_set_new(ev, "callback", json_string("+86<script>"));
	json_object_set_new(ev, "attempts", json_integer(5000));
	c = bl_cdr_clean(ev, &why);
	ASSERT(c && !json_object_get(c, "callback") && !json_object_get(c, "attempts"));
	json_decref(c);
	json_decref(ev);

	/* hostile: a queue name of 300 bytes, a negative wait, a hold time as
	 * text, a code of 40 bytes, a note of 3000 */
	char big[3001];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ev = cc_event_new("3f0c7a8e-2b1d-4c5e-9f6a-7b8c9d0e1f2a", "disposition");
	json_object_set_new(ev, "call", json_string("8a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"));
	json_object_set_new(ev, "queue", json_stringn(big, 300));
	json_object_set_new(ev, "wait_ms", json_integer(-5));
	json_object_set_new(ev, "hold_ms", json_string("100"));
	json_object_set_new(ev, "code", json_stringn(big, 40));
	json_object_set_new(ev, "note", json_string(big));
	json_object_set_new(ev, "follow_up", json_string("2027-02-30"));  /* would fail ::date */
	c = bl_cdr_clean(ev, &why);
	ASSERT(c);
	ASSERT(!json_object_get(c, "queue"));
	ASSERT(!json_object_get(c, "wait_ms"));
	ASSERT(!json_object_get(c, "hold_ms"));
	ASSERT(!json_object_get(c, "disposition"));
	ASSERT(!json_object_get(c, "note"));
	ASSERT(!json_object_get(c, "follow_up"));
	json_decref(c);
	json_decref(ev);
}

TEST_LIST(T(money), T(increments_60_60_and_1_1), T(increments_30_6_and_60_1),
          T(connect_fee_minimum_and_rounding), T(time_band_boundary), T(longest_prefix),
          T(properties), T(grant_exact_credit), T(csv_good), T(csv_bad_rows_listed),
          T(csv_fed_byte_by_byte), T(csv_description_utf8_and_length), T(csv_record_too_long),
          T(csv_bad_header), T(csv_records_bare_cr_pieces), T(event_types_docs), T(event_types_billingd), T(cdr_clean_acd_fields))
