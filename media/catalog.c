/*
 * catalog.c: mediad's flows and prompts (catalog.h), read from PostgreSQL
 * by a thread of its own, answered into libre's loop.
 *
 * Two threads and one direction each way. The loop (every md_catalog_*
 * call, every handler, the caches) and the catalog thread (libpq, which
 * blocks). A lookup the caches answer is still answered later: its request
 * goes straight into the mqueue. Any other request is queued to the thread
 * (a mutex and a condition variable); the thread runs its query, builds the
 * answer's mem object and pushes the request into the mqueue, whose handler
 * (on the loop) caches the answer, runs the caller's handler and lets go of
 * the request. The thread never touches a cache or a caller's arg, and a
 * mem object it built is the loop's from the moment it is pushed (libre
 * 1.1.0's reference counts are not atomic: one thread at a time).
 *
 * Caches (loop only): flow versions by id (they never change), named flows
 * and prompts by "tenant/name". md_catalog_forget drops a tenant's named
 * flows and prompts and bumps its generation, so an answer read before the
 * notice and arriving after it is delivered but not cached. Prompts are
 * big (up to 28 MB for 10 minutes at both rates): the cache holds at most
 * MD_CATALOG_PROMPT_BYTES and drops the oldest first; a call holding a
 * prompt keeps it whatever the cache does. Versions: at most
 * MD_CATALOG_VERSIONS, then the oldest go.
 *
 * Defaults (<name>.8k.raw and .16k.raw of defaults_dir) are read once at
 * md_catalog_init, at start, before any call.
 *
 * Not done on purpose: coalescing concurrent misses of one key (each runs
 * its own query; calls into one new flow at once are few and cheap), and
 * prepared statements (the queries are small; the thread is not the
 * bottleneck of a call's start).
 */
#include "catalog.h"
#include "cc.h"
#include "log.h"
#include "map.h"
#include "pg.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* libre's headers one by one: re.h brings re_json.h, whose JSON_STRING
 * and JSON_NULL clash with jansson's (lib/flow.h) */
#include <re_types.h>
#include <re_fmt.h>
#include <re_list.h>
#include <re_main.h>
#include <re_mem.h>
#include <re_mqueue.h>
#include <re_tmr.h>

#define MD_CATALOG_PROMPT_BYTES (256u * 1024 * 1024)
#define MD_CATALOG_VERSIONS 4096

enum kind { K_PROMPT, K_VERSION, K_NAMED };

struct creq {                       /* mem object: one lookup */
	struct le le;                   /* in the thread's queue (under lock) */
	enum kind kind;
	char tenant[CC_UUID_LEN];
	char key[CC_FLOW_NAME_MAX];     /* prompt or flow name, or version id */
	uint64_t gen;                   /* the tenant's generation when asked */
	bool cached;                    /* answered from a cache: nothing to store */
	void *h;                        /* md_prompt_h or md_flow_h */
	void *arg;                      /* the caller's, referenced */
	int err;                        /* the answer */
	void *obj;                      /*   and its object (referenced), or NULL */
};

/* A cache entry, in its map and in its age list. */
struct entry {
	struct le le;                   /* oldest first */
	char *key;
	void *obj;                      /* referenced */
	size_t bytes;
	struct cc_map *map;
};

static struct {
	bool up;
	struct mqueue *mq;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct list queue;              /* requests for the thread (under lock) */
	struct list done;               /* answered by the thread, for the loop (under lock) */
	struct list later;              /* answered on the loop, run at the next turn */
	struct tmr later_tmr;
	bool stop;                      /* under lock */
	char *conninfo;
	/* loop only */
	struct cc_map defaults;         /* name -> struct md_prompt */
	struct cc_map prompts, named, versions; /* key -> struct entry */
	struct list prompt_age, version_age;
	size_t prompt_bytes, n_versions;
	struct cc_map gens;             /* tenant -> generation (uintptr_t, from 1) */
} cat;

