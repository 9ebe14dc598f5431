/*
 * recordings.c: /v1/tenants/{slug}/recordings, the metadata of the
 * tenant's recordings (rows written by mediad's recorder, migration 0009),
 * newest first (docs/RECORDING.md "Search and metadata"). A supervisor key
 * sees only recordings of the queues its agent supervises; outside them a
 * recording is 404 like another tenant's. The store's path, the wrapped
 * key and the writer are never sent. Every metadata read is audited.
 */
#include "api.h"
#include "cc.h"
#include "log.h"
#include "reccrypt.h"
#include "recstore.h"
#include "tenantd.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define TS TN_TS

static const char COLS[] = "id, call_id, state, " TS("started_at") ", " TS("ended_at") ", "
	"duration_ms, direction, caller, callee, queue, agent, bytes, audio_bytes, sha256, "
	"pauses::text, legal_hold, hold_reason, error";

static const char *const STATES[] = { "recording", "complete", "incomplete", "failed", "purged", NULL };

static json_t *row(const PGresult *res, int i)
{
	json_t *pauses = json_loads(PQgetvalue(res, i, 14), 0, NULL);
	json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
	                 "id", PQgetvalue(res, i, 0), "call", PQgetvalue(res, i, 1),
	                 "state", PQgetvalue(res, i, 2), "started_at", tn_col_text(res, i, 3),
	                 "ended_at", tn_col_text(res, i, 4), "duration_ms", tn_col_int(res, i, 5),
	                 "direction", tn_col_text(res, i, 6), "caller", tn_col_text(res, i, 7),
	                 "callee", tn_col_text(res, i, 8), "queue", tn_col_text(res, i, 9), "agent", tn_col_text(res, i, 10));

	json_object_set_new(o, "bytes", tn_col_int(res, i, 11));
	json_object_set_new(o, "audio_bytes", tn_col_int(res, i, 12));
	json_object_set_new(o, "sha256", tn_col_text(res, i, 13));
	json_object_set_new(o, "pauses", pauses ? pauses : json_array());
	json_object_set_new(o, "legal_hold", json_boolean(PQgetvalue(res, i, 15)[0] == 't'));
	json_object_set_new(o, "hold_reason", tn_col_text(res, i, 16));
	json_object_set_new(o, "error", tn_col_text(res, i, 17));
	return o;
}

static bool known_state(const char *s)
{
	for (int i = 0; STATES[i]; i++)
		if (!strcmp(s, STATES[i]))
			return true;
	return false;
}

/* a supervisor's queues as a text[] literal; NULL (no filter) for the rest */
static const char *reach(const struct tn_req *r)
{
	return tn_is_supervisor(r) ? (r->supervises ? r->supervises : "{}") : NULL;
}

