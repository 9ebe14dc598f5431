/*
 * reccrypt.c: the encrypted recording format, key wrapping and the local
 * KMS (reccrypt.h). OpenSSL's EVP AES-256-GCM does all the cryptography;
 * this file only frames it.
 *
 * The reader is a parser of hostile input (a file of the store may have
 * been cut, flipped or replaced): every length is checked against
 * CC_REC_CHUNK_MAX and the file's size before a byte is read, and no
 * plaintext leaves a chunk whose tag did not verify.
 */
#include "reccrypt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "cc.h"
#include "id.h"
#include "log.h"

#define WORD_FINAL      0x80000000u
#define WORD_INCOMPLETE 0x40000000u
#define WORD_LEN        0x3fffffffu
#define NONCE_LEN       12

static const uint8_t magic[8] = { 'C', 'C', 'R', 'E', 'C', 0, 1, 0 };

const char *cc_rec_strerror(int err)
{
	switch (err) {
	case CC_REC_OK: return "ok";
	case CC_REC_IO: return "store error";
	case CC_REC_CORRUPT: return "corrupt recording";
	case CC_REC_TRUNCATED: return "truncated recording";
	case CC_REC_NOKEY: return "key destroyed or wrong";
	case CC_REC_INVAL: return "invalid argument";
	}
	return "unknown error";
}

/* ---------------------------------------------------------------- keys */

void cc_key_wipe(void *key, size_t n)
{
	OPENSSL_cleanse(key, n);
}

int cc_key_random(uint8_t key[CC_KEY_LEN])
{
	return RAND_bytes(key, CC_KEY_LEN) == 1 ? CC_REC_OK : CC_REC_IO;
}

/* One AES-256-GCM operation on a whole message (keys: 32 bytes). */
static int gcm_seal(const uint8_t key[CC_KEY_LEN], const uint8_t nonce[NONCE_LEN],
                    const void *aad, size_t aad_len, const void *in, size_t n, uint8_t *out,
                    uint8_t tag[CC_REC_TAG_LEN])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int len, ok;

	if (!ctx)
		return CC_REC_IO;
	ok = EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) == 1 &&
	     EVP_EncryptUpdate(ctx, NULL, &len, aad, (int)aad_len) == 1 &&
	     EVP_EncryptUpdate(ctx, out, &len, in, (int)n) == 1 &&
	     EVP_EncryptFinal_ex(ctx, out + len, &len) == 1 &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, CC_REC_TAG_LEN, tag) == 1;
	EVP_CIPHER_CTX_free(ctx);
	return ok ? CC_REC_OK : CC_REC_IO;
}

static int gcm_open(const uint8_t key[CC_KEY_LEN], const uint8_t nonce[NONCE_LEN],
                    const void *aad, size_t aad_len, const uint8_t *in, size_t n, uint8_t *out,
                    const uint8_t tag[CC_REC_TAG_LEN])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int len, ok;

	if (!ctx)
		return CC_REC_IO;
	ok = EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) == 1 &&
	     EVP_DecryptUpdate(ctx, NULL, &len, aad, (int)aad_len) == 1 &&
	     EVP_DecryptUpdate(ctx, out, &len, in, (int)n) == 1 &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, CC_REC_TAG_LEN, (void *)tag) == 1 &&
	     EVP_DecryptFinal_ex(ctx, out + len, &len) == 1;
	EVP_CIPHER_CTX_free(ctx);
	return ok ? CC_REC_OK : CC_REC_CORRUPT;
}

int cc_key_wrap(const uint8_t kek[CC_KEY_LEN], const uint8_t key[CC_KEY_LEN], const char *aad,
                uint8_t out[CC_WRAPPED_LEN])
{
	if (RAND_bytes(out, NONCE_LEN) != 1)
		return CC_REC_IO;
	return gcm_seal(kek, out, aad, strlen(aad), key, CC_KEY_LEN, out + NONCE_LEN,
	                out + NONCE_LEN + CC_KEY_LEN);
}

int cc_key_unwrap(const uint8_t kek[CC_KEY_LEN], const uint8_t in[CC_WRAPPED_LEN], const char *aad,
                  uint8_t key[CC_KEY_LEN])
{
	int err = gcm_open(kek, in, aad, strlen(aad), in + NONCE_LEN, CC_KEY_LEN, key,
	                   in + NONCE_LEN + CC_KEY_LEN);

	if (err) {
		cc_key_wipe(key, CC_KEY_LEN);
		return err == CC_REC_CORRUPT ? CC_REC_NOKEY : err;
	}
	return CC_REC_OK;
}

void cc_kek_aad(char *buf, size_t n, const char *tenant_id, int version)
{
	snprintf(buf, n, "cc-kek %s %d", tenant_id, version);
}

void cc_dk_aad(char *buf, size_t n, const char *recording_id)
{
	snprintf(buf, n, "cc-dk %s", recording_id);
}

/* ------------------------------------------------ tenant keys (cc.tenant_keys) */

