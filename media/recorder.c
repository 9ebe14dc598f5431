/*
 * recorder.c: see recorder.h. The loop thread only copies frames into a
 * recording's rings; the writer thread does everything that blocks or
 * allocates (keys, rows, Opus, Ogg, the encrypted file).
 */
#include <errno.h>
#include <opus/opus_multistream.h>
#include <ogg/ogg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cc.h"
#include "clock.h"
#include "id.h"
#include "log.h"
#include "mixer.h"
#include "pg.h"
#include "reccrypt.h"
#include "recorder.h"
#include "recstore.h"

#define RING          256            /* frames of one channel: 5.12 s */
#define SECOND        50             /* frames per chunk (one fsync per second) */
#define MAX_PAUSES    64
#define BITRATE       24000
/* Opus's effort per frame, 0..10. At 10 (libopus's default) the one writer
 * thread encoded about 54 calls per core (ops/bench/recording.sh, docs/
 * BENCHMARKS.md); speech at 12 kbit/s a channel loses little below it */
#define COMPLEXITY    5
#define OPUS_MAX      1500           /* bytes of one encoded 20 ms packet */
#define SKEW          5              /* frames a channel may run ahead unpadded */
#define META_MAX      128
#define TICKS         8              /* > SKEW + 1: the ticks one channel may lead by */

struct ring {                        /* one producer (the loop), one consumer (the writer) */
	_Atomic uint32_t head, tail;
	int16_t f[RING][MD_FRAME_MAX];
};

struct pause { int64_t from_ms, to_ms; };

struct md_rec {                      /* calloc'd; the writer frees it */
	struct md_rec *next;             /* in W.list (under W.lock) */
	char id[CC_UUID_LEN];
	uint32_t rate;
	size_t frame;                    /* samples per channel per 20 ms */
	int64_t start_us;                /* wall clock */
	char tenant[CC_UUID_LEN], call[CC_UUID_LEN];
	char queue[META_MAX], agent[META_MAX], caller[META_MAX], callee[META_MAX], dir[16];
	/* the loop's */
	struct md_member tap[2];
	bool paused;
	uint64_t put[2];                 /* frames put per channel (dropped or not) */
	uint64_t acc[2];                 /* of those, in the ring: to be encoded */
	bool keep[TICKS];                /* tick % TICKS: its frames kept (both) or dropped (both) */
	/* shared */
	struct ring ring[2];
	atomic_bool stopped;             /* md_rec_stop ran: the writer owns it */
	atomic_bool aborted;             /* md_rec_abort: ends 'failed' with abort_why */
	char abort_why[128];             /* written before stopped */
	atomic_bool failed;
	_Atomic uint64_t dropped;        /* frames a full ring refused: 'incomplete' */
	pthread_mutex_t plock;           /* pauses: written on the loop, read at the end */
	struct pause pauses[MAX_PAUSES];
	size_t n_pauses;
	/* the writer's */
	bool opened, rowed;
	struct cc_rec_writer *w;
	OpusMSEncoder *enc;              /* two mono streams: no crosstalk (coupled stereo leaks) */
	ogg_stream_state os;
	bool os_init;
	int64_t granule, packetno;
	uint64_t frames;                 /* frames encoded */
	unsigned char *buf;              /* the chunk being made */
	size_t len, cap;
};

static struct {
	pthread_t thread;
	bool running;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct md_rec *list;
	bool quit;
	char *pg_url, *instance;
	struct cc_pg pg;
	struct cc_kms *kms;
	struct cc_store *store;
	_Atomic uint64_t total, failed, active, dropped;
} W = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

/* ------------------------------------------------------------ the loop's */

static void on_tap(struct md_member *m, const int16_t *pcm, size_t n, void *arg)
{
	struct md_rec *r = arg;

	md_rec_put(r, m == &r->tap[MD_REC_LEFT] ? MD_REC_LEFT : MD_REC_RIGHT, pcm, n);
}

static uint32_t ring_space(struct ring *g)
{
	uint32_t h = atomic_load_explicit(&g->head, memory_order_relaxed);

	return RING - (h - atomic_load_explicit(&g->tail, memory_order_acquire));
}

static void dropped(struct md_rec *r)
{
	atomic_fetch_add_explicit(&W.dropped, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&r->dropped, 1, memory_order_relaxed);
}

/* false: the ring is full, the frame dropped (counted: the recording
 * cannot end 'complete' with a hole in it) */
