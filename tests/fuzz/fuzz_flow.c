/* libFuzzer target: the flow language (lib/flow.c), as tenantd and mediad
 * parse it. The input is loaded as JSON (a fuzzer that finds the parser's
 * corners needs a structured seed: tests/fuzz/corpus/flow) and parsed; a
 * flow accepted must hold what the header promises: every reference a
 * node of the flow, the start one of them, at most CC_FLOW_MAX_NODES. */
#include "cc.h"
#include "flow.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_ref(const struct cc_flow *f, int i, bool optional)
{
	if (i == CC_FLOW_NO_NODE ? !optional : (i < 0 || (size_t)i >= f->n_nodes))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	struct cc_flow *f = NULL;
	struct cc_flow_error err;

	if (!doc)
		return 0;
	if (cc_flow_parse(doc, &f, &err) == CC_OK) {
		if (!f || f->n_nodes > CC_FLOW_MAX_NODES)
			abort();
		check_ref(f, f->start, false);
		for (size_t i = 0; i < f->n_nodes; i++) {
			const struct cc_flow_node *n = &f->nodes[i];

			check_ref(f, n->next, true);
			check_ref(f, n->dflt, true);
			check_ref(f, n->open, n->type != CC_FLOW_SCHEDULE);
			check_ref(f, n->closed, n->type != CC_FLOW_SCHEDULE);
			check_ref(f, n->fallback, n->type != CC_FLOW_QUEUE);
			for (size_t k = 0; k < 16; k++)
				check_ref(f, n->options[k], true);
			for (int d = 0; d < 7; d++)
				if (n->n_spans[d] > CC_FLOW_MAX_SPANS)
					abort();
			/* the schedule answers for any input without reading past its spans */
			(void)cc_flow_schedule_open(n, (int)(i % 9) - 1, (int)(i * 37 % 1500), (int32_t)i);
		}
		cc_flow_free(f);
	} else if (f || !memchr(err.field, 0, sizeof(err.field)) ||
	           !memchr(err.message, 0, sizeof(err.message)) || !err.message[0]) {
		abort();
	}
	json_decref(doc);
	return 0;
}