static int hex_val(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* n bytes from 2n hex digits; false on any other length or digit */
static bool from_hex(const char *hex, uint8_t *out, size_t n)
{
	if (strlen(hex) != 2 * n)
		return false;
	for (size_t i = 0; i < n; i++) {
		int hi = hex_val(hex[2 * i]), lo = hex_val(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

/* Unwraps version (0: the current one) of the tenant's KEK. CC_REC_NOKEY
 * when there is none (or it is destroyed); *version the one found. */
static int kek_read(struct cc_pg *pg, struct cc_kms *kms, const char *tenant_id, int *version,
                    uint8_t kek[CC_KEY_LEN])
{
	char v[16], aad[96];
	const char *p[2] = { tenant_id, v };
	uint8_t wrapped[CC_WRAPPED_LEN];
	PGresult *res;
	int err = CC_REC_NOKEY;

	snprintf(v, sizeof(v), "%d", *version);
	res = cc_pg_exec(pg, "SELECT version, kms_ref, encode(wrapped, 'hex') FROM cc.tenant_keys "
	                 "WHERE tenant_id = $1::uuid AND wrapped IS NOT NULL AND "
	                 "($2::int = 0 AND retired_at IS NULL OR version = $2::int) "
	                 "ORDER BY version DESC LIMIT 1", 2, p);
	if (!res)
		return CC_REC_IO;
	if (PQntuples(res) == 1 && from_hex(PQgetvalue(res, 0, 2), wrapped, sizeof(wrapped))) {
		*version = atoi(PQgetvalue(res, 0, 0));
		cc_kek_aad(aad, sizeof(aad), tenant_id, *version);
		err = kms->unwrap(kms, PQgetvalue(res, 0, 1), wrapped, aad, kek);
	}
	PQclear(res);
	return err;
}

int cc_tenant_kek_version(struct cc_pg *pg, struct cc_kms *kms, const char *tenant_id,
                          int version, uint8_t kek[CC_KEY_LEN])
{
	if (version < 1)
		return CC_REC_INVAL;
	return kek_read(pg, kms, tenant_id, &version, kek);
}

int cc_tenant_kek(struct cc_pg *pg, struct cc_kms *kms, const char *tenant_id,
                  int *version, uint8_t kek[CC_KEY_LEN])
{
	char aad[96], ref[64], hex[2 * CC_WRAPPED_LEN + 1];
	const char *p[3] = { tenant_id, ref, hex };
	uint8_t fresh[CC_KEY_LEN], wrapped[CC_WRAPPED_LEN];
	int err;

	*version = 0;
	if ((err = kek_read(pg, kms, tenant_id, version, kek)) != CC_REC_NOKEY)
		return err;
	/* none yet: version 1; of two writers at once the first INSERT wins
	 * and both read it */
	cc_kek_aad(aad, sizeof(aad), tenant_id, 1);
	if ((err = cc_key_random(fresh)) || (err = kms->wrap(kms, fresh, aad, wrapped, ref, sizeof(ref)))) {
		cc_key_wipe(fresh, sizeof(fresh));
		return err;
	}
	cc_key_wipe(fresh, sizeof(fresh));
	cc_hex(wrapped, CC_WRAPPED_LEN, hex);
	if (cc_pg_cmd(pg, "INSERT INTO cc.tenant_keys (tenant_id, version, kms_ref, wrapped) "
	              "VALUES ($1::uuid, 1, $2, decode($3, 'hex')) ON CONFLICT DO NOTHING", 3, p) != CC_OK)
		return CC_REC_IO;
	*version = 0;
	return kek_read(pg, kms, tenant_id, version, kek);
}

/* One recording's DK from under kek (its version) to under fresh (the new
 * one). CC_REC_NOKEY (a wrapped key that does not unwrap: unreadable
 * already) is skipped by the caller; anything else stops the rotation. */
static int rewrap_one(struct cc_pg *pg, const char *id, const char *hex_in,
                      const uint8_t kek[CC_KEY_LEN], const uint8_t fresh[CC_KEY_LEN], int version)
{
	uint8_t in[CC_WRAPPED_LEN], out[CC_WRAPPED_LEN], dk[CC_KEY_LEN];
	char aad[96], v[16], hex_out[2 * CC_WRAPPED_LEN + 1];
	const char *p[3] = { id, hex_out, v };
	int err;

	if (!from_hex(hex_in, in, sizeof(in)))
		return CC_REC_NOKEY;
	cc_dk_aad(aad, sizeof(aad), id);
	if ((err = cc_key_unwrap(kek, in, aad, dk)))
		return err;
	err = cc_key_wrap(fresh, dk, aad, out);
	cc_key_wipe(dk, sizeof(dk));
	if (err)
		return err;
	cc_hex(out, sizeof(out), hex_out);
	snprintf(v, sizeof(v), "%d", version);
	if (cc_pg_cmd(pg, "UPDATE cc.recordings SET wrapped_key = decode($2, 'hex'), "
	              "kek_version = $3::int WHERE id = $1::uuid", 3, p) != CC_OK)
		return CC_REC_IO;
	return CC_REC_OK;
}

/* Every recording with a wrapped key, re-wrapped under fresh (version). The
 * old KEK is unwrapped once per version met (rows come ordered by it). */
static int rewrap_all(struct cc_pg *pg, struct cc_kms *kms, const char *tenant_id,
                      const uint8_t fresh[CC_KEY_LEN], int version, long *rewrapped)
{
	const char *p[1] = { tenant_id };
	uint8_t kek[CC_KEY_LEN];
	int have = 0, kerr = 0, err = CC_REC_OK;
	PGresult *res = cc_pg_exec(pg, "SELECT id::text, kek_version, encode(wrapped_key, 'hex') "
	                           "FROM cc.recordings WHERE tenant_id = $1::uuid AND "
	                           "length(wrapped_key) > 0 ORDER BY kek_version FOR UPDATE", 1, p);

	if (!res)
		return CC_REC_IO;
	for (int i = 0; i < PQntuples(res) && !err; i++) {
		int v = atoi(PQgetvalue(res, i, 1));

		if (v != have) {
			have = v;
			kerr = cc_tenant_kek_version(pg, kms, tenant_id, v, kek);
		}
		/* its version destroyed (or not unwrapping): unreadable already */
		if (kerr == CC_REC_NOKEY || kerr == CC_REC_INVAL)
			continue;
		if ((err = kerr))
			break;
		err = rewrap_one(pg, PQgetvalue(res, i, 0), PQgetvalue(res, i, 2), kek, fresh, version);
		if (err == CC_REC_NOKEY)
			err = CC_REC_OK;
		else if (!err)
			(*rewrapped)++;
	}
	cc_key_wipe(kek, sizeof(kek));
	PQclear(res);
	return err;
}

/* The new version's row: max + 1, the rows locked so that two rotations
 * queue up instead of both making the same version. */
static int kek_insert_next(struct cc_pg *pg, struct cc_kms *kms, const char *tenant_id,
                           uint8_t fresh[CC_KEY_LEN], int *version)
{
	char aad[96], ref[64], v[16], hex[2 * CC_WRAPPED_LEN + 1];
	const char *p[4] = { tenant_id, v, ref, hex };
	uint8_t wrapped[CC_WRAPPED_LEN];
	PGresult *res;
	int err, max = 0;

	res = cc_pg_exec(pg, "SELECT version FROM cc.tenant_keys WHERE tenant_id = $1::uuid FOR UPDATE",
	                 1, p);
	if (!res)
		return CC_REC_IO;
	for (int i = 0; i < PQntuples(res); i++)
		if (atoi(PQgetvalue(res, i, 0)) > max)
			max = atoi(PQgetvalue(res, i, 0));
	PQclear(res);
	*version = max + 1;
	cc_kek_aad(aad, sizeof(aad), tenant_id, *version);
	if ((err = cc_key_random(fresh)) || (err = kms->wrap(kms, fresh, aad, wrapped, ref, sizeof(ref))))
		return err;
	cc_hex(wrapped, sizeof(wrapped), hex);
	snprintf(v, sizeof(v), "%d", *version);
	if (cc_pg_cmd(pg, "INSERT INTO cc.tenant_keys (tenant_id, version, kms_ref, wrapped) "
	              "VALUES ($1::uuid, $2::int, $3, decode($4, 'hex'))", 4, p) != CC_OK)
		return CC_REC_IO;
	return CC_REC_OK;
}

/* In the caller's transaction when one is open (tenantd audits in it),
 * else in one of its own. */
int cc_tenant_kek_rotate(struct cc_pg *pg, struct cc_kms *kms, const char *tenant_id,
                         int *new_version, long *rewrapped)
{
	const char *p[2] = { tenant_id, NULL };
	char v[16];
	uint8_t fresh[CC_KEY_LEN];
	bool own = !pg->conn || PQtransactionStatus(pg->conn) != PQTRANS_INTRANS;
	int err;

	*rewrapped = 0;
	if (own && cc_pg_cmd(pg, "BEGIN", 0, NULL) != CC_OK)
		return CC_REC_IO;
	err = kek_insert_next(pg, kms, tenant_id, fresh, new_version);
	if (!err)
		err = rewrap_all(pg, kms, tenant_id, fresh, *new_version, rewrapped);
	cc_key_wipe(fresh, sizeof(fresh));
	snprintf(v, sizeof(v), "%d", *new_version);
	p[1] = v;
	/* the old versions retired and their material gone: nothing needs them */
	if (!err && cc_pg_cmd(pg, "UPDATE cc.tenant_keys SET retired_at = COALESCE(retired_at, now()), "
	                      "wrapped = NULL, destroyed_at = COALESCE(destroyed_at, now()) "
	                      "WHERE tenant_id = $1::uuid AND version < $2::int", 2, p) != CC_OK)
		err = CC_REC_IO;
	if (own && !err && cc_pg_cmd(pg, "COMMIT", 0, NULL) != CC_OK)
		err = CC_REC_IO;
	if (own && err && pg->conn)
		PQclear(PQexec(pg->conn, "ROLLBACK"));
	return err;
}

/* One statement: atomic alone, or part of the caller's transaction. */
int cc_tenant_kek_destroy(struct cc_pg *pg, const char *tenant_id)
{
	const char *p[1] = { tenant_id };

	if (cc_pg_cmd(pg, "UPDATE cc.tenant_keys SET wrapped = NULL, retired_at = COALESCE(retired_at, "
	              "now()), destroyed_at = COALESCE(destroyed_at, now()) WHERE tenant_id = $1::uuid",
	              1, p) != CC_OK)
		return CC_REC_IO;
	return CC_REC_OK;
}

/* ------------------------------------------------------------ local KMS */

struct kms_local {
	struct cc_kms kms;
	uint8_t master[CC_KEY_LEN];
};

static int local_wrap(struct cc_kms *kms, const uint8_t key[CC_KEY_LEN], const char *aad,
                      uint8_t out[CC_WRAPPED_LEN], char *ref, size_t ref_size)
{
	struct kms_local *k = (struct kms_local *)kms;

	if (ref_size < sizeof("local:1"))
		return CC_REC_INVAL;
	snprintf(ref, ref_size, "local:1");
	return cc_key_wrap(k->master, key, aad, out);
}

static int local_unwrap(struct cc_kms *kms, const char *ref, const uint8_t in[CC_WRAPPED_LEN],
                        const char *aad, uint8_t key[CC_KEY_LEN])
{
	struct kms_local *k = (struct kms_local *)kms;

	if (!ref || strcmp(ref, "local:1") != 0)
		return CC_REC_NOKEY;
	return cc_key_unwrap(k->master, in, aad, key);
}

static void local_close(struct cc_kms *kms)
{
	struct kms_local *k = (struct kms_local *)kms;

	if (!k)
		return;
	cc_key_wipe(k->master, sizeof(k->master));
	free(k);
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int err = 0;

	if (fd < 0)
		return errno;
	if (fsync(fd) != 0)
		err = errno;
	close(fd);
	return err;
}

/* Makes dir/master.key: written and fsynced under a temporary name, then
 * linked (link fails with EEXIST if another process got there first: both
 * then read the one key that won). */
static int master_make(const char *dir, const char *path)
{
	char tmp[4096];
	uint8_t key[CC_KEY_LEN];
	int fd, err = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.master.key.%ld", dir, (long)getpid()) >= sizeof(tmp))
		return ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST) {
		unlink(tmp);    /* ours, left by a crashed start of this pid */
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	}
	if (fd < 0)
		return errno;
	if (cc_key_random(key) != CC_REC_OK)
		err = EIO;
	else if (write(fd, key, sizeof(key)) != (ssize_t)sizeof(key))
		err = errno ? errno : EIO;
	else if (fsync(fd) != 0)
		err = errno;
	cc_key_wipe(key, sizeof(key));
	close(fd);
	if (!err && link(tmp, path) != 0 && errno != EEXIST)
		err = errno;
	unlink(tmp);
	if (!err)
		err = fsync_dir(dir);
	return err;
}

static int master_read(const char *path, uint8_t key[CC_KEY_LEN])
{
	struct stat st;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	int err = 0;

	if (fd < 0)
		return errno;
	if (fstat(fd, &st) != 0) {
		err = errno;
	} else if (!S_ISREG(st.st_mode) || st.st_size != CC_KEY_LEN) {
		CC_ERR("master key %s: %lld bytes, want a file of %d: refused", path,
		       (long long)st.st_size, CC_KEY_LEN);
		err = EINVAL;
	} else if (st.st_mode & 077) {
		CC_ERR("master key %s: mode %03o, readable beyond its owner: refused (chmod 600)",
		       path, (unsigned)(st.st_mode & 0777));
		err = EINVAL;
	} else if ((r = pread(fd, key, CC_KEY_LEN, 0)) != CC_KEY_LEN) {
		err = r < 0 ? errno : EIO;
	}
	close(fd);
	if (err)
		cc_key_wipe(key, CC_KEY_LEN);
	return err;
}

int cc_kms_local_open(const char *secrets_dir, struct cc_kms **kmsp)
{
	char path[4096];
	struct kms_local *k;
	int err;

	if (!secrets_dir || !*secrets_dir)
		return EINVAL;
	if ((size_t)snprintf(path, sizeof(path), "%s/master.key", secrets_dir) >= sizeof(path))
		return ENAMETOOLONG;
	if (mkdir(secrets_dir, 0700) != 0 && errno != EEXIST)
		return errno;
	k = calloc(1, sizeof(*k));
	if (!k)
		return ENOMEM;
	err = master_read(path, k->master);
	if (err == ENOENT) {
		err = master_make(secrets_dir, path);
		if (!err)
			err = master_read(path, k->master);
	}
	if (err) {
		local_close(&k->kms);
		return err;
	}
	k->kms.wrap = local_wrap;
	k->kms.unwrap = local_unwrap;
	k->kms.close = local_close;
	*kmsp = &k->kms;
	return 0;
}

/* ------------------------------------------------------ the file format */

static int parse_uuid(const char *id, uint8_t out[16])
{
	int j = 0;

	if (!id || strlen(id) != 36)
		return CC_REC_INVAL;
	for (int i = 0; i < 36; i++) {
		char c = id[i];
		int v;

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return CC_REC_INVAL;
			continue;
		}
		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v = c - 'A' + 10;
		else
			return CC_REC_INVAL;
		if (j % 2 == 0)
			out[j / 2] = (uint8_t)(v << 4);
		else
			out[j / 2] |= (uint8_t)v;
		j++;
	}
	return CC_REC_OK;
}

static void make_header(uint8_t hdr[CC_REC_HDR_LEN], const uint8_t uuid[16])
{
	memcpy(hdr, magic, sizeof(magic));
	memcpy(hdr + sizeof(magic), uuid, 16);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void chunk_nonce(uint8_t nonce[NONCE_LEN], uint64_t i)
{
	memset(nonce, 0, 4);
	for (int b = 0; b < 8; b++)
		nonce[4 + b] = (uint8_t)(i >> (56 - 8 * b));
}

/* A word is well formed: its length at most CC_REC_CHUNK_MAX and the
 * incomplete mark only on the final chunk. */
static int word_check(uint32_t word)
{
	if ((word & WORD_LEN) > CC_REC_CHUNK_MAX)
		return CC_REC_CORRUPT;
	if ((word & WORD_INCOMPLETE) && !(word & WORD_FINAL))
		return CC_REC_CORRUPT;
	return CC_REC_OK;
}

/* One cipher context per file: the key expanded once, a new nonce per chunk. */
struct chunk_cipher {
	EVP_CIPHER_CTX *ctx;
	uint8_t hdr[CC_REC_HDR_LEN];
};

static int cipher_init(struct chunk_cipher *c, const uint8_t dk[CC_KEY_LEN], int enc)
{
	c->ctx = EVP_CIPHER_CTX_new();
	if (!c->ctx)
		return CC_REC_IO;
	if (EVP_CipherInit_ex(c->ctx, EVP_aes_256_gcm(), NULL, dk, NULL, enc) != 1) {
		EVP_CIPHER_CTX_free(c->ctx);
		c->ctx = NULL;
		return CC_REC_IO;
	}
	return CC_REC_OK;
}

/* Seals chunk i: out holds word | ciphertext | tag (4 + n + 16 bytes). */
static int chunk_seal(struct chunk_cipher *c, uint64_t i, uint32_t word, const void *plain,
                      size_t n, uint8_t *out)
{
	uint8_t nonce[NONCE_LEN];
	int len;

	put32(out, word);
	chunk_nonce(nonce, i);
	if (EVP_EncryptInit_ex(c->ctx, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_EncryptUpdate(c->ctx, NULL, &len, c->hdr, CC_REC_HDR_LEN) != 1 ||
	    EVP_EncryptUpdate(c->ctx, NULL, &len, out, 4) != 1 ||
	    (n && EVP_EncryptUpdate(c->ctx, out + 4, &len, plain, (int)n) != 1) ||
	    EVP_EncryptFinal_ex(c->ctx, out + 4 + n, &len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c->ctx, EVP_CTRL_GCM_GET_TAG, CC_REC_TAG_LEN, out + 4 + n) != 1)
		return CC_REC_IO;
	return CC_REC_OK;
}

/* Opens chunk i (in: word | ciphertext | tag, n the plaintext length). */
static int chunk_open(struct chunk_cipher *c, uint64_t i, const uint8_t *in, size_t n, uint8_t *out)
{
	uint8_t nonce[NONCE_LEN], tag[CC_REC_TAG_LEN];
	int len;

	memcpy(tag, in + 4 + n, CC_REC_TAG_LEN);
	chunk_nonce(nonce, i);
	if (EVP_DecryptInit_ex(c->ctx, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_DecryptUpdate(c->ctx, NULL, &len, c->hdr, CC_REC_HDR_LEN) != 1 ||
	    EVP_DecryptUpdate(c->ctx, NULL, &len, in, 4) != 1 ||
	    (n && EVP_DecryptUpdate(c->ctx, out, &len, in + 4, (int)n) != 1) ||
	    EVP_CIPHER_CTX_ctrl(c->ctx, EVP_CTRL_GCM_SET_TAG, CC_REC_TAG_LEN, tag) != 1 ||
	    EVP_DecryptFinal_ex(c->ctx, out + n, &len) != 1) {
		if (n)
			cc_key_wipe(out, n);
		return CC_REC_CORRUPT;
	}
	return CC_REC_OK;
}

static int io_err(int err)
{
	errno = err;
	return CC_REC_IO;
}

/* ------------------------------------------------------------- writing */

struct cc_rec_writer {
	struct cc_store_obj *obj;
	struct chunk_cipher c;
	EVP_MD_CTX *sha;
	uint64_t index;          /* of the next chunk */
	uint64_t audio_bytes;
	uint8_t *buf;
	size_t cap;
};

static void writer_free(struct cc_rec_writer *w)
{
	if (!w)
		return;
	cc_store_obj_close(w->obj);
	EVP_CIPHER_CTX_free(w->c.ctx);
	EVP_MD_CTX_free(w->sha);
	if (w->buf)
		cc_key_wipe(w->buf, w->cap);
	free(w->buf);
	free(w);
}

/* Appends bytes to the file and to its digest. */
static int writer_put(struct cc_rec_writer *w, const void *p, size_t n)
{
	int err = cc_store_append(w->obj, p, n);

	if (err)
		return io_err(err);
	if (EVP_DigestUpdate(w->sha, p, n) != 1)
		return CC_REC_IO;
	return CC_REC_OK;
}

static int writer_new(const uint8_t uuid[16], const uint8_t dk[CC_KEY_LEN], struct cc_rec_writer **wp)
{
	struct cc_rec_writer *w = calloc(1, sizeof(*w));

	if (!w)
		return io_err(ENOMEM);
	make_header(w->c.hdr, uuid);
	if (cipher_init(&w->c, dk, 1) != CC_REC_OK || !(w->sha = EVP_MD_CTX_new()) ||
	    EVP_DigestInit_ex(w->sha, EVP_sha256(), NULL) != 1) {
		writer_free(w);
		return CC_REC_IO;
	}
	*wp = w;
	return CC_REC_OK;
}

int cc_rec_writer_open(struct cc_store *store, const char *key, const char *id,
                       const uint8_t dk[CC_KEY_LEN], struct cc_rec_writer **wp)
{
	struct cc_rec_writer *w;
	uint8_t uuid[16];
	int err;

	if (parse_uuid(id, uuid) != CC_REC_OK)
		return CC_REC_INVAL;
	if ((err = writer_new(uuid, dk, &w)))
		return err;
	err = cc_store_create(store, key, &w->obj);
	if (err) {
		writer_free(w);
		return err == EINVAL ? CC_REC_INVAL : io_err(err);
	}
	if ((err = writer_put(w, w->c.hdr, CC_REC_HDR_LEN))) {
		int e = errno;

		writer_free(w);
		errno = e;
		return err;
	}
	*wp = w;
	return CC_REC_OK;
}

static int writer_chunk(struct cc_rec_writer *w, uint32_t flags, const void *plain, size_t n)
{
	size_t need = 4 + n + CC_REC_TAG_LEN;
	int err;

	if (n > CC_REC_CHUNK_MAX || (n && !plain))
		return CC_REC_INVAL;
	if (need > w->cap) {
		uint8_t *b = malloc(need);

		if (!b)
			return io_err(ENOMEM);
		if (w->buf)
			cc_key_wipe(w->buf, w->cap);
		free(w->buf);
		w->buf = b;
		w->cap = need;
	}
	if ((err = chunk_seal(&w->c, w->index, flags | (uint32_t)n, plain, n, w->buf)))
		return err;
	if ((err = writer_put(w, w->buf, need)))
		return err;
	w->index++;
	w->audio_bytes += n;
	return CC_REC_OK;
}

int cc_rec_writer_chunk(struct cc_rec_writer *w, const void *plain, size_t n)
{
	return writer_chunk(w, 0, plain, n);
}

int cc_rec_writer_sync(struct cc_rec_writer *w)
{
	int err = cc_store_sync(w->obj);

	return err ? io_err(err) : CC_REC_OK;
}

/* The final chunk, fsync, the figures; frees w either way. */
static int writer_end(struct cc_rec_writer *w, uint32_t flags, const void *plain, size_t n,
                      uint64_t *bytes, uint64_t *audio_bytes, char sha256_hex[65])
{
	uint8_t md[32];
	unsigned mdlen = 0;
	int err, e;

	err = writer_chunk(w, WORD_FINAL | flags, plain, n);
	if (!err)
		err = cc_rec_writer_sync(w);
	if (!err && EVP_DigestFinal_ex(w->sha, md, &mdlen) != 1)
		err = CC_REC_IO;
	e = errno;
	if (!err) {
		if (bytes)
			*bytes = cc_store_size(w->obj);
		if (audio_bytes)
			*audio_bytes = w->audio_bytes;
		if (sha256_hex)
			cc_hex(md, 32, sha256_hex);
	}
	writer_free(w);
	errno = e;
	return err;
}

int cc_rec_writer_finish(struct cc_rec_writer *w, const void *plain, size_t n, uint64_t *bytes,
                         uint64_t *audio_bytes, char sha256_hex[65])
{
	return writer_end(w, 0, plain, n, bytes, audio_bytes, sha256_hex);
}

void cc_rec_writer_abort(struct cc_rec_writer *w)
{
	writer_free(w);
}

/* ------------------------------------------------------------- reading */

struct cc_rec_reader {
	struct cc_store_obj *obj;
	struct chunk_cipher c;
	uint64_t size;           /* of the file */
	/* the chunk the position is in */
	uint64_t index;          /* its number */
	uint64_t foff;           /* its word's offset in the file */
	uint64_t pstart;         /* the plaintext offset of its first byte */
	uint32_t word;
	bool loaded;             /* plain holds it, verified */
	size_t pos;              /* within it */
	bool end;                /* the final chunk is read to its end */
	bool incomplete;
	uint8_t *raw;            /* word | ciphertext | tag */
	uint8_t *plain;
};

/* The word of the chunk at file offset off: CC_REC_TRUNCATED where the
 * file ends without one, CORRUPT if it is malformed or runs past the end
 * (TRUNCATED: the file was cut inside it). */
static int read_word(struct cc_rec_reader *r, uint64_t off, uint32_t *word)
{
	uint8_t b[4];
	ssize_t got;
	int err;

	if (off + 4 > r->size)
		return CC_REC_TRUNCATED;
	got = cc_store_read(r->obj, off, b, 4);
	if (got < 0)
		return io_err((int)-got);
	if (got != 4)
		return CC_REC_TRUNCATED;
	*word = get32(b);
	if ((err = word_check(*word)))
		return err;
	if (off + 4 + (*word & WORD_LEN) + CC_REC_TAG_LEN > r->size)
		return CC_REC_TRUNCATED;
	return CC_REC_OK;
}

/* Reads and verifies the chunk at the current position into plain. */
static int load_chunk(struct cc_rec_reader *r)
{
	size_t n;
	ssize_t got;
	int err;

	if ((err = read_word(r, r->foff, &r->word)))
		return err;
	n = r->word & WORD_LEN;
	got = cc_store_read(r->obj, r->foff, r->raw, 4 + n + CC_REC_TAG_LEN);
	if (got < 0)
		return io_err((int)-got);
	if ((size_t)got != 4 + n + CC_REC_TAG_LEN || get32(r->raw) != r->word)
		return CC_REC_TRUNCATED;    /* changed under us */
	if ((err = chunk_open(&r->c, r->index, r->raw, n, r->plain)))
		return err;
	/* nothing may follow the final chunk */
	if ((r->word & WORD_FINAL) && r->foff + 4 + n + CC_REC_TAG_LEN != r->size) {
		cc_key_wipe(r->plain, n);
		return CC_REC_CORRUPT;
	}
	r->loaded = true;
	return CC_REC_OK;
}

static void reader_free(struct cc_rec_reader *r)
{
	if (!r)
		return;
	cc_store_obj_close(r->obj);
	EVP_CIPHER_CTX_free(r->c.ctx);
	if (r->plain)
		cc_key_wipe(r->plain, CC_REC_CHUNK_MAX);
	free(r->plain);
	free(r->raw);
	free(r);
}

static int check_header(struct cc_rec_reader *r)
{
	uint8_t hdr[CC_REC_HDR_LEN];
	ssize_t got = cc_store_read(r->obj, 0, hdr, sizeof(hdr));

	if (got < 0)
		return io_err((int)-got);
	if (got < CC_REC_HDR_LEN)
		return memcmp(hdr, r->c.hdr, (size_t)got) == 0 ? CC_REC_TRUNCATED : CC_REC_CORRUPT;
	return memcmp(hdr, r->c.hdr, sizeof(hdr)) == 0 ? CC_REC_OK : CC_REC_CORRUPT;
}

/* The reader without a header check (recover reads a header it may
 * have to judge itself). */
static int reader_new(struct cc_store *store, const char *key, const char *id,
                      const uint8_t dk[CC_KEY_LEN], struct cc_rec_reader **rp)
{
	struct cc_rec_reader *r;
	uint8_t uuid[16];
	int err;

	if (parse_uuid(id, uuid) != CC_REC_OK)
		return CC_REC_INVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return io_err(ENOMEM);
	make_header(r->c.hdr, uuid);
	r->raw = malloc(4 + CC_REC_CHUNK_MAX + CC_REC_TAG_LEN);
	r->plain = malloc(CC_REC_CHUNK_MAX);
	if (!r->raw || !r->plain) {
		reader_free(r);
		return io_err(ENOMEM);
	}
	if ((err = cipher_init(&r->c, dk, 0))) {
		reader_free(r);
		return err;
	}
	err = cc_store_open(store, key, &r->obj);
	if (err) {
		reader_free(r);
		return err == EINVAL ? CC_REC_INVAL : io_err(err);
	}
	r->size = cc_store_size(r->obj);
	r->foff = CC_REC_HDR_LEN;
	*rp = r;
	return CC_REC_OK;
}

int cc_rec_reader_open(struct cc_store *store, const char *key, const char *id,
                       const uint8_t dk[CC_KEY_LEN], struct cc_rec_reader **rp)
{
	struct cc_rec_reader *r;
	int err = reader_new(store, key, id, dk, &r);

	if (err)
		return err;
	if ((err = check_header(r))) {
		reader_free(r);
		return err;
	}
	*rp = r;
	return CC_REC_OK;
}

/* Moves to the next chunk (after the current one). */
static void next_chunk(struct cc_rec_reader *r)
{
	uint32_t n = r->word & WORD_LEN;

	r->foff += 4 + n + CC_REC_TAG_LEN;
	r->pstart += n;
	r->index++;
	r->pos = 0;
	r->loaded = false;
}

int cc_rec_reader_seek(struct cc_rec_reader *r, uint64_t off)
{
	int err;

	/* from the start unless the offset is at or past the current chunk */
	if (off < r->pstart) {
		r->index = 0;
		r->foff = CC_REC_HDR_LEN;
		r->pstart = 0;
	}
	r->loaded = false;
	r->end = false;
	r->pos = 0;
	/* skip chunks by their words; the chunk holding off is verified
	 * when it is read (a wrong word shifts every nonce after it) */
	for (;;) {
		uint32_t n;

		if ((err = read_word(r, r->foff, &r->word)))
			return err;
		n = r->word & WORD_LEN;
		if (off < r->pstart + n || ((r->word & WORD_FINAL) && off == r->pstart + n)) {
			r->pos = (size_t)(off - r->pstart);
			return CC_REC_OK;
		}
		if (r->word & WORD_FINAL)
			return CC_REC_INVAL;
		next_chunk(r);
	}
}

ssize_t cc_rec_reader_read(struct cc_rec_reader *r, void *buf, size_t n)
{
	size_t done = 0;

	while (done < n) {
		size_t len, take;
		int err;

		if (r->end)
			break;
		if (!r->loaded) {
			size_t pos = r->pos;

			if ((err = load_chunk(r)))
				return done ? (ssize_t)done : err;
			r->pos = pos;
		}
		len = r->word & WORD_LEN;
		take = len - r->pos < n - done ? len - r->pos : n - done;
		memcpy((char *)buf + done, r->plain + r->pos, take);
		done += take;
		r->pos += take;
		if (r->pos == len) {
			if (r->word & WORD_FINAL) {
				r->end = true;
				r->incomplete = (r->word & WORD_INCOMPLETE) != 0;
			} else {
				next_chunk(r);
			}
		}
	}
	return (ssize_t)done;
}

bool cc_rec_reader_incomplete(const struct cc_rec_reader *r)
{
	return r->end && r->incomplete;
}

void cc_rec_reader_close(struct cc_rec_reader *r)
{
	reader_free(r);
}

/* Every chunk from the start verified; *good the file offset after the
 * last chunk that verified, *chunks their count, *audio their plaintext. */
static int walk(struct cc_rec_reader *r, uint64_t *good, uint64_t *chunks, uint64_t *audio)
{
	int err;

	for (;;) {
		*good = r->foff;
		*chunks = r->index;
		*audio = r->pstart;
		if ((err = load_chunk(r)))
			return err;
		if (r->word & WORD_FINAL) {
			r->end = true;
			r->incomplete = (r->word & WORD_INCOMPLETE) != 0;
			*good = r->size;
			*audio = r->pstart + (r->word & WORD_LEN);
			*chunks = r->index + 1;
			return CC_REC_OK;
		}
		next_chunk(r);
	}
}

static int file_sha256(struct cc_store *store, const char *key, char sha256_hex[65], uint64_t *bytes)
{
	struct cc_store_obj *o;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t buf[65536], d[32];
	unsigned dl;
	uint64_t off = 0;
	int err = md ? cc_store_open(store, key, &o) : ENOMEM;

	if (err) {
		EVP_MD_CTX_free(md);
		return io_err(err);
	}
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		err = EIO;
	while (!err) {
		ssize_t got = cc_store_read(o, off, buf, sizeof(buf));

		if (got < 0)
			err = (int)-got;
		else if (got == 0)
			break;
		else if (EVP_DigestUpdate(md, buf, (size_t)got) != 1)
			err = EIO;
		off += got > 0 ? (uint64_t)got : 0;
	}
	if (!err && EVP_DigestFinal_ex(md, d, &dl) != 1)
		err = EIO;
	if (!err) {
		cc_hex(d, 32, sha256_hex);
		if (bytes)
			*bytes = off;
	}
	EVP_MD_CTX_free(md);
	cc_store_obj_close(o);
	return err ? io_err(err) : CC_REC_OK;
}

int cc_rec_verify(struct cc_store *store, const char *key, const char *id,
                  const uint8_t dk[CC_KEY_LEN], const char *sha256_hex, uint64_t *audio_bytes)
{
	struct cc_rec_reader *r;
	uint64_t good, chunks, audio;
	char sha[65];
	int err = cc_rec_reader_open(store, key, id, dk, &r);

	if (err)
		return err;
	err = walk(r, &good, &chunks, &audio);
	reader_free(r);
	if (err)
		return err;
	if (sha256_hex) {
		if ((err = file_sha256(store, key, sha, NULL)))
			return err;
		if (strcasecmp(sha, sha256_hex) != 0)
			return CC_REC_CORRUPT;
	}
	if (audio_bytes)
		*audio_bytes = audio;
	return CC_REC_OK;
}

int cc_rec_recover(struct cc_store *store, const char *key, const char *id,
                   const uint8_t dk[CC_KEY_LEN], uint64_t *bytes, uint64_t *audio_bytes,
                   char sha256_hex[65])
{
	struct cc_rec_reader *r;
	struct cc_rec_writer *w;
	uint64_t good, chunks, audio;
	uint8_t uuid[16];
	int err = cc_rec_reader_open(store, key, id, dk, &r);

	if (err)
		return err;
	err = walk(r, &good, &chunks, &audio);
	reader_free(r);
	if (err == CC_REC_OK) {
		/* closed already: its figures */
		if (audio_bytes)
			*audio_bytes = audio;
		return sha256_hex ? file_sha256(store, key, sha256_hex, bytes) : CC_REC_OK;
	}
	if (err != CC_REC_TRUNCATED && err != CC_REC_CORRUPT)
		return err;
	/* keep what verified, close it with a final chunk marked incomplete */
	parse_uuid(id, uuid);
	if ((err = writer_new(uuid, dk, &w)))
		return err;
	if ((err = cc_store_reopen(store, key, good, &w->obj))) {
		writer_free(w);
		return io_err(err);
	}
	w->index = chunks;
	w->audio_bytes = audio;
	/* the digest of the kept bytes is recomputed below */
	err = writer_end(w, WORD_INCOMPLETE, NULL, 0, NULL, audio_bytes, NULL);
	if (err)
		return err;
	return sha256_hex || bytes ? file_sha256(store, key, sha256_hex ? sha256_hex : (char[65]){0}, bytes)
	                           : CC_REC_OK;
}