static void list(struct tn_req *r)
{
	const char *after, *from = tn_query(r, "from"), *to = tn_query(r, "to"), *p[11];
	const char *state = tn_query(r, "state"), *disp = tn_query(r, "disposition");
	char lim[8];
	int limit;
	PGresult *res;

	if (tn_page(r, &limit, &after) != CC_OK)
		return;
	if (from && !tn_rfc3339(from))
		return tn_error(r, 422, "invalid_argument", "from", "from must be an RFC 3339 time");
	if (to && !tn_rfc3339(to))
		return tn_error(r, 422, "invalid_argument", "to", "to must be an RFC 3339 time");
	if (state && !known_state(state))
		return tn_error(r, 422, "invalid_argument", "state",
		                "state must be recording, complete, incomplete, failed or purged");
	/* a disposition code is what cc.disposition_codes allows */
	if (disp && !tn_code_ok(disp, 32))
		return tn_error(r, 422, "invalid_argument", "disposition",
		                "disposition must be a disposition code ([a-z0-9_-], at most 32)");
	if (after && !cc_uuid_valid(after))
		return tn_error(r, 400, "invalid_argument", "after", "after must be a recording id");
	if (after) {
		const char *cp[3] = { r->tenant.id, after, reach(r) };

		res = cc_pg_exec(&r->d->pg, "SELECT 1 FROM cc.recordings WHERE tenant_id = $1 "
		                 "AND id = $2::uuid AND ($3::text[] IS NULL OR queue = ANY ($3::text[]))",
		                 3, cp);
		if (!res)
			return tn_db_error(r, "recordings");
		int known = PQntuples(res);
		PQclear(res);
		if (!known)
			return tn_error(r, 400, "invalid_argument", "after",
			                "after is not a recording of this list");
	}
	snprintf(lim, sizeof(lim), "%d", limit);
	p[0] = r->tenant.id; p[1] = from; p[2] = to; p[3] = after; p[4] = lim;
	p[5] = tn_query(r, "number"); p[6] = tn_query(r, "agent"); p[7] = tn_query(r, "queue");
	p[8] = state; p[9] = reach(r); p[10] = disp;
	char *sql = cc_sprintf("SELECT %s FROM cc.recordings WHERE tenant_id = $1 "
	                 "AND ($2::timestamptz IS NULL OR started_at >= $2::timestamptz) "
	                 "AND ($3::timestamptz IS NULL OR started_at < $3::timestamptz) "
	                 "AND ($4::uuid IS NULL OR (started_at, id) < "
	                 "  (SELECT started_at, id FROM cc.recordings WHERE id = $4::uuid AND tenant_id = $1)) "
	                 "AND ($6::text IS NULL OR caller = $6 OR callee = $6) "
	                 "AND ($7::text IS NULL OR agent = $7) "
	                 "AND ($8::text IS NULL OR queue = $8) "
	                 /* purged ones are tombstones: only when asked for */
	                 "AND (CASE WHEN $9::text IS NULL THEN state <> 'purged' ELSE state = $9 END) "
	                 "AND ($10::text[] IS NULL OR queue = ANY ($10::text[])) "
	                 /* the call's disposition, on its record (migration 0006) */
	                 "AND ($11::text IS NULL OR EXISTS (SELECT 1 FROM cc.calls c WHERE "
	                 "  c.id = cc.recordings.call_id AND c.tenant_id = $1 AND c.disposition = $11)) "
	                 "ORDER BY started_at DESC, id DESC LIMIT $5", COLS);
	res = cc_pg_exec(&r->d->pg, sql, 11, p);
	free(sql);
	if (!res && r->d->pg.error == CC_PG_INVALID)
		return tn_error(r, 422, "invalid_argument", "from", "from/to must be RFC 3339 times");
	if (!res)
		return tn_db_error(r, "recordings");
	tn_reply_page(r, res, row, limit, 0);
}

/* The recording r->params[1] within r's reach, or NULL after answering
 * (404 for unknown, malformed, another tenant's, outside a supervisor's). */
static PGresult *fetch(struct tn_req *r)
{
	const char *p[3] = { r->tenant.id, r->params[1], reach(r) };
	char *sql;
	PGresult *res;

	if (!cc_uuid_valid(r->params[1])) {
		tn_error(r, 404, "not_found", NULL, "no such recording");
		return NULL;
	}
	sql = cc_sprintf("SELECT %s FROM cc.recordings WHERE tenant_id = $1 AND id = $2::uuid "
	                 "AND ($3::text[] IS NULL OR queue = ANY ($3::text[]))", COLS);
	res = cc_pg_exec(&r->d->pg, sql, 3, p);
	free(sql);
	if (!res) {
		tn_db_error(r, "recording");
		return NULL;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		tn_error(r, 404, "not_found", NULL, "no such recording");
		return NULL;
	}
	return res;
}

static void get(struct tn_req *r)
{
	PGresult *res = fetch(r);

	if (!res)
		return;
	/* a read that cannot be audited is not answered */
	if (tn_audit(r, "read", "recording", r->params[1], NULL) != CC_OK) {
		PQclear(res);
		return tn_error(r, 503, "unavailable", NULL, "the audit log is unavailable");
	}
	tn_reply(r, 200, json_pack("{s:o}", "recording", row(res, 0)));
	PQclear(res);
}

