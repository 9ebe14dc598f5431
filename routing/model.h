/* model.h: building and querying routingd's model (see model-t.h). */
#ifndef RT_MODEL_H
#define RT_MODEL_H

#include "model-t.h"
#include "pg.h"

/* Loads every tenant, agent, assigned number with a target, block-list
 * entry, refused destination prefix and trunk. Returns
 * a new model, or NULL with *err set (the caller keeps its old model). */
struct rt_model *rt_model_load(struct cc_pg *pg, char **err);
/* A new model: live with the n tenants named (cc.tenants ids) loaded again
 * from PostgreSQL in one snapshot, every other tenant, the trunks and the
 * platform's refused prefixes shared or copied from live (which is not
 * changed and may be read meanwhile). A tenant no longer in the database
 * is gone from it, with its numbers. NULL with *err set on failure. */
struct rt_model *rt_model_patch(const struct rt_model *live, struct cc_pg *pg,
                                const char *const *tenants, size_t n, char **err);
struct rt_model *rt_model_new(void);
void rt_model_free(struct rt_model *m);

/* Building blocks, also used by unit tests and benchmarks. */
struct rt_tenant *rt_model_add_tenant(struct rt_model *m, const char *id, const char *slug,
                                      const char *sip_domain, bool enabled);
int rt_model_add_agent(struct rt_tenant *t, const char *extension);
int rt_model_add_number(struct rt_model *m, const char *e164, struct rt_tenant *t,
                        const char *extension);
/* A number whose target is a flow; version is its cc.flow_versions.id in
 * force, "" or NULL when the flow is gone. */
int rt_model_add_flow_number(struct rt_model *m, const char *e164, struct rt_tenant *t,
                             const char *version);
/* A number whose target is a queue of its tenant (by name). */
int rt_model_add_queue_number(struct rt_model *m, const char *e164, struct rt_tenant *t,
                              const char *queue);
/* The tenant's ACD configuration: an empty one (language "zh", the default
 * pause reasons, a fresh version), made if it has none; freed with it. */
struct acd_tenant_cfg *rt_model_acd(struct rt_tenant *t);
void rt_model_acd_free(struct acd_tenant_cfg *c);
/* The caller ID of the tenant's PSTN calls, or of one of its agents
 * (canonical "+..."; CC_ERROR and unchanged otherwise). */
int rt_model_set_cli(struct rt_tenant *t, const char *e164);
int rt_model_set_agent_cli(struct rt_tenant *t, const char *extension, const char *e164);
/* A refused destination prefix: the platform's (t NULL) or the tenant's. */
int rt_model_add_refused(struct rt_model *m, struct rt_tenant *t, const char *prefix);
int rt_model_add_block(struct rt_tenant *t, const char *e164, const char *prefix);
int rt_model_add_trunk(struct rt_model *m, const char *id, const char *name,
                       const char *outbound);

/* True if the caller's digits are on the tenant's block list (exactly or
 * by prefix). */
bool rt_tenant_blocks(const struct rt_tenant *t, const char *digits);

/* True if outbound calls of tenant t may not reach these digits (a prefix
 * on the platform's list or the tenant's). */
bool rt_refuses_destination(const struct rt_model *m, const struct rt_tenant *t,
                            const char *digits);

#endif
