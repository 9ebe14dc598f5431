/* Unit tests of lib/: E.164, netstrings (against a guard page), the map,
 * the config table, identifiers and digests. */
#define SUITE "lib"
#include "test.h"

#include <sys/mman.h>

#include "cc.h"
#include "clock.h"
#include "config.h"
#include "e164.h"
#include "hist.h"
#include "id.h"
#include "map.h"
#include "netstring.h"

TEST(e164_valid)
{
	char *err = NULL;

	ASSERT_EQ_INT(cc_e164_valid("+8657112345678", NULL), CC_OK);
	ASSERT_EQ_INT(cc_e164_valid("+12025550123", NULL), CC_OK);
	ASSERT_EQ_INT(cc_e164_valid("8657112345678", &err), CC_ERROR);
	ASSERT(err && strstr(err, "'+'"));
	ASSERT_EQ_INT(cc_e164_valid("+0657112345678", NULL), CC_ERROR);
	ASSERT_EQ_INT(cc_e164_valid("+123", NULL), CC_ERROR);
	ASSERT_EQ_INT(cc_e164_valid("+1234567890123456", NULL), CC_ERROR);
	ASSERT_EQ_INT(cc_e164_valid("+86571 2345678", NULL), CC_ERROR);
	ASSERT_EQ_INT(cc_e164_valid("+86571'2345678", NULL), CC_ERROR);
	ASSERT_EQ_INT(cc_e164_valid("", NULL), CC_ERROR);
	free(err);
}

TEST(e164_from_sip)
{
	char out[CC_E164_MAX];

	ASSERT_EQ_INT(cc_e164_from_sip("+8657112345678", 14, out), CC_OK);
	ASSERT_EQ_STR(out, "8657112345678");
	ASSERT_EQ_INT(cc_e164_from_sip("008657112345678", 15, out), CC_OK);
	ASSERT_EQ_STR(out, "8657112345678");
	ASSERT_EQ_INT(cc_e164_from_sip("86-571-1234", 11, out), CC_OK);
	ASSERT_EQ_STR(out, "865711234");
	ASSERT_EQ_INT(cc_e164_from_sip("alice", 5, out), CC_ERROR);
	ASSERT_EQ_INT(cc_e164_from_sip("+", 1, out), CC_ERROR);
	ASSERT_EQ_INT(cc_e164_from_sip("1234567890123456", 16, out), CC_ERROR);
}

TEST(e164_prefix)
{
	char out[CC_E164_MAX];

	ASSERT_EQ_INT(cc_e164_prefix("+86139", out, NULL), CC_OK);
	ASSERT_EQ_STR(out, "86139");
	ASSERT_EQ_INT(cc_e164_prefix("86139", out, NULL), CC_OK);
	ASSERT_EQ_INT(cc_e164_prefix("", out, NULL), CC_ERROR);
	ASSERT_EQ_INT(cc_e164_prefix("86a", out, NULL), CC_ERROR);
}

/* Copies s flush against a PROT_NONE page: a read past the end crashes. */
static char *guarded(const char *s, size_t len)
{
	long pg = sysconf(_SC_PAGESIZE);
	char *base = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT(base != MAP_FAILED);
	ASSERT(mprotect(base + pg, pg, PROT_NONE) == 0);
	memcpy(base + pg - len, s, len);
	return base + pg - len;
}

