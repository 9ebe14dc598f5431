/*
 * catalog.h: what mediad reads from PostgreSQL, the flows and prompts of
 * every tenant, kept in memory and loaded off the loop. A lookup that is
 * not cached is queued to the catalog's own thread (libpq, blocking there),
 * and its answer comes back into libre's loop through an mqueue: the loop
 * never waits for the database.
 *
 * Objects are libre mem objects, reference-counted: a call holds the flow
 * version and the prompts it plays (mem_ref), so a flow changed or a prompt
 * replaced meanwhile never changes what a call already has. A cached entry
 * is dropped by md_catalog_forget (a cc.cfg.<tenant> notice); whoever still
 * holds it keeps it until mem_deref.
 *
 * A prompt name a tenant has not uploaded falls back to the platform's
 * default of that name (files generated at build time into the directory
 * given to md_catalog_init: <name>.8k.raw and <name>.16k.raw, s16le mono).
 */
#ifndef MD_CATALOG_H
#define MD_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "flow.h"
#include "id.h"

struct md_prompt {               /* mem object */
	char id[CC_UUID_LEN];        /* cc.prompts.id, or "default:<name>" */
	char name[CC_FLOW_NAME_MAX];
	const int16_t *pcm8;         /* 8 kHz samples */
	size_t n8;
	const int16_t *pcm16;        /* 16 kHz samples */
	size_t n16;
};

struct md_flow {                 /* mem object: one version of a flow */
	char version[CC_UUID_LEN];   /* cc.flow_versions.id */
	char tenant[CC_UUID_LEN];
	char name[CC_FLOW_NAME_MAX];
	char tz[64];                 /* the tenant's time zone ("Asia/Shanghai") */
	struct cc_flow *flow;        /* parsed (lib/flow.h) */
};

/* err: 0, or ENOENT (no such prompt / flow of this tenant), or EIO (the
 * database is unreachable; the caller answers 503 or skips the prompt).
 * The object passed is the handler's to mem_ref if it keeps it. */
typedef void (md_prompt_h)(int err, struct md_prompt *p, void *arg);
typedef void (md_flow_h)(int err, struct md_flow *f, void *arg);

/* Starts the catalog thread (conninfo: libpq's), on the calling thread's
 * libre loop; defaults_dir: the default prompts. 0 or an errno. */
int md_catalog_init(const char *conninfo, const char *defaults_dir);
void md_catalog_close(void);

/*
 * Asynchronous lookups. arg must be a mem object: the catalog holds a
 * reference on it until the handler has run (so a call that ended meanwhile
 * is still there, and the handler sees it is over). The handler always runs
 * later on the loop, never inside the call.
 */
void md_catalog_prompt(const char *tenant, const char *name, md_prompt_h *h, void *arg);
void md_catalog_flow_version(const char *tenant, const char *version, md_flow_h *h, void *arg);
/* the current version of the tenant's flow called name (a goto node) */
void md_catalog_flow_named(const char *tenant, const char *name, md_flow_h *h, void *arg);

/* Drops the tenant's cached prompts and named flows (versions never change). */
void md_catalog_forget(const char *tenant);

#endif
