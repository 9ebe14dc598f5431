/*
 * grams.h: what customer search stores and asks (docs/CRM.md "Search").
 * Pure, so the unit test drives it (tests/unit/test_grams.c).
 *
 * A customer's search text is its name and field values, ASCII letters
 * lower-cased, one per line. Its grams are the distinct 1- and
 * 2-character (code point) substrings holding no space or control
 * character, as tsvector text: a term of 1 or 2 characters is then one
 * lexeme of that set (pg_trgm cannot find those: a 2-character word has
 * no trigram of its own). PostgreSQL took 46 s to build them in SQL for a
 * million customers; here they cost microseconds a row.
 */
#ifndef TN_GRAMS_H
#define TN_GRAMS_H

#include <stddef.h>

/* ASCII letters of s to lower case, in place (other bytes untouched). */
void crm_fold(char *s);
/* Code points of valid UTF-8 s. */
size_t crm_chars(const char *s);
/* The tsvector text of text's grams, sorted, each once, quoted
 * ('a' 'ab' ...; "'" and "\" doubled); "" when there is none. Malloc'd. */
char *crm_grams(const char *text);
/* term as one quoted lexeme, tsquery text (the same quoting). Malloc'd. */
char *crm_lexeme(const char *term);

#endif
