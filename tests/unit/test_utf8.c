/* Unit tests for src/utf8.c: decoding at each length and boundary, every
 * kind of ill-formed sequence, encoding round trips, and where a stream may
 * be cut. */
#include <string.h>

#include "check.h"
#include "utf8.h"

static int valid(const char *s)
{
	return utf8_valid(s, strlen(s));
}

int main(void)
{
	unsigned long cp = 0;
	char out[4];

	CHECK(utf8_decode("A", 1, &cp) == 1 && cp == 'A', "ASCII is one byte");
	CHECK(utf8_decode("\xc3\xa9", 2, &cp) == 2 && cp == 0xe9, "U+00E9 is two bytes");
	CHECK(utf8_decode("\xe2\x82\xac", 3, &cp) == 3 && cp == 0x20ac, "U+20AC is three bytes");
	CHECK(utf8_decode("\xf0\x9f\x98\x80", 4, &cp) == 4 && cp == 0x1f600,
	      "U+1F600 is four bytes");
	CHECK(utf8_decode("\xc2\x80", 2, &cp) == 2 && cp == 0x80, "lowest two-byte character");
	CHECK(utf8_decode("\xef\xbf\xbf", 3, &cp) == 3 && cp == 0xffff,
	      "highest three-byte character");
	CHECK(utf8_decode("\xf4\x8f\xbf\xbf", 4, &cp) == 4 && cp == 0x10ffff,
	      "U+10FFFF is the last");
	CHECK(utf8_decode("\xc0\xaf", 2, &cp) == 0, "overlong two-byte form refused");
	CHECK(utf8_decode("\xc1\xbf", 2, &cp) == 0, "C1 lead byte refused");
	CHECK(utf8_decode("\xe0\x80\xaf", 3, &cp) == 0, "overlong three-byte form refused");
	CHECK(utf8_decode("\xf0\x80\x80\xaf", 4, &cp) == 0, "overlong four-byte form refused");
	CHECK(utf8_decode("\xed\xa0\x80", 3, &cp) == 0, "high surrogate U+D800 refused");
	CHECK(utf8_decode("\xed\xbf\xbf", 3, &cp) == 0, "low surrogate U+DFFF refused");
	CHECK(utf8_decode("\xf4\x90\x80\x80", 4, &cp) == 0, "beyond U+10FFFF refused");
	CHECK(utf8_decode("\xf5\x80\x80\x80", 4, &cp) == 0, "F5 lead byte refused");
	CHECK(utf8_decode("\xff", 1, &cp) == 0, "FF is never UTF-8");
	CHECK(utf8_decode("\x80", 1, &cp) == 0, "a lone continuation byte refused");
	CHECK(utf8_decode("\xe2\x82", 2, &cp) == 0, "truncated by the end of input");
	CHECK(utf8_decode("\xe2\x82\xac", 2, &cp) == 0, "avail counts, not the NUL");
	CHECK(utf8_decode("\xe2\x28\xa1", 3, &cp) == 0, "a non-continuation inside refused");

	CHECK(valid("") && valid("plain") && valid("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
	      "valid strings");
	CHECK(!valid("ok \xc3") && !valid("\xed\xa0\x80") &&
		      !valid("a\xc0\xaf"
			     "b"),
	      "invalid anywhere in the string");
	CHECK(utf8_valid("a\0b", 3), "NUL is a valid character (length counts, not the NUL)");

	for (unsigned long c = 0; c <= 0x10ffff; c += (c < 0x800 ? 1 : 251)) {
		size_t n;
		unsigned long back = 0;
		if (c >= 0xd800 && c <= 0xdfff)
			continue;
		n = utf8_encode(out, c);
		if (utf8_decode(out, n, &back) != n || back != c) {
			CHECK(0, "encode/decode round trip");
			break;
		}
		if (c + 251 > 0x10ffff && c >= 0x800)
			CHECK(1, "encode/decode round trip over the whole range");
	}
	CHECK(utf8_encode(NULL, 0x1f600) == 4, "encode with no output only measures");

	CHECK_INT(utf8_incomplete_tail("abc", 3), 0, "complete ASCII: nothing held back");
	CHECK_INT(utf8_incomplete_tail("a\xc3", 2), 1, "a lead byte alone is held back");
	CHECK_INT(utf8_incomplete_tail("a\xe2\x82", 3), 2, "two of three bytes held back");
	CHECK_INT(utf8_incomplete_tail("\xf0\x9f\x98", 3), 3, "three of four bytes held back");
	CHECK_INT(utf8_incomplete_tail("\xf0\x9f\x98\x80", 4), 0,
		  "a whole four-byte character is not");
	CHECK_INT(utf8_incomplete_tail("\xc3\xa9", 2), 0, "a whole two-byte character is not");
	CHECK_INT(utf8_incomplete_tail("", 0), 0, "empty input");
	return check_done();
}
