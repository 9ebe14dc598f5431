/*
 * credit.h: credit grants at call setup, decided in routingd from a block
 * of each billed tenant's credit that billingd leases to it (the quota
 * model of Diameter credit control: the authority hands out blocks, the
 * node in the call path spends them).
 *
 *   grant    a call of a tenant with a plan: the rate in force now for the
 *            called number (inbound) or the destination (outbound) from
 *            the tenant's deck, then the longest talk up to the plan's
 *            maximum whose cost fits in the tenant's lease. Local, no I/O,
 *            when the lease holds at least a full-length call.
 *   take     every grant is reported to billingd (cc.rpc.credit.take,
 *            acknowledged; resent every second until it is), which stores
 *            it in cc.grants and moves its money from the lease to the
 *            call; the call's rated line settles it later, as before.
 *   lease    cc.rpc.credit.lease asks billingd for more: it sets the
 *            lease to min(what billingd leased, what routingd says it
 *            still has) plus what the tenant can afford, up to `want`
 *            (64 full-length calls at the last rate). Asked ahead of need
 *            (when the lease falls below half of `want`) without waiting,
 *            and while the call waits when the lease cannot pay for a
 *            full-length call: only then can the answer be "less" or 402.
 *
 * Safety: billingd counts a lease as spent until routingd hands it back,
 * so money is never granted twice. A lease is used only within
 * RT_LEASE_USE_MS of billingd's last answer about it; billingd forgets a
 * lease untouched for three times as long. A restarted billingd (new
 * epoch, announced on cc.rpc.hello.billingd and in every answer) voids every
 * lease; unacknowledged takes are still resent, and billingd reserves
 * them from the tenant's available money. Takes and lease requests travel
 * on one connection to one billingd subscription, so billingd sees them in
 * the order routingd sent them; each carries routingd's running sequence
 * number, so a take that reaches billingd after a lease request already
 * counted it is not subtracted twice.
 */
#ifndef RT_CREDIT_H
#define RT_CREDIT_H

#include <nats/nats.h>
#include <pthread.h>
#include <stdint.h>

#include "decks.h"
#include "hist.h"
#include "map.h"
#include "model-t.h"
#include "pg.h"

#define RT_LEASE_USE_MS 10000
#define RT_LEASE_CALLS 64          /* a lease aims at this many full-length calls */
#define RT_TAKE_RESEND_MS 1000

struct rt_take;
struct rt_out;

struct rt_credit {
	pthread_mutex_t lock;        /* leases, takes, epoch: the loop and NATS threads */
	natsConnection *nc;
	natsSubscription *replies;   /* <inbox>.* : take acks and lease answers */
	natsSubscription *hello;     /* cc.rpc.hello.billingd */
	char inbox[64];
	char holder[CC_UUID_LEN];    /* this routingd, for billingd's leases */
	char epoch[CC_UUID_LEN];     /* billingd's, "" until known */
	int timeout_ms;              /* a lease request the call waits for */
	struct cc_map leases;        /* tenant id -> struct rt_lease */
	struct rt_take *takes;       /* not yet acknowledged */
	size_t n_takes, cap_takes;
	struct rt_out *out;          /* messages for rt_credit_flush */
	size_t n_out, cap_out;
	const struct cc_map *decks;  /* version -> deck: the live bundle's (loader.h) */
	struct cc_hist grant_ns;     /* the grant as the call sees it */
	uint64_t local, waited, refills, failures, resent;
};

int rt_credit_init(struct rt_credit *c, natsConnection *nc, int timeout_ms);
/* Hands every lease back (so billingd need not wait for it to expire). */
void rt_credit_free(struct rt_credit *c);

/* The deck versions grants rate with from now on (a bundle's, loaded by the
 * loader thread: a grant never queries the database). */
void rt_credit_use(struct rt_credit *c, const struct cc_map *decks);

/* The grant for one call: seconds (> 0), -1 for "no limit" (free by the
 * plan), or 0 with *code and *reason set (402, 403 or 503). */
int64_t rt_credit_grant(struct rt_credit *c, const struct rt_tenant *t, bool inbound,
                        const char *digits, const char *call, int *code, const char **reason);

/* Sends what grants queued (takes, refills): called after the call's
 * answer left, so the call does not wait for the publishing. */
void rt_credit_flush(struct rt_credit *c);

/* Once a second: resend takes billingd has not acknowledged. */
void rt_credit_tick(struct rt_credit *c);

/* Pending takes (for metrics). */
size_t rt_credit_pending(struct rt_credit *c);

#endif
