/*
 * tariffs.c: /v1/tariffs, the operator's rate decks.
 *
 * POST /v1/tariffs?name=std-out&currency=CNY[&effective_from=RFC 3339],
 * body text/csv (billing/tariff_csv.h lists the columns and checks): a
 * new version of the deck `name`, effective from the given time (default
 * now). All or nothing: one bad row and nothing is stored; the 422 lists
 * every bad line by number and reason. The body is never held whole: each
 * piece is parsed as it arrives and its good rows go straight to a COPY on
 * the import's own database connection (the upload spans many turns of
 * the loop while other requests use the main one; it never waits for the
 * server: the connection is non-blocking while the body comes, and the
 * COPY's end, the version row and COMMIT run on a worker thread while the
 * request's connection is suspended, tn_offload); a bad row abandons the
 * COPY and the transaction. One import runs at a time. Versions are never
 * changed; a call is rated against the version in force when it started.
 */
#include "api.h"
#include "cc.h"
#include "clock.h"
#include "log.h"
#include "money.h"
#include "rate.h"
#include "tariff_csv.h"
#include "tenantd.h"

#include <stdlib.h>
#include <string.h>

#define TS TN_TS

static bool valid_name(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= 63 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789._-") == n &&
	       s[0] != '.' && s[0] != '_' && s[0] != '-';
}

/* COPY text rows, built by hand into one buffer (printf per row costs
 * more than the database's own work at a million rows). */
struct copybuf {
	char *buf;
	size_t len, cap;
};

static void put(struct copybuf *b, const char *s, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		b->buf = realloc(b->buf, b->cap);
		CC_BUG_ON(!b->buf);
	}
	memcpy(b->buf + b->len, s, n);
	b->len += n;
}

static void put_int(struct copybuf *b, long long v, char sep)
{
	char tmp[24], *p = tmp + sizeof(tmp);
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

	*--p = sep;
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	put(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

/* COPY text escapes: the reader lets through no control character but
 * tab and line breaks (a quoted field may span lines) */
static void put_text(struct copybuf *b, const char *s)
{
	for (;;) {
		size_t n = strcspn(s, "\\\t\r\n");

		put(b, s, n);
		switch (s[n]) {
		case '\0': put(b, "\t", 1); return;
		case '\\': put(b, "\\\\", 2); break;
		case '\t': put(b, "\\t", 2); break;
		case '\r': put(b, "\\r", 2); break;
		default: put(b, "\\n", 2); break;
		}
		s += n + 1;
	}
}

/* Rows go to COPY while the CSV is still being read: PostgreSQL works on
 * them on the other core. A bad row stops the sending (the reader goes on
 * to list every bad line) and the COPY is then abandoned. */
struct copier {
	PGconn *conn;
	const char *version;
	size_t vlen;
	struct copybuf b;
	bool failed;              /* a send failed */
	bool stop;                /* the deck has bad rows: send nothing more */
	bool bad_value;           /* the database refused a value (SQLSTATE class 22 or 23) */
	const struct bl_csv_result *res;
};

static void flush(struct copier *c)
{
	if (c->b.len && !c->failed && PQputCopyData(c->conn, c->b.buf, (int)c->b.len) != 1)
		c->failed = true;
	c->b.len = 0;
}

static void on_row(const struct bl_rate *r, void *arg)
{
	struct copier *c = arg;
	struct copybuf *b = &c->b;

	if (c->res->n_errors)
		c->stop = true;
	if (c->stop || c->failed)
		return;
	put(b, c->version, c->vlen);
	put(b, "\t", 1);
	put_int(b, r->line, '\t');
	put(b, r->prefix, strlen(r->prefix));
	put(b, "\t", 1);
	put_text(b, r->description);
	put_int(b, r->per_min_micro, '\t');
	put_int(b, r->connect_micro, '\t');
	put_int(b, r->initial_s, '\t');
	put_int(b, r->increment_s, '\t');
	put_int(b, r->min_s, '\t');
	put_int(b, r->days, '\t');
	put_int(b, r->start_min, '\t');
	put_int(b, r->end_min, '\n');
	if (b->len > 1024 * 1024)
		flush(c);
}

static int copy_begin(PGconn *conn, char **err)
{
	PGresult *res = PQexec(conn, "COPY cc.tariff_rates (version_id, line, prefix, description, "
	                       "rate_per_min_micro, connect_fee_micro, initial_s, increment_s, min_s, "
	                       "days, start_min, end_min) FROM STDIN");
	int ok = PQresultStatus(res) == PGRES_COPY_IN;

	if (!ok)
		*err = strdup(PQerrorMessage(conn));
	PQclear(res);
	return ok ? CC_OK : CC_ERROR;
}

/* Ends the COPY: kept if keep and nothing failed, else abandoned. */
static int copy_end(struct copier *c, bool keep, char **err)
{
	PGresult *res;
	int rc = CC_OK;

	if (keep)
		flush(c);
	keep = keep && !c->failed;
	if (PQputCopyEnd(c->conn, keep ? NULL : "the deck has bad rows") != 1)
		rc = CC_ERROR;
	while ((res = PQgetResult(c->conn))) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK && rc == CC_OK && keep) {
			const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

			rc = CC_ERROR;
			*err = strdup(PQresultErrorMessage(res));
			c->bad_value = state && (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0);
		}
		PQclear(res);
	}
	free(c->b.buf);
	if (keep && rc != CC_OK && !*err)
		*err = strdup(PQerrorMessage(c->conn));
	return keep ? rc : CC_ERROR;
}

