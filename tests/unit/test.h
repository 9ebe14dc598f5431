/*
 * test.h: a tiny test runner (after libuv's test/runner.c). Each test runs
 * in its own process with a timeout; ASSERT_* print both values; the
 * summary line is "N passed, N failed" and tests/run.sh adds it up.
 *
 *   TEST(name) { ASSERT_EQ_INT(1 + 1, 2); }
 *   ... TEST_LIST(T(name), ...)
 */
#ifndef CC_TEST_H
#define CC_TEST_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define TEST(name) static void test_##name(void)
#define T(name) { #name, test_##name }

struct cc_test {
	const char *name;
	void (*fn)(void);
};

#define FAILF(...) do { \
	fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__); \
	fprintf(stderr, __VA_ARGS__); \
	fputc('\n', stderr); \
	exit(1); \
} while (0)

#define ASSERT(c) do { if (!(c)) FAILF("assertion failed: %s", #c); } while (0)
#define ASSERT_EQ_INT(a, b) do { \
	long long _a = (long long)(a), _b = (long long)(b); \
	if (_a != _b) FAILF("%s == %s: %lld != %lld", #a, #b, _a, _b); \
} while (0)
#define ASSERT_EQ_STR(a, b) do { \
	const char *_a = (a), *_b = (b); \
	if (!_a || !_b || strcmp(_a, _b) != 0) \
		FAILF("%s == %s: \"%s\" != \"%s\"", #a, #b, _a ? _a : "(null)", _b ? _b : "(null)"); \
} while (0)

static inline int cc_test_main(const char *suite, const struct cc_test *t, size_t n,
                               int argc, char **argv)
{
	int passed = 0, failed = 0;

	for (size_t i = 0; i < n; i++) {
		pid_t pid;
		int st = 0;

		if (argc > 1 && strcmp(argv[1], t[i].name) != 0)
			continue;
		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			alarm(30);
			t[i].fn();
			exit(0);
		}
		waitpid(pid, &st, 0);
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
			printf("ok - %s.%s\n", suite, t[i].name);
			passed++;
		} else {
			printf("FAIL - %s.%s%s\n", suite, t[i].name,
			       WIFSIGNALED(st) ? (WTERMSIG(st) == SIGALRM ? " (timeout)" : " (crashed)") : "");
			failed++;
		}
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

#define TEST_LIST(...) \
	int main(int argc, char **argv) { \
		static const struct cc_test tests[] = { __VA_ARGS__ }; \
		return cc_test_main(SUITE, tests, sizeof(tests) / sizeof(tests[0]), argc, argv); \
	}

#endif
