/*
 * credit.h: credit grants at call setup, decided in routingd from a block
 * of each billed tenant's credit that billingd leases to it (the quota
 * model of Diameter credit control: the authority hands out blocks, the
 * node in the call path spends them).
 *
 *   grant    a call of a tenant with a plan: the rate in force now for the
 *            called number (inbound) or the destination (outbound) from
 *            the tenant's deck, then a first slice of talk: the longest up
 *            to min(CC_CREDIT_SLICE_S, the plan's maximum) whose cost fits
 *            in the tenant's lease. Local, no I/O, when the lease holds a
 *            whole slice.
 *   park     when it does not, the call is parked (never waited for): a
 *            lease request goes to billingd asynchronously, and the call
 *            is answered when billingd's answer reaches the loop, or with
 *            503 at its deadline (CC_ROUTING_GRANT_TIMEOUT_MS). Calls of
 *            one tenant parked while a lease request is out share it and
 *            are served in arrival order.
 *   top-up   an answered call whose slice has less than CC_CREDIT_TOPUP_S
 *            left takes another slice from the lease (another take, same
 *            call, next seq), up to the plan's maximum, and Kamailio is
 *            told the dialog's new lifetime (rt_credit_extend_fn). No
 *            money for one: the call ends at the end of its slice (the
 *            dialog's timer), and its ended event says "credit exhausted".
 *   take     every slice is reported to billingd (cc.rpc.credit.take,
 *            acknowledged; resent every second until it is), which stores
 *            it in cc.grants (keyed on call and seq) and moves its money
 *            from the lease to the call; the call's rated line settles
 *            all of its slices later.
 *   lease    cc.rpc.credit.lease asks billingd for more: it sets the
 *            lease to min(what billingd leased, what routingd says it
 *            still has) plus what the tenant can afford, up to `want`
 *            (64 full-length calls at the last rate). Asked ahead of need
 *            (when the lease falls below half of `want`).
 *
 * One writer: the lease state lives on routingd's loop alone. The NATS
 * callbacks (billingd's answers, its hello) only hand the message to the
 * loop through a cc_owner queue (lib/owner.h); nothing here takes a lock.
 *
 * Safety: billingd counts a lease as spent until routingd hands it back,
 * so money is never granted twice. A lease is used only within
 * RT_LEASE_USE_MS of billingd's last answer about it (a take's
 * acknowledgement that found the lease counts); billingd forgets a lease
 * untouched for three times as long. billingd keeps the leases it gives in
 * PostgreSQL (cc.credit_leases), so a restarted billingd (new epoch,
 * announced on cc.rpc.hello.billingd and in every answer) honours them and
 * routingd keeps granting from them; a billingd that did not find a lease
 * says so in its answers (leased: false) and routingd stops spending it.
 * Unacknowledged takes are still resent, and billingd reserves them from
 * the tenant's available money. Takes and lease requests travel on one
 * connection to one billingd subscription, so billingd sees them in the
 * order routingd sent them; each carries routingd's running sequence
 * number, so a take that reaches billingd after a lease request already
 * counted it is not subtracted twice.
 */
#ifndef RT_CREDIT_H
#define RT_CREDIT_H

#include <nats/nats.h>
#include <stdbool.h>
#include <stdint.h>

#include "decks.h"
#include "hist.h"
#include "map.h"
#include "model-t.h"
#include "pg.h"

#define RT_LEASE_USE_MS 10000
#define RT_LEASE_CALLS 64          /* a lease aims at this many full-length calls */
#define RT_TAKE_RESEND_MS 1000
#define RT_GRANT_PARKED (-2)       /* rt_credit_grant: the answer comes later */

struct rt_take;
struct rt_out;
struct rt_live;
struct cc_owner;
struct event_base;
struct event;

/* A parked call's outcome, on the loop: seconds (> 0), -1 for "no limit",
 * or 0 with code and reason (402, 503). Called once per parked call. */
typedef void (*rt_credit_done)(void *ctx, int64_t seconds, int code, const char *reason);

/* Tells Kamailio an answered call's dialog now ends `seconds` from now. */
typedef void (*rt_credit_extend_fn)(void *arg, const char *call, const char *tenant,
                                    long h_entry, long h_id, int64_t seconds);

struct rt_credit {
	struct event_base *base;     /* the loop (deadlines, the owner queue) */
	struct cc_owner *inbox_q;    /* NATS threads -> loop: billingd's messages */
	struct event *inbox_ev;      /* its eventfd in the loop */
	natsConnection *nc;
	natsSubscription *replies;   /* <inbox>.* : take acks and lease answers */
	natsSubscription *hello;     /* cc.rpc.hello.billingd */
	char inbox[64];
	char holder[CC_UUID_LEN];    /* this routingd, for billingd's leases */
	char epoch[CC_UUID_LEN];     /* billingd's, "" until known */
	int timeout_ms;              /* a parked call's deadline */
	int64_t slice_s;             /* a slice's talk, at most */
	int64_t topup_s;             /* top up an answered call this close to its end */
	struct cc_map leases;        /* tenant id -> struct rt_lease */
	struct rt_take *takes;       /* not yet acknowledged */
	size_t n_takes, cap_takes;
	uint64_t replies_sent;       /* numbers each message's reply subject */
	struct rt_out *out;          /* messages for rt_credit_flush */
	size_t n_out, cap_out;
	struct rt_live **live;       /* granted calls, until their end */
	size_t n_live, cap_live;
	rt_credit_extend_fn extend;  /* set by main: the evapi message */
	void *extend_arg;
	const struct cc_map *decks;  /* version -> deck: the live bundle's (loader.h) */
	struct cc_hist grant_ns;     /* the grant as the call sees it */
	uint64_t local, waited, refills, failures, resent;
	uint64_t parked;             /* calls parked now */
	uint64_t topups, cut;        /* slices added to answered calls; calls cut */
};

/* Subscribes on nc; the NATS callbacks post to the loop `base`. */
int rt_credit_init(struct rt_credit *c, struct event_base *base, natsConnection *nc,
                   int timeout_ms, int64_t slice_s, int64_t topup_s);
/* Hands every lease back (so billingd need not wait for it to expire);
 * parked calls get 503 first. */
void rt_credit_free(struct rt_credit *c);

/* The deck versions grants rate with from now on (a bundle's, loaded by the
 * loader thread: a grant never queries the database). */
void rt_credit_use(struct rt_credit *c, const struct cc_map *decks);

/* The first slice for one call: seconds (> 0), -1 for "no limit" (free by
 * the plan), 0 with *code and *reason set (402, 403 or 503), or
 * RT_GRANT_PARKED: done(ctx, ...) answers later, on the loop, and not
 * before this returns. */
int64_t rt_credit_grant(struct rt_credit *c, const struct rt_tenant *t, bool inbound,
                        const char *digits, const char *call, int *code, const char **reason,
                        rt_credit_done done, void *ctx);

/* Kamailio's dialog events for a granted call (unknown calls ignored). */
void rt_credit_answered(struct rt_credit *c, const char *call, long h_entry, long h_id);
/* true if the call ended because no further slice could be had. */
bool rt_credit_ended(struct rt_credit *c, const char *call);

/* Sends what grants queued (takes, refills): called after the call's
 * answer left, so the call does not wait for the publishing. */
void rt_credit_flush(struct rt_credit *c);

/* Once a second: resend takes billingd has not acknowledged, top up
 * answered calls near the end of their slice. */
void rt_credit_tick(struct rt_credit *c);

/* Pending takes (for metrics). */
size_t rt_credit_pending(struct rt_credit *c);

#endif
