/* cc.c: string helpers of cc.h. */
#include "cc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *cc_sprintf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

int cc_fail(char **err, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	if (!err)
		return CC_ERROR;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	free(*err);
	*err = s;
	return CC_ERROR;
}

int cc_read_secret(const char *path, char *buf, size_t size, char **err)
{
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return cc_fail(err, "cannot read %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || (st.st_mode & 077)) {
		close(fd);
		return cc_fail(err, "%s must be readable by its owner only (chmod 600)", path);
	}
	n = read(fd, buf, size);
	close(fd);
	if (n < 0)
		return cc_fail(err, "cannot read %s: %s", path, strerror(errno));
	if ((size_t)n >= size)
		return cc_fail(err, "%s is longer than %zu bytes", path, size - 1);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
	if (n < 16)
		return cc_fail(err, "%s holds no usable secret (under 16 bytes)", path);
	return CC_OK;
}