static bool ring_put(struct md_rec *r, struct ring *g, const int16_t *pcm, size_t n)
{
	uint32_t h = atomic_load_explicit(&g->head, memory_order_relaxed);
	uint32_t t = atomic_load_explicit(&g->tail, memory_order_acquire);
	int16_t *f;

	if (h - t >= RING) {
		dropped(r);
		return false;
	}
	f = g->f[h % RING];
	if (n > r->frame)
		n = r->frame;
	if (pcm && n)
		memcpy(f, pcm, n * sizeof(*f));
	else
		n = 0;
	memset(f + n, 0, (r->frame - n) * sizeof(*f));
	atomic_store_explicit(&g->head, h + 1, memory_order_release);
	return true;
}

/* One channel's frame of the next tick. The channel that puts a tick
 * first decides for both: kept when its ring has room and the other's has
 * room for every frame it still owes up to this tick (the writer only
 * frees room), else dropped; the other follows. A tick is in both
 * channels or in neither, so a drop never moves one side against the other. */
static void put1(struct md_rec *r, enum md_rec_chan ch, const int16_t *pcm, size_t n)
{
	enum md_rec_chan other = ch == MD_REC_LEFT ? MD_REC_RIGHT : MD_REC_LEFT;
	uint64_t k = r->put[ch];
	bool keep;

	if (k >= r->put[other]) {
		keep = ring_space(&r->ring[ch]) >= 1 &&
		       ring_space(&r->ring[other]) >= k - r->put[other] + 1;
		r->keep[k % TICKS] = keep;
	} else {
		keep = r->keep[k % TICKS];
	}
	if (keep)
		r->acc[ch] += ring_put(r, &r->ring[ch], pcm, n);
	else
		dropped(r);
	r->put[ch]++;
}

void md_rec_put(struct md_rec *r, enum md_rec_chan ch, const int16_t *pcm, size_t n)
{
	enum md_rec_chan other = ch == MD_REC_LEFT ? MD_REC_RIGHT : MD_REC_LEFT;

	if (!r || atomic_load_explicit(&r->failed, memory_order_relaxed))
		return;
	/* a channel whose source went quiet is padded, so that both stay in time */
	while (r->put[ch] > r->put[other] + SKEW)
		put1(r, other, NULL, 0);
	put1(r, ch, r->paused ? NULL : pcm, n);
}

int md_rec_alloc(struct md_rec **recp, uint32_t rate, const struct md_rec_meta *m)
{
	struct md_rec *r;
	int err;

	if (!recp || !m || !m->tenant || !m->call)
		return EINVAL;
	if (!W.running)
		return ENOTCONN;
	if (!(r = calloc(1, sizeof(*r))))
		return ENOMEM;
	*recp = NULL;
	if ((err = cc_uuid(r->id)) != 0) {
		free(r);
		return err;
	}
	r->rate = rate;
	r->frame = rate / 50;
	r->start_us = cc_now_us();
	snprintf(r->tenant, sizeof(r->tenant), "%s", m->tenant);
	snprintf(r->call, sizeof(r->call), "%s", m->call);
	snprintf(r->queue, sizeof(r->queue), "%s", m->queue ? m->queue : "");
	snprintf(r->agent, sizeof(r->agent), "%s", m->agent ? m->agent : "");
	snprintf(r->caller, sizeof(r->caller), "%s", m->caller ? m->caller : "");
	snprintf(r->callee, sizeof(r->callee), "%s", m->callee ? m->callee : "");
	snprintf(r->dir, sizeof(r->dir), "%s", m->direction ? m->direction : "inbound");
	pthread_mutex_init(&r->plock, NULL);
	for (int i = 0; i < 2; i++) {
		r->tap[i].rate = rate;
		r->tap[i].push = on_tap;
		r->tap[i].arg = r;
	}
	atomic_fetch_add(&W.total, 1);
	atomic_fetch_add(&W.active, 1);
	if (rate != 8000 && rate != 16000) {
		/* the policy asked for it: its row says why there is none */
		r->frame = 0;
		snprintf(r->abort_why, sizeof(r->abort_why), "unsupported rate %u Hz", (unsigned)rate);
		atomic_store(&r->aborted, true);
		atomic_store(&r->stopped, true);
	}
	pthread_mutex_lock(&W.lock);
	r->next = W.list;
	W.list = r;
	pthread_cond_signal(&W.cond);
	pthread_mutex_unlock(&W.lock);
	if (atomic_load(&r->aborted))
		return ENOTSUP;              /* the writer's from here on */
	*recp = r;
	return 0;
}

int md_rec_tap(struct md_rec *r, struct md_mix *mix, uint32_t left, uint32_t right)
{
	int err;

	if ((err = md_mix_join(mix, &r->tap[MD_REC_LEFT])) != 0)
		return err;
	if ((err = md_mix_join(mix, &r->tap[MD_REC_RIGHT])) != 0) {
		md_mix_leave(&r->tap[MD_REC_LEFT]);
		return err;
	}
	md_member_hear(&r->tap[MD_REC_LEFT], left);
	md_member_hear(&r->tap[MD_REC_RIGHT], right);
	return 0;
}

