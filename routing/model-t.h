/*
 * model-t.h: types of routingd's in-memory model of every tenant's
 * routing data. The model is built from PostgreSQL and swapped in
 * (nginx's cycle): a decision never sees half a reload. A reload of one
 * tenant (rt_model_patch) shares every other tenant's struct with the model
 * it patches, so a tenant is reference-counted and owns its numbers; the
 * counts change only on the loader's thread, which builds and frees models.
 */
#ifndef RT_MODEL_T_H
#define RT_MODEL_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "e164.h"
#include "id.h"
#include "map.h"

struct acd_tenant_cfg;

/* A tenant's billing plan as routing needs it to size a credit grant. */
struct rt_plan {
	int minor;                   /* the currency's minor unit */
	int64_t max_s;               /* maximum session length */
	bool no_rate_free;           /* no prefix matches: free (else refused 403) */
	int64_t utc_offset_s;        /* the tenant's zone now (refreshed with the model) */
	char in_version[CC_UUID_LEN];  /* deck versions in force, "" if none */
	char out_version[CC_UUID_LEN];
};

struct rt_agent {
	char extension[12];          /* "1001" */
	char cli[CC_E164_MAX + 1];   /* the agent's own caller ID, "" for the tenant's */
};

/* Per-tenant limits on calls through the carrier (operator-set). */
struct rt_limits_cfg {
	int max_calls;               /* concurrent inbound+outbound calls, -1: no limit */
	int max_cps;                 /* new such calls per second, -1: no limit */
};

struct rt_tenant {
	char id[CC_UUID_LEN];        /* cc.tenants.id */
	char *slug;                  /* "acme" */
	char *sip_domain;            /* "acme.cc.test" */
	bool enabled;                /* false after DELETE: nothing routes */
	struct rt_plan *plan;        /* NULL: no billing plan, no credit grants */
	bool pstn_without_plan;      /* operator flag: PSTN calls without a plan */
	bool allow_unparseable;      /* callers the block list cannot read get through */
	char lang[4];                /* "zh" | "en": the ACD's announcements (cc.tenants.language) */
	struct rt_limits_cfg limits; /* concurrency and call rate */
	char cli[CC_E164_MAX + 1];   /* caller ID for PSTN calls (the tenant's setting), "" if none */
	struct cc_map agents;        /* extension -> struct rt_agent */
	struct cc_map blocked;       /* caller digits -> (void *)1 */
	struct cc_map blocked_prefix;/* digit prefix -> (void *)1 */
	struct cc_map refused;       /* destination digit prefix -> (void *)1 */
	struct rt_number **nums;     /* its numbers (the model's map points into them) */
	size_t n_nums, cap_nums;
	/* the ACD's configuration of the tenant (routing/acd.h): queues,
	 * agents' skills and memberships, VIPs, pause reasons. Built with the
	 * tenant, freed with it; its version tells main which tenants to hand
	 * to acd_configure after a swap (a patch shares the others). */
	struct acd_tenant_cfg *acd;
	int refs;                    /* models holding this tenant */
};

struct rt_number {
	char digits[CC_E164_MAX];    /* E.164 digits without '+' */
	struct rt_tenant *tenant;    /* owner */
	char extension[12];          /* target agent ("" when the target is a flow or a queue) */
	bool to_flow;                /* the target is a flow (cc.numbers.target_type 'flow') */
	bool to_queue;               /* the target is a queue (target_type 'queue') */
	char queue[64];              /* its name (ACD_NAME_MAX) */
	char flow[CC_UUID_LEN];      /* its version in force (cc.flows.version_id), "" if the
	                              * flow is gone: the number answers 404 */
};

struct rt_trunk {
	char id[CC_UUID_LEN];        /* cc.trunks.id, Kamailio's address tag */
	char *name;                  /* "carrier1" */
	char *outbound;              /* "host:port" for PSTN calls, NULL if none */
};

struct rt_model {
	struct cc_map tenants;       /* id -> struct rt_tenant */
	struct cc_map numbers;       /* digits -> struct rt_number */
	struct cc_map trunks;        /* id -> struct rt_trunk */
	struct rt_trunk *outbound;   /* first trunk with an outbound address */
	struct cc_map refused;       /* platform-wide refused destination prefixes */
	size_t n_agents;             /* for the log line after a load */
	uint64_t generation;         /* 1, 2, ... per model made, never reused (its address may be) */
};

#endif
