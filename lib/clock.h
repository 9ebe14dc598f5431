/* clock.h: wall-clock times as the API and events print them. */
#ifndef CC_CLOCK_H
#define CC_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

#define CC_RFC3339_LEN 28 /* 2026-11-23T12:45:50.123456Z and NUL */

/* Microseconds since the epoch, from CLOCK_REALTIME. */
int64_t cc_now_us(void);

/* Monotonic milliseconds, for timeouts and latency. */
int64_t cc_mono_ms(void);

/* RFC 3339 UTC with microseconds. */
void cc_rfc3339(int64_t us, char out[CC_RFC3339_LEN]);

/* s is YYYY-MM-DD, a day of the calendar (the Gregorian leap years). */
bool cc_date_ok(const char *s);

#endif