void md_rec_hear(struct md_rec *r, enum md_rec_chan ch, uint32_t mask)
{
	if (r && r->tap[ch].mix)
		md_member_hear(&r->tap[ch], mask);
}

/* Where the file is now: the frames that will be encoded (a dropped one
 * is not in the file, so it does not move the pauses' offsets). */
static int64_t rec_ms(const struct md_rec *r)
{
	return (int64_t)r->acc[MD_REC_LEFT] * MD_PTIME_MS;
}

int md_rec_pause(struct md_rec *r, bool on)
{
	if (r->paused == on)
		return EALREADY;
	pthread_mutex_lock(&r->plock);
	if (on && r->n_pauses < MAX_PAUSES) {
		r->pauses[r->n_pauses].from_ms = rec_ms(r);
		r->pauses[r->n_pauses++].to_ms = -1;
	} else if (!on && r->n_pauses && r->pauses[r->n_pauses - 1].to_ms < 0) {
		r->pauses[r->n_pauses - 1].to_ms = rec_ms(r);
	}
	pthread_mutex_unlock(&r->plock);
	r->paused = on;
	return 0;
}

void md_rec_abort(struct md_rec *r, const char *why)
{
	if (!r)
		return;
	snprintf(r->abort_why, sizeof(r->abort_why), "%s", why ? why : "aborted");
	atomic_store(&r->aborted, true);
	md_rec_stop(r);
}

void md_rec_stop(struct md_rec *r)
{
	if (!r)
		return;
	for (int i = 0; i < 2; i++)
		if (r->tap[i].mix)
			md_mix_leave(&r->tap[i]);
	if (r->paused)
		(void)md_rec_pause(r, false);
	pthread_mutex_lock(&W.lock);
	atomic_store(&r->stopped, true);
	pthread_cond_signal(&W.cond);
	pthread_mutex_unlock(&W.lock);
}

const char *md_rec_id(const struct md_rec *r)
{
	return r->id;
}

const char *md_rec_state(const struct md_rec *r)
{
	if (atomic_load(&r->failed))
		return "failed";
	return r->paused ? "paused" : "recording";
}

void md_rec_stats(struct md_rec_stats *s)
{
	s->total = atomic_load(&W.total);
	s->failed = atomic_load(&W.failed);
	s->active = atomic_load(&W.active);
	s->dropped = atomic_load(&W.dropped);
}

/* ---------------------------------------------------------- the writer's */

static int buf_add(struct md_rec *r, const void *p, size_t n)
{
	if (r->len + n > r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16384;
		unsigned char *b;

		while (cap < r->len + n)
			cap *= 2;
		if (!(b = realloc(r->buf, cap)))
			return ENOMEM;
		r->buf = b;
		r->cap = cap;
	}
	memcpy(r->buf + r->len, p, n);
	r->len += n;
	return 0;
}

/* Every page the stream has, flushed into the chunk buffer. */
static int pages(struct md_rec *r)
{
	ogg_page og;
	int err = 0;

	while (!err && ogg_stream_flush(&r->os, &og))
		if (!(err = buf_add(r, og.header, (size_t)og.header_len)))
			err = buf_add(r, og.body, (size_t)og.body_len);
	return err;
}

static int packet(struct md_rec *r, unsigned char *data, long n, bool bos, bool eos)
{
	ogg_packet op = {
		.packet = data, .bytes = n, .b_o_s = bos, .e_o_s = eos,
		.granulepos = r->granule, .packetno = r->packetno++,
	};

	return ogg_stream_packetin(&r->os, &op) ? EIO : 0;
}

static void le16(unsigned char *p, unsigned v) { p[0] = v & 0xff; p[1] = (v >> 8) & 0xff; }
static void le32(unsigned char *p, uint32_t v) { le16(p, v & 0xffff); le16(p + 2, v >> 16); }

static int tag(unsigned char *b, size_t *len, size_t cap, const char *k, const char *v)
{
	size_t n = strlen(k) + 1 + strlen(v);

	if (*len + 4 + n > cap)
		return ENOSPC;
	le32(b + *len, (uint32_t)n);
	snprintf((char *)b + *len + 4, cap - *len - 4, "%s=%s", k, v);
	*len += 4 + n;
	return 0;
}

