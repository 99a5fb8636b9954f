/*
 * json_body.h - a request body as one strict JSON object (RFC 8259), for
 * every endpoint that takes JSON.
 *
 * cJSON is lenient where a lenient reading changes what clawcgi acts on: it
 * stops at the end of the first value (so `{...}xyz` parses), decodes
 * \u0000 into a C string that ends there (so "alice\u0000mallory" reads as
 * "alice"), and keeps duplicate keys, of which lookups see the first while
 * other parsers take the last.  json_body_parse refuses all of these before
 * anything is read from the body.
 */
#ifndef CLAW_JSON_BODY_H
#define CLAW_JSON_BODY_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "err.h"

/*
 * Parse body (len bytes, not NUL-terminated) as one JSON object.  Returns
 * the tree (the caller owns it), or NULL with e: 400 invalid_request_error
 * for a body that is not valid UTF-8, holds a NUL byte or a \u0000 escape,
 * is not JSON, has anything but whitespace after the value, is not an
 * object, or has an object with a key twice (the message names the
 * duplicate's path, e.g. `messages[0].role`); 500 when out of memory.
 */
cJSON *json_body_parse(const char *body, size_t len, struct err *e);

#endif
