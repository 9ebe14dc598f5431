/*
 * mkrec: writes a real encrypted recording (lib/reccrypt.h) into a store,
 * as mediad's recorder would, for tests of the audio download.
 *
 *   mkrec PG_URL SECRETS_DIR STORE TENANT ID DAY PLAIN_FILE
 *
 * The data key is random, wrapped by the tenant's current KEK (made when
 * it has none, under the local KMS in SECRETS_DIR); PLAIN_FILE's bytes are
 * the audio, in chunks of 64 KiB. Prints what the cc.recordings row needs:
 *   path kek_version wrapped_key_hex bytes audio_bytes sha256
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"
#include "reccrypt.h"
#include "recstore.h"

#define CHUNK (64 * 1024)

static int fail(const char *what, int err)
{
	fprintf(stderr, "mkrec: %s: %d (%s)\n", what, err, err < 0 ? cc_rec_strerror(err) : strerror(err));
	return 1;
}

int main(int argc, char **argv)
{
	static uint8_t buf[CHUNK];
	uint8_t kek[CC_KEY_LEN], dk[CC_KEY_LEN], wrapped[CC_WRAPPED_LEN];
	char key[128], aad[96], sha[65];
	struct cc_store *store;
	struct cc_rec_writer *w;
	struct cc_kms *kms;
	struct cc_pg pg;
	uint64_t bytes, audio;
	int version, err;
	size_t n;
	FILE *in;

	if (argc != 8) {
		fprintf(stderr, "usage: mkrec PG_URL SECRETS_DIR STORE TENANT ID DAY PLAIN_FILE\n");
		return 2;
	}
	if ((err = cc_kms_local_open(argv[2], &kms)))
		return fail("kms", err);
	cc_pg_init(&pg, argv[1]);
	if ((err = cc_tenant_kek(&pg, kms, argv[4], &version, kek)))
		return fail("tenant key", err);
	cc_dk_aad(aad, sizeof(aad), argv[5]);
	if ((err = cc_key_random(dk)) || (err = cc_key_wrap(kek, dk, aad, wrapped)))
		return fail("data key", err);
	if ((err = cc_store_dir_open(argv[3], &store)))
		return fail("store", err);
	cc_store_rec_key(key, sizeof(key), argv[4], argv[6], argv[5]);
	if (!(in = fopen(argv[7], "rb")))
		return fail(argv[7], 2);
	if ((err = cc_rec_writer_open(store, key, argv[5], dk, &w)))
		return fail("writer", err);
	/* a full chunk only when more follows: the last read is the final one */
	n = fread(buf, 1, CHUNK, in);
	while (n == CHUNK) {
		int c = fgetc(in);

		if (c == EOF)
			break;
		ungetc(c, in);
		if ((err = cc_rec_writer_chunk(w, buf, n)))
			return fail("chunk", err);
		n = fread(buf, 1, CHUNK, in);
	}
	fclose(in);
	if ((err = cc_rec_writer_finish(w, buf, n, &bytes, &audio, sha)))
		return fail("finish", err);
	printf("%s %d ", key, version);
	for (size_t i = 0; i < CC_WRAPPED_LEN; i++)
		printf("%02x", wrapped[i]);
	printf(" %llu %llu %s\n", (unsigned long long)bytes, (unsigned long long)audio, sha);
	cc_key_wipe(dk, sizeof(dk));
	cc_key_wipe(kek, sizeof(kek));
	cc_store_close(store);
	cc_pg_close(&pg);
	kms->close(kms);
	return 0;
}
