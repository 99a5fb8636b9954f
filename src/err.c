/*
 * err.c - the error record and the one table of error type names.
 */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>

static const char *const type_names[] = {
	[ERR_NONE] = "api_error",
	[ERR_INVALID_REQUEST] = "invalid_request_error",
	[ERR_API] = "api_error",
	[ERR_UPSTREAM] = "upstream_error",
	[ERR_UNAUTHORIZED] = "unauthorized",
	[ERR_RATE_LIMITED] = "rate_limited",
	[ERR_NOT_FOUND] = "not_found",
};

const char *err_type_name(enum err_type type)
{
	if ((unsigned)type >= sizeof type_names / sizeof *type_names)
		return "api_error";
	return type_names[type];
}

int err_set(struct err *e, int status, enum err_type type, const char *fmt, ...)
{
	va_list ap;

	e->status = status;
	e->type = type;
	e->code = NULL;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof e->message, fmt, ap);
	va_end(ap);
	return -1;
}

int err_nomem(struct err *e)
{
	return err_set(e, 500, ERR_API, "Out of memory.");
}

void err_clear(struct err *e)
{
	e->status = 0;
	e->type = ERR_NONE;
	e->code = NULL;
	e->message[0] = '\0';
}