/* One deck upload, from its headers to its reply. */
struct deck_upload {
	struct cc_pg pg;              /* its own connection, in a transaction, in COPY */
	bool in_copy;                 /* COPY started and not yet ended */
	char name[64], currency[8];
	char *effective;              /* effective_from, or NULL for now */
	char vid[CC_UUID_LEN], tid[CC_UUID_LEN];
	struct bl_deck deck;
	struct bl_csv_result csv;
	struct bl_csv_reader *reader; /* NULL once ended */
	struct copier c;
	size_t bytes;                 /* of the body so far */
	bool refused;                 /* answered while the body was read */
	bool owns_import;             /* holds `importing` (not once its end is on a worker) */
	int64_t t0;
};

static bool importing;            /* one upload at a time (it holds a connection) */

static void upload_data(struct tn_req *r, const char *buf, size_t len);
static void upload_end(struct tn_req *r);
static void upload_release(struct tn_req *r);
static const struct tn_upload deck_upload_ops = { upload_data, upload_end, upload_release };

/* The database refused something of the upload: a bad value is the
 * deck's fault (422), anything else is the database's (503). The
 * database's own text is logged only. */
static void refuse_db(struct tn_req *r, struct deck_upload *u, const char *what, const char *err)
{
	CC_ERR("tariff import %s: %s: %s", u->name, what, err ? err : "?");
	if (u->pg.error == CC_PG_INVALID)
		tn_error(r, 422, "invalid_argument", NULL,
		         "the database refused a value of the deck; nothing was imported");
	else
		tn_error(r, 503, "unavailable", NULL, "the database refused the deck; retry later");
}

/* The handler: runs after the headers passed every check, before the
 * body. Checks the query, opens the transaction and the COPY, then lets
 * the body come. */
