/* id.c: see id.h. */
#include "id.h"
#include "cc.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

void cc_hex(const void *data, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *in = data;

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int cc_uuid(char out[CC_UUID_LEN])
{
	unsigned char b[16];

	if (RAND_bytes(b, sizeof(b)) != 1)
		return CC_ERROR;
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, CC_UUID_LEN,
	         "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	         b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
	         b[10], b[11], b[12], b[13], b[14], b[15]);
	return CC_OK;
}

static void uuid_text(unsigned char b[16], int version, char out[CC_UUID_LEN])
{
	b[6] = (unsigned char)((b[6] & 0x0f) | (version << 4));
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, CC_UUID_LEN,
	         "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	         b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
	         b[10], b[11], b[12], b[13], b[14], b[15]);
}

void cc_uuid_named(const char *name, char out[CC_UUID_LEN])
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	CC_BUG_ON(!ctx);
	CC_BUG_ON(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	          EVP_DigestUpdate(ctx, "cc:", 3) != 1 ||
	          EVP_DigestUpdate(ctx, name, strlen(name)) != 1 ||
	          EVP_DigestFinal_ex(ctx, d, &n) != 1 || n < 16);
	EVP_MD_CTX_free(ctx);
	uuid_text(d, 8, out);
}

int cc_uuid_valid(const char *s)
{
	static const char shape[] = "........-....-....-....-............";

	if (!s || strlen(s) != 36)
		return 0;
	for (int i = 0; i < 36; i++) {
		int hex = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f');

		if (shape[i] == '-' ? s[i] != '-' : !hex)
			return 0;
	}
	return 1;
}

int cc_token(char out[CC_TOKEN_LEN])
{
	unsigned char b[20];

	if (RAND_bytes(b, sizeof(b)) != 1)
		return CC_ERROR;
	memcpy(out, "cc_", 3);
	cc_hex(b, sizeof(b), out + 3);
	return CC_OK;
}

static void digest_hex(const EVP_MD *md, const void *data, size_t len, char *out)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	EVP_Digest(data, len, d, &n, md, NULL);
	cc_hex(d, n, out);
}

void cc_sha256_hex(const void *data, size_t len, char out[CC_SHA256_HEX])
{
	digest_hex(EVP_sha256(), data, len, out);
}

void cc_md5_hex(const void *data, size_t len, char out[CC_MD5_HEX])
{
	digest_hex(EVP_md5(), data, len, out);
}

void cc_sip_ha1(const char *user, const char *realm, const char *password,
                char out[CC_MD5_HEX])
{
	char *s = cc_sprintf("%s:%s:%s", user, realm, password);

	CC_BUG_ON(!s);
	cc_md5_hex(s, strlen(s), out);
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

int cc_secret_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la != lb)
		return 0;
	return CRYPTO_memcmp(a, b, la) == 0;
}
