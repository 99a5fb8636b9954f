/* Unit tests for src/buf.c: growth, the maximum, truncation and detaching. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "check.h"

int main(void)
{
	struct buf b = BUF_INIT;
	char *s;

	CHECK_STR(buf_str(&b), "", "an empty buffer reads as \"\"");
	CHECK(buf_append_str(&b, "abc") == 0 && b.len == 3, "append");
	for (int i = 0; i < 1000; i++)
		buf_append(&b, "x", 1);
	CHECK(b.len == 1003 && b.data[1003] == '\0' && b.cap > 1003, "grows, NUL-terminated");
	buf_reset(&b);
	CHECK(b.len == 0 && b.data && !b.data[0], "reset empties, keeps the memory");
	CHECK(buf_printf(&b, "%d-%s", 42, "z") == 0, "printf");
	CHECK_STR(buf_str(&b), "42-z", "printf text");
	buf_free(&b);

	buf_set_max(&b, 8);
	CHECK(buf_room(&b) == 8, "room is the maximum when empty");
	CHECK(buf_append_str(&b, "12345678") == 0, "append up to the maximum");
	CHECK(buf_room(&b) == 0, "no room left");
	CHECK_INT(buf_append(&b, "9", 1), BUF_TOO_BIG, "one byte past the maximum: BUF_TOO_BIG");
	CHECK_STR(buf_str(&b), "12345678", "and nothing appended");
	buf_truncate(&b, 4);
	CHECK_STR(buf_str(&b), "1234", "truncate");
	CHECK_INT(buf_printf(&b, "%s", "abcde"), BUF_TOO_BIG, "printf past the maximum");
	CHECK_STR(buf_str(&b), "1234", "leaves the buffer as it was");
	CHECK(buf_printf(&b, "%s", "abcd") == 0, "printf that just fits");
	buf_reset(&b);
	CHECK(buf_room(&b) == 8, "reset keeps the maximum");
	buf_truncate(&b, 5);
	CHECK(b.len == 0, "truncate never lengthens");
	buf_free(&b);
	CHECK(b.max == 0 && buf_append_str(&b, "0123456789") == 0, "free forgets the maximum");

	s = buf_detach(&b);
	CHECK_STR(s, "0123456789", "detach hands over the string");
	CHECK(b.data == NULL && b.len == 0, "and empties the buffer");
	free(s);
	s = buf_detach(&b);
	CHECK_STR(s, "", "detach of an empty buffer gives \"\"");
	free(s);
	return check_done();
}
