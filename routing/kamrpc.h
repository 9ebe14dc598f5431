/*
 * kamrpc.h: one JSON-RPC request to Kamailio over its FIFO (jsonrpcs),
 * waiting for the answer: for threads of their own (the sweep, the media
 * watch's hang-ups), never for the loop.
 */
#ifndef RT_KAMRPC_H
#define RT_KAMRPC_H

#include <jansson.h>

/* method with params (a JSON array text) to Kamailio's FIFO fifo; the
 * reply comes on a FIFO routingd_<tag>_<pid> made in reply_dir
 * (jsonrpcs' fifo_reply_dir), opened for reading before the request goes.
 * Its whole answer, parsed, within timeout_ms, or NULL with *err (which
 * the caller frees). tag: a bare name, one per thread. */
json_t *rt_kamrpc(const char *fifo, const char *reply_dir, const char *tag, const char *method,
                  const char *params, int timeout_ms, char **err);

#endif