/* --------------------------------------------------------------- objects */

static void creq_destructor(void *data)
{
	struct creq *q = data;

	mem_deref(q->arg);
	mem_deref(q->obj);
}

static void flow_destructor(void *data)
{
	struct md_flow *f = data;

	cc_flow_free(f->flow);
}

/* A prompt whose samples live in the same allocation. */
static struct md_prompt *prompt_alloc(const char *id, const char *name, const void *pcm8, size_t b8,
                                      const void *pcm16, size_t b16)
{
	struct md_prompt *p = mem_zalloc(sizeof(*p) + b8 + b16 + 2, NULL);
	int16_t *s;

	if (!p)
		return NULL;
	snprintf(p->id, sizeof(p->id), "%s", id);
	snprintf(p->name, sizeof(p->name), "%s", name);
	s = (int16_t *)(void *)(p + 1);      /* struct md_prompt is 8-aligned */
	memcpy(s, pcm8, b8 & ~(size_t)1);
	p->pcm8 = s;
	p->n8 = b8 / 2;
	memcpy(s + p->n8, pcm16, b16 & ~(size_t)1);
	p->pcm16 = s + p->n8;
	p->n16 = b16 / 2;
	return p;
}

/* ---------------------------------------------------------- the thread */

static bool valid_name(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= 63 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n &&
	       s[0] != '_' && s[0] != '-';
}

static int pg_err(const struct cc_pg *pg)
{
	return EIO;
}

static void load_prompt(struct cc_pg *pg, struct creq *q)
{
	const char *p[2] = { q->tenant, q->key };
	PGresult *res = cc_pg_exec_bin(pg, "SELECT id::text, pcm8, pcm16 FROM cc.prompts "
	                               "WHERE tenant_id = $1::uuid AND name = $2 AND current", 2, p,
	                               NULL, NULL, 1);

	if (!res) {
		q->err = pg_err(pg);
		CC_WARN("catalog: prompt %s of %s: %s", q->key, q->tenant, pg->message);
		return;
	}
	if (PQntuples(res) == 1) {
		char id[CC_UUID_LEN];

		snprintf(id, sizeof(id), "%.*s", PQgetlength(res, 0, 0), PQgetvalue(res, 0, 0));
		q->obj = prompt_alloc(id, q->key, PQgetvalue(res, 0, 1), (size_t)PQgetlength(res, 0, 1),
		                      PQgetvalue(res, 0, 2), (size_t)PQgetlength(res, 0, 2));
		q->err = q->obj ? 0 : ENOMEM;
	} else {
		q->err = ENOENT;             /* the loop looks at the defaults */
	}
	PQclear(res);
}

/* A flow from its stored body. A body that no longer parses (a version
 * stored by an older tenantd that this build's parser refuses) is no flow
 * to run: ENOENT, logged. */
static void make_flow(struct creq *q, const char *version, const char *body, const char *name,
                      const char *tz)
{
	struct cc_flow_error ferr;
	json_t *doc = json_loads(body, JSON_REJECT_DUPLICATES, NULL);
	struct md_flow *f;

	if (!doc || !(f = mem_zalloc(sizeof(*f), flow_destructor))) {
		json_decref(doc);
		q->err = doc ? ENOMEM : ENOENT;
		return;
	}
	if (cc_flow_parse(doc, &f->flow, &ferr) != CC_OK) {
		CC_ERR("catalog: flow version %s of %s does not parse: %s: %s", version, q->tenant,
		       ferr.field, ferr.message);
		json_decref(doc);
		mem_deref(f);
		q->err = ENOENT;
		return;
	}
	json_decref(doc);
	snprintf(f->version, sizeof(f->version), "%s", version);
	snprintf(f->tenant, sizeof(f->tenant), "%s", q->tenant);
	snprintf(f->name, sizeof(f->name), "%s", name);
	snprintf(f->tz, sizeof(f->tz), "%s", tz);
	q->obj = f;
	q->err = 0;
}

