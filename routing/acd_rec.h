/*
 * acd_rec.h: who is recorded (docs/RECORDING.md ## Policy). The most
 * specific policy set wins: the agent's, else the queue's, else the
 * tenant's; 'percent' is decided by a stable hash of the call id, so the
 * same call always gets the same answer (a second offer, a restarted
 * routingd).
 */
#ifndef RT_ACD_REC_H
#define RT_ACD_REC_H

#include <stdbool.h>

#include "acd.h"

/* A column's text ('all', 'none', 'percent'; NULL: inherit) and its
 * percent (NULL unless 'percent') into p; false when they do not fit. */
bool acd_rec_parse(const char *mode, const char *percent, struct acd_rec_policy *p);
/* 0..99 from the call id (FNV-1a): recorded under 'percent' when below it. */
unsigned acd_rec_bucket(const char *call);
/* The decision for call in queue (name; NULL or unknown: none) answered by
 * agent (extension; NULL or unknown: none). */
bool acd_rec_decide(const struct acd_tenant_cfg *c, const char *queue, const char *agent,
                    const char *call);

#endif
