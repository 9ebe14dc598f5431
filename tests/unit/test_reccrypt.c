/* Unit tests of lib/reccrypt.c and lib/recstore.c: the encrypted recording
 * format against cut, flipped and reordered files, the key wrap, the local
 * KMS and the directory store's refusals. */
#define SUITE "reccrypt"
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "reccrypt.h"
#include "recstore.h"

#define ID  "0b0e3c1a-9f1e-4c55-8a0d-5d6f3c2b1a00"
#define ID2 "0b0e3c1a-9f1e-4c55-8a0d-5d6f3c2b1a01"
#define KEY "a1b2/2026/12/02/" ID ".ccr"

static char root[64];
static struct cc_store *store;
static uint8_t dk[CC_KEY_LEN];

static void setup(void)
{
	snprintf(root, sizeof(root), "/tmp/cc-reccrypt.XXXXXX");
	ASSERT(mkdtemp(root));
	ASSERT_EQ_INT(cc_store_dir_open(root, &store), 0);
	for (int i = 0; i < CC_KEY_LEN; i++)
		dk[i] = (uint8_t)(i * 7 + 1);
}

static void teardown(void)
{
	char cmd[128];

	cc_store_close(store);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	ASSERT_EQ_INT(system(cmd), 0);
}

/* plaintext byte i of every test recording */
static uint8_t pbyte(size_t i)
{
	return (uint8_t)(i * 31 + (i >> 8));
}

/* Writes a recording of chunks of the given sizes (the last is the final
 * chunk's plaintext) to key. */
static void write_rec(const char *key, const char *id, const size_t *sizes, int n)
{
	struct cc_rec_writer *w;
	uint64_t bytes, audio, total = 0, off = 0;
	char sha[65];
	static uint8_t buf[CC_REC_CHUNK_MAX];

	ASSERT_EQ_INT(cc_rec_writer_open(store, key, id, dk, &w), CC_REC_OK);
	for (int c = 0; c < n; c++) {
		for (size_t i = 0; i < sizes[c]; i++)
			buf[i] = pbyte(off + i);
		off += sizes[c];
		if (c < n - 1)
			ASSERT_EQ_INT(cc_rec_writer_chunk(w, buf, sizes[c]), CC_REC_OK);
		else
			ASSERT_EQ_INT(cc_rec_writer_finish(w, buf, sizes[c], &bytes, &audio, sha), CC_REC_OK);
		total += 4 + sizes[c] + CC_REC_TAG_LEN;
	}
	ASSERT_EQ_INT(audio, off);
	ASSERT_EQ_INT(bytes, CC_REC_HDR_LEN + total);
	ASSERT_EQ_INT(strlen(sha), 64);
	ASSERT_EQ_INT(cc_rec_verify(store, key, id, dk, sha, &audio), CC_REC_OK);
	ASSERT_EQ_INT(audio, off);
}

/* Reads the whole recording: the plaintext's length, or an error; every
 * byte returned is checked against pbyte. *got: bytes before an error. */
static long read_all(const char *key, const char *id, const uint8_t *key32, size_t step,
                     long *got)
{
	struct cc_rec_reader *r;
	static uint8_t buf[2 * CC_REC_CHUNK_MAX];   /* steps past one chunk read across two */
	long total = 0;
	ssize_t n;
	int err = cc_rec_reader_open(store, key, id, key32, &r);

	*got = 0;
	ASSERT(step <= sizeof(buf));
	if (err)
		return err;
	while ((n = cc_rec_reader_read(r, buf, step)) > 0) {
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != pbyte((size_t)total + (size_t)i))
				FAILF("byte %ld differs", total + (long)i);
		total += n;
	}
	cc_rec_reader_close(r);
	*got = total;
	return n < 0 ? n : total;
}

static char *path_of(const char *key)
{
	static char p[256];

	snprintf(p, sizeof(p), "%s/%s", root, key);
	return p;
}