static void load_flow(struct cc_pg *pg, struct creq *q)
{
	const char *p[2] = { q->tenant, q->key };
	PGresult *res = cc_pg_exec(pg, q->kind == K_VERSION ?
		"SELECT v.id, v.body::text, f.name, t.timezone FROM cc.flow_versions v "
		"JOIN cc.flows f ON f.id = v.flow_id JOIN cc.tenants t ON t.id = v.tenant_id "
		"WHERE v.tenant_id = $1::uuid AND v.id = $2::uuid" :
		"SELECT v.id, v.body::text, f.name, t.timezone FROM cc.flows f "
		"JOIN cc.flow_versions v ON v.id = f.version_id JOIN cc.tenants t ON t.id = f.tenant_id "
		"WHERE f.tenant_id = $1::uuid AND f.name = $2", 2, p);

	if (!res) {
		q->err = pg_err(pg);
		CC_WARN("catalog: flow %s of %s: %s", q->key, q->tenant, pg->message);
		return;
	}
	if (PQntuples(res) == 1)
		make_flow(q, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2),
		          PQgetvalue(res, 0, 3));
	else
		q->err = ENOENT;
	PQclear(res);
}

static void *catalog_thread(void *arg)
{
	struct cc_pg pg;

	/* connects on the first request; a database away is retried then */
	memset(&pg, 0, sizeof(pg));
	pg.conninfo = strdup(cat.conninfo);
	CC_BUG_ON(!pg.conninfo);
	for (;;) {
		struct creq *q;

		pthread_mutex_lock(&cat.lock);
		while (!cat.stop && list_isempty(&cat.queue))
			pthread_cond_wait(&cat.wake, &cat.lock);
		if (cat.stop) {
			pthread_mutex_unlock(&cat.lock);
			break;
		}
		q = list_ledata(list_head(&cat.queue));
		list_unlink(&q->le);
		pthread_mutex_unlock(&cat.lock);

		if (q->kind == K_PROMPT)
			load_prompt(&pg, q);
		else
			load_flow(&pg, q);
		pthread_mutex_lock(&cat.lock);
		bool first = list_isempty(&cat.done);
		list_append(&cat.done, &q->le, q);
		pthread_mutex_unlock(&cat.lock);
		/* a wakeup, not the request: a full pipe already holds one, and
		 * what is still in the pipe at close owns nothing */
		if (first && mqueue_push(cat.mq, 0, NULL) != 0 && errno != EAGAIN)
			CC_ERR("catalog: cannot wake the loop: %s", strerror(errno));
	}
	cc_pg_close(&pg);
	return NULL;
}

/* ----------------------------------------------------------- the caches */

static uint64_t gen_of(const char *tenant)
{
	uintptr_t g = (uintptr_t)cc_map_get(&cat.gens, tenant);

	return g ? g : 1;
}

static void entry_drop(struct entry *e, struct list *age, size_t *total)
{
	cc_map_del(e->map, e->key);
	list_unlink(&e->le);
	*total -= e->bytes;
	mem_deref(e->obj);
	free(e->key);
	free(e);
}

static void cache_put(struct cc_map *map, struct list *age, size_t *total, size_t cap,
                      const char *key, void *obj, size_t bytes)
{
	struct entry *e = cc_map_get(map, key);

	if (e)
		entry_drop(e, age, total);
	if (bytes > cap)
		return;
	while (*total + bytes > cap && !list_isempty(age))
		entry_drop(list_ledata(list_head(age)), age, total);
	e = calloc(1, sizeof(*e));
	CC_BUG_ON(!e);
	e->key = strdup(key);
	CC_BUG_ON(!e->key);
	e->obj = mem_ref(obj);
	e->bytes = bytes;
	e->map = map;
	list_append(age, &e->le, e);
	cc_map_put(map, key, e);
	*total += bytes;
}

static void *cache_get(struct cc_map *map, const char *key)
{
	struct entry *e = cc_map_get(map, key);

	return e ? e->obj : NULL;
}

