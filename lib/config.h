/*
 * config.h: daemon settings as a table (redis createIntConfig, nginx
 * ngx_command_t). One row per key: environment variable, type, default,
 * bounds, where it lands, and a line of help. cc_config_load() fills a
 * fresh struct from defaults and the environment and validates every row;
 * nothing is half-applied on error.
 */
#ifndef CC_CONFIG_H
#define CC_CONFIG_H

#include <stddef.h>

enum cc_config_type { CC_CFG_STR, CC_CFG_INT };

struct cc_config_row {
	const char *env;         /* environment variable, e.g. "CC_API_PORT" */
	enum cc_config_type type;
	const char *def;         /* default as text; NULL = required */
	long min, max;           /* bounds for CC_CFG_INT */
	size_t offset;           /* offsetof the char * or long field */
	const char *help;        /* one line for --help and docs */
};

/* Fills cfg from the table. Strings are heap copies; free them with
 * cc_config_free(). On error returns CC_ERROR with *err set (caller frees). */
int cc_config_load(const struct cc_config_row *rows, size_t n, void *cfg, char **err);
void cc_config_free(const struct cc_config_row *rows, size_t n, void *cfg);
/* Prints the table as help text to stdout. */
void cc_config_usage(const char *prog, const struct cc_config_row *rows, size_t n);

#endif