static void flip(const char *key, off_t off, uint8_t mask)
{
	int fd = open(path_of(key), O_RDWR);
	uint8_t b;

	ASSERT(fd >= 0);
	ASSERT_EQ_INT(pread(fd, &b, 1, off), 1);
	b ^= mask;
	ASSERT_EQ_INT(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

static off_t file_size(const char *key)
{
	struct stat st;

	ASSERT_EQ_INT(stat(path_of(key), &st), 0);
	return st.st_size;
}

static void copy_cut(const char *from, const char *to, off_t len)
{
	char cmd[900], src[256];

	snprintf(src, sizeof(src), "%s", path_of(from));
	snprintf(cmd, sizeof(cmd), "d=%s; mkdir -p \"${d%%/*}\" && head -c %lld %s > %s", path_of(to),
	         (long long)len, src, path_of(to));
	ASSERT_EQ_INT(system(cmd), 0);
}

TEST(round_trip)
{
	static const size_t zero[] = { 0 }, one[] = { 4000 }, many[] = { 4096, 1, 0, 65536, 4000, 17 };
	static const size_t max[] = { CC_REC_CHUNK_MAX, 3 };
	long got;

	setup();
	write_rec("z/" ID ".ccr", ID, zero, 1);
	ASSERT_EQ_INT(read_all("z/" ID ".ccr", ID, dk, 100, &got), 0);
	write_rec("o/" ID ".ccr", ID, one, 1);
	ASSERT_EQ_INT(read_all("o/" ID ".ccr", ID, dk, 7, &got), 4000);
	write_rec(KEY, ID, many, 6);
	ASSERT_EQ_INT(read_all(KEY, ID, dk, 5000, &got), 4096 + 1 + 65536 + 4000 + 17);
	ASSERT_EQ_INT(read_all(KEY, ID, dk, 1, &got), 4096 + 1 + 65536 + 4000 + 17);
	write_rec("m/" ID ".ccr", ID, max, 2);
	ASSERT_EQ_INT(read_all("m/" ID ".ccr", ID, dk, 1 << 21, &got), CC_REC_CHUNK_MAX + 3);
	teardown();
}

TEST(writer_refuses)
{
	struct cc_rec_writer *w;
	static uint8_t big[CC_REC_CHUNK_MAX + 1];

	setup();
	ASSERT_EQ_INT(cc_rec_writer_open(store, KEY, "not-a-uuid", dk, &w), CC_REC_INVAL);
	ASSERT_EQ_INT(cc_rec_writer_open(store, "../x.ccr", ID, dk, &w), CC_REC_INVAL);
	ASSERT_EQ_INT(cc_rec_writer_open(store, KEY, ID, dk, &w), CC_REC_OK);
	ASSERT_EQ_INT(cc_rec_writer_chunk(w, big, sizeof(big)), CC_REC_INVAL);
	cc_rec_writer_abort(w);
	/* never written twice */
	ASSERT_EQ_INT(cc_rec_writer_open(store, KEY, ID, dk, &w), CC_REC_IO);
	ASSERT_EQ_INT(errno, EEXIST);
	teardown();
}

TEST(seek_everywhere)
{
	static const size_t sizes[] = { 100, 0, 37, 256, 1, 90 };
	const size_t total = 100 + 37 + 256 + 1 + 90;
	struct cc_rec_reader *r;
	uint8_t buf[600];

	setup();
	write_rec(KEY, ID, sizes, 6);
	ASSERT_EQ_INT(cc_rec_reader_open(store, KEY, ID, dk, &r), CC_REC_OK);
	/* every offset, forward then backward: each boundary and inside */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t k = 0; k <= total; k++) {
			size_t off = pass ? total - k : k;
			ssize_t n;
			size_t got = 0;

			ASSERT_EQ_INT(cc_rec_reader_seek(r, off), CC_REC_OK);
			while ((n = cc_rec_reader_read(r, buf + got, 50)) > 0)
				got += (size_t)n;
			ASSERT_EQ_INT(n, 0);
			ASSERT_EQ_INT(got, total - off);
			for (size_t i = 0; i < got; i++)
				ASSERT_EQ_INT(buf[i], pbyte(off + i));
		}
	}
	ASSERT_EQ_INT(cc_rec_reader_seek(r, total + 1), CC_REC_INVAL);
	ASSERT_EQ_INT(cc_rec_reader_seek(r, UINT64_MAX), CC_REC_INVAL);
	ASSERT(!cc_rec_reader_incomplete(r));
	cc_rec_reader_close(r);
	teardown();
}