static void patch(struct tn_req *r)
{
	json_t *hold = json_object_get(r->body, "legal_hold");
	json_t *reason = json_object_get(r->body, "hold_reason");
	const char *p[4];
	PGresult *res;

	if (!json_is_boolean(hold))
		return tn_error(r, 422, "invalid_argument", "legal_hold", "give legal_hold (true or false)");
	res = fetch(r);
	if (!res)
		return;
	PQclear(res);
	p[0] = r->tenant.id; p[1] = r->params[1]; p[2] = json_is_true(hold) ? "t" : "f";
	p[3] = json_is_string(reason) ? json_string_value(reason) : NULL;
	if (tn_begin(r) != CC_OK)
		return;
	/* a release clears the reason; a hold keeps the old one if none is given */
	res = cc_pg_exec(&r->d->pg, "UPDATE cc.recordings SET legal_hold = $3::boolean, "
	                 "hold_reason = CASE WHEN $3::boolean THEN COALESCE($4, hold_reason) ELSE $4 END, "
	                 "updated_at = now() WHERE tenant_id = $1 AND id = $2::uuid", 4, p);
	if (!res)
		return tn_rollback(r, "recording");
	PQclear(res);
	if (tn_audit(r, json_is_true(hold) ? "hold" : "release", "recording", r->params[1],
	             reason && json_is_string(reason) ? json_pack("{s:O}", "hold_reason", reason) : NULL) != CC_OK) {
		tn_abort(r);
		return tn_error(r, 503, "unavailable", NULL, "the audit log is unavailable");
	}
	if (tn_commit(r) != CC_OK)
		return;
	res = fetch(r);
	if (!res)
		return;
	tn_reply(r, 200, json_pack("{s:o}", "recording", row(res, 0)));
	PQclear(res);
}

/* Removes the file of key from the store dir; a missing file is fine (a
 * failed recording may have none). 0 or an errno, logged. */
static int remove_file(const char *dir, const char *id, const char *key)
{
	struct cc_store *store;
	int e = cc_store_dir_open(dir, &store);

	if (e == 0) {
		e = cc_store_remove(store, key);
		cc_store_close(store);
	}
	if (e == ENOENT)
		return 0;
	if (e)
		CC_ERR("recording %s: %s not removed from %s: %s", id, key, dir, strerror(e));
	return e;
}

/* In the open transaction, the recording's row locked and audited: the
 * row becomes a tombstone (state purged, the wrapped key emptied so that
 * no copy of the file can be read again), then the file goes, before the
 * commit, so a row never says purged of a file that is still there. DELETE
 * and the retention purge share it. CC_OK, TOMB_DB (pg->error says why) or
 * TOMB_FILE. */
enum { TOMB_DB = -1, TOMB_FILE = -2 };

static int tombstone(struct cc_pg *pg, const char *dir, const char *tenant, const char *id,
                     const char *path)
{
	const char *p[2] = { tenant, id };

	if (cc_pg_cmd(pg, "UPDATE cc.recordings SET state = 'purged', wrapped_key = '\\x', "
	              "updated_at = now() WHERE tenant_id = $1 AND id = $2::uuid", 2, p) != CC_OK)
		return TOMB_DB;
	if (path && path[0] && remove_file(dir, id, path))
		return TOMB_FILE;
	return CC_OK;
}

/* DELETE: the file goes, the row stays as a tombstone (tombstone()). The
 * row is locked first so that a hold set meanwhile is seen. */
