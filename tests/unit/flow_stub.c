/* A stand-in for lib/flow.c's parser while it is not in this tree (the
 * h-flow branch writes it): tests/Makefile links this only when
 * lib/flow.c does not exist. It refuses every flow. */
#include "flow.h"
#include "cc.h"

#include <stdio.h>

int cc_flow_parse(const json_t *doc, struct cc_flow **out, struct cc_flow_error *err)
{
	snprintf(err->field, sizeof(err->field), "%s", "");
	snprintf(err->message, sizeof(err->message), "%s", "no flow parser in this build");
	*out = NULL;
	return CC_ERROR;
}

void cc_flow_free(struct cc_flow *f)
{
	(void)f;
}
