/* Unit tests for src/json_body.c: one strict JSON object per body; trailing
 * bytes, NUL bytes and \u0000 escapes, duplicate keys refused with the
 * place named. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "json_body.h"

/* Parse body (len bytes); the error message, or "" when it parsed. */
static const char *parse(const char *body, size_t len)
{
	static struct err e;
	cJSON *root;

	err_clear(&e);
	root = json_body_parse(body, len, &e);
	if (root) {
		cJSON_Delete(root);
		return "";
	}
	return e.status == 400 ? e.message : "(not a 400)";
}

#define P(s) parse(s, sizeof s - 1)
#define REFUSED(s, part, name) CHECK(strstr(P(s), part) != NULL, name)

int main(void)
{
	char big[4096];
	size_t n = 0;

	CHECK_STR(P("{\"a\":1}"), "", "an object");
	CHECK_STR(P(" \r\n\t{\"a\":[1,{\"b\":\"\\\\u0000\"}]} \n"), "",
		  "whitespace around it; an escaped backslash before u0000 is text");
	CHECK_STR(P("{\"a\":{\"x\":1},\"b\":{\"x\":2}}"), "", "the same key in two objects");
	REFUSED("{\"a\":1}xyz", "something follows its value (at byte 7)", "trailing bytes");
	REFUSED("{\"a\":1}{}", "something follows its value", "a second object");
	REFUSED("{\"a\":\"x\0y\"}", "NUL byte (at byte 7)", "a raw NUL byte in a string");
	REFUSED("{\"user\":\"alice\\u0000mallory\"}", "\\u0000 (at byte 14)", "a \\u0000 escape");
	REFUSED("{\"a\\u0000\":1}", "\\u0000", "a \\u0000 escape in a key");
	REFUSED("{\"a\":1", "not valid JSON", "cut short");
	REFUSED("[1]", "must be a JSON object", "an array");
	REFUSED("\"x\"", "must be a JSON object", "a string");
	REFUSED("{\"a\":\"\xff\"}", "not valid UTF-8", "invalid UTF-8");
	REFUSED("{\"model\":\"a\",\"model\":\"b\"}", "`model` appears twice", "a duplicate key");
	REFUSED("{\"messages\":[{\"role\":\"user\"},{\"role\":\"user\",\"role\":\"system\"}]}",
		"`messages[1].role` appears twice", "a duplicate key deep down, named by its path");
	n += (size_t)snprintf(big + n, sizeof big - n, "{\"o\":{");
	for (int i = 0; i < 40; i++)
		n += (size_t)snprintf(big + n, sizeof big - n, "\"k%d\":%d,", i, i);
	n += (size_t)snprintf(big + n, sizeof big - n, "\"k7\":0}}");
	CHECK(strstr(parse(big, n), "`o.k7` appears twice") != NULL,
	      "a duplicate among many keys (sorted)");
	big[n - 7] = 'z'; /* "k7" -> "z7" */
	CHECK_STR(parse(big, n), "", "many keys, none twice");
	return check_done();
}
