/*
 * natspub: publishes one message to JetStream, for tests that feed
 * billingd events directly (duplicates, malformed events).
 *
 *   natspub URL SUBJECT MSG-ID DATA     (MSG-ID "-" for none)
 *
 * Exits 0 once the stream acknowledged the message.
 */
#include <nats/nats.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	jsPubOptions po;
	jsErrCode jerr = 0;
	natsStatus s;

	if (argc != 5) {
		fprintf(stderr, "usage: natspub URL SUBJECT MSG-ID DATA\n");
		return 2;
	}
	s = natsConnection_ConnectTo(&nc, argv[1]);
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
	nats_Close();
	return s == NATS_OK ? 0 : 1;
}
