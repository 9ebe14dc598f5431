/* model_acd.h: loading the ACD's configuration into the model (model.c). */
#ifndef RT_MODEL_ACD_H
#define RT_MODEL_ACD_H

#include "model-t.h"
#include "pg.h"

/* Every tenant of m loaded in this pass (those whose acd is NULL, and
 * those q's filter names) gets its struct acd_tenant_cfg: q runs one of
 * the SELECTs with "%s%s%s" where " WHERE <col> = ANY(...)" goes (model.c's
 * tenant filter). CC_OK, or CC_ERROR with *err set. */
int rt_model_load_acd(struct rt_model *m, PGresult *(*q)(void *ctx, const char *sql, const char *col, char **err),
                      void *ctx, char **err);
/* Rows (queues, agents, VIPs, pause reasons) loads left out so far because
 * they do not fit the ACD (e.g. more than ACD_SKILLS_MAX skills); each is
 * logged. Counted at every load that meets it. */
uint64_t rt_model_acd_left_out(void);

#endif
