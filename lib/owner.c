/* owner.c: see owner.h. A mutex-guarded array that the owner swaps for an
 * empty one before running the handlers, so producers never wait for a
 * handler and the handler never runs under the mutex. */
#include "owner.h"
#include "cc.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct cc_owner {
	pthread_mutex_t lock;        /* guards items, n, cap, woken, counters */
	void **items;                /* queued, oldest first */
	size_t n, cap;
	bool woken;                  /* the eventfd was written and not yet read */
	int fd;                      /* eventfd, non-blocking */
	cc_owner_fn fn;
	void *arg;
	uint64_t posted, wakeups;
};

struct cc_owner *cc_owner_new(cc_owner_fn fn, void *arg)
{
	struct cc_owner *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (o->fd < 0) {
		int e = errno;

		free(o);
		errno = e;
		return NULL;
	}
	pthread_mutex_init(&o->lock, NULL);
	o->fn = fn;
	o->arg = arg;
	return o;
}

void cc_owner_free(struct cc_owner *o, void (*free_item)(void *))
{
	if (!o)
		return;
	for (size_t i = 0; free_item && i < o->n; i++)
		free_item(o->items[i]);
	free(o->items);
	close(o->fd);
	pthread_mutex_destroy(&o->lock);
	free(o);
}

int cc_owner_fd(const struct cc_owner *o)
{
	return o->fd;
}

void cc_owner_post(struct cc_owner *o, void *item)
{
	bool wake;

	pthread_mutex_lock(&o->lock);
	if (o->n == o->cap) {
		o->cap = o->cap ? 2 * o->cap : 64;
		o->items = realloc(o->items, o->cap * sizeof(*o->items));
		CC_BUG_ON(!o->items);
	}
	o->items[o->n++] = item;
	o->posted++;
	wake = !o->woken;
	if (wake) {
		o->woken = true;
		o->wakeups++;
	}
	pthread_mutex_unlock(&o->lock);
	if (wake) {
		uint64_t one = 1;

		/* cannot fail but for a counter at its maximum, which a
		 * counter reset to 0 by every read never reaches */
		CC_BUG_ON(write(o->fd, &one, sizeof(one)) != sizeof(one));
	}
}

size_t cc_owner_run(struct cc_owner *o)
{
	uint64_t v;
	void **items;
	size_t n;

	/* read before taking the queue: a post after the read writes again
	 * (woken is cleared below) or lands in this run */
	while (read(o->fd, &v, sizeof(v)) < 0 && errno == EINTR)
		;
	pthread_mutex_lock(&o->lock);
	items = o->items;
	n = o->n;
	o->items = NULL;
	o->n = o->cap = 0;
	o->woken = false;
	pthread_mutex_unlock(&o->lock);
	for (size_t i = 0; i < n; i++)
		o->fn(items[i], o->arg);
	free(items);
	return n;
}

uint64_t cc_owner_posted(struct cc_owner *o)
{
	uint64_t v;

	pthread_mutex_lock(&o->lock);
	v = o->posted;
	pthread_mutex_unlock(&o->lock);
	return v;
}

uint64_t cc_owner_wakeups(struct cc_owner *o)
{
	uint64_t v;

	pthread_mutex_lock(&o->lock);
	v = o->wakeups;
	pthread_mutex_unlock(&o->lock);
	return v;
}
