/* Unit tests of customer search's grams (tenantd/grams.h). */
#define SUITE "grams"
#include "test.h"

#include "grams.h"

static void grams_are(const char *text, const char *want)
{
	char *g = crm_grams(text);

	ASSERT_EQ_STR(g, want);
	free(g);
}

/* every 1- and 2-character substring, each once, sorted by bytes */
TEST(chinese_name)
{
	grams_are("张伟", "'伟' '张' '张伟'");
	/* 张伟华: 伟华 is a gram, so a 2-character search for it is one lexeme */
	grams_are("张伟华", "'伟' '伟华' '华' '张' '张伟'");
	grams_are("伟伟伟", "'伟' '伟伟'");
}

/* code points, not bytes: a 2-character gram of mixed widths */
TEST(mixed_plate)
{
	grams_are("浙a1", "'1' 'a' 'a1' '浙' '浙a'");
}

/* spaces and line breaks part values: no gram crosses them */
TEST(gaps_part_values)
{
	grams_are("ab\ncd", "'a' 'ab' 'b' 'c' 'cd' 'd'");
	grams_are("a b", "'a' 'b'");
	grams_are(" \t\n", "");
	grams_are("", "");
}

/* a quote or a backslash is doubled inside the quoted lexeme */
TEST(quoting)
{
	grams_are("o'k", "'''' '''k' 'k' 'o' 'o'''");
	grams_are("\\", "'\\\\'");
	char *l = crm_lexeme("伟'\\");

	ASSERT_EQ_STR(l, "'伟''\\\\'");
	free(l);
}

TEST(fold_and_count)
{
	char s[] = "ZhangWei 浙A12345";

	crm_fold(s);
	ASSERT_EQ_STR(s, "zhangwei 浙a12345");
	ASSERT_EQ_INT(crm_chars("张伟"), 2);
	ASSERT_EQ_INT(crm_chars("浙a12345"), 7);
	ASSERT_EQ_INT(crm_chars(""), 0);
}

/* a long text: each gram once, whatever the repeats (200 characters of a
 * name and field values are the usual size) */
TEST(long_text_distinct)
{
	char text[2001];
	char *g;
	int n = 0;

	for (int i = 0; i < 2000; i++)
		text[i] = (char)('a' + i % 3);
	text[2000] = '\0';
	g = crm_grams(text);
	for (char *s = g; *s; s++)
		n += *s == ' ';
	ASSERT_EQ_INT(n + 1, 6);   /* a b c ab bc ca */
	ASSERT_EQ_STR(g, "'a' 'ab' 'b' 'bc' 'c' 'ca'");
	free(g);
}

TEST_LIST(T(chinese_name), T(mixed_plate), T(gaps_part_values), T(quoting), T(fold_and_count),
          T(long_text_distinct))
