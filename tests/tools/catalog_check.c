/*
 * catalog_check: media/catalog.c against a real PostgreSQL (the private one
 * of tests/integration/18_catalog.sh's stack), on a real libre loop. Each
 * check runs in its own process (test.h) with its own loop and catalog.
 *
 *   catalog_check MEDIAD_URL ADMIN_URL TENANT OTHER_TENANT DEFAULTS_DIR [TEST]
 *
 * MEDIAD_URL logs in as cc_mediad (SELECT only); ADMIN_URL is used to
 * change rows behind the catalog's back and to hold a table lock. TENANT
 * has a prompt "welcome" (uploaded by the script) and a flow "main".
 */
#define SUITE "18_catalog"
#include "test.h"

#include <errno.h>
#include <libpq-fe.h>
#include <stdbool.h>
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

#include "catalog.h"
#include "clock.h"
#include "cc.h"

static const char *mediad_url, *admin_url, *tenant, *other, *defaults;

/* What a lookup got; a mem object, as the catalog wants its arg. */
struct got {
	bool done;
	bool inside;                 /* the handler ran inside the lookup call */
	int err;
	struct md_prompt *p;         /* referenced */
	struct md_flow *f;
	int64_t at;                  /* ms, monotonic */
};

static bool in_call;

static void got_destructor(void *arg)
{
	struct got *g = arg;

	mem_deref(g->p);
	mem_deref(g->f);
}

static struct got *got_new(void)
{
	struct got *g = mem_zalloc(sizeof(*g), got_destructor);

	ASSERT(g);
	return g;
}

static void on_prompt(int err, struct md_prompt *p, void *arg)
{
	struct got *g = arg;

	g->done = true;
	g->inside = in_call;
	g->err = err;
	g->p = mem_ref(p);
	g->at = cc_mono_ms();
	re_cancel();
}

static void on_flow(int err, struct md_flow *f, void *arg)
{
	struct got *g = arg;

	g->done = true;
	g->inside = in_call;
	g->err = err;
	g->f = mem_ref(f);
	g->at = cc_mono_ms();
	re_cancel();
}

static void on_timeout(void *arg)
{
	FAILF("no answer within 10 s");
}

/* Runs the loop until g is answered. */
static void wait_for(struct got *g)
{
	struct tmr t;

	tmr_init(&t);
	tmr_start(&t, 10000, on_timeout, NULL);
	while (!g->done)
		re_main(NULL);
	tmr_cancel(&t);
}

static struct got *prompt(const char *ten, const char *name)
{
	struct got *g = got_new();

	in_call = true;
	md_catalog_prompt(ten, name, on_prompt, g);
	in_call = false;
	wait_for(g);
	ASSERT(!g->inside);
	return g;
}

static void start(void)
{
	ASSERT_EQ_INT(libre_init(), 0);
	ASSERT_EQ_INT(md_catalog_init(mediad_url, defaults), 0);
}

static void stop(void)
{
	md_catalog_close();
	libre_close();
}

static PGconn *admin(void)
{
	PGconn *c = PQconnectdb(admin_url);

	ASSERT(PQstatus(c) == CONNECTION_OK);
	return c;
}