static void cache_key(char *out, size_t n, const char *tenant, const char *name)
{
	snprintf(out, n, "%s/%s", tenant, name);
}

/* The named flows have no age list of their own: a flow is small. */
static struct list named_age;
static size_t named_total;

/* ------------------------------------------------------------ the loop */

static void answer(struct creq *q)
{
	char key[CC_UUID_LEN + CC_FLOW_NAME_MAX + 2];

	cache_key(key, sizeof(key), q->tenant, q->key);
	if (q->kind == K_PROMPT && q->err == ENOENT) {
		/* the tenant has none of that name: the platform's default */
		struct md_prompt *d = cc_map_get(&cat.defaults, q->key);

		if (d) {
			q->obj = mem_ref(d);
			q->err = 0;
		}
	}
	bool fresh = !q->cached && q->err == 0 && q->gen == gen_of(q->tenant);
	if (fresh && q->kind == K_PROMPT) {
		struct md_prompt *p = q->obj;

		cache_put(&cat.prompts, &cat.prompt_age, &cat.prompt_bytes, MD_CATALOG_PROMPT_BYTES, key,
		          p, (p->n8 + p->n16) * 2);
	} else if (fresh && q->kind == K_NAMED) {
		struct md_flow *f = q->obj;

		cache_put(&cat.named, &named_age, &named_total, SIZE_MAX, key, f, 1);
		cache_put(&cat.versions, &cat.version_age, &cat.n_versions, MD_CATALOG_VERSIONS,
		          f->version, f, 1);
	} else if (!q->cached && q->err == 0 && q->kind == K_VERSION) {
		cache_put(&cat.versions, &cat.version_age, &cat.n_versions, MD_CATALOG_VERSIONS, q->key,
		          q->obj, 1);
	}
	if (q->kind == K_PROMPT)
		((md_prompt_h *)q->h)(q->err, q->obj, q->arg);
	else
		((md_flow_h *)q->h)(q->err, q->obj, q->arg);
	mem_deref(q);
}

static struct creq *creq_new(enum kind kind, const char *tenant, const char *key, void *h, void *arg)
{
	struct creq *q = mem_zalloc(sizeof(*q), creq_destructor);

	CC_BUG_ON(!q);
	q->kind = kind;
	snprintf(q->tenant, sizeof(q->tenant), "%s", tenant ? tenant : "");
	snprintf(q->key, sizeof(q->key), "%s", key ? key : "");
	q->h = h;
	q->arg = mem_ref(arg);
	q->gen = gen_of(q->tenant);
	return q;
}

/* Runs the answers in list (moved out first: a handler may ask again). */
static void answer_all(struct list *from)
{
	struct list l = LIST_INIT;
	struct le *le;

	while ((le = list_head(from))) {
		list_unlink(le);
		list_append(&l, le, le->data);
	}
	while ((le = list_head(&l))) {
		list_unlink(le);
		answer(le->data);
	}
}

/* The thread's answers (the mqueue's wakeup). */
static void on_wake(int id, void *data, void *arg)
{
	struct list l = LIST_INIT;
	struct le *le;

	pthread_mutex_lock(&cat.lock);
	while ((le = list_head(&cat.done))) {
		list_unlink(le);
		list_append(&l, le, le->data);
	}
	pthread_mutex_unlock(&cat.lock);
	answer_all(&l);
}

static void on_later(void *arg)
{
	answer_all(&cat.later);
}

/* Answered at the loop's next turn, from the cache or a refusal: never
 * inside the caller's call. */
static void post(struct creq *q)
{
	list_append(&cat.later, &q->le, q);
	if (!tmr_isrunning(&cat.later_tmr))
		tmr_start(&cat.later_tmr, 0, on_later, NULL);
}

