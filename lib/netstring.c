/* netstring.c: see netstring.h. */
#include "netstring.h"

long cc_netstring_parse(const char *buf, size_t len, size_t max, struct cc_str *payload)
{
	size_t i = 0, n = 0;

	for (; i < len && buf[i] != ':'; i++) {
		if (buf[i] < '0' || buf[i] > '9' || i >= 9)
			return CC_ERROR;
		n = n * 10 + (size_t)(buf[i] - '0');
	}
	if (i == len)
		return CC_AGAIN;
	if (i == 0 || n > max || (i > 1 && buf[0] == '0'))
		return CC_ERROR;
	if (len - i - 1 < n + 1)
		return CC_AGAIN;
	if (buf[i + 1 + n] != ',')
		return CC_ERROR;
	payload->s = buf + i + 1;
	payload->len = n;
	return (long)(i + 1 + n + 1);
}
