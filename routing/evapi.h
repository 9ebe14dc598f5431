/*
 * evapi.h: routingd's side of Kamailio's evapi: one TCP connection to
 * Kamailio, netstring-framed JSON both ways, reconnected every 200 ms
 * while Kamailio is away (so routingd and Kamailio restart independently).
 * The first frame on every connection is {"auth":secret}: Kamailio gives
 * questions and events only to the client that sent its secret.
 *
 * Kamailio keeps every call event it sends (each with a key "k") until
 * routingd acknowledges it, {"ack":"k,k,..."}, and sends the kept ones again
 * to the next routingd that authenticates (kamailio.cfg route[EV_SEND]).
 * routingd acknowledges an event once it has handed it to JetStream's
 * asynchronous publish or to its spool (not one it could not even spool),
 * so an event is lost neither while routingd is away nor when it dies
 * between reading and publishing; a repeat is the same event (its id is
 * named by the call and type: calls.c). Not covered: a kill -9 in the
 * moment between libnats taking a publish and writing it out.
 */
#ifndef RT_EVAPI_H
#define RT_EVAPI_H

#include <event2/event.h>
#include <jansson.h>

struct rt_evapi;

/* Called once per received JSON object; the callee does not keep msg. */
typedef void (*rt_evapi_cb)(struct rt_evapi *ev, json_t *msg, void *arg);

/* NULL for a bad host or a secret that is empty or over 127 bytes. */
struct rt_evapi *rt_evapi_new(struct event_base *base, const char *host, int port,
                              const char *secret, rt_evapi_cb cb, void *arg);
void rt_evapi_free(struct rt_evapi *ev);

/* Writes what is queued now instead of at the loop's next turn (what the
 * socket does not take goes the usual way). */
void rt_evapi_push(struct rt_evapi *ev);

/* Acknowledges Kamailio's event `key` (sent with the others read in the
 * same turn, at most 64 a frame). Dropped when not connected: Kamailio
 * sends the event again. */
void rt_evapi_ack(struct rt_evapi *ev, long long key);

/* 1 while the connection to Kamailio is up. */
int rt_evapi_connected(const struct rt_evapi *ev);

/* Sends one JSON object as a netstring. CC_ERROR if not connected. */
int rt_evapi_send(struct rt_evapi *ev, const json_t *msg);

#endif