static char *value(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	char *v;

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		FAILF("%s: %s", sql, PQresultErrorMessage(r));
	v = strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

static void cmd(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);

	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		FAILF("%s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
}

static long file_size(const char *name)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", defaults, name);
	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* ------------------------------------------------------------------ */

TEST(tenant_prompt)
{
	PGconn *c = admin();
	char sql[256];

	start();
	struct got *g = prompt(tenant, "welcome");
	ASSERT_EQ_INT(g->err, 0);
	snprintf(sql, sizeof(sql), "SELECT id || ' ' || length(pcm8) / 2 || ' ' || length(pcm16) / 2 "
	         "FROM cc.prompts WHERE tenant_id = '%s' AND name = 'welcome' AND current", tenant);
	char *want = value(c, sql), have[128];
	snprintf(have, sizeof(have), "%s %zu %zu", g->p->id, g->p->n8, g->p->n16);
	ASSERT_EQ_STR(have, want);
	ASSERT_EQ_STR(g->p->name, "welcome");
	free(want);
	mem_deref(g);
	PQfinish(c);
	stop();
}

TEST(default_prompt_and_missing)
{
	start();
	struct got *g = prompt(tenant, "goodbye");
	ASSERT_EQ_INT(g->err, 0);
	ASSERT_EQ_STR(g->p->id, "default:goodbye");
	ASSERT_EQ_INT((long)g->p->n8 * 2, file_size("goodbye.8k.raw"));
	ASSERT_EQ_INT((long)g->p->n16 * 2, file_size("goodbye.16k.raw"));
	mem_deref(g);
	g = prompt(tenant, "nosuch");
	ASSERT_EQ_INT(g->err, ENOENT);
	ASSERT(!g->p);
	mem_deref(g);
	/* hostile keys never reach the database */
	g = prompt("not-a-uuid", "welcome");
	ASSERT_EQ_INT(g->err, ENOENT);
	mem_deref(g);
	g = prompt(tenant, "../../etc/passwd");
	ASSERT_EQ_INT(g->err, ENOENT);
	mem_deref(g);
	stop();
}

TEST(other_tenant_sees_nothing)
{
	start();
	struct got *g = prompt(other, "welcome");
	ASSERT_EQ_INT(g->err, ENOENT);
	mem_deref(g);
	/* the default of a name is everyone's */
	g = prompt(other, "hold_music");
	ASSERT_EQ_INT(g->err, 0);
	ASSERT_EQ_STR(g->p->id, "default:hold_music");
	mem_deref(g);
	stop();
}

static int ticks;
static struct tmr tick_tmr;

static void on_tick(void *arg)
{
	ticks++;
	tmr_start(&tick_tmr, 10, on_tick, NULL);
}

static PGconn *locker;
static struct tmr unlock_tmr;

static void on_unlock(void *arg)
{
	cmd(locker, "COMMIT");
}

/* The database holds the catalog's query for a second (a table lock):
 * the lookup call returns at once, the loop keeps turning (a 10 ms timer
 * fires all along), and the answer comes once the lock is gone. A cached
 * answer is not held at all. */
TEST(lookup_never_blocks_the_loop)
{
	start();
	struct got *warm = prompt(tenant, "welcome");     /* cached now */
	ASSERT_EQ_INT(warm->err, 0);

	locker = admin();
	cmd(locker, "BEGIN");
	cmd(locker, "LOCK TABLE cc.prompts IN ACCESS EXCLUSIVE MODE");
	tmr_init(&tick_tmr);
	tmr_init(&unlock_tmr);
	tmr_start(&tick_tmr, 10, on_tick, NULL);
	tmr_start(&unlock_tmr, 1000, on_unlock, NULL);

	struct got *g = got_new();
	int64_t t0 = cc_mono_ms();
	in_call = true;
	md_catalog_prompt(tenant, "greeting", on_prompt, g);
	in_call = false;
	int64_t call_ms = cc_mono_ms() - t0;

	/* meanwhile a cached prompt comes at once */
	struct got *h = got_new();
	md_catalog_prompt(tenant, "welcome", on_prompt, h);
	wait_for(h);
	ASSERT(h->at - t0 < 100);
	ASSERT_EQ_INT(h->err, 0);

	wait_for(g);
	int64_t answer_ms = g->at - t0;
	fprintf(stderr, "  # call %lld ms, answer after %lld ms, %d ticks of 10 ms meanwhile\n",
	        (long long)call_ms, (long long)answer_ms, ticks);
	ASSERT(call_ms < 5);
	ASSERT(answer_ms >= 950);
	ASSERT(ticks >= 40);                /* ~100 on an idle machine */
	ASSERT_EQ_INT(g->err, 0);
	tmr_cancel(&tick_tmr);
	mem_deref(g);
	mem_deref(h);
	mem_deref(warm);
	PQfinish(locker);
	stop();
}

/* A replaced prompt: the cache keeps the old one until forgotten, then the
 * new one; whoever held the old keeps its samples. */
TEST(forget_after_replace)
{
	PGconn *c = admin();
	char sql[1024];

	start();
	struct got *old = prompt(tenant, "welcome");
	ASSERT_EQ_INT(old->err, 0);
	int16_t first = old->p->pcm8[100];
	snprintf(sql, sizeof(sql),
	         "BEGIN; UPDATE cc.prompts SET current = false WHERE tenant_id = '%s' AND name = 'welcome' AND current;"
	         "INSERT INTO cc.prompts (id, tenant_id, name, source, duration_ms, pcm8, pcm16) "
	         "VALUES ('00000000-0000-4000-8000-000000000001', '%s', 'welcome', 'upload', 1, "
	         "'\\x01000200'::bytea, '\\x0100020003000400'::bytea); COMMIT;", tenant, tenant);
	cmd(c, sql);
	struct got *g = prompt(tenant, "welcome");
	ASSERT_EQ_STR(g->p->id, old->p->id);          /* cached */
	mem_deref(g);
	md_catalog_forget(tenant);
	g = prompt(tenant, "welcome");
	ASSERT_EQ_STR(g->p->id, "00000000-0000-4000-8000-000000000001");
	ASSERT_EQ_INT(g->p->n8, 2);
	ASSERT_EQ_INT(g->p->pcm8[1], 2);
	ASSERT_EQ_INT(g->p->n16, 4);
	/* the old one is whole */
	ASSERT_EQ_INT(old->p->pcm8[100], first);
	mem_deref(g);
	mem_deref(old);
	/* a tenant's own prompt over a default, and back */
	g = prompt(tenant, "goodbye");
	ASSERT_EQ_STR(g->p->id, "default:goodbye");
	mem_deref(g);
	snprintf(sql, sizeof(sql),
	         "INSERT INTO cc.prompts (id, tenant_id, name, source, duration_ms, pcm8, pcm16) "
	         "VALUES ('00000000-0000-4000-8000-000000000002', '%s', 'goodbye', 'upload', 1, "
	         "'\\x0100'::bytea, '\\x01000200'::bytea)", tenant);
	cmd(c, sql);
	md_catalog_forget(tenant);
	g = prompt(tenant, "goodbye");
	ASSERT_EQ_STR(g->p->id, "00000000-0000-4000-8000-000000000002");
	mem_deref(g);
	PQfinish(c);
	stop();
}

TEST(flows)
{
	PGconn *c = admin();
	char sql[256];

	start();
	snprintf(sql, sizeof(sql), "SELECT version_id FROM cc.flows WHERE tenant_id = '%s' AND name = 'main'",
	         tenant);
	char *vid = value(c, sql);
	struct got *g = got_new();
	md_catalog_flow_version(tenant, vid, on_flow, g);
	wait_for(g);
#ifdef CC_HAVE_FLOW_PARSER
	ASSERT_EQ_INT(g->err, 0);
	ASSERT_EQ_STR(g->f->version, vid);
	ASSERT_EQ_STR(g->f->name, "main");
	ASSERT_EQ_STR(g->f->tz, "Asia/Shanghai");
	ASSERT(g->f->flow && g->f->flow->n_nodes >= 1);
#else
	/* lib/flow.c is not in this tree: the stand-in parser refuses, and
	 * a flow that does not parse is no flow */
	ASSERT_EQ_INT(g->err, ENOENT);
#endif
	mem_deref(g);
	g = got_new();
	md_catalog_flow_named(tenant, "main", on_flow, g);
	wait_for(g);
#ifdef CC_HAVE_FLOW_PARSER
	ASSERT_EQ_INT(g->err, 0);
	ASSERT_EQ_STR(g->f->version, vid);
#endif
	mem_deref(g);
	/* another tenant's version, a missing name, a bad id: ENOENT */
	g = got_new();
	md_catalog_flow_version(other, vid, on_flow, g);
	wait_for(g);
	ASSERT_EQ_INT(g->err, ENOENT);
	mem_deref(g);
	g = got_new();
	md_catalog_flow_named(tenant, "nosuch", on_flow, g);
	wait_for(g);
	ASSERT_EQ_INT(g->err, ENOENT);
	mem_deref(g);
	g = got_new();
	md_catalog_flow_version(tenant, "'; DROP TABLE cc.flows; --", on_flow, g);
	wait_for(g);
	ASSERT_EQ_INT(g->err, ENOENT);
	mem_deref(g);
	free(vid);
	PQfinish(c);
	stop();
}

/* The database gone: EIO, later, never inside the call. */
TEST(database_away_eio)
{
	ASSERT_EQ_INT(libre_init(), 0);
	ASSERT_EQ_INT(md_catalog_init("postgresql://cc_mediad@127.0.0.1:1/cc?connect_timeout=2", defaults), 0);
	struct got *g = prompt(tenant, "welcome");
	ASSERT_EQ_INT(g->err, EIO);
	mem_deref(g);
	stop();
}

int main(int argc, char **argv)
{
	static const struct cc_test tests[] = {
		T(tenant_prompt), T(default_prompt_and_missing), T(other_tenant_sees_nothing),
		T(lookup_never_blocks_the_loop), T(forget_after_replace), T(flows), T(database_away_eio),
	};

	if (argc < 6) {
		fprintf(stderr, "usage: catalog_check MEDIAD_URL ADMIN_URL TENANT OTHER DEFAULTS [TEST]\n");
		return 2;
	}
	mediad_url = argv[1];
	admin_url = argv[2];
	tenant = argv[3];
	other = argv[4];
	defaults = argv[5];
	return cc_test_main(SUITE, tests, CC_ARRAY_LEN(tests), argc - 5, argv + 5);
}