/* A flipped bit anywhere: no plaintext of the chunk it is in, and
 * CC_REC_CORRUPT (a word's length made to run past the end of the file
 * looks like a cut file: CC_REC_TRUNCATED). */
TEST(flipped_bits)
{
	static const size_t sizes[] = { 64, 64, 64 };
	off_t size;
	long got, r;

	setup();
	write_rec(KEY, ID, sizes, 3);
	size = file_size(KEY);
	for (off_t off = 0; off < size; off++) {
		for (int bit = 0; bit < 8; bit++) {
			off_t in_chunks = off - CC_REC_HDR_LEN;
			long chunk = in_chunks < 0 ? -1 : in_chunks / (4 + 64 + 16);
			bool word = in_chunks >= 0 && in_chunks % (4 + 64 + 16) < 4;

			flip(KEY, off, (uint8_t)(1 << bit));
			r = read_all(KEY, ID, dk, 64, &got);
			if (word && r == CC_REC_TRUNCATED)
				ASSERT(got <= chunk * 64);
			else
				ASSERT_EQ_INT(r, CC_REC_CORRUPT);
			ASSERT(got <= (chunk < 0 ? 0 : chunk * 64));
			ASSERT(cc_rec_verify(store, KEY, ID, dk, NULL, NULL) < 0);
			flip(KEY, off, (uint8_t)(1 << bit));
		}
	}
	ASSERT_EQ_INT(read_all(KEY, ID, dk, 64, &got), 3 * 64);
	teardown();
}

TEST(cut_everywhere)
{
	static const size_t sizes[] = { 50, 70, 30 };
	const long ends[] = { 0, 50, 120 };
	off_t size;
	long got, r;

	setup();
	write_rec(KEY, ID, sizes, 3);
	size = file_size(KEY);
	for (off_t len = 0; len < size; len++) {
		bool ok = false;

		copy_cut(KEY, "cut/" ID ".ccr", len);
		r = read_all("cut/" ID ".ccr", ID, dk, 1000, &got);
		ASSERT(r == CC_REC_TRUNCATED || r == CC_REC_CORRUPT);
		/* only whole chunks came out */
		for (int i = 0; i < 3; i++)
			ok |= got == ends[i];
		ASSERT(ok);
		ASSERT(cc_rec_verify(store, "cut/" ID ".ccr", ID, dk, NULL, NULL) < 0);
		ASSERT_EQ_INT(cc_store_remove(store, "cut/" ID ".ccr"), 0);
	}
	teardown();
}

