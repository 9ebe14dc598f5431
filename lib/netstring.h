/*
 * netstring.h: "LEN:payload," framing, as Kamailio's evapi speaks it.
 *
 * The parser takes the caller's buffer and never allocates
 * (picohttpparser style): it returns the bytes consumed by one complete
 * frame, CC_AGAIN (-2) when more input is needed, or CC_ERROR (-1) when the
 * input is not a netstring or is longer than max.
 */
#ifndef CC_NETSTRING_H
#define CC_NETSTRING_H

#include "cc.h"

long cc_netstring_parse(const char *buf, size_t len, size_t max, struct cc_str *payload);

#endif
