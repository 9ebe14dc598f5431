/* test_owner.c: lib/owner.h, the queue that hands items to the thread
 * owning some live state: many producers, order per producer kept,
 * nothing lost, wakeups coalesced. */
#define SUITE "owner"
#include "test.h"
#include "owner.h"

#include <poll.h>
#include <pthread.h>
#include <stdint.h>

#define PRODUCERS 8
#define PER_PRODUCER 20000

struct item {
	int producer;
	int seq;
};

struct seen {
	int next[PRODUCERS];   /* the seq each producer's next item must carry */
	long total;
	int bad;               /* items out of order */
};

static void on_item(void *p, void *arg)
{
	struct item *it = p;
	struct seen *s = arg;

	if (it->seq != s->next[it->producer])
		s->bad++;
	s->next[it->producer] = it->seq + 1;
	s->total++;
	free(it);
}

static struct cc_owner *shared;

static void *producer(void *arg)
{
	int id = (int)(intptr_t)arg;

	for (int i = 0; i < PER_PRODUCER; i++) {
		struct item *it = malloc(sizeof(*it));

		it->producer = id;
		it->seq = i;
		cc_owner_post(shared, it);
	}
	return NULL;
}

/* the owner runs its loop (poll on the eventfd) while 8 threads post */
TEST(many_producers)
{
	struct seen s = { { 0 }, 0, 0 };
	pthread_t th[PRODUCERS];
	struct pollfd pfd;
	long runs = 0;

	shared = cc_owner_new(on_item, &s);
	ASSERT(shared);
	pfd.fd = cc_owner_fd(shared);
	pfd.events = POLLIN;
	for (int i = 0; i < PRODUCERS; i++)
		ASSERT_EQ_INT(pthread_create(&th[i], NULL, producer, (void *)(intptr_t)i), 0);
	while (s.total < (long)PRODUCERS * PER_PRODUCER) {
		/* a lost wakeup would hang here until the suite's timeout */
		ASSERT_EQ_INT(poll(&pfd, 1, 5000), 1);
		cc_owner_run(shared);
		runs++;
	}
	for (int i = 0; i < PRODUCERS; i++)
		pthread_join(th[i], NULL);
	ASSERT_EQ_INT(s.bad, 0);
	ASSERT_EQ_INT(s.total, (long)PRODUCERS * PER_PRODUCER);
	for (int i = 0; i < PRODUCERS; i++)
		ASSERT_EQ_INT(s.next[i], PER_PRODUCER);
	ASSERT_EQ_INT(cc_owner_posted(shared), (long)PRODUCERS * PER_PRODUCER);
	/* at most one wakeup per run of the owner, and nothing left to wake for */
	ASSERT(cc_owner_wakeups(shared) <= (uint64_t)runs);
	pfd.revents = 0;
	ASSERT_EQ_INT(poll(&pfd, 1, 0), 0);
	cc_owner_free(shared, free);
}

/* a burst posted before the owner runs costs one wakeup; the fd is
 * readable once, and quiet after the run */
TEST(wakeups_coalesce)
{
	struct seen s = { { 0 }, 0, 0 };
	struct cc_owner *o = cc_owner_new(on_item, &s);
	struct pollfd pfd = { .fd = cc_owner_fd(o), .events = POLLIN };

	ASSERT_EQ_INT(poll(&pfd, 1, 0), 0);
	for (int i = 0; i < 1000; i++) {
		struct item *it = malloc(sizeof(*it));

		it->producer = 0;
		it->seq = i;
		cc_owner_post(o, it);
	}
	ASSERT_EQ_INT(cc_owner_wakeups(o), 1);
	ASSERT_EQ_INT(poll(&pfd, 1, 0), 1);
	ASSERT_EQ_INT(cc_owner_run(o), 1000);
	ASSERT_EQ_INT(s.bad, 0);
	ASSERT_EQ_INT(poll(&pfd, 1, 0), 0);
	/* an empty run is harmless; the next post wakes again */
	ASSERT_EQ_INT(cc_owner_run(o), 0);
	struct item *it = malloc(sizeof(*it));

	it->producer = 1;
	it->seq = 0;
	cc_owner_post(o, it);
	ASSERT_EQ_INT(cc_owner_wakeups(o), 2);
	ASSERT_EQ_INT(poll(&pfd, 1, 0), 1);
	ASSERT_EQ_INT(cc_owner_run(o), 1);
	cc_owner_free(o, free);
}

/* items still queued at the end go to free_item, not the handler */
TEST(free_drops_queued)
{
	struct seen s = { { 0 }, 0, 0 };
	struct cc_owner *o = cc_owner_new(on_item, &s);

	for (int i = 0; i < 3; i++) {
		struct item *it = malloc(sizeof(*it));

		it->producer = 0;
		it->seq = i;
		cc_owner_post(o, it);
	}
	cc_owner_free(o, free);
	ASSERT_EQ_INT(s.total, 0);
}

TEST_LIST(T(many_producers), T(wakeups_coalesce), T(free_drops_queued))
