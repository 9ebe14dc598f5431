/*
 * e164.h: phone numbers in E.164 form ("+8657112345678").
 *
 * The API accepts only the canonical form: '+', a non-zero first digit,
 * 8 to 15 digits in all. Carriers send many forms in the Request-URI
 * ("+86...", "86...", "0086..."); cc_e164_from_sip() maps those onto the
 * digits of the canonical form, which is the key numbers are stored under.
 */
#ifndef CC_E164_H
#define CC_E164_H

#include <stddef.h>

#define CC_E164_MAX 16 /* '+' and 15 digits */

/* CC_OK if s is canonical E.164; else CC_ERROR with a message in *err. */
int cc_e164_valid(const char *s, char **err);

/* A dialable prefix for block lists: '+' optional, 1 to 15 digits. Writes
 * the digits (no '+') to out[CC_E164_MAX]. */
int cc_e164_prefix(const char *s, char *out, char **err);

/* Digits of a number as it arrives in SIP ("+86..", "0086..", "86..", with
 * visual separators '-', '.', ' ' removed) into out[CC_E164_MAX]. CC_ERROR
 * if what is left is not 1 to 15 digits. */
int cc_e164_from_sip(const char *s, size_t len, char *out);

#endif