/* OpusHead and OpusTags (RFC 7845), each on its own page. */
static int headers(struct md_rec *r)
{
	unsigned char head[23], tags[1024];
	const char *vendor = "cc mediad (libopus)";
	char start[32];
	time_t t = (time_t)(r->start_us / 1000000);
	struct tm tm;
	size_t len = 0;
	opus_int32 skip = 0;
	int err;

	opus_multistream_encoder_ctl(r->enc, OPUS_GET_LOOKAHEAD(&skip));
	memcpy(head, "OpusHead", 8);
	head[8] = 1;
	head[9] = 2;
	le16(head + 10, (unsigned)skip * (48000 / r->rate));
	le32(head + 12, r->rate);
	le16(head + 16, 0);
	/* mapping family 1 (RFC 7845 5.1.1.2): two streams, none coupled,
	 * channel 0 (left) stream 0, channel 1 (right) stream 1 */
	head[18] = 1;
	head[19] = 2;
	head[20] = 0;
	head[21] = 0;
	head[22] = 1;
	if ((err = packet(r, head, sizeof(head), true, false)) || (err = pages(r)))
		return err;
	gmtime_r(&t, &tm);
	strftime(start, sizeof(start), "%Y-%m-%dT%H:%M:%SZ", &tm);
	memcpy(tags, "OpusTags", 8);
	le32(tags + 8, (uint32_t)strlen(vendor));
	memcpy(tags + 12, vendor, strlen(vendor));
	len = 12 + strlen(vendor) + 4;
	le32(tags + len - 4, 7);
	if ((err = tag(tags, &len, sizeof(tags), "CC_CALL", r->call)) ||
	    (err = tag(tags, &len, sizeof(tags), "CC_TENANT", r->tenant)) ||
	    (err = tag(tags, &len, sizeof(tags), "CC_QUEUE", r->queue)) ||
	    (err = tag(tags, &len, sizeof(tags), "CC_AGENT", r->agent)) ||
	    (err = tag(tags, &len, sizeof(tags), "CALLER", r->caller)) ||
	    (err = tag(tags, &len, sizeof(tags), "CALLEE", r->callee)) ||
	    (err = tag(tags, &len, sizeof(tags), "START", start)))
		return err;
	if ((err = packet(r, tags, (long)len, false, false)) || (err = pages(r)))
		return err;
	return 0;
}

static const char *pgerr(void)
{
	return W.pg.message ? W.pg.message : "database";
}

/* An UPDATE of a row this writer still owns (AND state = 'recording' ...
 * RETURNING id): 1, or 0 when it is no longer ours (closed meanwhile, as
 * by recovery: never overwritten), or -1 on a database error. */
static int row_update(const char *sql, int n, const char *const *p)
{
	PGresult *res = cc_pg_exec(&W.pg, sql, n, p);
	int k;

	if (!res)
		return -1;
	k = PQntuples(res);
	PQclear(res);
	return k;
}

/* The row says failed (made so when there is none yet: a key that is
 * destroyed still leaves a trace of the call that was not recorded). */
static void fail(struct md_rec *r, const char *why)
{
	char ms[32];
	const char *p[3] = { r->id, why, ms };

	if (atomic_load(&r->failed))
		return;
	cc_log(CC_LOG_ERR, 0, r->tenant, r->call, "recording %s failed: %s", r->id, why);
	atomic_store(&r->failed, true);
	atomic_fetch_add(&W.failed, 1);
	if (r->w) {
		cc_rec_writer_abort(r->w);
		r->w = NULL;
	}
	snprintf(ms, sizeof(ms), "%lld", (long long)(r->frames * MD_PTIME_MS));
	if (r->rowed) {
		int k = row_update("UPDATE cc.recordings SET state = 'failed', error = $2, ended_at = now(), "
		                   "duration_ms = $3::bigint, updated_at = now() WHERE id = $1::uuid "
		                   "AND state = 'recording' RETURNING id", 3, p);

		if (k < 0)
			CC_WARN("recording %s: cannot mark it failed: %s", r->id, pgerr());
		else if (!k)
			CC_WARN("recording %s: its row was closed meanwhile: left as it is", r->id);
		return;
	}
	char start[32];

	/* started when the call asked for it, not when the writer got to it */
	snprintf(start, sizeof(start), "%.6f", (double)r->start_us / 1e6);
	const char *q[9] = { r->id, why, r->tenant, r->call, r->dir, r->caller, r->callee, W.instance, start };
	if (cc_pg_cmd(&W.pg, "INSERT INTO cc.recordings (id, tenant_id, call_id, state, started_at, ended_at, "
	              "direction, caller, callee, path, kek_version, wrapped_key, error, instance) VALUES "
	              "($1::uuid, $3::uuid, $4::uuid, 'failed', to_timestamp($9::float8), now(), $5, "
	              "NULLIF($6, ''), NULLIF($7, ''), '', 0, '\\x'::bytea, $2, $8)", 9, q) != CC_OK)
		CC_WARN("recording %s: cannot write its failed row: %s", r->id, pgerr());
	r->rowed = true;
}

