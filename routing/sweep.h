/*
 * sweep.h: ends the calls whose dialog no longer exists.
 *
 * An answered call is ended by Kamailio's report of its end; when that
 * report can never come (Kamailio killed before it wrote the dialog to its
 * table, a dialog lost any other way) the call stayed "answered" for good
 * and its credit grant reserved for hours. Every CC_ROUTING_SWEEP_S a
 * thread of its own (never the loop: it waits on Kamailio's FIFO and on
 * PostgreSQL, with deadlines) compares:
 *
 *   Kamailio's dialogs   `dlg.briefing` over its JSON-RPC FIFO (the dialog
 *                        table itself: the truth about what is up), by SIP
 *                        Call-ID and state;
 *   the calls billing    cc.calls answered and not ended (routingd's role
 *   thinks are up        reads it), with their SIP Call-ID.
 *
 * A call answered more than CC_ROUTING_SWEEP_GRACE_S ago whose Call-ID has
 * no live dialog is handed to the loop, which publishes its `ended`
 * (calls.h rt_calls_swept): result answered, reason "swept: dialog lost",
 * dated at the last moment the call is known to have been up: the last
 * sweep that saw its dialog, else its answer. That never charges more than
 * the call can have lasted (it was up then, and its dialog's lifetime, the
 * credit grant, had not run out), and at most one period less. billingd
 * rates it and settles its grant as for any end. The event's id is the one
 * Kamailio's own end would carry, so a late real end is not a second end.
 *
 * Never swept on doubt: no sweep while the evapi link is down or came up
 * less than RT_SWEEP_SETTLE_S ago (Kamailio may still be sending the ends
 * it kept), when the RPC or the query fails, or for a call with no SIP
 * Call-ID on record. The dialog list is read before the calls, so a call
 * whose dialog was up at the list but ended since is still ended in the
 * database, or its end is on its way with the same id.
 *
 * Not done on purpose: several Kamailio nodes (the sweep asks one FIFO);
 * a call whose SIP Call-ID another live dialog uses (a party that reuses
 * one) is not swept while that dialog lasts.
 */
#ifndef RT_SWEEP_H
#define RT_SWEEP_H

#include <event2/event.h>
#include <stdint.h>

#include "calls.h"

#define RT_SWEEP_SETTLE_S 10
#define RT_SWEEP_RPC_MS 5000         /* Kamailio's answer, whole */
#define RT_SWEEP_MAX_CALLS 20000     /* open calls looked at per sweep */

struct rt_sweep;

/* Starts the thread: every period_s, calls answered over grace_s ago are
 * checked against Kamailio's dialogs (fifo: its JSON-RPC FIFO; the reply
 * FIFO is made next to it) and ended through calls on the loop of base.
 * NULL if the thread cannot start. */
struct rt_sweep *rt_sweep_new(struct event_base *base, const char *pg_url, const char *fifo,
                              long period_s, long grace_s, struct rt_calls *calls);
/* The loop, once a second: whether the evapi link is up. */
void rt_sweep_link(struct rt_sweep *s, int up);
/* Stops the thread and frees everything. */
void rt_sweep_free(struct rt_sweep *s);

/* For metrics (any thread): sweeps run, sweeps skipped on an error. */
uint64_t rt_sweep_runs(const struct rt_sweep *s);
uint64_t rt_sweep_failures(const struct rt_sweep *s);

#endif
