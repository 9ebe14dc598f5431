/*
 * events.h: platform events on NATS JetStream, never lost, in order.
 *
 * Every event is one JSON object with v (schema version), id (UUID, also
 * the JetStream Nats-Msg-Id so the stream drops duplicates), ts (RFC 3339
 * UTC, microseconds), tenant, type, and its own fields (DESIGN.md).
 *
 * Publishing never blocks the caller on NATS. While the connection is up
 * and nothing is spooled, events go out with an asynchronous JetStream
 * publish, at most 4096 awaiting their acknowledgement.
 *
 * Ordering: events reach the stream in the order they were published.
 * On the first sign of trouble (an acknowledgement fails or times out
 * after 3 s, NATS disconnects or reconnects, 4096 are unacknowledged, a
 * publish is refused) the producer switches to spooling: every event still
 * unacknowledged is written to the spool first, in the order it was sent,
 * then every new event after it, and nothing goes out directly until the
 * spool has drained. An event moved to the spool may have reached the
 * stream already; its replay carries the same Nats-Msg-Id, which the
 * stream's 2-minute duplicate window drops (and consumers are idempotent
 * on `id` beyond it). The spool is spool_dir/<name>.spool.
 *
 * Replay: a thread renames the spool to <name>.replaying and publishes its
 * lines in batches of asynchronous publishes: one line first, twice as
 * many after each batch acknowledged in full, up to 1024 in flight; back
 * to one line, 250 ms later, after any failure. After each batch it
 * commits its read position to <name>.replaying.pos, so a restart resumes
 * there (a crash between a batch and its commit sends that batch twice:
 * the duplicate window again). When both files are empty and everything
 * replayed is acknowledged, events go out directly again.
 *
 * Lines that can never go out do not block the spool: a malformed line
 * (truncated, no subject, not a JSON object with a string id) at once, and
 * a line JetStream refuses 3 times while the stream exists (a subject no
 * stream takes, a message too large) are moved to <name>.dead (the line
 * as it was, for an operator to inspect or move back) with a warning in
 * the log, and counted (stats `dead`). Timeouts, lost connections and a
 * full JetStream store are NATS's state, not the line's: they keep the
 * line, and everything after it, waiting.
 *
 * Size cap: CC_SPOOL_MAX_MB (default 1024 MiB) bounds the bytes not yet
 * replayed. When full, a new event is dropped (stats `dropped`, an error
 * logged at the 1st, 2nd, 4th, 8th... drop) and cc_events_publish returns
 * CC_ERROR; nothing already spooled is touched, so what is kept stays in
 * order and complete from its start.
 *
 * Durability: CC_SPOOL_SYNC_MS (default 100): the replay thread
 * fdatasyncs the spool that often when it was written, so a machine crash
 * loses at most that much of the spool; a process crash loses nothing
 * written. 0 syncs with every spooled event on the publishing thread (the
 * caller then waits for the disk: see docs/BENCHMARKS.md for the cost).
 * The dead-letter file is synced with every line; the replay position is
 * not (a stale one only sends some events twice).
 *
 * Not done on purpose:
 *   - publishing with an expected stream sequence: order rests on one
 *     connection delivering in order and on nothing overtaking what is
 *     unacknowledged; several producers share the stream anyway.
 *   - a sliding replay window: a batch waits for all its acknowledgements
 *     before the next (the drain runs at ~0.8 of the direct rate).
 *   - replaying the dead-letter file: an operator looks at it first.
 *   - dropping the oldest events when the spool is full: the kept ones
 *     would then lack their calls' beginnings.
 */
#ifndef CC_EVENTS_H
#define CC_EVENTS_H

#include <jansson.h>
#include <stdbool.h>
#include <nats/nats.h>
#include <stdint.h>

struct cc_config_row;

#define CC_EVENT_VERSION 1
#define CC_EVENTS_STREAM "CC_EVENTS"

struct cc_events;

/* Connects to url (retrying in the background if it is down) and opens the
 * spool in spool_dir/<name>.spool. Reads CC_SPOOL_MAX_MB and
 * CC_SPOOL_SYNC_MS from the environment (cc_events_settings). CC_ERROR
 * with *err on a bad argument or setting or an unwritable spool. */
int cc_events_open(struct cc_events **out, const char *url, const char *spool_dir,
                   const char *name, char **err);
/* Waits up to wait_ms for in-flight acknowledgements, then closes. Events
 * still unacknowledged are spooled for the next start (in order). */
void cc_events_close(struct cc_events *ev, int wait_ms);

/* A new event object with v, id, ts, tenant and type set; NULL on OOM. */
json_t *cc_event_new(const char *tenant, const char *type);

/* Publishes ev (which this function takes over) on subject. Thread-safe;
 * never waits on NATS (with CC_SPOOL_SYNC_MS=0 it waits on the disk while
 * spooling). Returns CC_OK when sent or spooled, CC_ERROR if the spool is
 * full (counted in `dropped`) or cannot be written (logged with the event). */
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
	uint64_t published;    /* handed to NATS directly */
	uint64_t spooled;      /* written to the spool */
	uint64_t replayed;     /* published from the spool and acknowledged */
	uint64_t pending;      /* in the spool now */
	uint64_t acked;        /* direct publishes acknowledged */
	uint64_t dropped;      /* refused: the spool was full (CC_SPOOL_MAX_MB) */
	uint64_t dead;         /* spool lines moved to the dead-letter file */
	uint64_t syncs;        /* fdatasyncs of the spool */
	uint64_t spool_bytes;  /* bytes in the spool not yet replayed */
	bool spooling;         /* new events go to the spool now */
};
void cc_events_stats(struct cc_events *ev, struct cc_events_stats *st);

/* The spool's settings (CC_SPOOL_MAX_MB, CC_SPOOL_SYNC_MS), for --help. */
extern const struct cc_config_row *const cc_events_settings;
extern const size_t cc_events_settings_len;

/* Ensures the CC_EVENTS stream exists (subjects cc.call.>, cc.agent.>,
 * cc.billing.>, file storage). Used by producers and consumers alike. */
int cc_events_ensure_stream(jsCtx *js, char **err);

#endif
