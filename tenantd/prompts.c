/*
 * prompts.c: /v1/tenants/{slug}/prompts, a tenant's audio (docs/PROMPTS.md).
 *
 * PUT .../prompts/{name} takes the file itself (Content-Type audio/wav,
 * audio/mpeg, audio/flac, audio/ogg; up to TN_MAX_MEDIA) or
 * application/json {"tts": text, "voice": "zh"|"en"}; lib/audio (or
 * lib/tts, then lib/audio) makes the 8 and 16 kHz forms mediad plays. The
 * body is collected by the route's upload hooks only (the only route that
 * may hold 20 MiB; every other body stays under TN_MAX_BODY), preallocated
 * to its Content-Length. Decoding and storing run on a worker thread with
 * a connection of their own (tn_offload): a 10-minute MP3 takes seconds
 * to decode and its 28 MB of PCM some 100 ms to store, which on the loop
 * would hold every other request that long. The decoder itself runs in a
 * child process (cc_audio_decode_isolated): libsndfile's parsers leak and
 * have crashed on crafted files, and tenantd outlives neither otherwise. Replacing a prompt inserts a
 * new row and retires the old one in one transaction (serialised per
 * tenant and name by an advisory lock), so a call playing the old audio
 * keeps it, and publishes the tenant's cc.cfg notice. At most
 * TN_PROMPT_JOBS uploads run at once (each may hold ~130 MB while it
 * decodes); more get 503.
 *
 * GET lists the tenant's prompts and the platform's defaults (files made by
 * mkprompts, CC_PROMPTS_DIR), GET one its metadata, GET .../audio a WAV of
 * it (8 kHz, or ?rate=16000) read on a worker too, TN_PROMPT_JOBS at once. DELETE removes every
 * version of the tenant's prompt, refused (409) while the current version
 * of one of its flows plays it, unless a platform default of that name
 * takes its place.
 */
#include "api.h"
#include "audio.h"
#include "cc.h"
#include "clock.h"
#include "log.h"
#include "tenantd.h"
#include "tts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TS TN_TS
#define TN_PROMPT_JOBS 4                /* uploads being received or decoded at once */
#define TN_TTS_MAX_BODY (64 * 1024)     /* a JSON body of a spoken prompt */
#define TN_PROMPTS_MAX 500              /* prompts one tenant keeps */
#define TN_PROMPTS_MAX_MB 2048          /* their audio (8 and 16 kHz), MiB */

const char *const tn_default_prompts[] = { "invalid", "goodbye", "please_hold", "closed",
                                           "hold_music", NULL };
static int jobs;                        /* uploads in progress (loop only) */
static int audio_jobs;                  /* GET .../audio in progress (each may hold ~60 MB) */

static bool valid_name(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= 63 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n &&
	       s[0] != '_' && s[0] != '-';
}

bool tn_prompt_is_default(const char *name)
{
	for (int i = 0; tn_default_prompts[i]; i++)
		if (strcmp(tn_default_prompts[i], name) == 0)
			return true;
	return false;
}

/* A default's file, or NULL. Its duration from its size (s16 at 8 kHz). */
static char *default_path(struct tenantd *d, const char *name, int rate)
{
	return cc_sprintf("%s/%s.%s.raw", d->cfg.prompts_dir, name, rate == 16000 ? "16k" : "8k");
}

static long default_ms(struct tenantd *d, const char *name)
{
	char *p = default_path(d, name, 8000);
	struct stat st;
	long ms = -1;

	if (p && stat(p, &st) == 0 && st.st_size > 0)
		ms = (long)(st.st_size / 16);
	free(p);
	return ms;
}

static json_t *default_json(struct tenantd *d, const char *name, bool overridden)
{
	char id[96];

	snprintf(id, sizeof(id), "default:%s", name);
	return json_pack("{s:s, s:s, s:I, s:s, s:b, s:b}", "name", name, "id", id, "duration_ms",
	                 (json_int_t)default_ms(d, name), "source", "default", "default", 1,
	                 "overridden", overridden);
}

#define PROMPT_COLS "id, name, duration_ms, source, content_type, voice, tts_text, " TS("created_at")

