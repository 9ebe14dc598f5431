/*
 * natsreq: one NATS request, its answer on stdout (tests asking a daemon
 * what routingd or billingd would ask it).
 *
 *   natsreq URL SUBJECT DATA [TIMEOUT_MS]
 *
 * Exit 0 with the answer, 1 when none came in TIMEOUT_MS (2000).
 * Credentials from CC_NATS_CREDS, as natspub.
 */
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"

int main(int argc, char **argv)
{
	natsConnection *nc = NULL;
	natsOptions *opts;
	natsMsg *reply = NULL;
	char *err = NULL;
	int rc = 1;

	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: natsreq URL SUBJECT DATA [TIMEOUT_MS]\n");
		return 2;
	}
	if (!(opts = cc_nats_options(argv[1], "natsreq", &err))) {
		fprintf(stderr, "natsreq: %s\n", err);
		free(err);
		return 2;
	}
	natsOptions_SetRetryOnFailedConnect(opts, false, NULL, NULL);
	if (natsConnection_Connect(&nc, opts) != NATS_OK) {
		fprintf(stderr, "natsreq: cannot connect to %s\n", argv[1]);
	} else if (natsConnection_RequestString(&reply, nc, argv[2], argv[3],
	                                        argc == 5 ? atoi(argv[4]) : 2000) == NATS_OK) {
		printf("%.*s\n", natsMsg_GetDataLength(reply), natsMsg_GetData(reply));
		natsMsg_Destroy(reply);
		rc = 0;
	} else {
		fprintf(stderr, "natsreq: no answer on %s\n", argv[2]);
	}
	natsConnection_Destroy(nc);
	natsOptions_Destroy(opts);
	nats_Close();
	return rc;
}
