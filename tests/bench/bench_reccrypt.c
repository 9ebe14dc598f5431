/*
 * bench_reccrypt: the recording format's encryption rate (lib/reccrypt.c)
 * against OpenSSL's own AES-256-GCM on the same buffers, in one run.
 *
 *   reference  EVP AES-256-GCM of S-byte buffers, a fresh nonce each
 *              (EVP_EncryptInit_ex per buffer, like one chunk), in memory
 *   write      cc_rec_writer_chunk of S-byte chunks into a store in
 *              /dev/shm (the chunk's word, AAD, tag and the append; no
 *              fsync: that is the disk's cost, measured apart as fsync)
 *   read       cc_rec_reader_read of the whole recording (every tag checked)
 *   verify     cc_rec_verify (every tag and the file's SHA-256)
 *   fsync      cc_rec_writer_sync after each chunk, on the store given
 *              (default /tmp: the disk recordings really go to)
 * S is 3000 bytes by default: one second of 24 kbit/s Opus, the recorder's
 * chunk. Each rate is the median of 5 runs; ratios are to the reference.
 *
 *   bench_reccrypt [S [MiB [fsync-dir]]]   (default 3000 64 /tmp)
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reccrypt.h"
#include "recstore.h"

#define RUNS 5
#define ID   "0b0e3c1a-9f1e-4c55-8a0d-5d6f3c2b1a00"
#define KEY  "bench/2026/12/03/" ID ".ccr"

static uint8_t dk[CC_KEY_LEN];

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v)
{
	qsort(v, RUNS, sizeof(*v), cmp);
	return v[RUNS / 2];
}

static void die(const char *what, int err)
{
	fprintf(stderr, "bench_reccrypt: %s: %s\n", what, cc_rec_strerror(err));
	exit(1);
}

/* MB/s of plain EVP AES-256-GCM over n buffers of s bytes */
static double reference(const uint8_t *in, uint8_t *out, size_t s, long n)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	uint8_t iv[12] = { 0 }, tag[16];
	int len;
	double t0 = now();

	for (long i = 0; i < n; i++) {
		memcpy(iv + 4, &i, sizeof(i));
		if (EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, dk, iv) != 1 ||
		    EVP_EncryptUpdate(c, NULL, &len, iv, 4) != 1 ||
		    EVP_EncryptUpdate(c, out, &len, in, (int)s) != 1 ||
		    EVP_EncryptFinal_ex(c, out + len, &len) != 1 ||
		    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag) != 1)
			die("EVP", CC_REC_IO);
	}
	EVP_CIPHER_CTX_free(c);
	return (double)s * (double)n / (now() - t0) / 1e6;
}

static double write_rec(struct cc_store *st, const uint8_t *in, size_t s, long n, int sync)
{
	struct cc_rec_writer *w;
	uint64_t bytes, audio;
	char sha[65];
	int e;
	double t0;

	cc_store_remove(st, KEY);
	if ((e = cc_rec_writer_open(st, KEY, ID, dk, &w)) != 0)
		die("writer_open", e);
	t0 = now();
	for (long i = 0; i < n; i++) {
		if ((e = cc_rec_writer_chunk(w, in, s)) != 0)
			die("writer_chunk", e);
		if (sync && (e = cc_rec_writer_sync(w)) != 0)
			die("writer_sync", e);
	}
	t0 = now() - t0;
	if ((e = cc_rec_writer_finish(w, NULL, 0, &bytes, &audio, sha)) != 0)
		die("writer_finish", e);
	return sync ? (double)n / t0 : (double)s * (double)n / t0 / 1e6;
}

static double read_rec(struct cc_store *st, uint8_t *buf, size_t s, long n)
{
	struct cc_rec_reader *r;
	ssize_t got;
	uint64_t total = 0;
	int e;
	double t0 = now();

	if ((e = cc_rec_reader_open(st, KEY, ID, dk, &r)) != 0)
		die("reader_open", e);
	while ((got = cc_rec_reader_read(r, buf, 65536)) > 0)
		total += (uint64_t)got;
	if (got < 0)
		die("reader_read", (int)got);
	cc_rec_reader_close(r);
	if (total != (uint64_t)s * (uint64_t)n)
		die("reader: short", CC_REC_TRUNCATED);
	return (double)total / (now() - t0) / 1e6;
}

static double verify_rec(struct cc_store *st, size_t s, long n)
{
	uint64_t audio;
	int e;
	double t0 = now();

	if ((e = cc_rec_verify(st, KEY, ID, dk, NULL, &audio)) != 0)
		die("verify", e);
	return (double)s * (double)n / (now() - t0) / 1e6;
}

int main(int argc, char **argv)
{
	size_t s = argc > 1 ? (size_t)atol(argv[1]) : 3000;
	long mib = argc > 2 ? atol(argv[2]) : 64;
	const char *fsdir = argc > 3 ? argv[3] : "/tmp";
	char shm[] = "/dev/shm/cc-bench-rec.XXXXXX", disk[256], cmd[600];
	struct cc_store *st, *dst;
	double ref[RUNS], wr[RUNS], rd[RUNS], vf[RUNS], fs[RUNS];
	long n, nsync = 200;
	uint8_t *in, *out;

	if (s == 0 || s > CC_REC_CHUNK_MAX || mib <= 0) {
		fprintf(stderr, "usage: bench_reccrypt [chunk-bytes 1..%u [MiB [fsync-dir]]]\n",
		        CC_REC_CHUNK_MAX);
		return 2;
	}
	n = mib * 1048576L / (long)s;
	snprintf(disk, sizeof(disk), "%s/cc-bench-rec.XXXXXX", fsdir);
	if (!mkdtemp(shm) || !mkdtemp(disk) || cc_store_dir_open(shm, &st) != 0 ||
	    cc_store_dir_open(disk, &dst) != 0) {
		perror("bench_reccrypt: store");
		return 1;
	}
	in = malloc(s + 64);
	out = malloc(s + 65536);   /* the reference's ciphertext, and read_rec's 64 KiB reads */
	if (!in || !out)
		return 1;
	cc_key_random(dk);
	for (size_t i = 0; i < s; i++)
		in[i] = (uint8_t)(i * 31 + 7);
	for (int k = 0; k < RUNS; k++) {
		ref[k] = reference(in, out, s, n);
		wr[k] = write_rec(st, in, s, n, 0);
		rd[k] = read_rec(st, out, s, n);
		vf[k] = verify_rec(st, s, n);
		fs[k] = write_rec(dst, in, s, nsync, 1);
	}
	double r = median(ref), w = median(wr), d = median(rd), v = median(vf), f = median(fs);

	printf("bench_reccrypt: %ld chunks of %zu bytes (%ld MiB), median of %d runs\n", n, s, mib, RUNS);
	printf("reference_evp_aes256gcm_MBps %.1f\n", r);
	printf("write_MBps %.1f\n", w);
	printf("read_MBps %.1f\n", d);
	printf("verify_MBps %.1f\n", v);
	printf("ratio_write_to_reference %.2f\n", w / r);
	printf("ratio_read_to_reference %.2f\n", d / r);
	printf("ratio_verify_to_reference %.2f\n", v / r);
	printf("recordings_per_core_write %.0f (at %zu bytes a second each)\n", w * 1e6 / (double)s, s);
	printf("fsyncs_per_s_%s %.0f (one chunk and fsync a second a recording: recordings per disk)\n",
	       fsdir, f);
	cc_store_close(st);
	cc_store_close(dst);
	free(in);
	free(out);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", shm, disk);
	return system(cmd) == 0 ? 0 : 1;
}