static void lookup(enum kind kind, const char *tenant, const char *key, void *h, void *arg)
{
	struct creq *q = creq_new(kind, tenant, key, h, arg);
	char ck[CC_UUID_LEN + CC_FLOW_NAME_MAX + 2];
	void *hit = NULL;

	if (!cat.up) {
		q->err = EIO;                    /* md_catalog_init failed or was not called */
		q->cached = true;
		return post(q);
	}
	/* what no query would find: answered at once (later) */
	if (!cc_uuid_valid(q->tenant) || strlen(key ? key : "") >= CC_FLOW_NAME_MAX ||
	    (kind == K_VERSION ? !cc_uuid_valid(q->key) : !valid_name(q->key))) {
		q->err = ENOENT;
		q->cached = true;
		return post(q);
	}
	cache_key(ck, sizeof(ck), q->tenant, q->key);
	if (kind == K_PROMPT)
		hit = cache_get(&cat.prompts, ck);
	else if (kind == K_NAMED)
		hit = cache_get(&cat.named, ck);
	else if ((hit = cache_get(&cat.versions, q->key)) &&
	         strcmp(((struct md_flow *)hit)->tenant, q->tenant) != 0)
		hit = NULL;                      /* another tenant's version: ask (ENOENT) */
	if (hit) {
		q->obj = mem_ref(hit);
		q->cached = true;
		return post(q);
	}
	pthread_mutex_lock(&cat.lock);
	list_append(&cat.queue, &q->le, q);
	pthread_cond_signal(&cat.wake);
	pthread_mutex_unlock(&cat.lock);
}

void md_catalog_prompt(const char *tenant, const char *name, md_prompt_h *h, void *arg)
{
	lookup(K_PROMPT, tenant, name, (void *)h, arg);
}

void md_catalog_flow_version(const char *tenant, const char *version, md_flow_h *h, void *arg)
{
	lookup(K_VERSION, tenant, version, (void *)h, arg);
}

void md_catalog_flow_named(const char *tenant, const char *name, md_flow_h *h, void *arg)
{
	lookup(K_NAMED, tenant, name, (void *)h, arg);
}

/* Drops every entry of map whose key starts with prefix. */
static void forget_in(struct cc_map *map, struct list *age, size_t *total, const char *prefix)
{
	size_t n = strlen(prefix);
	struct le *le = list_head(age);

	while (le) {
		struct entry *e = le->data;

		le = le->next;
		if (strncmp(e->key, prefix, n) == 0)
			entry_drop(e, age, total);
	}
	(void)map;
}

void md_catalog_forget(const char *tenant)
{
	char prefix[CC_UUID_LEN + 2];

	if (!cat.up || !tenant || !cc_uuid_valid(tenant))
		return;
	snprintf(prefix, sizeof(prefix), "%s/", tenant);
	forget_in(&cat.prompts, &cat.prompt_age, &cat.prompt_bytes, prefix);
	forget_in(&cat.named, &named_age, &named_total, prefix);
	cc_map_put(&cat.gens, tenant, (void *)(uintptr_t)(gen_of(tenant) + 1));
}

/* -------------------------------------------------------------- defaults */

static void *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	void *b = NULL;

	if (!f)
		return NULL;
	if (fstat(fileno(f), &st) == 0 && st.st_size > 0 && st.st_size < 64 * 1024 * 1024 &&
	    (b = malloc((size_t)st.st_size)) && fread(b, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		free(b);
		b = NULL;
	}
	if (b)
		*len = (size_t)st.st_size;
	fclose(f);
	return b;
}

