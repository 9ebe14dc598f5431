/*
 * recstore.h: where recording files live (docs/RECORDING.md). An interface
 * with one implementation, a directory tree ($CC_VAR/recordings by
 * default, CC_REC_STORE); an S3-compatible object store takes the same
 * calls (create/append/sync map to a multipart upload whose parts are
 * the synced spans; read to a ranged GET).
 *
 * Keys are relative paths the platform makes, never input:
 * "<tenant uuid>/<yyyy>/<mm>/<dd>/<recording uuid>.ccr". A key with "..",
 * a leading "/", or anything but [0-9a-z/.-] is refused (EINVAL).
 *
 * Writing: create (O_EXCL; the folders made and fsynced), append, sync
 * (fsync of the file; the first sync also fsyncs its folder, so the name
 * survives a crash), close. A full disk answers ENOSPC from append or
 * sync: nothing is retried or hidden. Blocking: off the loop threads.
 */
#ifndef CC_RECSTORE_H
#define CC_RECSTORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct cc_store;
struct cc_store_obj;

/* The directory store rooted at root (made when absent). 0 or an errno. */
int cc_store_dir_open(const char *root, struct cc_store **sp);
void cc_store_close(struct cc_store *s);

/* ---- writing: each 0 or an errno */
int cc_store_create(struct cc_store *s, const char *key, struct cc_store_obj **op);
/* Opens an existing object to append to it, after truncating it to size
 * (recovery of a torn write). */
int cc_store_reopen(struct cc_store *s, const char *key, uint64_t size, struct cc_store_obj **op);
int cc_store_append(struct cc_store_obj *o, const void *buf, size_t n);
int cc_store_sync(struct cc_store_obj *o);

/* ---- reading */
int cc_store_open(struct cc_store *s, const char *key, struct cc_store_obj **op);
/* Up to n bytes at off: the count (0 at the end) or -errno. */
ssize_t cc_store_read(struct cc_store_obj *o, uint64_t off, void *buf, size_t n);
/* The object's size now. */
uint64_t cc_store_size(const struct cc_store_obj *o);

/* Closes an object opened either way (no sync: call cc_store_sync first). */
void cc_store_obj_close(struct cc_store_obj *o);

/* Deletes an object (purge, tenant deletion); ENOENT if it is not there. */
int cc_store_remove(struct cc_store *s, const char *key);

/* The key of a new recording: buf of at least 96 bytes. day is "YYYY/MM/DD" (UTC). */
void cc_store_rec_key(char *buf, size_t n, const char *tenant_id, const char *day, const char *id);

#endif
