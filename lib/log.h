/*
 * log.h: one line per event on stderr: time, process, level, context, text.
 * The level is checked before anything is formatted (redis serverLog).
 * Context (tenant, call) goes in as arguments, not by hand in the text,
 * and errno is passed in and rendered once (nginx ngx_log_error).
 */
#ifndef CC_LOG_H
#define CC_LOG_H

enum cc_log_level { CC_LOG_ERR, CC_LOG_WARN, CC_LOG_INFO, CC_LOG_DEBUG };

extern enum cc_log_level cc_log_level;

/* Sets the process name shown in every line and the level from $CC_LOG_LEVEL
 * (err, warn, info, debug; default info). */
void cc_log_init(const char *process);

void cc_log_write(enum cc_log_level lvl, int err, const char *tenant,
                  const char *call, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

#define cc_log(lvl, err, tenant, call, ...) do { \
	if ((lvl) <= cc_log_level) \
		cc_log_write((lvl), (err), (tenant), (call), __VA_ARGS__); \
} while (0)

#define CC_ERR(...)   cc_log(CC_LOG_ERR, 0, NULL, NULL, __VA_ARGS__)
#define CC_WARN(...)  cc_log(CC_LOG_WARN, 0, NULL, NULL, __VA_ARGS__)
#define CC_INFO(...)  cc_log(CC_LOG_INFO, 0, NULL, NULL, __VA_ARGS__)
#define CC_DEBUG(...) cc_log(CC_LOG_DEBUG, 0, NULL, NULL, __VA_ARGS__)

#endif
