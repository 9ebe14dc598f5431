/* tariff_csv.c: see tariff_csv.h. */
#include "tariff_csv.h"
#include "cc.h"
#include "money.h"

#include <csv.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum col { C_PREFIX, C_DESC, C_RATE, C_CONNECT, C_INITIAL, C_INCREMENT, C_MIN, C_DAYS,
           C_START, C_END, C_COUNT };

static const char *const col_names[C_COUNT] = {
	"prefix", "description", "rate_per_min", "connect_fee", "initial_s", "increment_s",
	"min_s", "days", "start", "end",
};
#define REQUIRED_COLS 7

#define MAX_FIELDS BL_CSV_MAX_FIELDS

struct bl_csv_reader {
	struct bl_deck *deck;
	struct bl_csv_result *res;
	struct csv_parser csv;
	unsigned line;              /* physical line of the next byte fed (1-based) */
	unsigned rec_line;          /* line the current record started on */
	size_t rec_bytes;           /* bytes of the current record so far (0: between records) */
	bool skip_line;             /* after a broken record: drop the rest of its line */
	bool line_blank;            /* the line so far held nothing but CRs */
	unsigned char head[3];      /* the first bytes, until the BOM question is settled */
	size_t n_head;
	bool head_done;
	int col_of[MAX_FIELDS];     /* field position -> enum col, -1 unknown */
	int have[C_COUNT];          /* column present */
	int n_header;
	bool header_done, header_bad;
	char *field[MAX_FIELDS];    /* fields of the current record */
	size_t n_fields;
	bool too_many;
	void (*on_row)(const struct bl_rate *r, void *arg);
	/* a file of another kind (bl_csv_begin_records): its records go here */
	void (*on_record)(struct bl_csv_reader *p, char *const *field, size_t n, bool too_many,
	                  unsigned line, void *arg);
	void *arg;
};
#define parse bl_csv_reader

/* s made valid UTF-8 in place: a byte that begins no valid sequence (jansson
 * judges each) becomes '?', and a sequence cut by the end of s is dropped.
 * A message quotes the file, which may be anything, and vsnprintf cuts at
 * a byte. */
static void utf8_mend(char *s)
{
	size_t n = strlen(s), i = 0;

	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		size_t len = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3
		             : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
		json_t *ok;

		if (len && i + len > n) {          /* cut short at the end */
			s[i] = '\0';
			return;
		}
		if (len > 1 && (ok = json_stringn(s + i, len)))
			json_decref(ok);
		else if (len != 1)
			len = 0;
		if (!len) {
			s[i++] = '?';
			continue;
		}
		i += len;
	}
}

static void error_at(struct parse *p, unsigned line, const char *fmt, va_list ap)
{
	char msg[256];
	json_t *e;

	p->res->n_errors++;
	if (json_array_size(p->res->errors) >= BL_CSV_MAX_ERRORS)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	utf8_mend(msg);
	e = json_pack("{s:i, s:s}", "line", (int)line, "error", msg);
	CC_BUG_ON(!e);                         /* valid UTF-8 now: only memory */
	json_array_append_new(p->res->errors, e);
}

