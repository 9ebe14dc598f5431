/*
 * reccrypt.h: recordings encrypted at rest (docs/RECORDING.md).
 *
 * Three levels of keys, all AES-256:
 *   - the platform's master key: in $CC_VAR/secrets/master.key (32 random
 *     bytes, 0600, made at the first start), behind the cc_kms interface
 *     so that a KMS can take its place;
 *   - each tenant's key-encryption key (KEK): random, versioned, stored in
 *     cc.tenant_keys wrapped by the master key; rotating makes a new
 *     version and re-wraps the data keys (audio untouched); deleting the
 *     tenant destroys every version (its recordings unreadable for good);
 *   - each recording's data key (DK): random, stored in cc.recordings
 *     wrapped by the tenant's KEK.
 *
 * A wrapped key is AES-256-GCM: nonce (12, random) | ciphertext (32) | tag
 * (16) = CC_WRAPPED_LEN bytes, with a context as AAD ("cc-kek <tenant> <version>",
 * "cc-dk <recording id>"), so a wrapped key moved to another tenant, version
 * or recording does not unwrap.
 *
 * A recording file (.ccr), written forward only, never rewritten:
 *   header  (CC_REC_HDR_LEN = 24): "CCREC\0\1\0" (magic and version) |
 *           recording id (16 bytes, the uuid)
 *   chunks: word (4, big-endian: bit 31 final, bit 30 incomplete, bits 0-29
 *           the plaintext length L, at most CC_REC_CHUNK_MAX) |
 *           ciphertext (L) | tag (16)
 *   AES-256-GCM under the DK; chunk i's nonce is 4 zero bytes | i (8, big
 *   endian); its AAD is the header then its word. A flipped byte anywhere
 *   fails a tag (CC_REC_CORRUPT); chunks reordered or dropped fail (the
 *   counter); a file cut short lacks its final chunk (CC_REC_TRUNCATED).
 *   The last chunk is the final one (L may be 0); a recording closed after
 *   a crash (cc_rec_recover) ends with a final chunk marked incomplete.
 *   The recorder writes one chunk per second of audio and fsyncs it, so a
 *   crash loses at most the last second.
 *
 * The plaintext is the recording's audio/ogg stream; its length (the sum of
 * L) is cc.recordings.audio_bytes. A reader seeks by skipping chunks by
 * their words (without decrypting them) and decrypts from the chunk that
 * holds the offset: a Range request costs one chunk, not the file.
 *
 * Everything here is blocking file and crypto work: never on a loop thread
 * that serves calls (the recorder's writer thread, tenantd's offload).
 */
#ifndef CC_RECCRYPT_H
#define CC_RECCRYPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pg.h"
#include "recstore.h"

#define CC_KEY_LEN        32
#define CC_WRAPPED_LEN    (12 + 32 + 16)
#define CC_REC_HDR_LEN    24
#define CC_REC_TAG_LEN    16
#define CC_REC_CHUNK_MAX  (1u << 20)     /* plaintext bytes of one chunk */

enum cc_rec_err {
	CC_REC_OK = 0,
	CC_REC_IO = -1,          /* the store failed (errno kept) */
	CC_REC_CORRUPT = -2,     /* a tag, the header or a word is wrong */
	CC_REC_TRUNCATED = -3,   /* the file ends without its final chunk */
	CC_REC_NOKEY = -4,       /* the key is destroyed or does not unwrap */
	CC_REC_INVAL = -5,       /* bad argument (offset past the end, ...) */
};
const char *cc_rec_strerror(int err);

/* ------------------------------------------------------------- the KMS */

/* Wraps and unwraps 32-byte keys; aad is the context (see above). ref names
 * the key that wrapped (stored beside the wrapped key: "local:1"). */
struct cc_kms {
	int (*wrap)(struct cc_kms *kms, const uint8_t key[CC_KEY_LEN], const char *aad,
	            uint8_t out[CC_WRAPPED_LEN], char *ref, size_t ref_size);
	int (*unwrap)(struct cc_kms *kms, const char *ref, const uint8_t in[CC_WRAPPED_LEN],
	              const char *aad, uint8_t key[CC_KEY_LEN]);
	void (*close)(struct cc_kms *kms);
};
/* The local KMS: dir/master.key, made (0600, O_EXCL, fsynced) when absent.
 * 0 or an errno (a key file of the wrong size or mode: EINVAL). */
int cc_kms_local_open(const char *secrets_dir, struct cc_kms **kmsp);

/* AES-256-GCM key wrap with a key of our own (KEK -> DK). */
int cc_key_wrap(const uint8_t kek[CC_KEY_LEN], const uint8_t key[CC_KEY_LEN], const char *aad,
                uint8_t out[CC_WRAPPED_LEN]);