static int load_defaults(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d) {
		CC_WARN("catalog: no default prompts in %s: %s", dir, strerror(errno));
		return 0;
	}
	while ((de = readdir(d))) {
		char name[CC_FLOW_NAME_MAX], p8[4096], p16[4096], id[CC_UUID_LEN];
		size_t len = strlen(de->d_name), l8 = 0, l16 = 0;

		if (len <= 7 || len - 7 >= sizeof(name) || strcmp(de->d_name + len - 7, ".8k.raw") != 0)
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(len - 7), de->d_name);
		if (!valid_name(name))
			continue;
		snprintf(p8, sizeof(p8), "%s/%s.8k.raw", dir, name);
		snprintf(p16, sizeof(p16), "%s/%s.16k.raw", dir, name);
		void *b8 = read_all(p8, &l8), *b16 = read_all(p16, &l16);
		if (b8 && b16) {
			/* "default:<name>" is longer than a uuid for long names: cut */
			snprintf(id, sizeof(id), "default:%s", name);
			struct md_prompt *pr = prompt_alloc(id, name, b8, l8, b16, l16);
			if (pr) {
				mem_deref(cc_map_put(&cat.defaults, name, pr));
				n++;
			}
		} else {
			CC_WARN("catalog: default prompt %s lacks its 8k or 16k file", name);
		}
		free(b8);
		free(b16);
	}
	closedir(d);
	return n;
}

/* ----------------------------------------------------------- start, stop */

int md_catalog_init(const char *conninfo, const char *defaults_dir)
{
	int err;

	if (cat.up)
		return EALREADY;
	memset(&cat, 0, sizeof(cat));
	cc_map_init(&cat.defaults);
	cc_map_init(&cat.prompts);
	cc_map_init(&cat.named);
	cc_map_init(&cat.versions);
	cc_map_init(&cat.gens);
	list_init(&cat.queue);
	list_init(&cat.done);
	list_init(&cat.later);
	tmr_init(&cat.later_tmr);
	list_init(&cat.prompt_age);
	list_init(&cat.version_age);
	list_init(&named_age);
	named_total = 0;
	if (!(cat.conninfo = strdup(conninfo ? conninfo : "")))
		return ENOMEM;
	if ((err = mqueue_alloc(&cat.mq, on_wake, NULL)) != 0)
		return err;
	int n = defaults_dir ? load_defaults(defaults_dir) : 0;
	CC_INFO("catalog: %d default prompts from %s", n, defaults_dir ? defaults_dir : "(none)");
	pthread_mutex_init(&cat.lock, NULL);
	pthread_cond_init(&cat.wake, NULL);
	if ((err = pthread_create(&cat.thread, NULL, catalog_thread, NULL)) != 0) {
		cat.mq = mem_deref(cat.mq);
		return err;
	}
	cat.up = true;
	return 0;
}

static void deref_value(void *v) { mem_deref(v); }

static void drop_all(struct list *age, size_t *total)
{
	while (!list_isempty(age))
		entry_drop(list_ledata(list_head(age)), age, total);
}

void md_catalog_close(void)
{
	if (!cat.up)
		return;
	pthread_mutex_lock(&cat.lock);
	cat.stop = true;
	pthread_cond_signal(&cat.wake);
	pthread_mutex_unlock(&cat.lock);
	pthread_join(cat.thread, NULL);
	/* requests not run or not answered: their handlers are not called
	 * (mediad stops), their args are let go */
	struct list *lists[3] = { &cat.queue, &cat.done, &cat.later };
	for (int i = 0; i < 3; i++)
		while (!list_isempty(lists[i])) {
			struct creq *q = list_ledata(list_head(lists[i]));

			list_unlink(&q->le);
			mem_deref(q);
		}
	tmr_cancel(&cat.later_tmr);
	cat.mq = mem_deref(cat.mq);
	drop_all(&cat.prompt_age, &cat.prompt_bytes);
	drop_all(&named_age, &named_total);
	drop_all(&cat.version_age, &cat.n_versions);
	cc_map_free(&cat.prompts, NULL);
	cc_map_free(&cat.named, NULL);
	cc_map_free(&cat.versions, NULL);
	cc_map_free(&cat.defaults, deref_value);
	cc_map_free(&cat.gens, NULL);
	pthread_mutex_destroy(&cat.lock);
	pthread_cond_destroy(&cat.wake);
	free(cat.conninfo);
	cat.up = false;
}
