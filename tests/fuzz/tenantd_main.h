/*
 * tenantd_main.h: what tenantd's main.c gives the resource files, for the
 * API fuzz targets, which link tenantd without its main.c. Included once
 * per target; none of these is reached from the steps the targets drive
 * except tn_mhd_run (a forwarded request's wakeup), which has no loop here.
 */
#ifndef FUZZ_TENANTD_MAIN_H
#define FUZZ_TENANTD_MAIN_H

#include <stdbool.h>
#include <stdlib.h>

#include "tenantd.h"

void tn_notify(struct tenantd *d, const char *tenant, const char *what, const char *kamailio_rpc)
{
	abort();
}

void tn_mhd_run(struct tenantd *d)
{
	(void)d;
}

void tn_conn_busy(struct MHD_Connection *conn, bool busy)
{
	abort();
}

#endif