TEST(hostile_framing)
{
	static const size_t sizes[] = { 10, 10 };
	struct cc_rec_reader *r;
	long got;
	int fd;
	uint8_t word[4] = { 0x00, 0x10, 0x00, 0x01 };   /* CC_REC_CHUNK_MAX + 1 */

	setup();
	write_rec(KEY, ID, sizes, 2);
	/* a truncated header */
	copy_cut(KEY, "h/" ID ".ccr", 10);
	ASSERT_EQ_INT(cc_rec_reader_open(store, "h/" ID ".ccr", ID, dk, &r), CC_REC_TRUNCATED);
	/* a header of another format */
	flip(KEY, 6, 1);
	ASSERT_EQ_INT(cc_rec_reader_open(store, KEY, ID, dk, &r), CC_REC_CORRUPT);
	flip(KEY, 6, 1);
	/* a word over CC_REC_CHUNK_MAX, with a file long enough to hold it */
	copy_cut(KEY, "w/" ID ".ccr", file_size(KEY));
	fd = open(path_of("w/" ID ".ccr"), O_RDWR);
	ASSERT(fd >= 0);
	ASSERT_EQ_INT(pwrite(fd, word, 4, CC_REC_HDR_LEN), 4);
	ASSERT_EQ_INT(ftruncate(fd, 3 << 20), 0);
	close(fd);
	ASSERT_EQ_INT(read_all("w/" ID ".ccr", ID, dk, 10, &got), CC_REC_CORRUPT);
	ASSERT_EQ_INT(got, 0);
	ASSERT_EQ_INT(cc_rec_reader_open(store, "w/" ID ".ccr", ID, dk, &r), CC_REC_OK);
	ASSERT_EQ_INT(cc_rec_reader_seek(r, 5), CC_REC_CORRUPT);
	cc_rec_reader_close(r);
	/* trailing bytes after the final chunk */
	copy_cut(KEY, "t/" ID ".ccr", file_size(KEY));
	fd = open(path_of("t/" ID ".ccr"), O_WRONLY | O_APPEND);
	ASSERT_EQ_INT(write(fd, "x", 1), 1);
	close(fd);
	ASSERT_EQ_INT(read_all("t/" ID ".ccr", ID, dk, 100, &got), CC_REC_CORRUPT);
	ASSERT_EQ_INT(got, 10);
	ASSERT_EQ_INT(cc_rec_verify(store, "t/" ID ".ccr", ID, dk, NULL, NULL), CC_REC_CORRUPT);
	teardown();
}

TEST(swapped_wrong_id_wrong_key)
{
	static const size_t sizes[] = { 40, 40, 40 };
	uint8_t a[60], b[60], bad[CC_KEY_LEN];
	int fd;
	long got;

	setup();
	write_rec(KEY, ID, sizes, 3);
	/* the same file read as another recording or under another key */
	ASSERT_EQ_INT(read_all(KEY, ID2, dk, 100, &got), CC_REC_CORRUPT);
	memcpy(bad, dk, sizeof(bad));
	bad[5] ^= 1;
	ASSERT_EQ_INT(read_all(KEY, ID, bad, 100, &got), CC_REC_CORRUPT);
	ASSERT_EQ_INT(got, 0);
	ASSERT_EQ_INT(cc_rec_verify(store, KEY, ID, bad, NULL, NULL), CC_REC_CORRUPT);
	/* chunks 0 and 1 swapped (same length: the words still frame them) */
	fd = open(path_of(KEY), O_RDWR);
	ASSERT_EQ_INT(pread(fd, a, 60, CC_REC_HDR_LEN), 60);
	ASSERT_EQ_INT(pread(fd, b, 60, CC_REC_HDR_LEN + 60), 60);
	ASSERT_EQ_INT(pwrite(fd, b, 60, CC_REC_HDR_LEN), 60);
	ASSERT_EQ_INT(pwrite(fd, a, 60, CC_REC_HDR_LEN + 60), 60);
	close(fd);
	ASSERT_EQ_INT(read_all(KEY, ID, dk, 100, &got), CC_REC_CORRUPT);
	ASSERT_EQ_INT(got, 0);
	/* another recording's file under this one's name (same key) */
	write_rec("o/" ID2 ".ccr", ID2, sizes, 3);
	ASSERT_EQ_INT(read_all("o/" ID2 ".ccr", ID, dk, 100, &got), CC_REC_CORRUPT);
	teardown();
}