/* The key version the row names is still live, else the row's data key is
 * wrapped again under the current one (a rotation between our read of the
 * key and our INSERT destroyed it: docs/RECORDING.md "Keys"). */
static int key_live(struct md_rec *r, const uint8_t dk[CC_KEY_LEN], int version)
{
	uint8_t kek[CC_KEY_LEN], wrapped[CC_WRAPPED_LEN];
	char v[16], aad[96], hex[2 * CC_WRAPPED_LEN + 1];
	const char *p[3] = { r->tenant, v, hex };
	PGresult *res;
	int live, err;

	snprintf(v, sizeof(v), "%d", version);
	res = cc_pg_exec(&W.pg, "SELECT 1 FROM cc.tenant_keys WHERE tenant_id = $1::uuid AND version = $2::int "
	                 "AND wrapped IS NOT NULL AND retired_at IS NULL", 2, p);
	if (!res)
		return CC_REC_IO;
	live = PQntuples(res);
	PQclear(res);
	if (live)
		return 0;
	if ((err = cc_tenant_kek(&W.pg, W.kms, r->tenant, &version, kek)) != 0)
		return err;
	cc_dk_aad(aad, sizeof(aad), r->id);
	err = cc_key_wrap(kek, dk, aad, wrapped);
	cc_key_wipe(kek, sizeof(kek));
	if (err)
		return err;
	cc_hex(wrapped, CC_WRAPPED_LEN, hex);
	snprintf(v, sizeof(v), "%d", version);
	p[0] = r->id;
	if (row_update("UPDATE cc.recordings SET kek_version = $2::int, wrapped_key = decode($3, 'hex'), "
	               "updated_at = now() WHERE id = $1::uuid AND state = 'recording' RETURNING id", 3, p) != 1)
		return CC_REC_IO;
	CC_INFO("recording %s: its key version was retired meanwhile: wrapped under version %d", r->id,
	        version);
	return 0;
}

/* An error's words; a store error says its errno too (ENOSPC: a full disk). */
static const char *rec_err(int err)
{
	static __thread char buf[96];

	if (err == CC_REC_IO) {
		snprintf(buf, sizeof(buf), "%s (%s)", cc_rec_strerror(err), strerror(errno));
		return buf;
	}
	return err < 0 ? cc_rec_strerror(err) : strerror(err);
}

/* The keys, the row, the file and its first chunk (the Ogg headers). */
static void rec_open(struct md_rec *r)
{
	uint8_t kek[CC_KEY_LEN], dk[CC_KEY_LEN], wrapped[CC_WRAPPED_LEN];
	char key[128], day[16], aad[96], hex[2 * CC_WRAPPED_LEN + 1], ver[16], start[32], why[160];
	time_t t = (time_t)(r->start_us / 1000000);
	struct tm tm;
	int version, err;

	r->opened = true;
	gmtime_r(&t, &tm);
	strftime(day, sizeof(day), "%Y/%m/%d", &tm);
	snprintf(start, sizeof(start), "%.6f", (double)r->start_us / 1e6);
	if ((err = cc_tenant_kek(&W.pg, W.kms, r->tenant, &version, kek)) != 0) {
		snprintf(why, sizeof(why), "tenant key: %s", rec_err(err));
		fail(r, why);
		return;
	}
	cc_dk_aad(aad, sizeof(aad), r->id);
	err = cc_key_random(dk);
	if (!err)
		err = cc_key_wrap(kek, dk, aad, wrapped);
	cc_key_wipe(kek, sizeof(kek));
	if (err) {
		cc_key_wipe(dk, sizeof(dk));     /* random already, when the wrap failed */
		fail(r, "data key");
		return;
	}
	cc_hex(wrapped, CC_WRAPPED_LEN, hex);
	snprintf(ver, sizeof(ver), "%d", version);
	cc_store_rec_key(key, sizeof(key), r->tenant, day, r->id);
	const char *p[13] = { r->id, r->tenant, r->call, start, r->dir, r->caller, r->callee, r->queue,
	                      r->agent, key, ver, hex, W.instance };
	if (cc_pg_cmd(&W.pg, "INSERT INTO cc.recordings (id, tenant_id, call_id, state, started_at, direction, "
	              "caller, callee, queue, agent, path, kek_version, wrapped_key, instance) VALUES "
	              "($1::uuid, $2::uuid, $3::uuid, 'recording', to_timestamp($4::float8), $5, "
	              "NULLIF($6, ''), NULLIF($7, ''), NULLIF($8, ''), NULLIF($9, ''), $10, $11::int, "
	              "decode($12, 'hex'), $13)", 13, p) != CC_OK) {
		snprintf(why, sizeof(why), "row: %s", pgerr());
		cc_key_wipe(dk, sizeof(dk));
		fail(r, why);
		return;
	}
	r->rowed = true;
	if ((err = key_live(r, dk, version)) != 0) {
		snprintf(why, sizeof(why), "tenant key: %s", rec_err(err));
		cc_key_wipe(dk, sizeof(dk));
		fail(r, why);
		return;
	}
	err = cc_rec_writer_open(W.store, key, r->id, dk, &r->w);
	cc_key_wipe(dk, sizeof(dk));
	if (err) {
		snprintf(why, sizeof(why), "store: %s", rec_err(err));
		fail(r, why);
		return;
	}
	static const unsigned char map[2] = { 0, 1 };
	r->enc = opus_multistream_encoder_create((opus_int32)r->rate, 2, 2, 0, map,
	                                         OPUS_APPLICATION_VOIP, &err);
	if (!r->enc || err != OPUS_OK) {
		fail(r, "opus encoder");
		return;
	}
	opus_multistream_encoder_ctl(r->enc, OPUS_SET_BITRATE(BITRATE));
	opus_multistream_encoder_ctl(r->enc, OPUS_SET_COMPLEXITY(COMPLEXITY));
	ogg_stream_init(&r->os, (int)(r->start_us & 0x7fffffff));
	r->os_init = true;
	if ((err = headers(r)) != 0) {
		fail(r, "ogg headers");
		return;
	}
	CC_INFO("recording %s of call %s: %s", r->id, r->call, key);
}

