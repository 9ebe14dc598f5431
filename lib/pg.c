/* pg.c: see pg.h. */
#include "pg.h"
#include "cc.h"
#include "log.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void set_error(struct cc_pg *pg, enum cc_pg_error e, const char *msg)
{
	pg->error = e;
	free(pg->message);
	pg->message = strdup(msg ? msg : "");
}

static int connect_now(struct cc_pg *pg)
{
	if (pg->conn && PQstatus(pg->conn) == CONNECTION_OK)
		return CC_OK;
	if (pg->conn)
		PQfinish(pg->conn);
	pg->conn = PQconnectdb(pg->conninfo);
	if (PQstatus(pg->conn) != CONNECTION_OK) {
		set_error(pg, CC_PG_UNAVAILABLE, PQerrorMessage(pg->conn));
		PQfinish(pg->conn);
		pg->conn = NULL;
		return CC_ERROR;
	}
	return CC_OK;
}

void cc_pg_init(struct cc_pg *pg, const char *conninfo)
{
	memset(pg, 0, sizeof(*pg));
	pg->conninfo = strdup(conninfo);
	CC_BUG_ON(!pg->conninfo);
	if (connect_now(pg) != CC_OK)
		CC_WARN("pg: not connected yet: %s", pg->message);
}

void cc_pg_close(struct cc_pg *pg)
{
	if (pg->conn)
		PQfinish(pg->conn);
	free(pg->conninfo);
	free(pg->message);
	memset(pg, 0, sizeof(*pg));
}

static enum cc_pg_error classify(const PGresult *r)
{
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

	if (!state)
		return CC_PG_UNAVAILABLE;
	if (strcmp(state, "23505") == 0)
		return CC_PG_CONFLICT;
	if (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0)
		return CC_PG_INVALID;
	if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0)
		return CC_PG_UNAVAILABLE;
	return CC_PG_FAILED;
}

PGresult *cc_pg_exec(struct cc_pg *pg, const char *sql, int n, const char *const *params)
{
	return cc_pg_exec_bin(pg, sql, n, params, NULL, NULL, 0);
}

PGresult *cc_pg_exec_bin(struct cc_pg *pg, const char *sql, int n, const char *const *params,
                         const int *lengths, const int *formats, int result_binary)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		PGresult *r;
		ExecStatusType st;

		if (connect_now(pg) != CC_OK)
			return NULL;
		/* never retry inside a transaction: the retry would run alone */
		bool idle = PQtransactionStatus(pg->conn) == PQTRANS_IDLE;
		r = PQexecParams(pg->conn, sql, n, NULL, params, lengths, formats, result_binary);
		st = PQresultStatus(r);
		if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
			pg->error = CC_PG_OK;
			return r;
		}
		set_error(pg, classify(r), PQresultErrorMessage(r));
		const char *c = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME);
		snprintf(pg->constraint, sizeof(pg->constraint), "%s", c ? c : "");
		PQclear(r);
		if (PQstatus(pg->conn) == CONNECTION_OK || !idle)
			return NULL;
		/* the server went away: reconnect once and retry */
		pg->error = CC_PG_UNAVAILABLE;
		PQfinish(pg->conn);
		pg->conn = NULL;
	}
	return NULL;
}

int cc_pg_cmd(struct cc_pg *pg, const char *sql, int n, const char *const *params)
{
	PGresult *r = cc_pg_exec(pg, sql, n, params);

	if (!r)
		return CC_ERROR;
	PQclear(r);
	return CC_OK;
}
