/*
 * json5.h - read JSON5 text (the config file format) into a cJSON tree.
 *
 * Supported beyond JSON: // and block comments, unquoted identifier keys,
 * single-quoted strings, trailing commas in objects and arrays, hex numbers
 * (0x1F), leading/trailing decimal point, explicit +, Infinity and NaN,
 * escaped line continuations in strings, and the extra JSON5 whitespace.
 *
 * Requests are plain JSON and go through cJSON directly; this reader is for
 * the configuration only.
 *
 * Ownership: json5_parse returns a tree the caller frees with cJSON_Delete.
 * When lines is non-NULL it is filled with the source line of every node, so
 * config validation can say "file:line: reason"; free it with
 * json5_lines_free.
 */
#ifndef CLAW_JSON5_H
#define CLAW_JSON5_H

#include <stddef.h>
#include <cjson/cJSON.h>

struct json5_error {
	int line;   /* 1-based */
	int column; /* 1-based, in bytes */
	char message[160];
};

struct json5_pos {
	const cJSON *node;
	int line;
};

struct json5_lines {
	struct json5_pos *pos;
	size_t len;
	size_t cap;
};

/*
 * Parse len bytes of text.  Returns the root node, or NULL with err filled
 * (line, column and a reason such as "unterminated string").  Duplicate keys
 * in one object: the last one wins, as in JavaScript.  Nesting deeper than
 * 512 levels is an error.
 */
cJSON *json5_parse(const char *text, size_t len, struct json5_lines *lines,
		   struct json5_error *err);

/* Source line of node (as recorded by json5_parse), or 0 if unknown. */
int json5_line_of(const struct json5_lines *lines, const cJSON *node);

void json5_lines_free(struct json5_lines *lines);

#endif
