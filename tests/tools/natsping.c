/*
 * natsping: the floor under any NATS request/reply on this machine. A
 * responder that answers at once, and N requests from a second connection,
 * GAP_US apart (the spacing of real calls); prints "p50_us N" and
 * "p99_us N". ops/bench/billing.sh compares the credit grant with it.
 *
 *   natsping URL N GAP_US
 *
 * Credentials from CC_NATS_CREDS, as natspub.
 */
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "events.h"
#include "hist.h"

static void on_request(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *arg)
{
	natsConnection_PublishString(nc, natsMsg_GetReply(msg), "ok");
	natsMsg_Destroy(msg);
}

int main(int argc, char **argv)
{
	natsOptions *opts = NULL;
	char *err = NULL;
	natsConnection *responder = NULL, *requester = NULL;
	natsSubscription *sub = NULL;
	static struct cc_hist h;

	if (argc != 4) {
		fprintf(stderr, "usage: natsping URL N GAP_US\n");
		return 2;
	}
	int n = atoi(argv[2]), gap = atoi(argv[3]);

	if (!(opts = cc_nats_options(argv[1], "natsping", &err))) {
		fprintf(stderr, "natsping: %s\n", err);
		free(err);
		return 1;
	}
	if (natsConnection_Connect(&requester, opts) != NATS_OK)
		requester = NULL;
	natsOptions_SetSendAsap(opts, true);
	if (!requester || natsConnection_Connect(&responder, opts) != NATS_OK ||
	    natsConnection_Subscribe(&sub, responder, "cc.rpc.ping", on_request, NULL) != NATS_OK ||
	    natsConnection_Flush(responder) != NATS_OK) {
		fprintf(stderr, "natsping: cannot reach %s\n", argv[1]);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		natsMsg *reply = NULL;
		uint64_t t0 = cc_mono_ns();

		if (natsConnection_RequestString(&reply, requester, "cc.rpc.ping", "ping", 1000) == NATS_OK)
			cc_hist_add(&h, cc_mono_ns() - t0);
		natsMsg_Destroy(reply);
		if (gap)
			usleep((useconds_t)gap);
	}
	printf("p50_us %llu\np99_us %llu\n", (unsigned long long)cc_hist_quantile(&h, 0.5) / 1000,
	       (unsigned long long)cc_hist_quantile(&h, 0.99) / 1000);
	natsSubscription_Destroy(sub);
	natsConnection_Destroy(requester);
	natsConnection_Destroy(responder);
	natsOptions_Destroy(opts);
	nats_Close();
	return 0;
}
