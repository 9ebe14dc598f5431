/*
 * cc.h: the small vocabulary every part of the platform shares.
 *
 * Return codes follow nginx: CC_OK, CC_ERROR, CC_AGAIN, CC_DECLINED.
 * Low-level wrappers return -errno. Invariants are checked by CC_BUG_ON,
 * which stays on in release builds (haproxy's BUG_ON).
 */
#ifndef CC_H
#define CC_H

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

enum {
	CC_OK       = 0,   /* done */
	CC_ERROR    = -1,  /* failed; the caller got a message or errno */
	CC_AGAIN    = -2,  /* not yet: retry later or read more input */
	CC_DECLINED = -3,  /* not for me / not found */
};

/* A length-carrying view of bytes owned by someone else (kamailio's str). */
struct cc_str {
	const char *s;  /* first byte; not NUL-terminated in general */
	size_t len;     /* number of bytes */
};

#define CC_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define CC_BUG_ON(cond) do { \
	if (cond) { \
		fprintf(stderr, "BUG at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

/* Formats into a fresh heap string; the caller frees it. NULL on OOM. */
char *cc_sprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Sets *err (if err) to a fresh formatted message, freeing the old one.
 * Always returns CC_ERROR so validators can `return cc_fail(err, ...)`. */
int cc_fail(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reads a secret of at least 16 bytes from a file into buf (size bytes,
 * NUL-terminated, trailing white space removed). CC_ERROR with *err when
 * the file is missing, readable by others (mode & 077), too short or too
 * long for buf. */
int cc_read_secret(const char *path, char *buf, size_t size, char **err)
	__attribute__((warn_unused_result));

#endif