static json_t *prompt_json(const PGresult *res, int i)
{
	json_t *o = json_pack("{s:s, s:s, s:I, s:s, s:s, s:b}", "id", PQgetvalue(res, i, 0), "name",
	                      PQgetvalue(res, i, 1), "duration_ms",
	                      (json_int_t)atoll(PQgetvalue(res, i, 2)), "source", PQgetvalue(res, i, 3),
	                      "created_at", PQgetvalue(res, i, 7), "default", 0);

	if (!PQgetisnull(res, i, 4))
		json_object_set_new(o, "content_type", json_string(PQgetvalue(res, i, 4)));
	if (!PQgetisnull(res, i, 5))
		json_object_set_new(o, "voice", json_string(PQgetvalue(res, i, 5)));
	if (!PQgetisnull(res, i, 6))
		json_object_set_new(o, "tts", json_string(PQgetvalue(res, i, 6)));
	return o;
}

/* ------------------------------------------------------------- upload */

struct prompt_upload {
	char *buf;                   /* the body so far */
	size_t len, cap, max;
	int format;                  /* enum cc_audio_format, or -1: application/json (TTS) */
	char content_type[32];
	bool refused;                /* answered while the body came */
	bool counted;                /* holds one of `jobs` (until a job takes it) */
};

/* What a worker makes of an upload: the decode and the transaction. */
struct prompt_job {
	/* in (the loop's copies) */
	char *pg_url;
	char tenant[CC_UUID_LEN], name[64], id[CC_UUID_LEN];
	char *body;                  /* the file, or the JSON's text to speak */
	size_t len;
	int format;
	char content_type[32], voice[4];
	/* out */
	enum cc_audio_result result;
	char *err;                   /* for the client (a refusal) */
	int status;                  /* 201 created, 200 replaced, or an error's */
	char created_at[40];
	int duration_ms;
	int64_t decode_ms, store_ms;
	char *db_err;                /* for the log */
};

static void upload_data(struct tn_req *r, const char *buf, size_t len);
static void upload_end(struct tn_req *r);
static void upload_release(struct tn_req *r);
static const struct tn_upload prompt_upload_ops = { upload_data, upload_end, upload_release };

static void put_prompt(struct tn_req *r)
{
	const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Type");
	const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Length");
	const char *name = r->params[1];
	struct prompt_upload *u;
	int format;

	if (!valid_name(name))
		return tn_error(r, 422, "invalid_argument", "name",
		                "name: 1 to 63 of a-z 0-9 _ -, starting with a letter or digit");
	size_t n = ct ? strcspn(ct, "; \t") : 0;
	if (ct && n == 16 && strncasecmp(ct, "application/json", 16) == 0)
		format = -1;
	else if ((format = cc_audio_format_of(ct)) < 0)
		return tn_error(r, 415, "unsupported_media_type", NULL,
		                "send the audio as audio/wav, audio/mpeg, audio/flac or audio/ogg, "
		                "or application/json {\"tts\":...,\"voice\":...}");
	size_t max = format < 0 ? TN_TTS_MAX_BODY : TN_MAX_MEDIA;
	unsigned long long declared = cl ? strtoull(cl, NULL, 10) : 0;   /* checked by api.c */
	if (declared > max)
		return tn_error(r, 413, "payload_too_large", NULL, "the body is over %zu bytes", max);
	if (jobs >= TN_PROMPT_JOBS)
		return tn_error(r, 503, "unavailable", NULL,
		                "%d prompt uploads are running; retry when one has ended", TN_PROMPT_JOBS);
	u = calloc(1, sizeof(*u));
	CC_BUG_ON(!u);
	u->format = format;
	u->max = max;
	snprintf(u->content_type, sizeof(u->content_type), "%.*s", (int)n, ct);
	for (char *c = u->content_type; *c; c++)
		*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
	if (declared) {
		u->buf = malloc(declared);
		CC_BUG_ON(!u->buf);
		u->cap = declared;
	}
	u->counted = true;
	jobs++;
	r->upload = u;
	r->upload_ops = &prompt_upload_ops;
}

static void upload_data(struct tn_req *r, const char *buf, size_t len)
{
	struct prompt_upload *u = r->upload;

	if (u->refused)
		return;
	if (u->len + len > u->max) {
		u->refused = true;
		return tn_error(r, 413, "payload_too_large", NULL, "the body is over %zu bytes", u->max);
	}
	if (u->len + len > u->cap) {
		size_t cap = (u->len + len) * 2;

		u->cap = cap > u->max ? u->max : cap;
		u->buf = realloc(u->buf, u->cap);
		CC_BUG_ON(!u->buf);
	}
	memcpy(u->buf + u->len, buf, len);
	u->len += len;
}