/* The chunk buffer as one encrypted chunk, fsynced. */
static void chunk(struct md_rec *r)
{
	char why[160];
	int err;

	if (!r->len || atomic_load(&r->failed))
		return;
	if ((err = cc_rec_writer_chunk(r->w, r->buf, r->len)) == 0)
		err = cc_rec_writer_sync(r->w);
	r->len = 0;
	if (err) {
		snprintf(why, sizeof(why), "store: %s", rec_err(err));
		fail(r, why);
	}
}

static int encode(struct md_rec *r, const int16_t *left, const int16_t *right, bool eos)
{
	int16_t pcm[2 * MD_FRAME_MAX];
	unsigned char out[OPUS_MAX];
	opus_int32 n;

	for (size_t i = 0; i < r->frame; i++) {
		pcm[2 * i] = left ? left[i] : 0;
		pcm[2 * i + 1] = right ? right[i] : 0;
	}
	n = opus_multistream_encode(r->enc, pcm, (int)r->frame, out, sizeof(out));
	if (n < 0)
		return EIO;
	r->granule += 960;               /* 20 ms at 48 kHz, Ogg Opus's clock */
	r->frames++;
	return packet(r, out, n, false, eos);
}

static bool ring_peek(struct ring *g, const int16_t **f)
{
	uint32_t t = atomic_load_explicit(&g->tail, memory_order_relaxed);

	if (atomic_load_explicit(&g->head, memory_order_acquire) == t)
		return false;
	*f = g->f[t % RING];
	return true;
}

static void ring_pop(struct ring *g)
{
	atomic_fetch_add_explicit(&g->tail, 1, memory_order_release);
}

/* What the rings hold, encoded; a chunk each second. all: a channel
 * alone is taken too (the end). */
static void drain(struct md_rec *r, bool all)
{
	const int16_t *f[2];
	bool has[2];

	for (;;) {
		has[0] = ring_peek(&r->ring[0], &f[0]);
		has[1] = ring_peek(&r->ring[1], &f[1]);
		if ((!has[0] && !has[1]) || ((!has[0] || !has[1]) && !all))
			return;
		if (!atomic_load(&r->failed) && r->enc) {
			if (encode(r, has[0] ? f[0] : NULL, has[1] ? f[1] : NULL, false) != 0)
				fail(r, "opus");
			else if (r->frames % SECOND == 0 && pages(r) != 0)
				fail(r, "ogg");
			else if (r->frames % SECOND == 0)
				chunk(r);            /* a second of audio: encrypted, fsynced */
		}
		for (int i = 0; i < 2; i++)
			if (has[i])
				ring_pop(&r->ring[i]);
	}
}

