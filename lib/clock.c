/* clock.c: see clock.h. */
#include "clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t cc_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t cc_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cc_rfc3339(int64_t us, char out[CC_RFC3339_LEN])
{
	time_t s = (time_t)(us / 1000000);
	struct tm tm;

	char buf[96];

	gmtime_r(&s, &tm);
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
	         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	         tm.tm_min, tm.tm_sec, (int)(us % 1000000));
	memcpy(out, buf, CC_RFC3339_LEN - 1);
	out[CC_RFC3339_LEN - 1] = 0;
}

bool cc_date_ok(const char *s)
{
	static const int days[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, m, dd;

	if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-' || strspn(s, "0123456789") != 4 ||
	    strspn(s + 5, "0123456789") != 2 || strspn(s + 8, "0123456789") != 2)
		return false;
	y = atoi(s);
	m = atoi(s + 5);
	dd = atoi(s + 8);
	if (y < 1 || m < 1 || m > 12 || dd < 1 || dd > days[m - 1])
		return false;
	return m != 2 || dd < 29 || (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0));
}
