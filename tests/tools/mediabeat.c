/*
 * mediabeat: mediad's NATS side alone (media/rpc.c on a libre loop), for
 * tests that need routingd to see a mediad before mediad itself exists, or
 * without its SIP side: it heartbeats as a fresh instance at SIP_ADDR,
 * answers routingd's .calls (none) and .hangup (no such call), logs the
 * cc.cfg notices it gets, and runs until SIGTERM or SIGINT.
 *
 *   mediabeat URL SIP_ADDR [HEARTBEAT_MS]
 *
 * Prints "instance <id>" once started. Credentials from CC_NATS_CREDS (the
 * stack's mediad user: $CC_VAR/secrets/nats_mediad); events spool in
 * CC_SPOOL_DIR (default: a folder made under /tmp).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <re_types.h>
#include <re_fmt.h>
#include <re_main.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "id.h"
#include "../../media/rpc.h"   /* billing/rpc.h is first on the path */

static json_t *calls(void *arg)
{
	return json_array();
}

static int hangup(const char *call, void *arg)
{
	return ENOENT;
}

static void cfg(const char *tenant, void *arg)
{
	printf("cfg %s\n", *tenant ? tenant : "all");
	fflush(stdout);
}

static void on_signal(int sig)
{
	re_cancel();
}

int main(int argc, char **argv)
{
	char instance[CC_UUID_LEN], spool[] = "/tmp/mediabeat.XXXXXX";
	const char *dir = getenv("CC_SPOOL_DIR");
	int e;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: mediabeat URL SIP_ADDR [HEARTBEAT_MS]\n");
		return 2;
	}
	if (!dir && !(dir = mkdtemp(spool))) {
		perror("mediabeat: mkdtemp");
		return 1;
	}
	if (cc_uuid(instance) != 0 || libre_init() != 0)
		return 1;
	struct md_rpc_cfg c = {
		.nats_url = argv[1], .nats_creds = getenv("CC_NATS_CREDS"), .instance = instance,
		.sip_addr = argv[2], .spool_dir = dir, .heartbeat_ms = argc == 4 ? atoi(argv[3]) : 1000,
	};
	struct md_rpc_handlers h = { calls, hangup, cfg, NULL, NULL };

	if ((e = md_rpc_start(&c, &h)) != 0) {
		fprintf(stderr, "mediabeat: %s\n", strerror(e));
		libre_close();
		return 1;
	}
	printf("instance %s\n", instance);
	fflush(stdout);
	re_main(on_signal);
	md_rpc_stop();
	libre_close();
	if (dir == spool) {
		char path[64];

		snprintf(path, sizeof(path), "%s/mediad.spool", spool);
		unlink(path);
		rmdir(spool);
	}
	return 0;
}