TEST(recover)
{
	static const size_t sizes[] = { 30, 30, 30 };
	struct cc_rec_writer *w;
	struct cc_rec_reader *r;
	uint8_t buf[100];
	uint64_t bytes, audio, a2;
	char sha[65];
	long got;

	setup();
	/* a recorder that died inside its fourth chunk */
	ASSERT_EQ_INT(cc_rec_writer_open(store, KEY, ID, dk, &w), CC_REC_OK);
	for (int i = 0; i < 4; i++) {
		for (int j = 0; j < 30; j++)
			buf[j] = pbyte((size_t)(i * 30 + j));
		ASSERT_EQ_INT(cc_rec_writer_chunk(w, buf, 30), CC_REC_OK);
	}
	ASSERT_EQ_INT(cc_rec_writer_sync(w), CC_REC_OK);
	cc_rec_writer_abort(w);
	ASSERT_EQ_INT(truncate(path_of(KEY), CC_REC_HDR_LEN + 3 * 50 + 20), 0);
	ASSERT_EQ_INT(read_all(KEY, ID, dk, 100, &got), CC_REC_TRUNCATED);
	ASSERT_EQ_INT(got, 90);
	ASSERT_EQ_INT(cc_rec_recover(store, KEY, ID, dk, &bytes, &audio, sha), CC_REC_OK);
	ASSERT_EQ_INT(audio, 90);
	ASSERT_EQ_INT(bytes, CC_REC_HDR_LEN + 3 * 50 + 20);
	ASSERT_EQ_INT(bytes, file_size(KEY));
	ASSERT_EQ_INT(cc_rec_verify(store, KEY, ID, dk, sha, &a2), CC_REC_OK);
	ASSERT_EQ_INT(a2, 90);
	ASSERT_EQ_INT(cc_rec_reader_open(store, KEY, ID, dk, &r), CC_REC_OK);
	ASSERT_EQ_INT(cc_rec_reader_read(r, buf, 100), 90);
	ASSERT_EQ_INT(cc_rec_reader_read(r, buf, 100), 0);
	ASSERT(cc_rec_reader_incomplete(r));
	cc_rec_reader_close(r);
	/* again: left alone, the same figures */
	ASSERT_EQ_INT(cc_rec_recover(store, KEY, ID, dk, &bytes, &a2, buf[0] ? sha : sha), CC_REC_OK);
	ASSERT_EQ_INT(a2, 90);
	ASSERT_EQ_INT(bytes, file_size(KEY));
	/* a complete recording: not touched, not incomplete */
	write_rec("c/" ID ".ccr", ID, sizes, 3);
	ASSERT_EQ_INT(cc_rec_recover(store, "c/" ID ".ccr", ID, dk, &bytes, &audio, sha), CC_REC_OK);
	ASSERT_EQ_INT(audio, 90);
	ASSERT_EQ_INT(bytes, CC_REC_HDR_LEN + 3 * 50);
	ASSERT_EQ_INT(cc_rec_reader_open(store, "c/" ID ".ccr", ID, dk, &r), CC_REC_OK);
	ASSERT_EQ_INT(cc_rec_reader_read(r, buf, 100), 90);
	ASSERT_EQ_INT(cc_rec_reader_read(r, buf, 100), 0);
	ASSERT(!cc_rec_reader_incomplete(r));
	cc_rec_reader_close(r);
	/* a header only: recovered as an empty, incomplete recording */
	copy_cut(KEY, "e/" ID ".ccr", CC_REC_HDR_LEN);
	ASSERT_EQ_INT(cc_rec_recover(store, "e/" ID ".ccr", ID, dk, &bytes, &audio, sha), CC_REC_OK);
	ASSERT_EQ_INT(audio, 0);
	ASSERT_EQ_INT(read_all("e/" ID ".ccr", ID, dk, 100, &got), 0);
	teardown();
}

