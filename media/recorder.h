/*
 * recorder.h: mediad's recorder (docs/RECORDING.md "Recorder"). A
 * recording is two channels of one call: LEFT the caller's side, RIGHT
 * the agent's (and whoever the agent's side carries: a consult target, a
 * whispering or barging supervisor). Ogg Opus, encrypted at rest
 * (lib/reccrypt.h), one chunk fsynced per second, its row in cc.recordings.
 *
 * Two threads, one owner each:
 *   - the loop thread: md_rec_start, md_rec_put (20 ms frames copied into a
 *     bounded ring per channel: no allocation, no lock, no blocking; a full
 *     ring drops the frame and counts it), md_rec_hear, md_rec_pause,
 *     md_rec_stop;
 *   - ONE writer thread for every recording: the tenant key, the data key,
 *     the row (its own libpq connection, role cc_mediad), Opus (libopus,
 *     VOIP, 2 channels as two uncoupled mono streams, mapping family 1, so
 *     that neither side leaks into the other; the recording's rate, 24 kbit/s
 *     in all) in Ogg (libogg),
 *     one Ogg page flush per second -> one encrypted chunk + fsync; at the
 *     end the final chunk and the row 'complete'. A store or key error
 *     stops that recording only (row 'failed' with the error); the call
 *     goes on.
 *
 * md_rec_put is the recorder's only input: the mix taps of md_rec_tap feed
 * it, and any other source of 20 ms frames (a fork of a direct call) may.
 */
#ifndef MD_RECORDER_H
#define MD_RECORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct md_mix;
struct md_rec;

enum md_rec_chan { MD_REC_LEFT = 0, MD_REC_RIGHT = 1 };

struct md_rec_meta {                 /* the row's and the OpusTags' call metadata */
	const char *tenant, *call;       /* uuids */
	const char *queue, *agent;       /* "" when none */
	const char *caller, *callee;
	const char *direction;           /* inbound | outbound | internal */
};

/* The writer thread, its connection (pg_url, role cc_mediad), the store
 * (store_dir, lib/recstore.h) and the local KMS (secrets_dir). instance
 * names this mediad in the rows it writes; the rows of this instance
 * still 'recording' (a crash) are closed first: cc_rec_recover, then
 * 'incomplete'. 0 or an errno (nothing is recorded then). */
int md_recorder_init(const char *pg_url, const char *store_dir, const char *secrets_dir,
                     const char *instance);
/* Stops the writer after every recording was finished (their rows written). */
void md_recorder_close(void);

/* A new recording at rate (8000 or 16000): its id (a uuid) now, its row
 * and file made by the writer. Its state is 'recording'. 0 or an errno;
 * ENOTSUP (another rate): *recp NULL, and the writer writes its row
 * 'failed' ("unsupported rate"). */
int md_rec_alloc(struct md_rec **recp, uint32_t rate, const struct md_rec_meta *meta);
/* Two tap members of mix (they contribute nothing): LEFT hears the slots
 * of left, RIGHT those of right. 0 or an errno (the mix is full). */
int md_rec_tap(struct md_rec *rec, struct md_mix *mix, uint32_t left, uint32_t right);
/* Who a tap hears (a supervisor joined the agent's side, a consult). */
void md_rec_hear(struct md_rec *rec, enum md_rec_chan ch, uint32_t mask);
/* n samples (<= 320, one 20 ms frame at the recording's rate) of channel
 * ch. Copied; while paused, silence is kept instead (the gap stays in
 * time). A channel that runs ahead of the other is padded with silence. */
void md_rec_put(struct md_rec *rec, enum md_rec_chan ch, const int16_t *pcm, size_t n);
/* Pause (PCI) or resume: 0, or EALREADY when already so. The row's pauses
 * get {"from_ms","to_ms"} (offsets in the audio). */
int md_rec_pause(struct md_rec *rec, bool on);
/* Ends it: the taps leave, the writer writes what is left, the final
 * chunk, the row 'complete'. rec is the writer's from here on: never use
 * it again. */
void md_rec_stop(struct md_rec *rec);
/* As md_rec_stop, but the row ends 'failed' with error why (it could not
 * start: the mix is full), never 'complete' without its audio. */
void md_rec_abort(struct md_rec *rec, const char *why);

const char *md_rec_id(const struct md_rec *rec);
/* "recording", "paused" or "failed" (the writer gave up: store, key). */
const char *md_rec_state(const struct md_rec *rec);

/* Process-wide counters (metrics). */
struct md_rec_stats {
	uint64_t total;                  /* recordings started */
	uint64_t failed;                 /* ended 'failed' */
	uint64_t active;                 /* started, not yet finished */
	uint64_t dropped;                /* frames a full ring dropped */
};
void md_rec_stats(struct md_rec_stats *s);

#endif