static void import(struct tn_req *r)
{
	const char *name = tn_query(r, "name"), *currency = tn_query(r, "currency");
	const char *effective = tn_query(r, "effective_from");
	struct deck_upload *u;
	char have[8];
	PGresult *res;

	if (!name || !valid_name(name))
		return tn_error(r, 400, "invalid_argument", "name",
		                "name: 1 to 63 of a-z 0-9 . _ -, starting with a letter or digit");
	if (!currency || strlen(currency) > 7)
		return tn_error(r, 400, "invalid_argument", "currency", "currency: an ISO 4217 code");
	const char *cp[2] = { currency, effective };
	res = cc_pg_exec(&r->d->pg, "SELECT EXISTS (SELECT 1 FROM cc.currencies WHERE code = $1), "
	                 "$2::timestamptz", 2, cp);
	if (!res && r->d->pg.error == CC_PG_INVALID)
		return tn_error(r, 400, "invalid_argument", "effective_from",
		                "effective_from must be an RFC 3339 time");
	if (!res)
		return tn_db_error(r, "currency");
	bool known = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	if (!known)
		return tn_error(r, 422, "invalid_argument", "currency",
		                "currency: %.8s is not a currency the platform bills in", currency);
	if (importing)
		return tn_error(r, 503, "unavailable", NULL,
		                "another deck import is running; retry when it has ended");

	u = calloc(1, sizeof(*u));
	CC_BUG_ON(!u);
	u->t0 = cc_mono_ms();
	snprintf(u->name, sizeof(u->name), "%s", name);
	snprintf(u->currency, sizeof(u->currency), "%s", currency);
	u->effective = effective ? strdup(effective) : NULL;
	bl_deck_init(&u->deck);
	r->upload = u;
	r->upload_ops = &deck_upload_ops;
	importing = true;
	u->owns_import = true;

	cc_pg_init(&u->pg, r->d->cfg.pg_url);
	if (tn_new_id(r, u->tid) != CC_OK || tn_new_id(r, u->vid) != CC_OK)
		return;
	if (cc_pg_cmd(&u->pg, "BEGIN", 0, NULL) != CC_OK)
		return refuse_db(r, u, "BEGIN", u->pg.message);
	/* the deck: created on first import; its currency is fixed. One
	 * importer at a time per deck, so version numbers stay dense: the row
	 * is locked FOR NO KEY UPDATE and never updated (an upsert's DO UPDATE
	 * locks it FOR UPDATE). That lock is held while the body arrives, over
	 * many turns of the loop, and FOR UPDATE would make a billing plan that
	 * names this deck (a foreign-key check, KEY SHARE) wait on the main
	 * connection for ever: the upload needs that same loop to go on. */
	const char *p[3] = { u->tid, name, currency };
	if (cc_pg_cmd(&u->pg, "INSERT INTO cc.tariffs (id, name, currency) VALUES ($1, $2, $3) "
	              "ON CONFLICT (name) DO NOTHING", 3, p) != CC_OK)
		return refuse_db(r, u, "deck", u->pg.message);
	res = cc_pg_exec(&u->pg, "SELECT id, currency FROM cc.tariffs WHERE name = $1 FOR NO KEY UPDATE",
	                 1, p + 1);
	if (!res || PQntuples(res) != 1) {
		if (res)
			PQclear(res);
		return refuse_db(r, u, "deck", u->pg.message);
	}
	snprintf(u->tid, sizeof(u->tid), "%s", PQgetvalue(res, 0, 0));
	snprintf(have, sizeof(have), "%s", PQgetvalue(res, 0, 1));
	PQclear(res);
	if (strcmp(have, currency) != 0)
		return tn_error(r, 422, "invalid_argument", "currency",
		                "currency: deck %s is in %s", name, have);

	char *err = NULL;
	if (copy_begin(u->pg.conn, &err) != CC_OK) {
		u->pg.error = CC_PG_FAILED;
		refuse_db(r, u, "COPY", err);
		free(err);
		return;
	}
	u->in_copy = true;
	/* the rows are sent as they are parsed, never waiting for the server:
	 * libpq keeps what the socket does not take, and the end goes to a
	 * worker (finish_work) */
	PQsetnonblocking(u->pg.conn, 1);
	u->c = (struct copier){ .conn = u->pg.conn, .version = u->vid, .vlen = strlen(u->vid),
	                        .res = &u->csv };
	u->reader = bl_csv_begin(&u->deck, &u->csv, on_row, &u->c);
}

static void upload_data(struct tn_req *r, const char *buf, size_t len)
{
	struct deck_upload *u = r->upload;

	if (u->refused)
		return;
	u->bytes += len;
	if (u->bytes > TN_MAX_CSV) {
		u->refused = true;
		return tn_error(r, 413, "payload_too_large", NULL, "the body is over %d bytes",
		                TN_MAX_CSV);
	}
	bl_csv_feed(u->reader, buf, len);
}

/* The end of an import that parsed clean, on a worker (tn_offload): the
 * rest of the COPY, the version row and COMMIT on the upload's own
 * connection, which the job takes over. Storing a million rows took
 * seconds after the body was in, and on the loop it held every other
 * request that long. */