TEST(key_wrap)
{
	uint8_t kek[CC_KEY_LEN], key[CC_KEY_LEN], out[CC_KEY_LEN], w[CC_WRAPPED_LEN], w2[CC_WRAPPED_LEN];
	char aad[96], aad2[96];

	ASSERT_EQ_INT(cc_key_random(kek), CC_REC_OK);
	ASSERT_EQ_INT(cc_key_random(key), CC_REC_OK);
	cc_dk_aad(aad, sizeof(aad), ID);
	ASSERT_EQ_STR(aad, "cc-dk " ID);
	ASSERT_EQ_INT(cc_key_wrap(kek, key, aad, w), CC_REC_OK);
	ASSERT_EQ_INT(cc_key_wrap(kek, key, aad, w2), CC_REC_OK);
	ASSERT(memcmp(w, w2, sizeof(w)) != 0);   /* a fresh nonce each time */
	ASSERT_EQ_INT(cc_key_unwrap(kek, w, aad, out), CC_REC_OK);
	ASSERT(memcmp(out, key, sizeof(key)) == 0);
	/* moved to another recording, tenant or version: does not unwrap */
	cc_dk_aad(aad2, sizeof(aad2), ID2);
	ASSERT_EQ_INT(cc_key_unwrap(kek, w, aad2, out), CC_REC_NOKEY);
	cc_kek_aad(aad, sizeof(aad), "t1", 1);
	ASSERT_EQ_STR(aad, "cc-kek t1 1");
	ASSERT_EQ_INT(cc_key_wrap(kek, key, aad, w), CC_REC_OK);
	cc_kek_aad(aad2, sizeof(aad2), "t1", 2);
	ASSERT_EQ_INT(cc_key_unwrap(kek, w, aad2, out), CC_REC_NOKEY);
	cc_kek_aad(aad2, sizeof(aad2), "t2", 1);
	ASSERT_EQ_INT(cc_key_unwrap(kek, w, aad2, out), CC_REC_NOKEY);
	/* another KEK, a flipped byte */
	kek[0] ^= 1;
	ASSERT_EQ_INT(cc_key_unwrap(kek, w, aad, out), CC_REC_NOKEY);
	kek[0] ^= 1;
	for (int i = 0; i < CC_WRAPPED_LEN; i++) {
		w[i] ^= 0x80;
		ASSERT_EQ_INT(cc_key_unwrap(kek, w, aad, out), CC_REC_NOKEY);
		w[i] ^= 0x80;
	}
	ASSERT_EQ_INT(cc_key_unwrap(kek, w, aad, out), CC_REC_OK);
}

static char kmsdir[128];

static void kms_setup(void)
{
	setup();
	snprintf(kmsdir, sizeof(kmsdir), "%s/secrets", root);
}

TEST(kms_local)
{
	struct cc_kms *kms, *kms2;
	uint8_t key[CC_KEY_LEN], out[CC_KEY_LEN], w[CC_WRAPPED_LEN];
	char ref[32], path[200];
	struct stat st;

	kms_setup();
	ASSERT_EQ_INT(cc_kms_local_open(kmsdir, &kms), 0);
	snprintf(path, sizeof(path), "%s/master.key", kmsdir);
	ASSERT_EQ_INT(stat(path, &st), 0);
	ASSERT_EQ_INT(st.st_size, 32);
	ASSERT_EQ_INT(st.st_mode & 0777, 0600);
	ASSERT_EQ_INT(cc_key_random(key), CC_REC_OK);
	ASSERT_EQ_INT(kms->wrap(kms, key, "cc-kek t 1", w, ref, sizeof(ref)), CC_REC_OK);
	ASSERT_EQ_STR(ref, "local:1");
	/* a second open reads the same key */
	ASSERT_EQ_INT(cc_kms_local_open(kmsdir, &kms2), 0);
	ASSERT_EQ_INT(kms2->unwrap(kms2, ref, w, "cc-kek t 1", out), CC_REC_OK);
	ASSERT(memcmp(out, key, sizeof(key)) == 0);
	ASSERT_EQ_INT(kms2->unwrap(kms2, ref, w, "cc-kek t 2", out), CC_REC_NOKEY);
	ASSERT_EQ_INT(kms2->unwrap(kms2, "local:2", w, "cc-kek t 1", out), CC_REC_NOKEY);
	kms2->close(kms2);
	kms->close(kms);
	/* readable by the group or others: refused */
	ASSERT_EQ_INT(chmod(path, 0644), 0);
	ASSERT_EQ_INT(cc_kms_local_open(kmsdir, &kms), EINVAL);
	ASSERT_EQ_INT(chmod(path, 0640), 0);
	ASSERT_EQ_INT(cc_kms_local_open(kmsdir, &kms), EINVAL);
	ASSERT_EQ_INT(chmod(path, 0600), 0);
	/* the wrong size: refused, not replaced */
	ASSERT_EQ_INT(truncate(path, 31), 0);
	ASSERT_EQ_INT(cc_kms_local_open(kmsdir, &kms), EINVAL);
	ASSERT_EQ_INT(truncate(path, 33), 0);
	ASSERT_EQ_INT(cc_kms_local_open(kmsdir, &kms), EINVAL);
	ASSERT_EQ_INT(stat(path, &st), 0);
	ASSERT_EQ_INT(st.st_size, 33);
	/* a symbolic link: refused */
	ASSERT_EQ_INT(unlink(path), 0);
	ASSERT_EQ_INT(symlink("/etc/hostname", path), 0);
	ASSERT(cc_kms_local_open(kmsdir, &kms) != 0);
	teardown();
}

