/*
 * tariff_csv.h: a rate deck from CSV (RFC 4180, parsed by libcsv), every
 * row checked, every bad row reported with its line number and reason.
 * The reader is incremental: feed it the deck in pieces of any size as
 * they arrive; it never holds more than one record of the text. A UTF-8
 * byte order mark at the start is skipped; quoted fields may span lines
 * (a record's errors name the line it starts on); a record longer than
 * BL_CSV_MAX_RECORD bytes is refused.
 *
 * Header (any order): prefix,description,rate_per_min,connect_fee,
 * initial_s,increment_s,min_s and optionally days,start,end.
 *   prefix        E.164 digits without '+', 1..15 digits
 *   description   up to 200 characters (UTF-8 code points), valid UTF-8, no
 *                 control characters but tab and line breaks
 *   rate_per_min  decimal >= 0, at most 6 decimals, at most 1000
 *   connect_fee   decimal >= 0, at most 6 decimals, at most 1000
 *   initial_s     0..3600; increment_s 1..3600; min_s 0..3600
 *   days          empty (every day) or e.g. "mon-fri", "sat,sun", "mon,wed-fri"
 *   start, end    "HH:MM", local time; empty = 00:00 and 24:00; end is
 *                 exclusive; start after end wraps past midnight
 * One prefix may have several rows only if their days and hours do not
 * overlap.
 */
#ifndef BL_TARIFF_CSV_H
#define BL_TARIFF_CSV_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "rate.h"

#define BL_CSV_MAX_ERRORS 10000  /* errors listed; the count covers all */
#define BL_CSV_MAX_RECORD 65536  /* bytes of one record (16 fields of 200 characters fit) */
#define BL_CSV_MAX_FIELDS 40     /* fields of one record; more are counted, not kept */

struct bl_csv_result {
	size_t rows;            /* data rows read */
	size_t n_errors;        /* bad rows (all of them) */
	json_t *errors;         /* [{"line":N,"error":"..."}], at most BL_CSV_MAX_ERRORS */
};

/* Parses buf into d (initialised by the caller). CC_OK if every row is
 * good; else CC_ERROR with res->errors listing the bad lines. */
int bl_csv_load(const char *buf, size_t len, struct bl_deck *d, struct bl_csv_result *res);

/* The same, calling on_row with each good row as soon as it is in the
 * deck (so a caller can stream rows to the database while the rest is
 * read; it must throw them away if the result is CC_ERROR). */
int bl_csv_load_cb(const char *buf, size_t len, struct bl_deck *d, struct bl_csv_result *res,
                   void (*on_row)(const struct bl_rate *r, void *arg), void *arg);
void bl_csv_result_free(struct bl_csv_result *res);

/* The incremental form of bl_csv_load_cb: begin, feed any number of
 * pieces, then end, which frees the reader and returns CC_OK if every row
 * was good (else CC_ERROR with res->errors). on_row may be NULL. */
struct bl_csv_reader;
struct bl_csv_reader *bl_csv_begin(struct bl_deck *d, struct bl_csv_result *res,
                                   void (*on_row)(const struct bl_rate *r, void *arg), void *arg);
void bl_csv_feed(struct bl_csv_reader *p, const char *buf, size_t len);
int bl_csv_end(struct bl_csv_reader *p);

/* The same reader for a file of another kind (tenantd's customer import):
 * the text's rules above (BOM, quoting, NUL, record length, malformed
 * CSV, an empty file) are the reader's; what the records mean is
 * on_record's. It gets every record, the header first, its fields (at
 * most BL_CSV_MAX_FIELDS; too_many when there were more) and the line it
 * starts on, and reports a bad one with bl_csv_error(). res->rows counts
 * the records after the header; a header alone is an error. */
struct bl_csv_reader *bl_csv_begin_records(struct bl_csv_result *res,
                                           void (*on_record)(struct bl_csv_reader *p,
                                                             char *const *field, size_t n,
                                                             bool too_many, unsigned line,
                                                             void *arg),
                                           void *arg);
/* A problem of the record on_record was given: listed with its line. */
void bl_csv_error(struct bl_csv_reader *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