static void upload_release(struct tn_req *r)
{
	struct prompt_upload *u = r->upload;

	if (!u)
		return;
	if (u->counted)
		jobs--;
	free(u->buf);
	free(u);
	r->upload = NULL;
}

static void job_work(void *arg)
{
	struct prompt_job *j = arg;
	struct cc_audio a;
	struct cc_pg pg;
	int64_t t0 = cc_mono_ms();

	if (j->format < 0)
		j->result = cc_tts_speak(j->body, j->voice, &a, &j->err);
	else
		j->result = cc_audio_decode_isolated(j->body, j->len, (enum cc_audio_format)j->format, &a,
		                                     &j->err);
	j->decode_ms = cc_mono_ms() - t0;
	if (j->result != CC_AUDIO_OK) {
		j->status = cc_audio_status(j->result);
		return;
	}
	j->duration_ms = a.duration_ms;
	t0 = cc_mono_ms();
	cc_pg_init(&pg, j->pg_url);
	char ms[16], len8[16];
	snprintf(ms, sizeof(ms), "%d", a.duration_ms);
	snprintf(len8, sizeof(len8), "%zu", a.n8);
	bool tts = j->format < 0;
	const char *p[10] = { j->id, j->tenant, j->name, tts ? "tts" : "upload",
	                      tts ? NULL : j->content_type, tts ? j->body : NULL, tts ? j->voice : NULL,
	                      ms, (const char *)a.pcm8, (const char *)a.pcm16 };
	int lens[10] = { 0 }, fmts[10] = { 0 };
	lens[8] = (int)(a.n8 * 2);
	lens[9] = (int)(a.n16 * 2);
	fmts[8] = fmts[9] = 1;
	const char *lock[2] = { j->tenant, j->name };
	PGresult *res = NULL;
	int replaced = 0;

	if (cc_pg_cmd(&pg, "BEGIN", 0, NULL) != CC_OK ||
	    cc_pg_cmd(&pg, "SELECT pg_advisory_xact_lock(hashtextextended('cc.prompts:' || $1 || ':' || $2, 0))",
	              2, lock) != CC_OK)
		goto failed;
	/* the tenant's other prompts and this one within its quota */
	res = cc_pg_exec(&pg, "SELECT count(*), COALESCE(sum(octet_length(pcm8) + octet_length(pcm16)), 0) "
	                 "FROM cc.prompts WHERE tenant_id = $1 AND name <> $2", 2, lock);
	if (!res)
		goto failed;
	long long others = atoll(PQgetvalue(res, 0, 0)), bytes = atoll(PQgetvalue(res, 0, 1));
	PQclear(res);
	res = NULL;
	if (others >= TN_PROMPTS_MAX ||
	    bytes + (long long)(a.n8 + a.n16) * 2 > (long long)TN_PROMPTS_MAX_MB * 1024 * 1024) {
		j->result = CC_AUDIO_QUOTA;
		j->status = 422;
		j->err = others >= TN_PROMPTS_MAX
		         ? cc_sprintf("a tenant keeps at most %d prompts; delete one first", TN_PROMPTS_MAX)
		         : cc_sprintf("a tenant's prompts hold at most %d MiB of audio (%lld MiB now); "
		                      "delete some first", TN_PROMPTS_MAX_MB, bytes / (1024 * 1024));
		cc_audio_free(&a);
		cc_pg_close(&pg);        /* rolls back */
		return;
	}
	/* the audio it replaces goes: a call playing it holds it in memory and
	 * finishes it (mediad loads a prompt whole), so no old row is kept, and
	 * replacing a prompt again and again never grows the database */
	res = cc_pg_exec(&pg, "DELETE FROM cc.prompts WHERE tenant_id = $1 AND name = $2 RETURNING current",
	                 2, lock);
	if (!res)
		goto failed;
	for (int i = 0; i < PQntuples(res); i++)
		replaced += PQgetvalue(res, i, 0)[0] == 't';
	PQclear(res);
	res = cc_pg_exec_bin(&pg, "INSERT INTO cc.prompts (id, tenant_id, name, source, content_type, tts_text, "
	               "voice, duration_ms, pcm8, pcm16) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
	               "RETURNING " TS("created_at"), 10, p, lens, fmts, 0);
	if (!res)
		goto failed;
	snprintf(j->created_at, sizeof(j->created_at), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	if (cc_pg_cmd(&pg, "COMMIT", 0, NULL) != CC_OK)
		goto failed;
	j->status = replaced ? 200 : 201;
	j->store_ms = cc_mono_ms() - t0;
	cc_audio_free(&a);
	cc_pg_close(&pg);
	return;
failed:
	j->status = pg.error == CC_PG_UNAVAILABLE ? 503 : 500;
	j->db_err = pg.message ? strdup(pg.message) : NULL;
	cc_audio_free(&a);
	cc_pg_close(&pg);                /* rolls back */
}

static void job_done(struct tn_req *r, void *arg)
{
	struct prompt_job *j = arg;

	jobs--;
	if (r && (j->status == 200 || j->status == 201)) {
		CC_INFO("prompt %s of %s: %d ms of audio, decoded in %lld ms, stored in %lld ms", j->name,
		        j->tenant, j->duration_ms, (long long)j->decode_ms, (long long)j->store_ms);
		tn_notify(r->d, j->tenant, "prompts", NULL);
		json_t *o = json_pack("{s:s, s:s, s:i, s:s, s:s, s:b, s:b}", "id", j->id, "name", j->name,
		                      "duration_ms", j->duration_ms, "source", j->format < 0 ? "tts" : "upload",
		                      "created_at", j->created_at, "default", 0, "replaced", j->status == 200);
		if (j->format < 0) {
			json_object_set_new(o, "voice", json_string(j->voice));
			json_object_set_new(o, "tts", json_string(j->body));
		} else {
			json_object_set_new(o, "content_type", json_string(j->content_type));
		}
		tn_reply(r, j->status, o);
	} else if (r && j->result != CC_AUDIO_OK) {
		static const char *const codes[] = {
			[CC_AUDIO_NOT_AUDIO] = "unsupported_media_type", [CC_AUDIO_TOO_BIG] = "payload_too_large",
			[CC_AUDIO_TOO_LONG] = "too_long", [CC_AUDIO_EMPTY] = "empty",
			[CC_AUDIO_SILENT] = "silent", [CC_AUDIO_CLIPPED] = "clipped",
			[CC_AUDIO_FAILED] = "internal", [CC_AUDIO_QUOTA] = "quota_exceeded",
		};
		if (j->result == CC_AUDIO_FAILED)
			CC_ERR("prompt %s: %s", j->name, j->err ? j->err : "?");
		tn_error(r, j->status, codes[j->result], j->format < 0 ? "tts" : NULL, "%s",
		         j->err ? j->err : "refused");
	} else if (r) {
		CC_ERR("prompt %s of %s: not stored: %s", j->name, j->tenant, j->db_err ? j->db_err : "?");
		if (j->status == 503)
			tn_error(r, 503, "unavailable", NULL, "the database is unavailable; retry later");
		else
			tn_error(r, 500, "internal", NULL, "internal error");
	}
	free(j->pg_url);
	free(j->body);
	free(j->err);
	free(j->db_err);
	free(j);
}

/* The TTS body: {"tts": 1..CC_TTS_MAX_CHARS characters, "voice": "zh"|"en"
 * (default zh)}; anything else is refused as api.c refuses a body. The
 * text to speak, malloc'd, or NULL after answering. */
static char *tts_body(struct tn_req *r, struct prompt_upload *u, char voice[4])
{
	json_error_t jerr;
	json_t *o = json_loadb(u->buf ? u->buf : "", u->len, JSON_REJECT_DUPLICATES, &jerr), *v;
	const char *key;
	char *text = NULL;

	if (!o) {
		tn_error(r, 400, "invalid_json", NULL, "malformed JSON at line %d column %d: %s", jerr.line,
		         jerr.column, jerr.text);
		return NULL;
	}
	snprintf(voice, 4, "zh");
	if (!json_is_object(o)) {
		tn_error(r, 400, "invalid_json", NULL, "the body must be a JSON object");
		goto out;
	}
	json_object_foreach(o, key, v) {
		if (strcmp(key, "tts") != 0 && strcmp(key, "voice") != 0) {
			tn_error(r, 400, "invalid_argument", key, "unknown field '%s'", key);
			goto out;
		}
		if (!json_is_string(v)) {
			tn_error(r, 400, "invalid_argument", key, "'%s' must be a string", key);
			goto out;
		}
	}
	v = json_object_get(o, "voice");
	if (v && !cc_tts_voice_valid(json_string_value(v))) {
		tn_error(r, 422, "invalid_argument", "voice", "'voice' must be zh or en");
		goto out;
	}
	if (v)
		snprintf(voice, 4, "%s", json_string_value(v));
	v = json_object_get(o, "tts");
	if (!v) {
		tn_error(r, 400, "invalid_argument", "tts", "'tts' is required");
		goto out;
	}
	if (strlen(json_string_value(v)) != json_string_length(v)) {
		tn_error(r, 422, "invalid_argument", "tts", "'tts' holds a NUL character");
		goto out;
	}
	size_t n = tn_utf8_len(json_string_value(v));
	if (n < 1 || n > CC_TTS_MAX_CHARS) {
		tn_error(r, 422, "invalid_argument", "tts", "'tts' must be 1 to %d characters",
		         CC_TTS_MAX_CHARS);
		goto out;
	}
	text = strdup(json_string_value(v));
	CC_BUG_ON(!text);
out:
	json_decref(o);
	return text;
}

static void upload_end(struct tn_req *r)
{
	struct prompt_upload *u = r->upload;
	struct prompt_job *j;
	char voice[4] = "";
	char *text = NULL;

	if (u->format < 0 && !(text = tts_body(r, u, voice)))
		return;
	if (u->format >= 0 && u->len == 0)
		return tn_error(r, 415, "unsupported_media_type", NULL, "the body is empty: send the audio file");
	j = calloc(1, sizeof(*j));
	CC_BUG_ON(!j);
	if (tn_new_id(r, j->id) != CC_OK) {
		free(text);
		free(j);
		return;
	}
	j->pg_url = strdup(r->d->cfg.pg_url);
	snprintf(j->tenant, sizeof(j->tenant), "%s", r->tenant.id);
	snprintf(j->name, sizeof(j->name), "%s", r->params[1]);
	snprintf(j->content_type, sizeof(j->content_type), "%s", u->content_type);
	snprintf(j->voice, sizeof(j->voice), "%s", voice);
	j->format = u->format;
	if (text) {
		j->body = text;
	} else {
		j->body = u->buf;          /* the job takes the file */
		j->len = u->len;
		u->buf = NULL;
	}
	u->counted = false;            /* the job holds the slot until job_done */
	tn_offload(r, job_work, job_done, j);
}

/* --------------------------------------------------------------- reads */

static void list_prompts(struct tn_req *r)
{
	int limit;
	const char *after;
	char lim[16];
	PGresult *res;

	if (tn_page(r, &limit, &after) != CC_OK)
		return;
	snprintf(lim, sizeof(lim), "%d", limit);
	const char *p[3] = { r->tenant.id, after ? after : "", lim };
	res = cc_pg_exec(&r->d->pg, "SELECT " PROMPT_COLS " FROM cc.prompts WHERE tenant_id = $1 AND current "
	                 "AND name > $2 ORDER BY name LIMIT $3", 3, p);
	if (!res)
		return tn_db_error(r, "prompts");
	json_t *items = json_array();
	int n = PQntuples(res);
	for (int i = 0; i < n; i++)
		json_array_append_new(items, prompt_json(res, i));
	/* the platform's defaults, on the first page, after the tenant's own */
	if (!after)
		for (int k = 0; tn_default_prompts[k]; k++) {
			const char *dp[2] = { r->tenant.id, tn_default_prompts[k] };
			PGresult *o = cc_pg_exec(&r->d->pg, "SELECT 1 FROM cc.prompts WHERE tenant_id = $1 "
			                         "AND name = $2 AND current", 2, dp);
			if (!o) {
				json_decref(items);
				PQclear(res);
				return tn_db_error(r, "prompts");
			}
			json_array_append_new(items, default_json(r->d, tn_default_prompts[k], PQntuples(o) > 0));
			PQclear(o);
		}
	tn_reply(r, 200, tn_list(items, n == limit ? PQgetvalue(res, n - 1, 1) : NULL));
	PQclear(res);
}

static void get_prompt(struct tn_req *r)
{
	const char *p[2] = { r->tenant.id, r->params[1] };
	PGresult *res = cc_pg_exec(&r->d->pg, "SELECT " PROMPT_COLS " FROM cc.prompts "
	                           "WHERE tenant_id = $1 AND name = $2 AND current", 2, p);

	if (!res)
		return tn_db_error(r, "prompt");
	if (PQntuples(res) == 1) {
		tn_reply(r, 200, prompt_json(res, 0));
	} else if (tn_prompt_is_default(r->params[1])) {
		tn_reply(r, 200, default_json(r->d, r->params[1], false));
	} else {
		tn_error(r, 404, "not_found", NULL, "no such prompt");
	}
	PQclear(res);
}

/* GET .../audio: the PCM read and made a WAV on a worker. */
struct audio_job {
	char *pg_url, *file;         /* a tenant's row, or a default's file */
	char tenant[CC_UUID_LEN], name[64];
	int rate;
	void *wav;                   /* out */
	size_t len;
	int status;                  /* 200, 404, 503, 500 */
};

static void audio_work(void *arg)
{
	struct audio_job *j = arg;
	unsigned char *pcm = NULL;
	size_t n = 0;

	if (j->file) {
		FILE *f = fopen(j->file, "rb");
		struct stat st;

		if (!f || fstat(fileno(f), &st) != 0 || st.st_size <= 0 || !(pcm = malloc((size_t)st.st_size)) ||
		    fread(pcm, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
			j->status = 404;
			CC_WARN("default prompt %s: %s", j->file, strerror(errno));
		} else {
			n = (size_t)st.st_size;
		}
		if (f)
			fclose(f);
	} else {
		struct cc_pg pg;
		const char *p[2] = { j->tenant, j->name };
		const char *sql = j->rate == 16000 ?
			"SELECT pcm16 FROM cc.prompts WHERE tenant_id = $1 AND name = $2 AND current" :
			"SELECT pcm8 FROM cc.prompts WHERE tenant_id = $1 AND name = $2 AND current";

		cc_pg_init(&pg, j->pg_url);
		PGresult *res = cc_pg_exec_bin(&pg, sql, 2, p, NULL, NULL, 1);
		if (!res) {
			j->status = pg.error == CC_PG_UNAVAILABLE ? 503 : 500;
			CC_ERR("prompt %s audio: %s", j->name, pg.message ? pg.message : "?");
		} else if (PQntuples(res) != 1) {
			j->status = 404;
		} else {
			n = (size_t)PQgetlength(res, 0, 0);
			pcm = malloc(n ? n : 1);
			if (pcm)
				memcpy(pcm, PQgetvalue(res, 0, 0), n);
		}
		PQclear(res);
		cc_pg_close(&pg);
	}
	if (!j->status && pcm && (j->wav = cc_audio_wav((int16_t *)pcm, n / 2, j->rate, &j->len)))
		j->status = 200;
	else if (!j->status)
		j->status = 500;
	free(pcm);
}

static void audio_done(struct tn_req *r, void *arg)
{
	struct audio_job *j = arg;

	if (r && j->status == 200)
		tn_reply_bytes(r, 200, "audio/wav", j->wav, j->len);
	else if (r && j->status == 404)
		tn_error(r, 404, "not_found", NULL, "no such prompt");
	else if (r && j->status == 503)
		tn_error(r, 503, "unavailable", NULL, "the database is unavailable; retry later");
	else if (r)
		tn_error(r, 500, "internal", NULL, "internal error");
	free(j->pg_url);
	free(j->file);
	free(j->wav);
	free(j);
}

/* A download holds its slot until its request ends (the reply, a copy of
 * the WAV, lives until it is sent): the request's release hook, the only
 * end-of-request notice a route gets. A GET has no body to take. */
static void download_data(struct tn_req *r, const char *buf, size_t len) {}
static void download_end(struct tn_req *r) {}
static void download_release(struct tn_req *r)
{
	audio_jobs--;
}
static const struct tn_upload download_ops = { download_data, download_end, download_release };

static void get_audio(struct tn_req *r)
{
	const char *rate = tn_query(r, "rate");
	const char *p[2] = { r->tenant.id, r->params[1] };
	struct audio_job *j;
	PGresult *res;

	if (rate && strcmp(rate, "8000") != 0 && strcmp(rate, "16000") != 0)
		return tn_error(r, 400, "invalid_argument", "rate", "rate must be 8000 or 16000");
	/* which one, on the loop (a small query); the audio on a worker */
	res = cc_pg_exec(&r->d->pg, "SELECT 1 FROM cc.prompts WHERE tenant_id = $1 AND name = $2 AND current",
	                 2, p);
	if (!res)
		return tn_db_error(r, "prompt");
	bool own = PQntuples(res) == 1;
	PQclear(res);
	if (!own && !tn_prompt_is_default(r->params[1]))
		return tn_error(r, 404, "not_found", NULL, "no such prompt");
	if (audio_jobs >= TN_PROMPT_JOBS)
		return tn_error(r, 503, "unavailable", NULL,
		                "%d prompt downloads are running; retry when one has ended", TN_PROMPT_JOBS);
	audio_jobs++;
	r->upload_ops = &download_ops;
	j = calloc(1, sizeof(*j));
	CC_BUG_ON(!j);
	j->rate = rate && strcmp(rate, "16000") == 0 ? 16000 : 8000;
	snprintf(j->tenant, sizeof(j->tenant), "%s", r->tenant.id);
	snprintf(j->name, sizeof(j->name), "%s", r->params[1]);
	if (own)
		j->pg_url = strdup(r->d->cfg.pg_url);
	else
		j->file = default_path(r->d, r->params[1], j->rate);
	tn_offload(r, audio_work, audio_done, j);
}

/* -------------------------------------------------------------- delete */

static void delete_prompt(struct tn_req *r)
{
	const char *p[2] = { r->tenant.id, r->params[1] };
	PGresult *res;

	if (tn_begin(r) != CC_OK)
		return tn_db_error(r, "prompt");
	if (cc_pg_cmd(&r->d->pg, "SELECT pg_advisory_xact_lock(hashtextextended('cc.prompts:' || $1 || ':' || $2, 0))",
	              2, p) != CC_OK)
		return tn_rollback(r, "prompt");
	/* a flow whose current version plays it: refused, unless a default of
	 * the name takes over */
	if (!tn_prompt_is_default(r->params[1])) {
		res = cc_pg_exec(&r->d->pg, "SELECT string_agg(f.name, ', ' ORDER BY f.name) FROM cc.flows f "
		                 "JOIN cc.flow_versions v ON v.id = f.version_id "
		                 "WHERE f.tenant_id = $1 AND $2 = ANY (v.prompts)", 2, p);
		if (!res)
			return tn_rollback(r, "prompt");
		if (!PQgetisnull(res, 0, 0)) {
			tn_abort(r);
			tn_error(r, 409, "in_use", NULL, "prompt %s is played by flow %.200s; change the flow first",
			         r->params[1], PQgetvalue(res, 0, 0));
			PQclear(res);
			return;
		}
		PQclear(res);
	}
	res = cc_pg_exec(&r->d->pg, "DELETE FROM cc.prompts WHERE tenant_id = $1 AND name = $2 RETURNING current",
	                 2, p);
	if (!res)
		return tn_rollback(r, "prompt");
	int n = PQntuples(res);
	PQclear(res);
	if (n == 0) {
		tn_abort(r);
		return tn_error(r, 404, "not_found", NULL, tn_prompt_is_default(r->params[1]) ?
		                "the platform's default prompt cannot be deleted; upload one to replace it" :
		                "no such prompt");
	}
	if (tn_commit(r) != CC_OK)
		return tn_rollback(r, "prompt");
	tn_notify(r->d, r->tenant.id, "prompts", NULL);
	tn_no_content(r);
}

const struct tn_route tn_prompt_routes[] = {
	{ "GET", "/v1/tenants/{slug}/prompts", TN_TENANT, NULL, list_prompts, false, false },
	{ "PUT", "/v1/tenants/{slug}/prompts/{name}", TN_TENANT, NULL, put_prompt, false, false },
	{ "GET", "/v1/tenants/{slug}/prompts/{name}", TN_TENANT, NULL, get_prompt, false, false },
	{ "DELETE", "/v1/tenants/{slug}/prompts/{name}", TN_TENANT, NULL, delete_prompt, false, false },
	{ "GET", "/v1/tenants/{slug}/prompts/{name}/audio", TN_TENANT, NULL, get_audio, false, false },
	{ NULL },
};

void (*const tn_media_handlers[])(struct tn_req *r) = { put_prompt, NULL };
