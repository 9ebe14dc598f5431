/*
 * recplay: decrypts one recording mediad's recorder wrote, as the audio
 * download does (lib/reccrypt.h): its row (cc.recordings), the tenant's
 * KEK of the row's version under the local KMS, the data key, the reader.
 *
 *   recplay PG_URL SECRETS_DIR STORE RECORDING_ID OUT.ogg
 *
 * Writes the audio/ogg stream to OUT.ogg and prints "complete" or
 * "incomplete" (closed by cc_rec_recover after a crash). Exit 1 on any
 * error (a tag that fails, a file cut short, a key that does not unwrap).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"
#include "reccrypt.h"
#include "recstore.h"

static int fail(const char *what, int err)
{
	fprintf(stderr, "recplay: %s: %d (%s)\n", what, err, err < 0 ? cc_rec_strerror(err) : strerror(err));
	return 1;
}

int main(int argc, char **argv)
{
	static uint8_t buf[65536];
	uint8_t kek[CC_KEY_LEN], dk[CC_KEY_LEN], wrapped[CC_WRAPPED_LEN];
	char aad[96];
	struct cc_store *store;
	struct cc_rec_reader *r;
	struct cc_kms *kms;
	struct cc_pg pg;
	PGresult *res;
	const char *hex;
	ssize_t n;
	FILE *out;
	int err;

	if (argc != 6) {
		fprintf(stderr, "usage: recplay PG_URL SECRETS_DIR STORE RECORDING_ID OUT.ogg\n");
		return 2;
	}
	if ((err = cc_kms_local_open(argv[2], &kms)))
		return fail("kms", err);
	cc_pg_init(&pg, argv[1]);
	const char *p[1] = { argv[4] };
	res = cc_pg_exec(&pg, "SELECT tenant_id::text, path, kek_version, encode(wrapped_key, 'hex') "
	                 "FROM cc.recordings WHERE id = $1::uuid", 1, p);
	if (!res || PQntuples(res) != 1)
		return fail("no such recording", 2);
	hex = PQgetvalue(res, 0, 3);
	if (strlen(hex) != 2 * CC_WRAPPED_LEN)
		return fail("wrapped key", CC_REC_NOKEY);
	for (size_t i = 0; i < CC_WRAPPED_LEN; i++)
		sscanf(hex + 2 * i, "%2hhx", &wrapped[i]);
	if ((err = cc_tenant_kek_version(&pg, kms, PQgetvalue(res, 0, 0), atoi(PQgetvalue(res, 0, 2)), kek)))
		return fail("tenant key", err);
	cc_dk_aad(aad, sizeof(aad), argv[4]);
	if ((err = cc_key_unwrap(kek, wrapped, aad, dk)))
		return fail("data key", err);
	if ((err = cc_store_dir_open(argv[3], &store)))
		return fail("store", err);
	if ((err = cc_rec_reader_open(store, PQgetvalue(res, 0, 1), argv[4], dk, &r)))
		return fail("reader", err);
	if (!(out = fopen(argv[5], "wb")))
		return fail(argv[5], 2);
	while ((n = cc_rec_reader_read(r, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, out);
	fclose(out);
	if (n < 0)
		return fail("read", (int)n);
	printf("%s\n", cc_rec_reader_incomplete(r) ? "incomplete" : "complete");
	cc_rec_reader_close(r);
	cc_key_wipe(dk, sizeof(dk));
	cc_key_wipe(kek, sizeof(kek));
	PQclear(res);
	cc_store_close(store);
	cc_pg_close(&pg);
	kms->close(kms);
	return 0;
}