TEST(netstring)
{
	struct cc_str p;
	const char *whole = "5:hello,";

	ASSERT_EQ_INT(cc_netstring_parse(guarded(whole, 8), 8, 100, &p), 8);
	ASSERT_EQ_INT(p.len, 5);
	ASSERT(memcmp(p.s, "hello", 5) == 0);
	/* every truncation is incomplete, never a read past the end */
	for (size_t n = 0; n < 8; n++)
		ASSERT_EQ_INT(cc_netstring_parse(guarded(whole, n), n, 100, &p), CC_AGAIN);
	ASSERT_EQ_INT(cc_netstring_parse(guarded("0:,", 3), 3, 100, &p), 3);
	ASSERT_EQ_INT(p.len, 0);
	ASSERT_EQ_INT(cc_netstring_parse(guarded("5:hello;", 8), 8, 100, &p), CC_ERROR);
	ASSERT_EQ_INT(cc_netstring_parse(guarded("x:", 2), 2, 100, &p), CC_ERROR);
	ASSERT_EQ_INT(cc_netstring_parse(guarded("05:hello,", 9), 9, 100, &p), CC_ERROR);
	ASSERT_EQ_INT(cc_netstring_parse(guarded("500:", 4), 4, 100, &p), CC_ERROR);
	ASSERT_EQ_INT(cc_netstring_parse(guarded("9999999999:", 11), 11, 1 << 30, &p), CC_ERROR);
	/* two frames back to back: one at a time */
	ASSERT_EQ_INT(cc_netstring_parse("1:a,2:bc,", 9, 100, &p), 4);
}

TEST(map)
{
	struct cc_map m;
	char key[32];

	cc_map_init(&m);
	ASSERT(cc_map_get(&m, "x") == NULL);
	for (long i = 0; i < 10000; i++) {
		snprintf(key, sizeof(key), "k%ld", i);
		ASSERT(cc_map_put(&m, key, (void *)(i + 1)) == NULL);
	}
	ASSERT_EQ_INT(m.len, 10000);
	for (long i = 0; i < 10000; i++) {
		snprintf(key, sizeof(key), "k%ld", i);
		ASSERT_EQ_INT((long)cc_map_get(&m, key), i + 1);
	}
	ASSERT_EQ_INT((long)cc_map_put(&m, "k5", (void *)99), 6);
	ASSERT_EQ_INT((long)cc_map_get(&m, "k5"), 99);
	ASSERT(cc_map_get(&m, "nope") == NULL);
	cc_map_free(&m, NULL);
}

/* Deletion keeps every other key findable (probe chains shifted back, at
 * every load and around the table's end), and a clone is independent. */
TEST(map_delete_and_clone)
{
	struct cc_map m, c;
	char key[32];
	enum { N = 20000 };

	cc_map_init(&m);
	ASSERT(cc_map_del(&m, "x") == NULL);
	for (long i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "k%ld", i);
		cc_map_put(&m, key, (void *)(i + 1));
	}
	cc_map_clone(&c, &m);
	/* delete every third key of the clone */
	for (long i = 0; i < N; i += 3) {
		snprintf(key, sizeof(key), "k%ld", i);
		ASSERT_EQ_INT((long)cc_map_del(&c, key), i + 1);
		ASSERT(cc_map_del(&c, key) == NULL);
	}
	ASSERT_EQ_INT(c.len, N - (N + 2) / 3);
	for (long i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "k%ld", i);
		ASSERT_EQ_INT((long)cc_map_get(&c, key), i % 3 ? i + 1 : 0);
		ASSERT_EQ_INT((long)cc_map_get(&m, key), i + 1);   /* the original untouched */
	}
	/* deleted keys come back, and the rest stay */
	for (long i = 0; i < N; i += 3) {
		snprintf(key, sizeof(key), "k%ld", i);
		ASSERT(cc_map_put(&c, key, (void *)-1) == NULL);
	}
	for (long i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "k%ld", i);
		ASSERT_EQ_INT((long)cc_map_get(&c, key), i % 3 ? i + 1 : -1);
	}
	/* empty it completely */
	for (long i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "k%ld", i);
		ASSERT(cc_map_del(&c, key) != NULL);
	}
	ASSERT_EQ_INT(c.len, 0);
	for (size_t i = 0; i < c.cap; i++)
		ASSERT(c.slots[i].key == NULL);
	cc_map_free(&c, NULL);
	cc_map_free(&m, NULL);

	/* borrowed keys: the same, and the clone shares the caller's keys */
	static char keys[N][8];

	cc_map_init_borrowed(&m);
	for (long i = 0; i < N; i++) {
		snprintf(keys[i], sizeof(keys[i]), "b%ld", i);
		cc_map_put(&m, keys[i], (void *)(i + 1));
	}
	cc_map_clone(&c, &m);
	for (long i = 0; i < N; i += 2)
		ASSERT_EQ_INT((long)cc_map_del(&c, keys[i]), i + 1);
	for (long i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "b%ld", i);
		ASSERT_EQ_INT((long)cc_map_get(&c, key), i % 2 ? i + 1 : 0);
		ASSERT_EQ_INT((long)cc_map_get(&m, key), i + 1);
	}
	ASSERT(c.borrowed && m.borrowed);
	cc_map_free(&c, NULL);
	ASSERT(c.borrowed);
	cc_map_free(&m, NULL);
}

