/* log.c: see log.h. Lines are written with one write(2) so that threads
 * and processes sharing a log file never interleave within a line. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

enum cc_log_level cc_log_level = CC_LOG_INFO;
static const char *log_process = "cc";
static const char *const level_names[] = { "ERR", "WARN", "INFO", "DEBUG" };

void cc_log_init(const char *process)
{
	const char *lvl = getenv("CC_LOG_LEVEL");

	log_process = process;
	if (!lvl)
		return;
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcasecmp(lvl, level_names[i]) == 0 ||
		    (i == CC_LOG_ERR && strcasecmp(lvl, "error") == 0) ||
		    (i == CC_LOG_WARN && strcasecmp(lvl, "warning") == 0))
			cc_log_level = (enum cc_log_level)i;
}

void cc_log_write(enum cc_log_level lvl, int err, const char *tenant,
                  const char *call, const char *fmt, ...)
{
	char line[2048];
	struct timeval tv;
	struct tm tm;
	va_list ap;
	int n;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%d] %s ",
	             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	             tm.tm_min, tm.tm_sec, (long)tv.tv_usec / 1000, log_process,
	             (int)getpid(), level_names[lvl]);
	if (tenant && n < (int)sizeof(line))
		n += snprintf(line + n, sizeof(line) - n, "tenant=%s ", tenant);
	if (call && n < (int)sizeof(line))
		n += snprintf(line + n, sizeof(line) - n, "call=%s ", call);
	va_start(ap, fmt);
	if (n < (int)sizeof(line))
		n += vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (err && n < (int)sizeof(line))
		n += snprintf(line + n, sizeof(line) - n, " (%s)", strerror(err));
	if (n >= (int)sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nowhere left to report it */
	}
}