struct deck_finish {
	struct cc_pg pg;              /* the upload's connection, moved here */
	struct copier c;              /* its COPY (c.conn is pg.conn) */
	char name[64], currency[8], vid[CC_UUID_LEN], tid[CC_UUID_LEN], rows[24];
	char *effective;
	size_t bytes;
	int64_t t0, t_parse;
	/* the outcome (worker) */
	const char *stage;            /* NULL when committed, else what failed */
	char *err;                    /* the database's text, for the log */
	int version;
	char effective_from[40];
};

static void finish_work(void *arg)
{
	struct deck_finish *f = arg;
	PGresult *res;

	PQsetnonblocking(f->pg.conn, 0);   /* the worker may wait */
	if (copy_end(&f->c, true, &f->err) != CC_OK) {
		f->pg.error = f->c.bad_value ? CC_PG_INVALID : CC_PG_FAILED;
		f->stage = "COPY";
		return;
	}
	const char *vp[4] = { f->vid, f->tid, f->effective, f->rows };
	res = cc_pg_exec(&f->pg,
	                 "INSERT INTO cc.tariff_versions (id, tariff_id, version, effective_from, rows) "
	                 "SELECT $1, $2, COALESCE(max(version), 0) + 1, COALESCE($3::timestamptz, now()), $4 "
	                 "FROM cc.tariff_versions WHERE tariff_id = $2 "
	                 "RETURNING version, " TS("effective_from"), 4, vp);
	if (!res) {
		f->stage = "version";
		f->err = f->pg.message ? strdup(f->pg.message) : NULL;
		return;
	}
	f->version = atoi(PQgetvalue(res, 0, 0));
	snprintf(f->effective_from, sizeof(f->effective_from), "%s", PQgetvalue(res, 0, 1));
	PQclear(res);
	if (cc_pg_cmd(&f->pg, "COMMIT", 0, NULL) != CC_OK) {
		f->stage = "COMMIT";
		f->err = f->pg.message ? strdup(f->pg.message) : NULL;
	}
}

static void finish_done(struct tn_req *r, void *arg)
{
	struct deck_finish *f = arg;

	if (r && f->stage) {
		CC_ERR("tariff import %s: %s: %s", f->name, f->stage, f->err ? f->err : "?");
		if (f->pg.error == CC_PG_INVALID)
			tn_error(r, 422, "invalid_argument", NULL,
			         "the database refused a value of the deck; nothing was imported");
		else
			tn_error(r, 503, "unavailable", NULL, "the database refused the deck; retry later");
	} else if (r) {
		CC_INFO("tariff %s version %d: %s rows, %zu bytes (read and sent %lld ms, stored %lld ms)",
		        f->name, f->version, f->rows, f->bytes, (long long)(f->t_parse - f->t0),
		        (long long)(cc_mono_ms() - f->t_parse));
		tn_notify(r->d, NULL, "tariffs", NULL);
		tn_reply(r, 201, json_pack("{s:s, s:s, s:s, s:i, s:s, s:I}", "id", f->vid, "tariff", f->name,
		                           "currency", f->currency, "version", f->version,
		                           "effective_from", f->effective_from, "rows",
		                           (json_int_t)atoll(f->rows)));
	}
	importing = false;            /* the connection is free again */
	cc_pg_close(&f->pg);          /* rolls back whatever was not committed */
	free(f->err);
	free(f->effective);
	free(f);
}

static void upload_end(struct tn_req *r)
{
	struct deck_upload *u = r->upload;
	int parsed = bl_csv_end(u->reader);

	u->reader = NULL;
	if (parsed != CC_OK) {
		/* the COPY and its transaction are abandoned with the connection
		 * (upload_release) */
		json_t *e = json_pack("{s:s, s:s, s:I, s:I, s:O}", "code", "invalid_csv",
		                      "message", "the deck has bad lines; nothing was imported",
		                      "bad_lines", (json_int_t)u->csv.n_errors,
		                      "rows", (json_int_t)u->csv.rows, "lines", u->csv.errors);
		return tn_reply(r, 422, json_pack("{s:o}", "error", e));
	}
	struct deck_finish *f = calloc(1, sizeof(*f));

	CC_BUG_ON(!f);
	f->pg = u->pg;                /* the job owns the connection and the COPY now */
	u->pg = (struct cc_pg){ 0 };
	f->c = u->c;
	u->in_copy = false;           /* copy_end frees the COPY's buffer */
	snprintf(f->name, sizeof(f->name), "%s", u->name);
	snprintf(f->currency, sizeof(f->currency), "%s", u->currency);
	memcpy(f->vid, u->vid, sizeof(f->vid));
	memcpy(f->tid, u->tid, sizeof(f->tid));
	snprintf(f->rows, sizeof(f->rows), "%zu", u->deck.n_rates);
	f->effective = u->effective ? strdup(u->effective) : NULL;
	f->bytes = u->bytes;
	f->t0 = u->t0;
	f->t_parse = cc_mono_ms();
	u->owns_import = false;       /* finish_done lets the next import in */
	tn_offload(r, finish_work, finish_done, f);
}

