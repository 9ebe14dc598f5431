/* libFuzzer target: the ACD's journal read back at a routingd start
 * (acd_restore, routing/acd.h) is hostile too: a record damaged in the
 * stream, or written by another version. The input is lines
 * "<subject>\t<json>" fed in order to a new ACD, which is then configured
 * (two tenants, the same names) and driven a little; acd_check must hold
 * after each part, whatever was refused. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acd.h"
#include "acd_harness.h"

#define TA "00000000-0000-4000-8000-00000000000a"
#define TB "00000000-0000-4000-8000-00000000000b"
#define NOW 1800000000000LL

static struct h_cfg ca, cb;

static void fixture(struct h_cfg *c, const char *tenant)
{
	struct acd_queue_cfg *q;

	h_cfg_init(c, tenant);
	q = h_queue(c, "q", ACD_LONGEST_IDLE);
	q->max_wait_s = 60;
	q->wrapup_s = 5;
	q->callback = true;
	q = h_queue(c, "r", ACD_RING_ALL);
	q->overflow.type = ACD_TARGET_QUEUE;
	strcpy(q->overflow.name, "q");
	h_agent(c, "1001", "q,r", NULL);
	h_agent(c, "1002", "r", "repair:3");
}

static void must(struct acd *a, int64_t now, const char *when)
{
	char why[256];

	if (acd_check(a, now, why, sizeof(why)) != 0) {
		fprintf(stderr, "acd_check %s: %s\n", when, why);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct h_rec rec;
	struct acd_out out = h_out(&rec);
	struct acd *a = acd_new(&out, 1);
	char *buf = malloc(size + 1), *line, *save = NULL;

	if (!ca.t.n_queues) {
		fixture(&ca, TA);
		fixture(&cb, TB);
	}
	memcpy(buf, data, size);
	buf[size] = 0;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *tab = strchr(line, '\t');
		json_t *j;

		if (!tab)
			continue;
		*tab = 0;
		if ((j = json_loads(tab + 1, JSON_DECODE_ANY, NULL))) {
			acd_restore(a, line, j, NOW);
			json_decref(j);
		}
	}
	free(buf);
	acd_configure(a, &ca.t, NOW);
	acd_configure(a, &cb.t, NOW);
	must(a, NOW, "after the restore");
	acd_agent_set(a, TA, "1001", ACD_READY, NULL, NOW + 1, NULL);
	acd_agent_set(a, TB, "1002", ACD_READY, NULL, NOW + 1, NULL);
	must(a, NOW + 1, "after ready");
	for (int i = 1; i <= 4; i++) {
		acd_tick(a, NOW + i * 40000LL);
		must(a, NOW + i * 40000LL, "after a tick");
	}
	acd_instance_lost(a, "md1", NOW + 200000);
	must(a, NOW + 200000, "after the instance's loss");
	acd_free(a);
	h_free(&rec);
	return 0;
}