static void pauses_json(struct md_rec *r, char *out, size_t n)
{
	size_t len = 0;

	len += (size_t)snprintf(out, n, "[");
	pthread_mutex_lock(&r->plock);
	for (size_t i = 0; i < r->n_pauses && len + 64 < n; i++) {
		int64_t to = r->pauses[i].to_ms < 0 ? (int64_t)r->frames * MD_PTIME_MS : r->pauses[i].to_ms;

		len += (size_t)snprintf(out + len, n - len, "%s{\"from_ms\":%lld,\"to_ms\":%lld}", i ? "," : "",
		                        (long long)r->pauses[i].from_ms, (long long)to);
	}
	pthread_mutex_unlock(&r->plock);
	snprintf(out + len, n - len, "]");
}

/* The last frames, the end of the stream, the final chunk; the row
 * 'complete' (only now: fsynced and committed), or 'incomplete' when a
 * full ring dropped frames (the file has holes: it says how many). */
static void finish(struct md_rec *r)
{
	char bytes[32], audio[32], ms[32], sha[65], why[160], pz[MAX_PAUSES * 48 + 8], lost[64];
	uint64_t b, a, d;
	int err;

	drain(r, true);
	if (atomic_load(&r->failed) || !r->w)
		return;
	if (encode(r, NULL, NULL, true) != 0 || pages(r) != 0) {
		fail(r, "opus");
		return;
	}
	err = cc_rec_writer_finish(r->w, r->buf, r->len, &b, &a, sha);
	r->w = NULL;
	r->len = 0;
	if (err) {
		snprintf(why, sizeof(why), "store: %s", rec_err(err));
		fail(r, why);
		return;
	}
	snprintf(bytes, sizeof(bytes), "%llu", (unsigned long long)b);
	snprintf(audio, sizeof(audio), "%llu", (unsigned long long)a);
	snprintf(ms, sizeof(ms), "%llu", (unsigned long long)(r->frames * MD_PTIME_MS));
	pauses_json(r, pz, sizeof(pz));
	/* the stop came after the loop's last put: dropped is final */
	d = atomic_load(&r->dropped);
	snprintf(lost, sizeof(lost), "frames dropped: %llu", (unsigned long long)d);
	const char *p[8] = { r->id, bytes, audio, sha, ms, pz, d ? "incomplete" : "complete", d ? lost : "" };
	switch (row_update("UPDATE cc.recordings SET state = $7, error = NULLIF($8, ''), ended_at = now(), "
	                   "bytes = $2::bigint, audio_bytes = $3::bigint, sha256 = $4, duration_ms = $5::bigint, "
	                   "pauses = $6::jsonb, updated_at = now() WHERE id = $1::uuid AND state = 'recording' "
	                   "RETURNING id", 8, p)) {
	case 1:
		break;
	case 0:                              /* closed meanwhile (recovery): its state stands */
		CC_WARN("recording %s: its row was closed meanwhile: left as it is", r->id);
		return;
	default:
		snprintf(why, sizeof(why), "row: %s", pgerr());
		fail(r, why);
		return;
	}
	if (d)
		cc_log(CC_LOG_WARN, 0, r->tenant, r->call, "recording %s incomplete: %s", r->id, lost);
	CC_INFO("recording %s %s: %s ms, %s bytes", r->id, d ? "incomplete" : "complete", ms, bytes);
}

static void rec_free(struct md_rec *r)
{
	if (r->w)
		cc_rec_writer_abort(r->w);
	if (r->enc)
		opus_multistream_encoder_destroy(r->enc);
	if (r->os_init)
		ogg_stream_clear(&r->os);
	pthread_mutex_destroy(&r->plock);
	free(r->buf);
	free(r);
	atomic_fetch_sub(&W.active, 1);
}

/* One pass over one recording; true when it is done (to be freed). */
static bool service(struct md_rec *r, bool quit)
{
	bool stopped = atomic_load(&r->stopped) || quit;

	if (stopped && atomic_load(&r->aborted)) {
		fail(r, r->abort_why);       /* its row, or a new one, 'failed' */
		return true;
	}
	if (!r->opened)
		rec_open(r);
	if (stopped) {
		finish(r);
		return true;
	}
	drain(r, false);
	return false;
}

/* Rows of this instance left 'recording' by a crash: their files closed
 * (what verifies is kept, a final chunk marked incomplete), 'incomplete'. */
