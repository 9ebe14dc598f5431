/*
 * acdvips: the VIP numbers routingd's model gives the ACD (routing/
 * model_acd.c), loaded from CC_PG_URL with routingd's own code: one line
 * "<tenant slug> <e164> <priority>" per VIP, by tenant then number.
 * 97_customers.sh checks that a vip customer's numbers are among them.
 */
#include <stdio.h>
#include <stdlib.h>

#include "acd.h"
#include "cc.h"
#include "model.h"
#include "model-t.h"
#include "pg.h"

int main(void)
{
	const char *url = getenv("CC_PG_URL");
	struct cc_pg pg;
	char *err = NULL;
	struct rt_model *m;

	if (!url) {
		fprintf(stderr, "acdvips: set CC_PG_URL\n");
		return 2;
	}
	cc_pg_init(&pg, url);
	if (!(m = rt_model_load(&pg, &err))) {
		fprintf(stderr, "acdvips: load failed: %s\n", err);
		return 1;
	}
	cc_pg_close(&pg);
	for (size_t i = 0; i < m->tenants.cap; i++) {
		struct rt_tenant *t = m->tenants.slots[i].value;

		if (!m->tenants.slots[i].key || !t->acd)
			continue;
		for (size_t v = 0; v < t->acd->n_vips; v++)
			printf("%s %s %d\n", t->slug, t->acd->vips[v].e164, t->acd->vips[v].priority);
	}
	return 0;
}
