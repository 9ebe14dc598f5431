/*
 * events.h: platform events on NATS JetStream, never lost.
 *
 * Every event is one JSON object with v (schema version), id (UUID, also
 * the JetStream Nats-Msg-Id so the stream drops duplicates), ts (RFC 3339
 * UTC, microseconds), tenant, type, and its own fields (DESIGN.md).
 *
 * Publishing never blocks the caller on NATS: while the connection is up
 * and nothing is spooled, events go out with an asynchronous JetStream
 * publish. When NATS is unreachable, when an acknowledgement fails or times
 * out, or while older events still wait in the spool, the event is appended
 * to the spool file instead, so order is kept. A replay thread drains the
 * spool in order once NATS is back. A crash between a replayed publish and
 * the spool's truncation can send an event twice; the stream's duplicate
 * window and the consumers' idempotency on `id` absorb that.
 *
 * Not done on purpose: fsync per spooled event (a process crash loses
 * nothing already written; a machine crash may lose the last events).
 */
#ifndef CC_EVENTS_H
#define CC_EVENTS_H

#include <jansson.h>
#include <stdbool.h>
#include <nats/nats.h>
#include <stdint.h>

#define CC_EVENT_VERSION 1
#define CC_EVENTS_STREAM "CC_EVENTS"

struct cc_events;

/* Connects to url (retrying in the background if it is down) and opens the
 * spool in spool_dir/<name>.spool. CC_ERROR with *err on a bad argument or
 * an unwritable spool. */
int cc_events_open(struct cc_events **out, const char *url, const char *spool_dir,
                   const char *name, char **err);
/* Waits up to wait_ms for in-flight acknowledgements, then closes. Events
 * still unacknowledged stay in the spool for the next start. */
void cc_events_close(struct cc_events *ev, int wait_ms);

/* A new event object with v, id, ts, tenant and type set; NULL on OOM. */
json_t *cc_event_new(const char *tenant, const char *type);

/* Publishes ev (which this function takes over) on subject. Thread-safe.
 * Returns CC_OK when sent or spooled, CC_ERROR only if even the spool
 * cannot be written (the event is then logged and lost). */
int cc_events_publish(struct cc_events *ev, const char *subject, json_t *event);

/* Core NATS publish, no persistence (configuration change notices). */
int cc_events_notify(struct cc_events *ev, const char *subject, const char *text);

/* NATS options shared by every connection of the platform: url, name,
 * reconnecting forever, asynchronous errors logged, and the credentials
 * from the file named by the environment variable CC_NATS_CREDS (one line
 * "user:password"; unset or empty: anonymous). Replies then arrive on
 * _INBOX.<user>.>. NULL with *err when the file is unusable; the caller
 * destroys the options. Tools use it too. */
natsOptions *cc_nats_options(const char *url, const char *name, char **err);

/* A plain NATS connection that reconnects forever (also when NATS is not
 * up yet at start). send_asap: every publish leaves at once instead of in
 * batches (for replies and requests that someone waits for). NULL (logged)
 * if the connection cannot even be created or CC_NATS_CREDS is unusable. */
natsConnection *cc_nats_connect(const char *url, const char *name, bool send_asap);

/* The connection, for subscribers sharing it. NULL until created. */
natsConnection *cc_events_conn(struct cc_events *ev);

struct cc_events_stats {
	uint64_t published;  /* handed to NATS directly */
	uint64_t spooled;    /* written to the spool */
	uint64_t replayed;   /* published from the spool */
	uint64_t pending;    /* in the spool now */
};
void cc_events_stats(struct cc_events *ev, struct cc_events_stats *st);

/* Ensures the CC_EVENTS stream exists (subjects cc.call.>, cc.agent.>,
 * cc.billing.>, file storage). Used by producers and consumers alike. */
int cc_events_ensure_stream(jsCtx *js, char **err);

#endif
