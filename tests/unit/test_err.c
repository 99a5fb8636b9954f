/* Unit tests for src/err.c: the type table and the setters. */
#include <string.h>

#include "check.h"
#include "err.h"

int main(void)
{
	struct err e;

	CHECK_STR(err_type_name(ERR_INVALID_REQUEST), "invalid_request_error",
		  "invalid_request_error");
	CHECK_STR(err_type_name(ERR_API), "api_error", "api_error");
	CHECK_STR(err_type_name(ERR_UPSTREAM), "upstream_error", "upstream_error");
	CHECK_STR(err_type_name(ERR_UNAUTHORIZED), "unauthorized", "unauthorized");
	CHECK_STR(err_type_name(ERR_RATE_LIMITED), "rate_limited", "rate_limited");
	CHECK_STR(err_type_name(ERR_NOT_FOUND), "not_found", "not_found");
	CHECK_STR(err_type_name(ERR_NONE), "api_error", "an unset type is written as api_error");
	CHECK_STR(err_type_name((enum err_type)99), "api_error", "a value outside the table too");

	e.code = ERR_CODE_MODEL_NOT_FOUND;
	CHECK_INT(err_set(&e, 400, ERR_INVALID_REQUEST, "`%s` must be %d.", "n", 1), -1,
		  "err_set returns -1");
	CHECK(e.status == 400 && e.type == ERR_INVALID_REQUEST &&
		      !strcmp(e.message, "`n` must be 1."),
	      "err_set fills status, type and message");
	CHECK(e.code == NULL, "err_set clears the code");
	{
		char big[1000];
		memset(big, 'x', sizeof big - 1);
		big[sizeof big - 1] = '\0';
		err_set(&e, 502, ERR_UPSTREAM, "%s", big);
		CHECK(strlen(e.message) == sizeof e.message - 1,
		      "a long message is cut, NUL-terminated");
	}
	err_set(&e, 400, ERR_INVALID_REQUEST, "'%.2s' and '%s'", "a\xc3\xa9", "\xff\xc3\xa9");
	CHECK_STR(
		e.message, "'a?' and '?\xc3\xa9'",
		"a character cut by a precision, or a stray byte, is '?': the message stays UTF-8");
	CHECK_INT(err_nomem(&e), -1, "err_nomem returns -1");
	CHECK(e.status == 500 && e.type == ERR_API && !strcmp(e.message, "Out of memory."),
	      "err_nomem: 500 api_error");
	err_clear(&e);
	CHECK(e.status == 0 && e.type == ERR_NONE && !e.code && !e.message[0], "err_clear");
	return check_done();
}
