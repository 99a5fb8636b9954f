/*
 * err.c - the error record and the one table of error type names.
 */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mask.h"
#include "utf8.h"

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

/*
 * The message goes into a JSON body, which must be UTF-8; a "%.40s" of a
 * client's text, or the end of the buffer, can cut a character in two.
 * Each byte that starts no well-formed character becomes '?'.
 */
static void keep_utf8(char *s)
{
	size_t len = strlen(s), i = 0, k;
	unsigned long cp;

	while (i < len) {
		if ((k = utf8_decode(s + i, len - i, &cp)))
			i += k;
		else
			s[i++] = '?';
	}
}

/*
 * Every message is masked against the configured secrets (mask.h) before
 * it is kept: an upstream's or the store's own words may quote a key.  It
 * is formatted and masked at full length first, so the cut to the
 * message's size never leaves the start of a secret at its end.
 */
int err_set(struct err *e, int status, enum err_type type, const char *fmt, ...)
{
	char full[2048];
	va_list ap;
	int n;

	e->status = status;
	e->type = type;
	e->code = NULL;
	e->param = NULL;
	e->param_text[0] = '\0';
	va_start(ap, fmt);
	n = vsnprintf(full, sizeof full, fmt, ap);
	va_end(ap);
	if (n < 0)
		full[0] = '\0';
	mask_global(full, sizeof full, n >= (int)sizeof full);
	snprintf(e->message, sizeof e->message, "%s", full);
	keep_utf8(e->message);
	return -1;
}

int err_param(struct err *e, const char *fmt, ...)
{
	va_list ap;

	e->param = NULL;
	va_start(ap, fmt);
	vsnprintf(e->param_text, sizeof e->param_text, fmt, ap);
	va_end(ap);
	keep_utf8(e->param_text);
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
	e->param = NULL;
	e->param_text[0] = '\0';
	e->message[0] = '\0';
}