/* Processes starting at once agree on one master key. */
TEST(kms_local_race)
{
	enum { N = 8 };
	int fds[N][2];
	pid_t pids[N];
	uint8_t first[CC_WRAPPED_LEN], key[CC_KEY_LEN] = { 1, 2, 3 }, out[CC_KEY_LEN];
	struct cc_kms *kms;

	kms_setup();
	for (int i = 0; i < N; i++) {
		ASSERT_EQ_INT(pipe(fds[i]), 0);
		pids[i] = fork();
		if (pids[i] == 0) {
			uint8_t w[CC_WRAPPED_LEN];
			char ref[16];

			if (cc_kms_local_open(kmsdir, &kms) != 0 ||
			    kms->wrap(kms, key, "race", w, ref, sizeof(ref)) != 0)
				_exit(1);
			_exit(write(fds[i][1], w, sizeof(w)) == sizeof(w) ? 0 : 1);
		}
		close(fds[i][1]);
	}
	ASSERT_EQ_INT(cc_kms_local_open(kmsdir, &kms), 0);
	for (int i = 0; i < N; i++) {
		int st;

		ASSERT_EQ_INT(read(fds[i][0], first, sizeof(first)), sizeof(first));
		ASSERT_EQ_INT(waitpid(pids[i], &st, 0), pids[i]);
		ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		/* what each child wrapped unwraps under the key this one read */
		ASSERT_EQ_INT(kms->unwrap(kms, "local:1", first, "race", out), CC_REC_OK);
		ASSERT(memcmp(out, key, sizeof(key)) == 0);
	}
	kms->close(kms);
	teardown();
}

TEST(store_keys)
{
	static const char *const bad[] = {
		"", "/abs/x.ccr", "a/../b.ccr", "..", "../x", "a/..", "a//b", "a/", "A/b.ccr",
		"a b", "a/b\n", "a_b", "a/./b", "./a", "a/.", "%2e%2e/x", "a\\b",
	};
	struct cc_store_obj *o;
	char key[120];

	setup();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ASSERT_EQ_INT(cc_store_create(store, bad[i], &o), EINVAL);
		ASSERT_EQ_INT(cc_store_open(store, bad[i], &o), EINVAL);
		ASSERT_EQ_INT(cc_store_reopen(store, bad[i], 0, &o), EINVAL);
		ASSERT_EQ_INT(cc_store_remove(store, bad[i]), EINVAL);
	}
	ASSERT_EQ_INT(cc_store_create(store, NULL, &o), EINVAL);
	cc_store_rec_key(key, sizeof(key), "7c9e6679-7425-40de-944b-e07fc1f90ae7", "2026/12/02", ID);
	ASSERT_EQ_STR(key, "7c9e6679-7425-40de-944b-e07fc1f90ae7/2026/12/02/" ID ".ccr");
	ASSERT_EQ_INT(cc_store_create(store, key, &o), 0);
	ASSERT_EQ_INT(cc_store_append(o, "abc", 3), 0);
	ASSERT_EQ_INT(cc_store_sync(o), 0);
	ASSERT_EQ_INT(cc_store_size(o), 3);
	cc_store_obj_close(o);
	ASSERT_EQ_INT(cc_store_create(store, key, &o), EEXIST);
	teardown();
}