/* Whatever happened (answered, refused, or the client went away): an
 * unfinished COPY and transaction are abandoned with the connection. */
static void upload_release(struct tn_req *r)
{
	struct deck_upload *u = r->upload;

	if (!u)
		return;
	u->c.stop = true;             /* nothing more goes to the COPY */
	if (u->reader)
		bl_csv_end(u->reader);
	if (u->in_copy)
		free(u->c.b.buf);
	cc_pg_close(&u->pg);          /* rolls back whatever was not committed */
	bl_csv_result_free(&u->csv);
	bl_deck_free(&u->deck);
	free(u->effective);
	if (u->owns_import)
		importing = false;
	free(u);
	r->upload = NULL;
}

static json_t *versions_of(struct tn_req *r, const char *tariff_id)
{
	const char *p[1] = { tariff_id };
	PGresult *res = cc_pg_exec(&r->d->pg,
	                           "SELECT id, version, " TS("effective_from") ", rows, " TS("created_at")
	                           " FROM cc.tariff_versions WHERE tariff_id = $1 ORDER BY version", 1, p);
	json_t *a = json_array();

	if (!res)
		return a;
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(a, json_pack("{s:s, s:i, s:s, s:i, s:s}", "id", PQgetvalue(res, i, 0),
		                                   "version", atoi(PQgetvalue(res, i, 1)),
		                                   "effective_from", PQgetvalue(res, i, 2),
		                                   "rows", atoi(PQgetvalue(res, i, 3)),
		                                   "created_at", PQgetvalue(res, i, 4)));
	PQclear(res);
	return a;
}

static json_t *deck_json(struct tn_req *r, const PGresult *res, int i)
{
	return json_pack("{s:s, s:s, s:s, s:o}", "id", PQgetvalue(res, i, 0), "name",
	                 PQgetvalue(res, i, 1), "currency", PQgetvalue(res, i, 2), "versions",
	                 versions_of(r, PQgetvalue(res, i, 0)));
}

static void list(struct tn_req *r)
{
	PGresult *res = cc_pg_exec(&r->d->pg, "SELECT id, name, currency FROM cc.tariffs ORDER BY name",
	                           0, NULL);
	json_t *items = json_array();

	if (!res) {
		json_decref(items);
		return tn_db_error(r, "tariffs");
	}
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(items, deck_json(r, res, i));
	PQclear(res);
	tn_reply(r, 200, tn_list(items, NULL));
}

static void get_one(struct tn_req *r)
{
	const char *p[1] = { r->params[0] };
	PGresult *res = cc_pg_exec(&r->d->pg, "SELECT id, name, currency FROM cc.tariffs WHERE name = $1",
	                           1, p);

	if (!res)
		return tn_db_error(r, "tariff");
	if (PQntuples(res) != 1) {
		PQclear(res);
		return tn_error(r, 404, "not_found", NULL, "no such tariff");
	}
	json_t *o = deck_json(r, res, 0);
	PQclear(res);
	tn_reply(r, 200, o);
}

const struct tn_route tn_tariff_routes[] = {
	{ "POST", "/v1/tariffs", TN_OPERATOR, NULL, import, false, true },
	{ "GET", "/v1/tariffs", TN_OPERATOR, NULL, list, false, false },
	{ "GET", "/v1/tariffs/{name}", TN_OPERATOR, NULL, get_one, false, false },
	{ NULL, NULL, 0, NULL, NULL, false, false },
};
