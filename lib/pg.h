/*
 * pg.h: a PostgreSQL connection that heals itself.
 *
 * cc_pg_exec() runs one parameterised statement (never string-built SQL),
 * reconnecting once if the server went away. Failures are classified so
 * the API can answer: CC_PG_UNAVAILABLE (server down: 503), CC_PG_CONFLICT
 * (unique violation: 409), CC_PG_INVALID (bad data: 422), CC_PG_FAILED.
 */
#ifndef CC_PG_H
#define CC_PG_H

#include <libpq-fe.h>

enum cc_pg_error {
	CC_PG_OK = 0,
	CC_PG_UNAVAILABLE,  /* connection refused or lost */
	CC_PG_CONFLICT,     /* SQLSTATE 23505 */
	CC_PG_INVALID,      /* SQLSTATE class 22 or 23 other than 23505 */
	CC_PG_FAILED,       /* anything else */
};

struct cc_pg {
	PGconn *conn;            /* NULL while disconnected */
	char *conninfo;          /* libpq connection string */
	enum cc_pg_error error;  /* of the last failed call */
	char *message;           /* of the last failed call (owned) */
	char constraint[64];     /* violated constraint name, if any */
};

/* Connects; on failure the struct is still usable and retries later. */
void cc_pg_init(struct cc_pg *pg, const char *conninfo);
void cc_pg_close(struct cc_pg *pg);

/* Runs sql with text parameters (NULL = SQL NULL). Returns a result the
 * caller frees with PQclear, or NULL with pg->error and pg->message set. */
PGresult *cc_pg_exec(struct cc_pg *pg, const char *sql, int n, const char *const *params);

/* The same with binary parameters (formats[i] 1: lengths[i] bytes; NULL:
 * all text) and, if result_binary, every result column in binary (bytea
 * as its bytes, text as its bytes; cast uuids to text). */
PGresult *cc_pg_exec_bin(struct cc_pg *pg, const char *sql, int n, const char *const *params,
                         const int *lengths, const int *formats, int result_binary);

/* Runs a statement that returns no rows; CC_OK or CC_ERROR (see pg->error). */
int cc_pg_cmd(struct cc_pg *pg, const char *sql, int n, const char *const *params);

#endif