static void del(struct tn_req *r)
{
	const char *p[2] = { r->tenant.id, r->params[1] };
	PGresult *res;
	int rc;

	if (!cc_uuid_valid(r->params[1]))
		return tn_error(r, 404, "not_found", NULL, "no such recording");
	if (tn_begin(r) != CC_OK)
		return tn_rollback(r, "recording");
	res = cc_pg_exec(&r->d->pg, "SELECT legal_hold, state, path FROM cc.recordings "
	                 "WHERE tenant_id = $1 AND id = $2::uuid AND state <> 'purged' FOR UPDATE", 2, p);
	if (!res)
		return tn_rollback(r, "recording");
	if (PQntuples(res) != 1) {
		PQclear(res);
		tn_abort(r);
		return tn_error(r, 404, "not_found", NULL, "no such recording");
	}
	if (PQgetvalue(res, 0, 0)[0] == 't') {
		PQclear(res);
		tn_abort(r);
		return tn_error(r, 409, "held", NULL, "the recording is under legal hold");
	}
	/* the recorder still writes it: the file would outlive its row */
	if (!strcmp(PQgetvalue(res, 0, 1), "recording")) {
		PQclear(res);
		tn_abort(r);
		return tn_error(r, 409, "in_progress", NULL, "the recording is still being made");
	}
	if (tn_audit(r, "delete", "recording", r->params[1], NULL) != CC_OK) {
		PQclear(res);
		tn_abort(r);
		return tn_error(r, 503, "unavailable", NULL, "the audit log is unavailable");
	}
	rc = tombstone(&r->d->pg, r->d->cfg.rec_store, r->tenant.id, r->params[1],
	               PQgetisnull(res, 0, 2) ? NULL : PQgetvalue(res, 0, 2));
	if (rc == TOMB_DB) {
		PQclear(res);
		return tn_rollback(r, "recording");
	}
	if (rc == TOMB_FILE) {
		PQclear(res);
		tn_abort(r);
		return tn_error(r, 503, "unavailable", NULL, "the recording's file could not be removed");
	}
	PQclear(res);
	if (tn_commit(r) != CC_OK)
		return tn_rollback(r, "recording");
	tn_reply(r, 200, json_pack("{s:{s:s, s:s}}", "recording", "id", r->params[1], "state", "purged"));
}

/* ------------------------------------------------- the retention purge */

/* A run of the purge: tenant NULL for every tenant. Counts out. */
struct purge_job {
	char *pg_url, *store;
	char tenant[40];         /* "" for all */
	long purged, held, failed;
};

/* One recording in its own short transaction, locked and checked again (a
 * hold set, or a DELETE, since the list was read wins). 1 purged, 0 no
 * longer due, -1 failed (rolled back, logged). */
static int purge_one(struct cc_pg *pg, const char *dir, const char *tenant, const char *id)
{
	const char *p[2] = { tenant, id };
	PGresult *res;
	int rc = CC_OK;

	if (cc_pg_cmd(pg, "BEGIN", 0, NULL) != CC_OK)
		goto fail;
	res = cc_pg_exec(pg, "SELECT path FROM cc.recordings WHERE tenant_id = $1 AND id = $2::uuid "
	                 "AND state IN ('complete', 'incomplete', 'failed') AND NOT legal_hold "
	                 "FOR UPDATE", 2, p);
	if (!res)
		goto fail;
	if (PQntuples(res) != 1) {
		PQclear(res);
		cc_pg_cmd(pg, "ROLLBACK", 0, NULL);
		return 0;
	}
	if (tn_audit_system(pg, tenant, "system:retention", "purge", "recording", id, NULL) != CC_OK ||
	    (rc = tombstone(pg, dir, tenant, id, PQgetisnull(res, 0, 0) ? NULL : PQgetvalue(res, 0, 0)))) {
		PQclear(res);
		goto fail;
	}
	PQclear(res);
	if (cc_pg_cmd(pg, "COMMIT", 0, NULL) != CC_OK)
		goto fail;
	return 1;
fail:
	CC_ERR("retention: recording %s not purged: %s", id,
	       rc == TOMB_FILE ? "its file could not be removed" : pg->message);
	if (pg->conn)
		PQclear(PQexec(pg->conn, "ROLLBACK"));
	return -1;
}

/* Due: finished, started more than the tenant's retention_days ago. */
#define DUE "r.state IN ('complete', 'incomplete', 'failed') AND r.started_at < " \
	"now() - t.retention_days * interval '1 day' AND ($1::uuid IS NULL OR r.tenant_id = $1::uuid)"

