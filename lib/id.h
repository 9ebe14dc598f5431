/*
 * id.h: identifiers and secrets, from OpenSSL's CSPRNG and digests.
 */
#ifndef CC_ID_H
#define CC_ID_H

#include <stddef.h>

#define CC_UUID_LEN 37   /* 36 characters and NUL */
#define CC_TOKEN_LEN 44  /* "cc_" + 40 hex characters and NUL */
#define CC_SHA256_HEX 65
#define CC_MD5_HEX 33

/* A random (version 4) UUID in lower-case text. CC_ERROR if the RNG fails
 * (out is then unset: a caller must look). */
int cc_uuid(char out[CC_UUID_LEN]) __attribute__((warn_unused_result));

/* A UUID named by `name`: the same name gives the same UUID (the first 128
 * bits of SHA-256("cc:" name), version 8, RFC 9562's custom layout). For
 * ids that a retried message must repeat, such as the id of a call's end
 * event, whoever reports it and however often. */
void cc_uuid_named(const char *name, char out[CC_UUID_LEN]);

/* True if s is a UUID in the lower-case text form cc_uuid writes. */
int cc_uuid_valid(const char *s);

/* A fresh API secret "cc_<40 hex>" (160 random bits). CC_ERROR if the RNG
 * fails (out is then unset: hashing it would hand out stack garbage). */
int cc_token(char out[CC_TOKEN_LEN]) __attribute__((warn_unused_result));

/* n bytes as lower-case hex into out (2n + 1 bytes, NUL-terminated). */
void cc_hex(const void *data, size_t n, char *out);

/* Lower-case hex SHA-256 / MD5 of len bytes. */
void cc_sha256_hex(const void *data, size_t len, char out[CC_SHA256_HEX]);
void cc_md5_hex(const void *data, size_t len, char out[CC_MD5_HEX]);

/* The SIP digest HA1 = MD5(user:realm:password). */
void cc_sip_ha1(const char *user, const char *realm, const char *password,
                char out[CC_MD5_HEX]);

/* Constant-time equality of two NUL-terminated strings. */
int cc_secret_eq(const char *a, const char *b);

#endif
