/*
 * natspub: publishes one message to JetStream, for tests that feed
 * billingd events directly (duplicates, malformed events).
 *
 *   natspub URL SUBJECT MSG-ID DATA     (MSG-ID "-" for none)
 *
 * Exits 0 once the stream acknowledged the message. Credentials come from
 * CC_NATS_CREDS (tests/lib.sh points it at the tools' user); with it empty
 * the connection is anonymous, which the stack's NATS refuses.
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
	jsCtx *js = NULL;
	char *err = NULL;
	jsPubOptions po;
	jsErrCode jerr = 0;
	natsStatus s;

	if (argc != 5) {
		fprintf(stderr, "usage: natspub URL SUBJECT MSG-ID DATA\n");
		return 2;
	}
	if (!(opts = cc_nats_options(argv[1], "natspub", &err))) {
		fprintf(stderr, "natspub: %s\n", err);
		free(err);
		return 1;
	}
	s = natsConnection_Connect(&nc, opts);
	if (s == NATS_OK)
		s = natsConnection_JetStream(&js, nc, NULL);
	if (s == NATS_OK) {
		jsPubOptions_Init(&po);
		if (strcmp(argv[3], "-") != 0)
			po.MsgId = argv[3];
		s = js_Publish(NULL, js, argv[2], argv[4], (int)strlen(argv[4]), &po, &jerr);
	}
	if (s != NATS_OK)
		fprintf(stderr, "natspub: %s (%d)\n", natsStatus_GetText(s), (int)jerr);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	natsOptions_Destroy(opts);
	nats_Close();
	return s == NATS_OK ? 0 : 1;
}