struct conf {
	char *name;
	long port;
};

static const struct cc_config_row rows[] = {
	{ "CCT_NAME", CC_CFG_STR, "dflt", 0, 8, offsetof(struct conf, name), "a name" },
	{ "CCT_PORT", CC_CFG_INT, "80", 1, 65535, offsetof(struct conf, port), "a port" },
};

TEST(config)
{
	struct conf c;
	char *err = NULL;

	unsetenv("CCT_NAME");
	setenv("CCT_PORT", "8443", 1);
	ASSERT_EQ_INT(cc_config_load(rows, 2, &c, &err), CC_OK);
	ASSERT_EQ_STR(c.name, "dflt");
	ASSERT_EQ_INT(c.port, 8443);
	cc_config_free(rows, 2, &c);
	setenv("CCT_PORT", "70000", 1);
	ASSERT_EQ_INT(cc_config_load(rows, 2, &c, &err), CC_ERROR);
	ASSERT(strstr(err, "CCT_PORT=70000"));
	setenv("CCT_PORT", "12x", 1);
	ASSERT_EQ_INT(cc_config_load(rows, 2, &c, &err), CC_ERROR);
	/* a string over its row's length is refused, not cut later */
	setenv("CCT_PORT", "80", 1);
	setenv("CCT_NAME", "123456789", 1);
	ASSERT_EQ_INT(cc_config_load(rows, 2, &c, &err), CC_ERROR);
	ASSERT(strstr(err, "CCT_NAME: at most 8 characters"));
	setenv("CCT_NAME", "12345678", 1);
	ASSERT_EQ_INT(cc_config_load(rows, 2, &c, &err), CC_OK);
	cc_config_free(rows, 2, &c);
	unsetenv("CCT_NAME");
	free(err);
}

