/* e164.c: see e164.h. */
#include "e164.h"
#include "cc.h"

#include <string.h>

int cc_e164_valid(const char *s, char **err)
{
	size_t n;

	if (!s || s[0] != '+')
		return cc_fail(err, "must start with '+' followed by the country code");
	n = strlen(s + 1);
	if (n < 8 || n > 15)
		return cc_fail(err, "must have 8 to 15 digits after '+', has %zu", n);
	if (s[1] == '0')
		return cc_fail(err, "country code cannot start with 0");
	for (size_t i = 1; s[i]; i++)
		if (s[i] < '0' || s[i] > '9')
			return cc_fail(err, "character %zu is not a digit", i + 1);
	return CC_OK;
}

int cc_e164_prefix(const char *s, char *out, char **err)
{
	size_t n;

	if (!s)
		return cc_fail(err, "missing");
	if (s[0] == '+')
		s++;
	n = strlen(s);
	if (n < 1 || n > 15)
		return cc_fail(err, "must have 1 to 15 digits, has %zu", n);
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return cc_fail(err, "character %zu is not a digit", i + 1);
	memcpy(out, s, n + 1);
	return CC_OK;
}

int cc_e164_from_sip(const char *s, size_t len, char *out)
{
	size_t i = 0, n = 0;

	if (len && s[0] == '+')
		i = 1;
	else if (len >= 2 && s[0] == '0' && s[1] == '0')
		i = 2;
	for (; i < len; i++) {
		if (s[i] == '-' || s[i] == '.' || s[i] == ' ')
			continue;
		if (s[i] < '0' || s[i] > '9' || n >= CC_E164_MAX - 1)
			return CC_ERROR;
		out[n++] = s[i];
	}
	out[n] = '\0';
	return n ? CC_OK : CC_ERROR;
}