/* a problem of the record being read: named by the line it started on */
static void error(struct parse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void error(struct parse *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_at(p, p->rec_line, fmt, ap);
	va_end(ap);
}

/* a problem of the text itself: named by the line it is on */
static void text_error(struct parse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_error(struct parse *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_at(p, p->line, fmt, ap);
	va_end(ap);
}

/* UTF-8 code points of s, or -1 if s is not valid UTF-8 (jansson checks) */
static long utf8_chars(const char *s)
{
	json_t *j = json_string(s);
	long n = 0;

	if (!j)
		return -1;
	json_decref(j);
	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static void on_field(void *s, size_t len, void *arg)
{
	struct parse *p = arg;

	if (p->n_fields >= MAX_FIELDS) {
		p->too_many = true;
		return;
	}
	p->field[p->n_fields] = strndup(s ? s : "", len);
	CC_BUG_ON(!p->field[p->n_fields]);
	p->n_fields++;
}

static int int_field(const char *s, int lo, int hi, long *out)
{
	char *end;

	if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 6)
		return CC_ERROR;
	*out = strtol(s, &end, 10);
	return *out >= lo && *out <= hi ? CC_OK : CC_ERROR;
}

static int day_of(const char *s, size_t n)
{
	static const char *const names[] = { "mon", "tue", "wed", "thu", "fri", "sat", "sun" };

	for (int i = 0; i < 7; i++)
		if (n == 3 && strncmp(s, names[i], 3) == 0)
			return i;
	return -1;
}

/* "mon-fri", "sat,sun", "mon,wed-fri" -> bit mask; 0 if invalid. */
static int parse_days(const char *s)
{
	int mask = 0;

	if (!*s)
		return BL_ALL_DAYS;
	while (*s) {
		size_t n = strcspn(s, ",");
		const char *dash = memchr(s, '-', n);
		int a, b;

		if (dash) {
			a = day_of(s, (size_t)(dash - s));
			b = day_of(dash + 1, n - (size_t)(dash - s) - 1);
		} else {
			a = b = day_of(s, n);
		}
		if (a < 0 || b < 0)
			return 0;
		for (int d = a;; d = (d + 1) % 7) {   /* "sat-mon" wraps */
			mask |= 1 << d;
			if (d == b)
				break;
		}
		s += n;
		if (*s == ',' && *++s == '\0')
			return 0;
	}
	return mask;
}

/* "HH:MM" -> minutes, 0..1440 ("24:00" only as an end). -1 if invalid. */
static int parse_hhmm(const char *s, int dflt)
{
	if (!*s)
		return dflt;
	if (strlen(s) != 5 || s[2] != ':' || strspn(s, "0123456789:") != 5)
		return -1;
	int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');

	if (m > 59 || h > 24 || (h == 24 && m))
		return -1;
	return h * 60 + m;
}

static void header(struct parse *p)
{
	p->header_done = true;
	p->n_header = (int)p->n_fields;
	for (size_t i = 0; i < p->n_fields; i++) {
		p->col_of[i] = -1;
		for (int c = 0; c < C_COUNT; c++)
			if (strcmp(p->field[i], col_names[c]) == 0)
				p->col_of[i] = c;
		if (p->col_of[i] < 0) {
			error(p, "unknown column \"%.40s\"", p->field[i]);
			p->header_bad = true;
		} else if (p->have[p->col_of[i]]++) {
			error(p, "column %s given twice", p->field[i]);
			p->header_bad = true;
		}
	}
	for (int c = 0; c < REQUIRED_COLS; c++)
		if (!p->have[c]) {
			error(p, "missing column %s", col_names[c]);
			p->header_bad = true;
		}
}

/* reports the row's problem and abandons the row */
#define BAD(...) do { error(p, __VA_ARGS__); return; } while (0)

static void row(struct parse *p)
{
	const char *v[C_COUNT] = { 0 };
	struct bl_rate r = { .days = BL_ALL_DAYS, .start_min = 0, .end_min = 1440, .line = p->rec_line };
	const char *why;
	long n;

	p->res->rows++;
	if ((int)p->n_fields != p->n_header || p->too_many) {
		error(p, "%zu fields, the header has %d", p->n_fields, p->n_header);
		return;
	}
	for (size_t i = 0; i < p->n_fields; i++)
		v[p->col_of[i]] = p->field[i];
	for (int c = C_DAYS; c < C_COUNT; c++)
		if (!v[c])
			v[c] = "";

	size_t plen = strlen(v[C_PREFIX]);
	if (!plen || plen > BL_PREFIX_MAX || strspn(v[C_PREFIX], "0123456789") != plen)
		BAD("prefix: 1 to %d digits of E.164 without '+'", BL_PREFIX_MAX);
	memcpy(r.prefix, v[C_PREFIX], plen + 1);
	long chars = utf8_chars(v[C_DESC]);
	if (chars < 0)
		BAD("description: not valid UTF-8");
	if (chars > 200)
		BAD("description: longer than 200 characters");
	/* a quoted description may span lines; other control characters are refused */
	for (const char *s = v[C_DESC]; *s; s++)
		if (((unsigned char)*s < 0x20 && !strchr("\t\r\n", *s)) || *s == 0x7f)
			BAD("description: control character");
	r.description = (char *)v[C_DESC];
	if (cc_money_parse(v[C_RATE], 6, &r.per_min_micro, &why) != CC_OK)
		BAD("rate_per_min: %s", why);
	if (r.per_min_micro < 0 || r.per_min_micro > 1000 * CC_MICRO)
		BAD("rate_per_min: must be between 0 and 1000");
	if (cc_money_parse(v[C_CONNECT], 6, &r.connect_micro, &why) != CC_OK)
		BAD("connect_fee: %s", why);
	if (r.connect_micro < 0 || r.connect_micro > 1000 * CC_MICRO)
		BAD("connect_fee: must be between 0 and 1000");
	if (int_field(v[C_INITIAL], 0, 3600, &n) != CC_OK)
		BAD("initial_s: a whole number of seconds from 0 to 3600");
	r.initial_s = (int32_t)n;
	if (int_field(v[C_INCREMENT], 1, 3600, &n) != CC_OK)
		BAD("increment_s: a whole number of seconds from 1 to 3600");
	r.increment_s = (int32_t)n;
	if (int_field(v[C_MIN], 0, 3600, &n) != CC_OK)
		BAD("min_s: a whole number of seconds from 0 to 3600");
	r.min_s = (int32_t)n;
	int days = parse_days(v[C_DAYS]);
	if (!days)
		BAD("days: like mon-fri or sat,sun");
	r.days = (uint8_t)days;
	int start = parse_hhmm(v[C_START], 0), end = parse_hhmm(v[C_END], 1440);
	if (start < 0 || start >= 1440)
		BAD("start: HH:MM from 00:00 to 23:59");
	if (end <= 0)
		BAD("end: HH:MM from 00:01 to 24:00");
	if (start == end)
		BAD("start and end are equal");
	r.start_min = (int16_t)start;
	r.end_min = (int16_t)end;
	if (bl_deck_add(p->deck, &r) != CC_OK)
		BAD("prefix %s: duplicate (overlaps another row of the same prefix)", r.prefix);
	if (p->on_row)
		p->on_row(&p->deck->rates[p->deck->n_rates - 1], p->arg);
}

static void drop_fields(struct parse *p)
{
	for (size_t i = 0; i < p->n_fields; i++)
		free(p->field[i]);
	p->n_fields = 0;
	p->too_many = false;
}

static void on_record(int c, void *arg)
{
	struct parse *p = arg;

	if (p->on_record) {
		if (p->header_done)
			p->res->rows++;
		p->header_done = true;
		if (!p->header_bad)
			p->on_record(p, p->field, p->n_fields, p->too_many, p->rec_line, p->arg);
	} else if (!p->header_done) {
		header(p);
	} else if (!p->header_bad) {
		row(p);
	}
	drop_fields(p);
	p->rec_bytes = 0;
	p->rec_line = p->line;        /* a record after a bare CR starts on this line */
}

#define CSV_OPTIONS (CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL)

/* after a record the parser could not take: start afresh at the next line */
static void restart(struct parse *p)
{
	drop_fields(p);
	csv_free(&p->csv);
	CC_BUG_ON(csv_init(&p->csv, CSV_OPTIONS) != 0);
	p->rec_bytes = 0;
	p->skip_line = true;
}

struct bl_csv_reader *bl_csv_begin(struct bl_deck *d, struct bl_csv_result *res,
                                   void (*on_row)(const struct bl_rate *r, void *arg), void *arg)
{
	struct parse *p = calloc(1, sizeof(*p));

	CC_BUG_ON(!p);
	memset(res, 0, sizeof(*res));
	res->errors = json_array();
	p->deck = d;
	p->res = res;
	p->on_row = on_row;
	p->arg = arg;
	p->line = p->rec_line = 1;
	p->line_blank = true;
	CC_BUG_ON(csv_init(&p->csv, CSV_OPTIONS) != 0);
	return p;
}

struct bl_csv_reader *bl_csv_begin_records(struct bl_csv_result *res,
                                           void (*cb)(struct bl_csv_reader *p,
                                                             char *const *field, size_t n,
                                                             bool too_many, unsigned line,
                                                             void *arg),
                                           void *arg)
{
	struct parse *p = bl_csv_begin(NULL, res, NULL, arg);

	p->on_record = cb;
	return p;
}

void bl_csv_error(struct bl_csv_reader *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_at(p, p->rec_line, fmt, ap);
	va_end(ap);
}

/* One piece of one line: s[0..n) holds no '\n' except maybe as its last byte. */
static void feed_line(struct parse *p, const char *s, size_t n)
{
	bool eol = n && s[n - 1] == '\n';

	if (p->skip_line)
		goto next;
	if (p->rec_bytes == 0) {
		size_t k = n - eol;

		while (k && s[k - 1] == '\r')
			k--;
		/* nothing but CRs (libcsv ignores them between records) or the
		 * end of a CRLF: a line made only of those is empty, whatever the
		 * pieces it came in */
		if (k == 0) {
			if (!p->header_done && eol && p->line_blank) {
				text_error(p, "empty header line");
				p->header_done = p->header_bad = true;
			}
			goto next;
		}
		p->rec_line = p->line;
	}
	p->line_blank = false;
	if (memchr(s, '\0', n)) {
		text_error(p, "NUL byte");
		restart(p);
		goto next;
	}
	p->rec_bytes += n;
	if (p->rec_bytes > BL_CSV_MAX_RECORD) {
		error(p, "record longer than %d bytes", BL_CSV_MAX_RECORD);
		restart(p);
		goto next;
	}
	if (csv_parse(&p->csv, s, n, on_field, on_record, p) != n) {
		text_error(p, "malformed CSV (%s)", csv_strerror(csv_error(&p->csv)));
		restart(p);
	} else if (p->csv.pstate == 0) {
		/* between records (pstate 0 is libcsv's "row not begun"): a line
		 * of nothing but CRs fed whole counts for nothing */
		p->rec_bytes = 0;
	} else if (p->rec_bytes == 0) {
		/* a record ended inside this piece (libcsv ends one at a bare CR)
		 * and the next one began after it: it is under way, so what comes
		 * next is its rest, not an empty line to drop (a "\n" piece after
		 * "a\rb" made "b" swallow the next line) */
		p->rec_bytes = 1;
	}
next:
	if (eol) {
		p->line++;
		p->skip_line = false;
		p->line_blank = true;
	}
}

static void feed_text(struct parse *p, const char *buf, size_t len)
{
	const char *end = buf + len;

	for (const char *s = buf; s < end;) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t n = nl ? (size_t)(nl - s) + 1 : (size_t)(end - s);

		feed_line(p, s, n);
		s += n;
	}
}

void bl_csv_feed(struct bl_csv_reader *p, const char *buf, size_t len)
{
	static const unsigned char bom[3] = { 0xef, 0xbb, 0xbf };

	/* a UTF-8 byte order mark may start the file (spreadsheets write one) */
	while (!p->head_done && len) {
		p->head[p->n_head++] = (unsigned char)*buf++;
		len--;
		if (p->head[p->n_head - 1] != bom[p->n_head - 1]) {
			p->head_done = true;
			feed_text(p, (const char *)p->head, p->n_head);
		} else if (p->n_head == 3) {
			p->head_done = true;
		}
	}
	if (len)
		feed_text(p, buf, len);
}

int bl_csv_end(struct bl_csv_reader *p)
{
	struct bl_csv_result *res = p->res;
	int rc;

	if (!p->head_done && p->n_head)   /* a file of one or two bytes of a BOM */
		feed_text(p, (const char *)p->head, p->n_head);
	if (csv_fini(&p->csv, on_field, on_record, p) != 0)   /* a quote still open */
		error(p, "malformed CSV (%s)", csv_strerror(csv_error(&p->csv)));
	drop_fields(p);
	csv_free(&p->csv);
	if (!p->header_done) {
		p->rec_line = 1;
		error(p, "empty file: expected a header line");
	} else if (!res->rows && !p->header_bad) {
		error(p, "no %s after the header", p->on_record ? "rows" : "rates");
	}
	rc = res->n_errors ? CC_ERROR : CC_OK;
	free(p);
	return rc;
}

int bl_csv_load(const char *buf, size_t len, struct bl_deck *d, struct bl_csv_result *res)
{
	return bl_csv_load_cb(buf, len, d, res, NULL, NULL);
}

int bl_csv_load_cb(const char *buf, size_t len, struct bl_deck *d, struct bl_csv_result *res,
                   void (*on_row)(const struct bl_rate *r, void *arg), void *arg)
{
	struct bl_csv_reader *p = bl_csv_begin(d, res, on_row, arg);

	bl_csv_feed(p, buf, len);
	return bl_csv_end(p);
}

void bl_csv_result_free(struct bl_csv_result *res)
{
	json_decref(res->errors);
	res->errors = NULL;
}