int cc_key_unwrap(const uint8_t kek[CC_KEY_LEN], const uint8_t in[CC_WRAPPED_LEN], const char *aad,
                  uint8_t key[CC_KEY_LEN]);
/* 32 random bytes (OpenSSL RAND_bytes). */
int cc_key_random(uint8_t key[CC_KEY_LEN]);
/* Overwrites a key in memory (OPENSSL_cleanse). */
void cc_key_wipe(void *key, size_t n);

/* ------------------------------------------------ tenant keys (cc.tenant_keys) */

/* The tenant's current KEK, made (version 1) when it has none: two writers
 * at once agree (INSERT ... ON CONFLICT DO NOTHING, then read). */
int cc_tenant_kek(struct cc_pg *pg, struct cc_kms *kms, const char *tenant_id,
                  int *version, uint8_t kek[CC_KEY_LEN]);
/* A given version (for reading an old recording). CC_REC_NOKEY if destroyed. */
int cc_tenant_kek_version(struct cc_pg *pg, struct cc_kms *kms, const char *tenant_id,
                          int version, uint8_t kek[CC_KEY_LEN]);
/* Rotation: a new version; every recording's DK re-wrapped under it, in
 * one transaction; the old versions retired and destroyed. The audio files
 * are not touched. *rewrapped: how many. */
int cc_tenant_kek_rotate(struct cc_pg *pg, struct cc_kms *kms, const char *tenant_id,
                         int *new_version, long *rewrapped);
/* Crypto-shredding: every version's wrapped key set NULL (destroyed_at). */
int cc_tenant_kek_destroy(struct cc_pg *pg, const char *tenant_id);

/* The AAD of a tenant KEK and of a recording's DK (buf of 96 bytes). */
void cc_kek_aad(char *buf, size_t n, const char *tenant_id, int version);
void cc_dk_aad(char *buf, size_t n, const char *recording_id);

/* ------------------------------------------------------ writing a recording */

struct cc_rec_writer;

/* Creates key in store with the header. id is the recording's uuid (text). */
int cc_rec_writer_open(struct cc_store *store, const char *key, const char *id,
                       const uint8_t dk[CC_KEY_LEN], struct cc_rec_writer **wp);
/* Encrypts and appends one chunk (n <= CC_REC_CHUNK_MAX; n may be 0). */
int cc_rec_writer_chunk(struct cc_rec_writer *w, const void *plain, size_t n);
/* fsync: what was appended survives a crash. */
int cc_rec_writer_sync(struct cc_rec_writer *w);
/* The final chunk (plain may be NULL, n 0), fsync, close, free. The stored
 * file's size and SHA-256 (hex) and the plaintext length for the row. On
 * error the writer is freed too (the file stays: the caller marks it failed). */
int cc_rec_writer_finish(struct cc_rec_writer *w, const void *plain, size_t n, uint64_t *bytes,
                         uint64_t *audio_bytes, char sha256_hex[65]);
/* Frees without a final chunk (after a write error). */
void cc_rec_writer_abort(struct cc_rec_writer *w);

/* ------------------------------------------------------ reading a recording */

struct cc_rec_reader;

/* Opens and checks the header (id must match). */
int cc_rec_reader_open(struct cc_store *store, const char *key, const char *id,
                       const uint8_t dk[CC_KEY_LEN], struct cc_rec_reader **rp);
/* Positions the plaintext at off (CC_REC_INVAL past the end). */
int cc_rec_reader_seek(struct cc_rec_reader *r, uint64_t off);
/* Up to n plaintext bytes, each from a chunk whose tag verified: > 0 bytes,
 * 0 at the end (after the final chunk), or a negative cc_rec_err. A file
 * cut short answers CC_REC_TRUNCATED where it ends. */
ssize_t cc_rec_reader_read(struct cc_rec_reader *r, void *buf, size_t n);
/* After the end: the final chunk said incomplete (closed by cc_rec_recover). */
bool cc_rec_reader_incomplete(const struct cc_rec_reader *r);
void cc_rec_reader_close(struct cc_rec_reader *r);

/* Checks a whole stored file without producing its audio: every tag, the
 * final chunk, and (when sha256_hex is not NULL) the file's SHA-256. */
int cc_rec_verify(struct cc_store *store, const char *key, const char *id,
                  const uint8_t dk[CC_KEY_LEN], const char *sha256_hex, uint64_t *audio_bytes);

/* After a crash: keeps the chunks that verify, cuts what follows (a torn
 * last chunk), appends a final chunk marked incomplete, fsyncs. The stored
 * size, SHA-256 and plaintext length for the row. A file with a final
 * chunk already is left alone (its figures returned). */
int cc_rec_recover(struct cc_store *store, const char *key, const char *id,
                   const uint8_t dk[CC_KEY_LEN], uint64_t *bytes, uint64_t *audio_bytes,
                   char sha256_hex[65]);

#endif