static void recover(void)
{
	const char *p[1] = { W.instance };
	PGresult *res = cc_pg_exec(&W.pg, "SELECT id::text, tenant_id::text, path, kek_version, "
	                           "encode(wrapped_key, 'hex') FROM cc.recordings WHERE state = 'recording' "
	                           "AND instance = $1", 1, p);

	if (!res) {
		CC_WARN("recordings left by a crash: cannot read them: %s", pgerr());
		return;
	}
	for (int i = 0; i < PQntuples(res); i++) {
		const char *id = PQgetvalue(res, i, 0), *tenant = PQgetvalue(res, i, 1);
		const char *path = PQgetvalue(res, i, 2), *hex = PQgetvalue(res, i, 4);
		uint8_t kek[CC_KEY_LEN], dk[CC_KEY_LEN], wrapped[CC_WRAPPED_LEN];
		char aad[96], sha[65], bytes[32], audio[32], why[160];
		uint64_t b = 0, a = 0;
		int err = CC_REC_NOKEY;

		if (strlen(hex) == 2 * CC_WRAPPED_LEN) {
			for (size_t k = 0; k < CC_WRAPPED_LEN; k++)
				sscanf(hex + 2 * k, "%2hhx", &wrapped[k]);
			err = cc_tenant_kek_version(&W.pg, W.kms, tenant, atoi(PQgetvalue(res, i, 3)), kek);
			cc_dk_aad(aad, sizeof(aad), id);
			if (!err)
				err = cc_key_unwrap(kek, wrapped, aad, dk);
			cc_key_wipe(kek, sizeof(kek));
		}
		if (!err)
			err = cc_rec_recover(W.store, path, id, dk, &b, &a, sha);
		cc_key_wipe(dk, sizeof(dk));
		snprintf(bytes, sizeof(bytes), "%llu", (unsigned long long)b);
		snprintf(audio, sizeof(audio), "%llu", (unsigned long long)a);
		snprintf(why, sizeof(why), "mediad stopped mid-call; recovery: %s", rec_err(err));
		const char *q[5] = { id, bytes, audio, sha, why };
		if (!err)
			err = cc_pg_cmd(&W.pg, "UPDATE cc.recordings SET state = 'incomplete', ended_at = now(), "
			                "bytes = $2::bigint, audio_bytes = $3::bigint, sha256 = $4, "
			                "error = 'mediad stopped mid-call', updated_at = now() WHERE id = $1::uuid "
			                "AND state = 'recording'",
			                4, q);
		else
			err = cc_pg_cmd(&W.pg, "UPDATE cc.recordings SET state = 'failed', ended_at = now(), "
			                "error = $2, updated_at = now() WHERE id = $1::uuid AND state = 'recording'", 2,
			                (const char *[2]){ id, why });
		CC_INFO("recording %s left by a crash: %s", id, err == CC_OK ? "closed" : pgerr());
	}
	PQclear(res);
}

static void *writer(void *arg)
{
	(void)arg;
	cc_pg_init(&W.pg, W.pg_url);
	recover();
	pthread_mutex_lock(&W.lock);
	for (;;) {
		struct md_rec *r = W.list, *next, **pp;
		bool quit = W.quit;
		struct timespec ts;

		if (quit && !W.list)
			break;
		/* new recordings come at the head (W.list, under the lock): the
		 * links after it change only here */
		pthread_mutex_unlock(&W.lock);
		for (; r; r = next) {
			next = r->next;
			if (!service(r, quit))
				continue;
			pthread_mutex_lock(&W.lock);
			for (pp = &W.list; *pp != r; pp = &(*pp)->next)
				;
			*pp = r->next;
			pthread_mutex_unlock(&W.lock);
			rec_free(r);
		}
		pthread_mutex_lock(&W.lock);
		if (W.quit && !W.list)
			break;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&W.cond, &W.lock, &ts);
	}
	pthread_mutex_unlock(&W.lock);
	cc_pg_close(&W.pg);
	return NULL;
}

int md_recorder_init(const char *pg_url, const char *store_dir, const char *secrets_dir,
                     const char *instance)
{
	int err;

	if (W.running)
		return EALREADY;
	if ((err = cc_kms_local_open(secrets_dir, &W.kms)) != 0)
		return err;
	if ((err = cc_store_dir_open(store_dir, &W.store)) != 0) {
		W.kms->close(W.kms);
		return err;
	}
	W.pg_url = strdup(pg_url ? pg_url : "");
	W.instance = strdup(instance);
	if (!W.pg_url || !W.instance) {
		err = ENOMEM;
		goto out;
	}
	W.quit = false;
	if ((err = pthread_create(&W.thread, NULL, writer, NULL)) != 0)
		goto out;
	W.running = true;
	return 0;
out:
	free(W.pg_url);
	free(W.instance);
	cc_store_close(W.store);
	W.kms->close(W.kms);
	return err;
}

void md_recorder_close(void)
{
	if (!W.running)
		return;
	pthread_mutex_lock(&W.lock);
	W.quit = true;
	pthread_cond_signal(&W.cond);
	pthread_mutex_unlock(&W.lock);
	pthread_join(W.thread, NULL);
	W.running = false;
	free(W.pg_url);
	free(W.instance);
	cc_store_close(W.store);
	W.kms->close(W.kms);
}