/* On a worker, its own connection: the due recordings one by one. */
static void purge_work(void *arg)
{
	struct purge_job *j = arg;
	const char *p[1] = { j->tenant[0] ? j->tenant : NULL };
	struct cc_pg pg;
	PGresult *res;

	cc_pg_init(&pg, j->pg_url);
	res = cc_pg_exec(&pg, "SELECT r.tenant_id, r.id, r.legal_hold FROM cc.recordings r "
	                 "JOIN cc.tenants t ON t.id = r.tenant_id WHERE " DUE " ORDER BY r.started_at", 1, p);
	if (!res) {
		CC_ERR("retention: the due recordings not read: %s", pg.message);
		j->failed = -1;
	}
	for (int i = 0; res && i < PQntuples(res); i++) {
		int rc;

		if (PQgetvalue(res, i, 2)[0] == 't') {
			j->held++;
			continue;
		}
		rc = purge_one(&pg, j->store, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
		j->purged += rc == 1;
		j->failed += rc < 0;
	}
	PQclear(res);
	cc_pg_close(&pg);
	if (!j->tenant[0] && (j->purged || j->failed))
		CC_INFO("retention: %ld recordings purged, %ld held, %ld failed", j->purged, j->held, j->failed);
}

static struct purge_job *purge_job(struct tenantd *d, const char *tenant)
{
	struct purge_job *j = calloc(1, sizeof(*j));

	CC_BUG_ON(!j);
	snprintf(j->tenant, sizeof(j->tenant), "%s", tenant ? tenant : "");
	j->pg_url = strdup(d->cfg.pg_url);
	j->store = strdup(d->cfg.rec_store);
	CC_BUG_ON(!j->pg_url || !j->store);
	return j;
}

static void purge_free(struct purge_job *j)
{
	free(j->pg_url);
	free(j->store);
	free(j);
}

#define TN_PURGE_JOBS 2      /* POST purges at once: each a thread and a connection */

static int purge_jobs;

static void purge_done(struct tn_req *r, void *arg)
{
	struct purge_job *j = arg;

	purge_jobs--;

	if (r && j->failed < 0)
		tn_error(r, 503, "unavailable", NULL, "the recordings could not be read");
	else if (r)
		tn_reply(r, 200, json_pack("{s:I, s:I, s:I}", "purged", (json_int_t)j->purged,
		                           "held", (json_int_t)j->held, "failed", (json_int_t)j->failed));
	purge_free(j);
}

/* POST .../recordings/purge: the tenant's due recordings now. */
static void purge(struct tn_req *r)
{
	if (purge_jobs >= TN_PURGE_JOBS)
		return tn_error(r, 503, "unavailable", NULL,
		                "%d purges are running; retry when one has ended", TN_PURGE_JOBS);
	purge_jobs++;
	tn_offload(r, purge_work, purge_done, purge_job(r->d, r->tenant.id));
}

/* The timer: every CC_RETENTION_INTERVAL_S, every tenant, on a thread of
 * its own; one run at a time (a run still going when the next is due
 * lets that one pass), so the loop never waits on it. */
static struct event *retention_ev;
static pthread_t retention_thread;
static bool retention_started;
static atomic_bool retention_busy;

static void *retention_run(void *arg)
{
	purge_work(arg);
	purge_free(arg);
	atomic_store(&retention_busy, false);
	return NULL;
}

static void on_retention(evutil_socket_t fd, short what, void *arg)
{
	struct tenantd *d = arg;
	struct purge_job *j;

	(void)fd;
	(void)what;
	if (atomic_load(&retention_busy))
		return;
	if (retention_started)
		pthread_join(retention_thread, NULL);  /* it has ended: busy is false */
	retention_started = false;
	j = purge_job(d, NULL);
	atomic_store(&retention_busy, true);
	if (pthread_create(&retention_thread, NULL, retention_run, j) != 0) {
		CC_ERR("retention: no thread for the purge");
		atomic_store(&retention_busy, false);
		purge_free(j);
		return;
	}
	retention_started = true;
}

void tn_retention_start(struct tenantd *d)
{
	struct timeval tv = { d->cfg.retention_interval_s, 0 };

	if (d->cfg.retention_interval_s <= 0)
		return;
	retention_ev = event_new(d->base, -1, EV_PERSIST, on_retention, d);
	CC_BUG_ON(!retention_ev);
	event_add(retention_ev, &tv);
}

void tn_retention_stop(void)
{
	if (retention_ev)
		event_free(retention_ev);
	retention_ev = NULL;
	if (retention_started)
		pthread_join(retention_thread, NULL);
	retention_started = false;
}

/* ------------------------------------------------------- the audio */

#define TN_REC_JOBS 4    /* downloads at once: each holds its audio in memory */

static int rec_jobs;

struct rec_job {
	char *pg_url, *store, *secrets;
	char tenant[40], id[40], path[128], sha[65], wrapped[2 * CC_WRAPPED_LEN + 1];
	char range[64];          /* the Range header ("" for none) */
	int version;
	int err;                 /* a cc_rec_err */
	uint8_t *audio;
	size_t len;
};

static bool unhex(const char *hex, uint8_t *out, size_t n)
{
	if (strlen(hex) != 2 * n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (sscanf(hex + 2 * i, "%2hhx", &out[i]) != 1)
			return false;
	return true;
}

/* the recording's key, then the whole file verified (every tag, the final
 * chunk, the row's SHA-256) before one byte is decrypted for the reply */
static int rec_decrypt(struct rec_job *j, struct cc_store *store, const uint8_t dk[CC_KEY_LEN])
{
	struct cc_rec_reader *rd;
	uint64_t audio;
	ssize_t n;
	int err = cc_rec_verify(store, j->path, j->id, dk, j->sha[0] ? j->sha : NULL, &audio);

	if (err)
		return err;
	if (audio > SIZE_MAX - 1 || !(j->audio = malloc(audio ? audio : 1)))
		return CC_REC_IO;
	if ((err = cc_rec_reader_open(store, j->path, j->id, dk, &rd)))
		return err;
	while (j->len < audio && (n = cc_rec_reader_read(rd, j->audio + j->len, audio - j->len)) > 0)
		j->len += (size_t)n;
	cc_rec_reader_close(rd);
	return j->len == audio ? CC_REC_OK : CC_REC_CORRUPT;
}

static void rec_work(void *arg)
{
	struct rec_job *j = arg;
	uint8_t kek[CC_KEY_LEN], dk[CC_KEY_LEN], wrapped[CC_WRAPPED_LEN];
	struct cc_store *store = NULL;
	struct cc_kms *kms = NULL;
	struct cc_pg pg;
	char aad[96];

	cc_pg_init(&pg, j->pg_url);
	if (!unhex(j->wrapped, wrapped, sizeof(wrapped)))
		j->err = CC_REC_NOKEY;
	else if (cc_kms_local_open(j->secrets, &kms) != 0 || cc_store_dir_open(j->store, &store) != 0)
		j->err = CC_REC_IO;
	else if (!(j->err = cc_tenant_kek_version(&pg, kms, j->tenant, j->version, kek))) {
		cc_dk_aad(aad, sizeof(aad), j->id);
		j->err = cc_key_unwrap(kek, wrapped, aad, dk);
		cc_key_wipe(kek, sizeof(kek));
		if (!j->err)
			j->err = rec_decrypt(j, store, dk);
		cc_key_wipe(dk, sizeof(dk));
	}
	if (j->err)
		CC_ERR("recording %s: not downloadable: %s", j->id, cc_rec_strerror(j->err));
	cc_store_close(store);
	if (kms)
		kms->close(kms);
	cc_pg_close(&pg);
}

/* One "bytes=first-last", "bytes=first-" or "bytes=-suffix" of a stream
 * of len bytes: 1 with [*from, *to] set, 0 when unsatisfiable, -1 when
 * there is none to honour (absent, malformed, several ranges: RFC 9110
 * lets the whole stream be sent). */
static int range_of(const char *h, size_t len, size_t *from, size_t *to)
{
	unsigned long long a = 0, b = 0;
	int n = 0, m = 0;

	if (!h[0] || strncmp(h, "bytes=", 6) || strchr(h, ',') || strspn(h + 6, "0123456789-") != strlen(h + 6))
		return -1;
	h += 6;
	if (!len)
		return 0;
	/* sscanf's %llu would take a sign: each number starts with a digit */
	if (h[0] == '-') {
		if (!isdigit((unsigned char)h[1]))
			return -1;
		if (sscanf(h + 1, "%llu%n", &b, &n) != 1 || h[1 + n] || b == 0)
			return b == 0 && n ? 0 : -1;
		*from = b >= len ? 0 : len - (size_t)b;
		*to = len - 1;
		return 1;
	}
	if (sscanf(h, "%llu-%n", &a, &n) != 1 || !n || (h[n] && !isdigit((unsigned char)h[n])))
		return -1;
	if (!h[n])
		b = len ? len - 1 : 0;
	else if (sscanf(h + n, "%llu%n", &b, &m) != 1 || h[n + m] || b < a)
		return -1;
	if (a >= len)
		return 0;
	*from = (size_t)a;
	*to = b >= len ? len - 1 : (size_t)b;
	return 1;
}

static void rec_send(struct tn_req *r, struct rec_job *j)
{
	static const char *const whole[] = { "Accept-Ranges", "bytes", NULL };
	char cr[80];
	const char *part[] = { "Accept-Ranges", "bytes", "Content-Range", cr, NULL };
	size_t from, to;
	int rc = range_of(j->range, j->len, &from, &to);

	if (rc < 0)
		return tn_reply_bytes_h(r, 200, "audio/ogg", j->audio, j->len, whole);
	if (rc == 0) {
		snprintf(cr, sizeof(cr), "bytes */%zu", j->len);
		return tn_reply_bytes_h(r, 416, "audio/ogg", "", 0, part);
	}
	snprintf(cr, sizeof(cr), "bytes %zu-%zu/%zu", from, to, j->len);
	tn_reply_bytes_h(r, 206, "audio/ogg", j->audio + from, to - from + 1, part);
}

static void rec_done(struct tn_req *r, void *arg)
{
	struct rec_job *j = arg;
	bool bad = j->err == CC_REC_CORRUPT || j->err == CC_REC_TRUNCATED || j->err == CC_REC_NOKEY;
	const char *action = j->err ? "download_failed" : "download";

	if (r && (j->err == 0 || bad) &&
	    tn_audit(r, action, "recording", j->id,
	             j->err ? json_pack("{s:s}", "error", cc_rec_strerror(j->err)) : NULL) != CC_OK)
		tn_error(r, 503, "unavailable", NULL, "the audit log is unavailable");
	else if (r && j->err == 0)
		rec_send(r, j);
	else if (r && bad)
		tn_error(r, 409, "recording_corrupt", NULL, "the recording's file does not verify: %s",
		         cc_rec_strerror(j->err));
	else if (r)
		tn_error(r, 503, "unavailable", NULL, "the recording store is unavailable; retry later");
	free(j->pg_url);
	free(j->store);
	free(j->secrets);
	free(j->audio);
	free(j);
}

/* the slot is held until the request ends (the reply copies the audio) */
static void rec_data(struct tn_req *r, const char *buf, size_t len) {}
static void rec_end(struct tn_req *r) {}
static void rec_release(struct tn_req *r)
{
	rec_jobs--;
}
static const struct tn_upload rec_ops = { rec_data, rec_end, rec_release };

static void audio(struct tn_req *r)
{
	const char *p[3] = { r->tenant.id, r->params[1], reach(r) }, *range;
	struct rec_job *j;
	PGresult *res;

	if (!cc_uuid_valid(r->params[1]))
		return tn_error(r, 404, "not_found", NULL, "no such recording");
	res = cc_pg_exec(&r->d->pg, "SELECT state, path, kek_version, encode(wrapped_key, 'hex'), "
	                 "COALESCE(sha256, ''), EXISTS (SELECT 1 FROM cc.tenant_keys k WHERE k.tenant_id = "
	                 "c.tenant_id AND k.version = c.kek_version AND k.destroyed_at IS NOT NULL) "
	                 "FROM cc.recordings c WHERE tenant_id = $1 AND id = $2::uuid "
	                 "AND state <> 'purged' AND ($3::text[] IS NULL OR queue = ANY ($3::text[]))", 3, p);
	if (!res)
		return tn_db_error(r, "recording");
	if (PQntuples(res) != 1) {
		PQclear(res);
		return tn_error(r, 404, "not_found", NULL, "no such recording");
	}
	if (strcmp(PQgetvalue(res, 0, 0), "complete") && strcmp(PQgetvalue(res, 0, 0), "incomplete")) {
		tn_error(r, 409, "not_ready", NULL, "the recording has no audio to send (state %s)",
		         PQgetvalue(res, 0, 0));
		PQclear(res);
		return;
	}
	/* the key's material destroyed (the tenant deleted): gone for good,
	 * unlike a file or wrapped key that does not verify (409) */
	if (PQgetvalue(res, 0, 5)[0] == 't') {
		PQclear(res);
		if (tn_audit(r, "download_failed", "recording", r->params[1],
		             json_pack("{s:s}", "error", "key_destroyed")) != CC_OK)
			return tn_error(r, 503, "unavailable", NULL, "the audit log is unavailable");
		return tn_error(r, 410, "key_destroyed", NULL,
		                "the recording's key is destroyed: it can never be read again");
	}
	if (rec_jobs >= TN_REC_JOBS) {
		PQclear(res);
		return tn_error(r, 503, "unavailable", NULL,
		                "%d recording downloads are running; retry when one has ended", TN_REC_JOBS);
	}
	j = calloc(1, sizeof(*j));
	CC_BUG_ON(!j);
	snprintf(j->tenant, sizeof(j->tenant), "%s", r->tenant.id);
	snprintf(j->id, sizeof(j->id), "%s", r->params[1]);
	snprintf(j->path, sizeof(j->path), "%s", PQgetvalue(res, 0, 1));
	j->version = atoi(PQgetvalue(res, 0, 2));
	snprintf(j->wrapped, sizeof(j->wrapped), "%s", PQgetvalue(res, 0, 3));
	snprintf(j->sha, sizeof(j->sha), "%s", PQgetvalue(res, 0, 4));
	PQclear(res);
	range = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Range");
	if (range && strlen(range) < sizeof(j->range))
		snprintf(j->range, sizeof(j->range), "%s", range);
	j->pg_url = strdup(r->d->cfg.pg_url);
	j->store = strdup(r->d->cfg.rec_store);
	j->secrets = strdup(r->d->cfg.secrets_dir);
	CC_BUG_ON(!j->pg_url || !j->store || !j->secrets);
	rec_jobs++;
	r->upload_ops = &rec_ops;
	tn_offload(r, rec_work, rec_done, j);
}

static int check_reason(struct tn_req *r, json_t *v, char **err)
{
	(void)r;
	if (strlen(json_string_value(v)) > 500) {
		return cc_fail(err, "hold_reason is at most 500 characters");
	}
	return CC_OK;
}

static const struct tn_field patch_fields[] = {
	{ "legal_hold", JSON_TRUE, true, NULL, NULL, false },
	{ "hold_reason", JSON_STRING, false, check_reason, NULL, true },
	{ NULL, 0, false, NULL, NULL, false },
};

const struct tn_route tn_recording_routes[] = {
	{ "GET", "/v1/tenants/{slug}/recordings", TN_TENANT, NULL, list, false, false },
	{ "GET", "/v1/tenants/{slug}/recordings/{id}", TN_TENANT, NULL, get, false, false },
	{ "PATCH", "/v1/tenants/{slug}/recordings/{id}", TN_TENANT, patch_fields, patch, false, false },
	{ "DELETE", "/v1/tenants/{slug}/recordings/{id}", TN_TENANT, NULL, del, false, false },
	{ "POST", "/v1/tenants/{slug}/recordings/purge", TN_TENANT, NULL, purge, false, false },
	{ "GET", "/v1/tenants/{slug}/recordings/{id}/audio", TN_TENANT, NULL, audio, false, false },
	{ NULL, NULL, 0, NULL, NULL, false, false },
};
