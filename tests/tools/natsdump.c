/*
 * natsdump: prints every message of a JetStream stream, in stream order,
 * one line each: "SEQ SUBJECT DATA" (the data as stored; events are
 * one-line JSON). Tests use it to check the order events reached the
 * stream in (tests/integration/31_spool.sh).
 *
 *   natsdump URL STREAM
 *
 * Credentials from CC_NATS_CREDS, as natspub (the tools user may read
 * CC_EVENTS: $JS.API.STREAM.MSG.GET.CC_EVENTS in ops/stack.sh).
 */
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>

#include "events.h"

int main(int argc, char **argv)
{
	natsOptions *opts = NULL;
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	char *err = NULL;
	int rc = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: natsdump URL STREAM\n");
		return 2;
	}
	if (!(opts = cc_nats_options(argv[1], "natsdump", &err))) {
		fprintf(stderr, "natsdump: %s\n", err);
		free(err);
		return 1;
	}
	if (natsConnection_Connect(&nc, opts) != NATS_OK ||
	    natsConnection_JetStream(&js, nc, NULL) != NATS_OK ||
	    js_GetStreamInfo(&si, js, argv[2], NULL, &jerr) != NATS_OK) {
		fprintf(stderr, "natsdump: cannot read stream %s at %s (%d)\n", argv[2], argv[1], (int)jerr);
		return 1;
	}
	for (uint64_t seq = si->State.FirstSeq; seq && seq <= si->State.LastSeq; seq++) {
		natsMsg *m = NULL;
		natsStatus s = js_GetMsg(&m, js, argv[2], seq, NULL, &jerr);

		if (s == NATS_NOT_FOUND || jerr == JSNoMessageFoundErr)
			continue;  /* deleted */
		if (s != NATS_OK) {
			fprintf(stderr, "natsdump: message %llu: %s (%d)\n", (unsigned long long)seq,
			        natsStatus_GetText(s), (int)jerr);
			rc = 1;
			break;
		}
		printf("%llu %s %.*s\n", (unsigned long long)seq, natsMsg_GetSubject(m),
		       natsMsg_GetDataLength(m), natsMsg_GetData(m));
		natsMsg_Destroy(m);
	}
	jsStreamInfo_Destroy(si);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	natsOptions_Destroy(opts);
	nats_Close();
	return rc;
}