TEST(store_modes_and_reads)
{
	struct cc_store_obj *o;
	struct stat st;
	char buf[8], p[200];

	setup();
	ASSERT_EQ_INT(cc_store_create(store, "t/2026/x.ccr", &o), 0);
	ASSERT_EQ_INT(cc_store_append(o, "hello world", 11), 0);
	ASSERT_EQ_INT(cc_store_sync(o), 0);
	cc_store_obj_close(o);
	ASSERT_EQ_INT(stat(path_of("t/2026/x.ccr"), &st), 0);
	ASSERT_EQ_INT(st.st_mode & 0777, 0600);
	snprintf(p, sizeof(p), "%s/t/2026", root);
	ASSERT_EQ_INT(stat(p, &st), 0);
	ASSERT_EQ_INT(st.st_mode & 0777, 0700);
	ASSERT_EQ_INT(cc_store_open(store, "t/2026/x.ccr", &o), 0);
	ASSERT_EQ_INT(cc_store_size(o), 11);
	ASSERT_EQ_INT(cc_store_read(o, 6, buf, 8), 5);
	ASSERT(memcmp(buf, "world", 5) == 0);
	ASSERT_EQ_INT(cc_store_read(o, 11, buf, 8), 0);
	ASSERT_EQ_INT(cc_store_read(o, 1000, buf, 8), 0);
	cc_store_obj_close(o);
	/* reopen truncates to the size given, appends after it */
	ASSERT_EQ_INT(cc_store_reopen(store, "t/2026/x.ccr", 5, &o), 0);
	ASSERT_EQ_INT(cc_store_append(o, "!", 1), 0);
	ASSERT_EQ_INT(cc_store_size(o), 6);
	cc_store_obj_close(o);
	ASSERT_EQ_INT(cc_store_reopen(store, "t/2026/x.ccr", 7, &o), EINVAL);
	ASSERT_EQ_INT(cc_store_open(store, "t/2026/x.ccr", &o), 0);
	ASSERT_EQ_INT(cc_store_read(o, 0, buf, 8), 6);
	ASSERT(memcmp(buf, "hello!", 6) == 0);
	cc_store_obj_close(o);
	ASSERT_EQ_INT(cc_store_remove(store, "t/2026/x.ccr"), 0);
	ASSERT_EQ_INT(cc_store_remove(store, "t/2026/x.ccr"), ENOENT);
	ASSERT_EQ_INT(cc_store_open(store, "t/2026/x.ccr", &o), ENOENT);
	teardown();
}

/* A write that does not fit surfaces as is: without root there is no tiny
 * file system to fill, so the file size limit stands in for a full disk
 * (EFBIG where the disk would say ENOSPC; tests/integration covers ENOSPC). */
TEST(write_error_surfaces)
{
	struct rlimit rl = { 4096, 4096 };
	struct cc_rec_writer *w;
	static uint8_t buf[3000];
	uint64_t bytes, audio;
	char sha[65];

	setup();
	signal(SIGXFSZ, SIG_IGN);
	ASSERT_EQ_INT(setrlimit(RLIMIT_FSIZE, &rl), 0);
	ASSERT_EQ_INT(cc_rec_writer_open(store, KEY, ID, dk, &w), CC_REC_OK);
	ASSERT_EQ_INT(cc_rec_writer_chunk(w, buf, sizeof(buf)), CC_REC_OK);
	errno = 0;
	ASSERT_EQ_INT(cc_rec_writer_chunk(w, buf, sizeof(buf)), CC_REC_IO);
	ASSERT_EQ_INT(errno, EFBIG);
	errno = 0;
	ASSERT_EQ_INT(cc_rec_writer_finish(w, buf, sizeof(buf), &bytes, &audio, sha), CC_REC_IO);
	ASSERT_EQ_INT(errno, EFBIG);
	teardown();
}

TEST_LIST(T(round_trip), T(writer_refuses), T(seek_everywhere), T(flipped_bits), T(cut_everywhere),
          T(hostile_framing), T(swapped_wrong_id_wrong_key), T(recover), T(key_wrap), T(kms_local),
          T(kms_local_race), T(store_keys), T(store_modes_and_reads), T(write_error_surfaces))
