/* money.c: see money.h. */
#include "money.h"
#include "cc.h"

#include <stdio.h>
#include <string.h>

int cc_money_parse(const char *s, int max_decimals, int64_t *micro, const char **why)
{
	int64_t whole = 0, frac = 0;
	int sign = 1, digits = 0, decimals = 0;
	const char *p = s;

	if (!s || !*s) {
		*why = "empty amount";
		return CC_ERROR;
	}
	if (*p == '-' || *p == '+')
		sign = *p++ == '-' ? -1 : 1;
	for (; *p >= '0' && *p <= '9'; p++, digits++) {
		whole = whole * 10 + (*p - '0');
		if (whole >= CC_MONEY_MAX / CC_MICRO) {
			*why = "amount too large";
			return CC_ERROR;
		}
	}
	if (*p == '.') {
		p++;
		for (; *p >= '0' && *p <= '9'; p++, decimals++) {
			if (decimals >= 6 || decimals >= max_decimals) {
				*why = max_decimals < 6 ? "more decimals than the currency has"
				                        : "more than 6 decimals";
				return CC_ERROR;
			}
			frac = frac * 10 + (*p - '0');
		}
		if (!decimals) {
			*why = "no digits after the decimal point";
			return CC_ERROR;
		}
	}
	if (*p || (!digits && !decimals)) {
		*why = "not a decimal number";
		return CC_ERROR;
	}
	for (int i = decimals; i < 6; i++)
		frac *= 10;
	*micro = sign * (whole * CC_MICRO + frac);
	return CC_OK;
}

void cc_money_format(int64_t micro, int decimals, char out[CC_MONEY_LEN])
{
	uint64_t a = micro < 0 ? (uint64_t)0 - (uint64_t)micro : (uint64_t)micro;
	uint64_t whole = a / CC_MICRO, frac = a % CC_MICRO;
	char f[8];

	if (decimals < 0)
		decimals = 0;
	snprintf(f, sizeof(f), "%06llu", (unsigned long long)frac);
	/* drop trailing zeros beyond the wanted decimals */
	int n = 6;
	while (n > decimals && f[n - 1] == '0')
		n--;
	f[n] = '\0';
	snprintf(out, CC_MONEY_LEN, "%s%llu%s%s", micro < 0 ? "-" : "", (unsigned long long)whole,
	         n ? "." : "", f);
}

int64_t cc_div_round_half_up(__int128 n, int64_t d)
{
	__int128 q = n / d, r = n % d;

	if (r < 0)
		r = -r;
	if (2 * r >= d)
		q += n < 0 ? -1 : 1;
	return (int64_t)q;
}

int64_t cc_minor_micro(int minor_unit)
{
	int64_t m = CC_MICRO;

	for (int i = 0; i < minor_unit && m > 1; i++)
		m /= 10;
	return m;
}
