/*
 * recstore.c: the directory store of recording files (recstore.h).
 *
 * Every key is checked before it reaches the file system, so a key that
 * came from a corrupted row cannot name a file outside the root. Objects
 * are made O_EXCL (a recording is never written twice), folders 0700 and
 * files 0600 (the audio is encrypted, the names still say who called).
 */
#include "recstore.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef PATH_MAX                     /* clang's <limits.h> in the fuzz build has none */
#define PATH_MAX 4096
#endif

struct cc_store {
	char *root;
};

struct cc_store_obj {
	int fd;
	int dirfd;          /* the folder, fsynced at the first sync; -1 after */
	uint64_t size;
};

static bool key_valid(const char *key)
{
	size_t n = key ? strlen(key) : 0;

	if (n == 0 || n > 255 || key[0] == '/' || key[n - 1] == '/')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = key[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '/' || c == '.' || c == '-'))
			return false;
		if (c == '/' && key[i + 1] == '/')
			return false;
	}
	/* no "." or ".." component (".." anywhere is refused outright) */
	if (strstr(key, ".."))
		return false;
	for (const char *p = key; p; p = strchr(p, '/')) {
		if (*p == '/')
			p++;
		if (p[0] == '.' && (p[1] == '/' || p[1] == '\0'))
			return false;
	}
	return true;
}

static int fsync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int err = 0;

	if (fd < 0)
		return errno;
	if (fsync(fd) != 0)
		err = errno;
	close(fd);
	return err;
}

/* mkdir -p of path's folders below root, each made 0700 and its parent
 * fsynced so that the new folder's name survives a crash. */
static int make_dirs(const char *root, const char *key)
{
	char path[PATH_MAX];
	size_t rl = strlen(root);

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", root, key) >= sizeof(path))
		return ENAMETOOLONG;
	for (char *p = path + rl + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		if (mkdir(path, 0700) == 0) {
			char *slash = strrchr(path, '/');
			int err;

			*slash = '\0';
			err = fsync_path(path);
			*slash = '/';
			if (err) {
				*p = '/';
				return err;
			}
		} else if (errno != EEXIST) {
			int err = errno;

			*p = '/';
			return err;
		}
		*p = '/';
	}
	return 0;
}

static int obj_path(struct cc_store *s, const char *key, char *path, size_t n)
{
	if (!key_valid(key))
		return EINVAL;
	if ((size_t)snprintf(path, n, "%s/%s", s->root, key) >= n)
		return ENAMETOOLONG;
	return 0;
}

int cc_store_dir_open(const char *root, struct cc_store **sp)
{
	struct cc_store *s;

	if (!root || !*root)
		return EINVAL;
	if (mkdir(root, 0700) != 0 && errno != EEXIST)
		return errno;
	s = calloc(1, sizeof(*s));
	if (!s || !(s->root = strdup(root))) {
		free(s);
		return ENOMEM;
	}
	*sp = s;
	return 0;
}

void cc_store_close(struct cc_store *s)
{
	if (!s)
		return;
	free(s->root);
	free(s);
}

static int obj_new(int fd, int dirfd, uint64_t size, struct cc_store_obj **op)
{
	struct cc_store_obj *o = calloc(1, sizeof(*o));

	if (!o) {
		close(fd);
		if (dirfd >= 0)
			close(dirfd);
		return ENOMEM;
	}
	o->fd = fd;
	o->dirfd = dirfd;
	o->size = size;
	*op = o;
	return 0;
}

static int open_parent(const char *path)
{
	char dir[PATH_MAX];
	char *slash;

	if ((size_t)snprintf(dir, sizeof(dir), "%s", path) >= sizeof(dir))
		return -1;
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	return open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

int cc_store_create(struct cc_store *s, const char *key, struct cc_store_obj **op)
{
	char path[PATH_MAX];
	int err = obj_path(s, key, path, sizeof(path));
	int fd, dirfd;

	if (err)
		return err;
	if ((err = make_dirs(s->root, key)))
		return err;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno;
	dirfd = open_parent(path);
	if (dirfd < 0) {
		err = errno;
		close(fd);
		return err;
	}
	return obj_new(fd, dirfd, 0, op);
}

int cc_store_reopen(struct cc_store *s, const char *key, uint64_t size, struct cc_store_obj **op)
{
	char path[PATH_MAX];
	int err = obj_path(s, key, path, sizeof(path));
	struct stat st;
	int fd;

	if (err)
		return err;
	fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno;
	if (fstat(fd, &st) != 0) {
		err = errno;
		close(fd);
		return err;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size < size) {
		close(fd);
		return EINVAL;
	}
	if (ftruncate(fd, (off_t)size) != 0 || lseek(fd, 0, SEEK_END) < 0) {
		err = errno;
		close(fd);
		return err;
	}
	return obj_new(fd, -1, size, op);
}

int cc_store_append(struct cc_store_obj *o, const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t w = write(o->fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		p += w;
		n -= (size_t)w;
		o->size += (uint64_t)w;
	}
	return 0;
}

int cc_store_sync(struct cc_store_obj *o)
{
	if (fsync(o->fd) != 0)
		return errno;
	if (o->dirfd >= 0) {
		if (fsync(o->dirfd) != 0)
			return errno;
		close(o->dirfd);
		o->dirfd = -1;
	}
	return 0;
}

int cc_store_open(struct cc_store *s, const char *key, struct cc_store_obj **op)
{
	char path[PATH_MAX];
	int err = obj_path(s, key, path, sizeof(path));
	struct stat st;
	int fd;

	if (err)
		return err;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno;
	if (fstat(fd, &st) != 0) {
		err = errno;
		close(fd);
		return err;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return EINVAL;
	}
	return obj_new(fd, -1, (uint64_t)st.st_size, op);
}

ssize_t cc_store_read(struct cc_store_obj *o, uint64_t off, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = pread(o->fd, (char *)buf + got, n - got, (off_t)(off + got));

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

uint64_t cc_store_size(const struct cc_store_obj *o)
{
	return o->size;
}

void cc_store_obj_close(struct cc_store_obj *o)
{
	if (!o)
		return;
	close(o->fd);
	if (o->dirfd >= 0)
		close(o->dirfd);
	free(o);
}

int cc_store_remove(struct cc_store *s, const char *key)
{
	char path[PATH_MAX];
	int err = obj_path(s, key, path, sizeof(path));

	if (err)
		return err;
	return unlink(path) == 0 ? 0 : errno;
}

void cc_store_rec_key(char *buf, size_t n, const char *tenant_id, const char *day, const char *id)
{
	snprintf(buf, n, "%s/%s/%s.ccr", tenant_id, day, id);
}