TEST(ids)
{
	char u[CC_UUID_LEN], u2[CC_UUID_LEN], t[CC_TOKEN_LEN], h[CC_MD5_HEX], s[CC_SHA256_HEX];

	ASSERT_EQ_INT(cc_uuid(u), CC_OK);
	ASSERT_EQ_INT(cc_uuid(u2), CC_OK);
	ASSERT_EQ_INT(strlen(u), 36);
	ASSERT(u[14] == '4');
	ASSERT(strcmp(u, u2) != 0);
	ASSERT(cc_uuid_valid(u));
	ASSERT(!cc_uuid_valid("not-a-uuid"));
	ASSERT(!cc_uuid_valid("736AE3B3-B0A2-4389-AC66-E0B6291F7317"));
	ASSERT(!cc_uuid_valid("736ae3b3xb0a2-4389-ac66-e0b6291f7317"));
	ASSERT_EQ_INT(cc_token(t), CC_OK);
	ASSERT_EQ_INT(strlen(t), 43);
	/* a named UUID: the same for the same name (a repeated event), valid */
	cc_uuid_named("3f0c/ended", u);
	cc_uuid_named("3f0c/ended", u2);
	ASSERT_EQ_STR(u, u2);
	ASSERT(cc_uuid_valid(u) && u[14] == '8');
	cc_uuid_named("3f0c/answered", u2);
	ASSERT(strcmp(u, u2) != 0);
	/* RFC 2617 section 3.5: Mufasa:testrealm@host.com:Circle Of Life */
	cc_sip_ha1("Mufasa", "testrealm@host.com", "Circle Of Life", h);
	ASSERT_EQ_STR(h, "939e7578ed9e3c518a452acee763bce9");
	cc_sha256_hex("abc", 3, s);
	ASSERT_EQ_STR(s, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	ASSERT(cc_secret_eq("abc", "abc"));
	ASSERT(!cc_secret_eq("abc", "abd"));
	ASSERT(!cc_secret_eq("abc", "abcd"));
}

/* Quantiles within one bucket (~3%) of the truth, never below it. */
TEST(hist)
{
	static struct cc_hist h;

	ASSERT_EQ_INT((int)cc_hist_quantile(&h, 0.5), 0);
	for (uint64_t v = 1; v <= 100000; v++)
		cc_hist_add(&h, v * 10);     /* 10 ns .. 1 ms, uniform */
	uint64_t p50 = cc_hist_quantile(&h, 0.50), p99 = cc_hist_quantile(&h, 0.99);

	ASSERT(p50 >= 500000 && p50 <= 500000 * 103 / 100);
	ASSERT(p99 >= 990000 && p99 <= 990000 * 103 / 100);
	ASSERT(cc_hist_quantile(&h, 1.0) == 1000000);
	ASSERT(cc_hist_count_le(&h, 1000000) == 100000);
	ASSERT(cc_hist_count_le(&h, 5) == 0);
	ASSERT(cc_hist_count_le(&h, 10) == 1);
	/* huge values land in the last bucket instead of overflowing */
	cc_hist_add(&h, UINT64_MAX / 2);
	ASSERT(h.count == 100001);
}

/* The window forgets what is older than two spans, keeps the last one. */
TEST(hist_window)
{
	struct cc_hist_window w;
	uint64_t t = 1000000000000ULL, span = 10000000000ULL;   /* 10 s */

	cc_hist_window_init(&w, span);
	w.since_ns = t;
	for (int i = 0; i < 100; i++)
		cc_hist_window_add(&w, t + (uint64_t)i, 5000000);   /* 5 ms */
	ASSERT_EQ_INT(cc_hist_window_count(&w, t + span / 2), 100);
	/* next span: the 5 ms values still count, beside the new 1 us ones */
	for (int i = 0; i < 100; i++)
		cc_hist_window_add(&w, t + span + (uint64_t)i, 1000);
	ASSERT_EQ_INT(cc_hist_window_count(&w, t + span + 100), 200);
	ASSERT(cc_hist_window_quantile(&w, t + span + 100, 0.99) >= 4800000);
	/* one span later the 5 ms values are gone */
	ASSERT(cc_hist_window_quantile(&w, t + 2 * span + 200, 0.99) <= 1100);
	ASSERT_EQ_INT(cc_hist_window_count(&w, t + 2 * span + 200), 100);
	/* idle for two spans: empty */
	ASSERT_EQ_INT(cc_hist_window_count(&w, t + 5 * span), 0);
	ASSERT_EQ_INT(cc_hist_window_quantile(&w, t + 5 * span, 0.5), 0);
}

/* the follow-up date of a disposition, a customer's date field: a day of
 * the calendar, nothing else (billingd casts it to date) */
TEST(dates)
{
	static const char *const good[] = { "2026-12-04", "2028-02-29", "2000-02-29", "0001-01-01" };
	static const char *const bad[] = { "", "2026-2-04", "2026-13-01", "2026-00-10", "2026-04-31",
	                                   "2027-02-29", "1900-02-29", "2026-12-04T00", "2026/12/04",
	                                   "+026-12-04", "2026-12-0a", "0000-01-01" };

	for (size_t i = 0; i < CC_ARRAY_LEN(good); i++)
		ASSERT(cc_date_ok(good[i]));
	for (size_t i = 0; i < CC_ARRAY_LEN(bad); i++)
		ASSERT(!cc_date_ok(bad[i]));
	ASSERT(!cc_date_ok(NULL));
}

TEST_LIST(T(dates), T(e164_valid), T(e164_from_sip), T(e164_prefix), T(netstring), T(map), T(map_delete_and_clone), T(config), T(ids), T(hist), T(hist_window))
