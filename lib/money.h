/*
 * money.h: amounts as integer micro-units (1e-6 of the major unit: 1.25
 * CNY = 1,250,000), parsed from and printed as decimal strings, never
 * through floating point.
 */
#ifndef CC_MONEY_H
#define CC_MONEY_H

#include <stdbool.h>
#include <stdint.h>

#define CC_MICRO 1000000LL
#define CC_MONEY_MAX (1000000000000LL * CC_MICRO)  /* 10^12 major units */
#define CC_MONEY_LEN 32

/* "123.45", "-0.5", "7" -> micro-units. At most max_decimals digits after
 * the point (6 at most); |amount| < CC_MONEY_MAX. CC_ERROR with *why set
 * (a static string) otherwise. */
int cc_money_parse(const char *s, int max_decimals, int64_t *micro, const char **why);

/* Prints micro with exactly `decimals` digits after the point (0..6),
 * which must represent it exactly (else more digits are printed). */
void cc_money_format(int64_t micro, int decimals, char out[CC_MONEY_LEN]);

/* Rounds n/d (d > 0) to the nearest integer, halves away from zero. */
int64_t cc_div_round_half_up(__int128 n, int64_t d);

/* 10^(6 - minor_unit): micro-units per minor unit (CNY: 10,000). */
int64_t cc_minor_micro(int minor_unit);

#endif
