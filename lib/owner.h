/*
 * owner.h: "hand this to the owner thread". A piece of live state has one
 * writer, the thread that owns it (routingd's libevent loop, mediad's libre
 * loop); other threads (NATS callbacks, workers) never touch it: they post
 * an item here, and the owner runs a handler on each item, on its own
 * thread, in the order they were posted.
 *
 * The wakeup is an eventfd, loop-agnostic: the owner registers
 * cc_owner_fd() for reading in its own loop (libevent's event_new, libre's
 * fd_listen) and calls cc_owner_run() when it is readable. Wakeups
 * coalesce: a post writes the eventfd only when the queue was empty and
 * the owner had not been woken yet, so a burst of posts costs one wakeup.
 *
 * Order: items of one producer reach the handler in the order it posted
 * them (one queue under one mutex); items of different producers in the
 * order their posts took the mutex. Nothing is lost: an item posted while
 * the owner runs is either in this run or wakes the next one.
 *
 * Not done on purpose: no bound on the queue (a producer that must not
 * outrun the owner counts its own items); no lock-free queue (a post is a
 * mutex and an append, far below the cost of the NATS message it carries).
 */
#ifndef CC_OWNER_H
#define CC_OWNER_H

#include <stddef.h>
#include <stdint.h>

struct cc_owner;

/* Runs on the owner thread for each item; the handler owns the item. */
typedef void (*cc_owner_fn)(void *item, void *arg);

/* NULL if no eventfd could be made (errno set). */
struct cc_owner *cc_owner_new(cc_owner_fn fn, void *arg) __attribute__((warn_unused_result));

/* Items still queued are passed to free_item (if not NULL), not to the
 * handler. Only when no producer can post any more. */
void cc_owner_free(struct cc_owner *o, void (*free_item)(void *));

/* The descriptor the owner's loop watches for reading. */
int cc_owner_fd(const struct cc_owner *o);

/* Any thread: queues item for the owner. */
void cc_owner_post(struct cc_owner *o, void *item);

/* Owner thread, when cc_owner_fd() is readable (calling it at other times
 * is harmless): runs the handler on every item queued so far. Returns how
 * many it ran. */
size_t cc_owner_run(struct cc_owner *o);

/* Counters (any thread): items posted, wakeups written to the eventfd. */
uint64_t cc_owner_posted(struct cc_owner *o);
uint64_t cc_owner_wakeups(struct cc_owner *o);

#endif
