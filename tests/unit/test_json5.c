/*
 * Unit tests for src/json5.c: every JSON5 syntax feature, every error kind
 * with its line and column, the line map, embedded NULs, a nesting bomb, and
 * a deterministic random/mutated-input loop that must never crash or leak.
 */
#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "json5.h"

static cJSON *parse_len(const char *text, size_t len)
{
	struct json5_error e;
	cJSON *root = json5_parse(text, len, NULL, &e);

	if (!root)
		printf("# parse failed at %d:%d: %s\n", e.line, e.column, e.message);
	return root;
}

static cJSON *parse(const char *text)
{
	return parse_len(text, strlen(text));
}

static const cJSON *get(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

static double num(const cJSON *obj, const char *key)
{
	const cJSON *n = get(obj, key);
	return cJSON_IsNumber(n) ? n->valuedouble : -12345.0;
}

static const char *str(const cJSON *obj, const char *key)
{
	return cJSON_GetStringValue(get(obj, key));
}

/* The one value of a one-value document, as a number (NaN on failure). */
static double num_of(const char *text)
{
	cJSON *root = parse(text);
	double v = cJSON_IsNumber(root) ? root->valuedouble : NAN;

	cJSON_Delete(root);
	return v;
}

/* Check a one-string document decodes to want (compared as bytes). */
static void check_string(const char *text, const char *want, const char *name)
{
	cJSON *root = parse(text);

	CHECK_STR(cJSON_GetStringValue(root), want, name);
	cJSON_Delete(root);
}

static size_t count_nodes(const cJSON *node)
{
	size_t n = 1;
	const cJSON *c;

	for (c = node->child; c; c = c->next)
		n += count_nodes(c);
	return n;
}

/* Every node in the tree has a line in the map. */
static int all_nodes_have_lines(const struct json5_lines *lines, const cJSON *node)
{
	const cJSON *c;

	if (json5_line_of(lines, node) < 1)
		return 0;
	for (c = node->child; c; c = c->next) {
		if (!all_nodes_have_lines(lines, c))
			return 0;
	}
	return 1;
}

/*
 * Parse text (len bytes) expecting an error at line:col with message msg;
 * also check the partial map was cleared.
 */
static void check_error_len(const char *text, size_t len, int line, int col, const char *msg)
{
	struct json5_lines lines = {0};
	struct json5_error e;
	char name[256];
	cJSON *root;

	/* copy into an exact-size heap block so ASan sees any over-read */
	char *copy = malloc(len ? len : 1);
	if (len)
		memcpy(copy, text, len);
	root = json5_parse(copy, len, &lines, &e);
	snprintf(name, sizeof name, "error \"%s\"", msg);
	CHECK(root == NULL, name);
	CHECK_STR(e.message, msg, name);
	snprintf(name, sizeof name, "error \"%s\" line", msg);
	CHECK_INT(e.line, line, name);
	snprintf(name, sizeof name, "error \"%s\" column", msg);
	CHECK_INT(e.column, col, name);
	snprintf(name, sizeof name, "error \"%s\" leaves the line map empty", msg);
	CHECK(lines.len == 0 && lines.pos == NULL, name);
	cJSON_Delete(root);
	json5_lines_free(&lines);
	free(copy);
}

static void check_error(const char *text, int line, int col, const char *msg)
{
	check_error_len(text, strlen(text), line, col, msg);
}

static void test_comments(void)
{
	cJSON *root = parse("// lead\n{ /* a */ a /* b */ : /* c */ 1 /* d */, // e\n"
			    " b: /* multi\n line */ 2 } // tail without newline");

	CHECK(cJSON_IsObject(root), "comments: parses");
	CHECK(num(root, "a") == 1, "comments: around key, colon and value");
	CHECK(num(root, "b") == 2, "comments: multi-line block comment");
	CHECK_INT(cJSON_GetArraySize(root), 2, "comments: nothing else");
	cJSON_Delete(root);
	CHECK(num_of("/* ** / * **/ 3 /**/") == 3, "comments: stars inside block comment");
	CHECK(num_of("4// line comment ends the input") == 4, "comments: trailing line comment");
	CHECK(num_of("// a\r// b\xe2\x80\xa8// c\xe2\x80\xa9 5") == 5,
	      "comments: line comment ends at CR, U+2028, U+2029");
}

static void test_keys(void)
{
	cJSON *root = parse("{ $a: 1, _b: 2, c3: 3, ABC: 4, \\u0061\\u0062: 5, x\\u0031: 6,"
			    " 'single': 7, \"double\": 8, true: 9, null: 10, Infinity: 11,"
			    " '': 12, 'with space': 13 }");

	CHECK(num(root, "$a") == 1, "keys: $ start");
	CHECK(num(root, "_b") == 2, "keys: _ start");
	CHECK(num(root, "c3") == 3, "keys: digits after the first character");
	CHECK(num(root, "ABC") == 4, "keys: upper case");
	CHECK(num(root, "ab") == 5, "keys: \\u escapes in an identifier");
	CHECK(num(root, "x1") == 6, "keys: \\u escape of a digit after the start");
	CHECK(num(root, "single") == 7, "keys: single-quoted");
	CHECK(num(root, "double") == 8, "keys: double-quoted");
	CHECK(num(root, "true") == 9 && num(root, "null") == 10 && num(root, "Infinity") == 11,
	      "keys: reserved words are plain identifiers");
	CHECK(num(root, "") == 12, "keys: empty quoted key");
	CHECK(num(root, "with space") == 13, "keys: quoted key with space");
	cJSON_Delete(root);
}

static void test_strings(void)
{
	check_string("'it\\'s \"quoted\"'", "it's \"quoted\"", "strings: single-quoted");
	check_string("\"it's \\\"quoted\\\"\"", "it's \"quoted\"", "strings: double-quoted");
	check_string("'\\n\\t\\r\\b\\f\\v\\'\\\"\\\\\\/'", "\n\t\r\b\f\v'\"\\/",
		     "strings: single-character escapes");
	check_string("'\\x41\\x7e\\xe9'", "A~\xc3\xa9", "strings: \\xHH");
	check_string("'\\u0041\\u00e9\\u20AC'", "A\xc3\xa9\xe2\x82\xac", "strings: \\uXXXX");
	check_string("'\\uD83D\\uDE00'", "\xf0\x9f\x98\x80", "strings: surrogate pair to UTF-8");
	check_string("'\\q\\%\\ '", "q% ", "strings: other characters escape to themselves");
	check_string("'\\\xc3\xa9'", "\xc3\xa9", "strings: escaped non-ASCII character");
	check_string("'ab\\\ncd'", "abcd", "strings: line continuation LF");
	check_string("'ab\\\r\ncd'", "abcd", "strings: line continuation CRLF");
	check_string("'ab\\\rcd'", "abcd", "strings: line continuation CR");
	check_string("'ab\\\xe2\x80\xa8"
		     "cd'",
		     "abcd", "strings: line continuation U+2028");
	check_string("'a\xe2\x80\xa8"
		     "b\xe2\x80\xa9'",
		     "a\xe2\x80\xa8"
		     "b\xe2\x80\xa9",
		     "strings: raw U+2028/U+2029 allowed");
	check_string("'h\xc3\xa9llo \xf0\x9f\x98\x80'", "h\xc3\xa9llo \xf0\x9f\x98\x80",
		     "strings: raw UTF-8 kept");
	check_string("'tab\there'", "tab\there", "strings: raw tab allowed");
	check_string("''", "", "strings: empty");
	check_string("'\\u0030\\x30'", "00", "strings: escaped digits");
}

static void test_numbers(void)
{
	cJSON *root;

	CHECK(num_of("0x1F") == 31, "numbers: hex 0x1F");
	CHECK(num_of("0XfF") == 255, "numbers: hex 0X, mixed case digits");
	CHECK(num_of("-0x10") == -16, "numbers: negative hex");
	CHECK(num_of("+0x10") == 16, "numbers: positive hex");
	CHECK(num_of("0x20000000000000") == 9007199254740992.0, "numbers: hex 2^53 exact");
	CHECK(num_of("0xFFFFFFFFFFFFFFFFFF") == ldexp(1, 72), "numbers: hex beyond 64 bits");
	CHECK(num_of(".5") == 0.5, "numbers: leading decimal point");
	CHECK(num_of("5.") == 5, "numbers: trailing decimal point");
	CHECK(num_of("-.5") == -0.5, "numbers: signed leading decimal point");
	CHECK(num_of("+1") == 1, "numbers: leading +");
	CHECK(num_of("0") == 0 && num_of("0.") == 0 && num_of("0.25") == 0.25,
	      "numbers: zero forms");
	CHECK(num_of("1e3") == 1000, "numbers: exponent");
	CHECK(num_of("2.5E-3") == 0.0025, "numbers: negative exponent, capital E");
	CHECK(num_of("1e+2") == 100, "numbers: explicit + exponent");
	CHECK(num_of(".5e1") == 5, "numbers: leading point with exponent");
	CHECK(num_of("0.1") == 0.1, "numbers: 0.1 correctly rounded");
	CHECK(num_of("123456789012345678901234567890") == 123456789012345678901234567890.0,
	      "numbers: many digits");
	CHECK(num_of("1.7976931348623157e308") == DBL_MAX, "numbers: DBL_MAX");
	CHECK(num_of("5e-324") == 4.9406564584124654e-324, "numbers: smallest subnormal");
	CHECK(num_of("0.000000000000000000000000000001e30") == 1, "numbers: long fraction");
	CHECK(isinf(num_of("1e400")) && num_of("1e400") > 0, "numbers: overflow to Infinity");
	CHECK(num_of("1e-400") == 0, "numbers: underflow to 0");
	CHECK(num_of("1e99999999999999999999") > DBL_MAX, "numbers: huge exponent saturates");
	CHECK(num_of("-0") == 0 && signbit(num_of("-0")), "numbers: -0");
	CHECK(isinf(num_of("Infinity")) && num_of("Infinity") > 0, "numbers: Infinity");
	CHECK(isinf(num_of("+Infinity")) && num_of("+Infinity") > 0, "numbers: +Infinity");
	CHECK(isinf(num_of("-Infinity")) && num_of("-Infinity") < 0, "numbers: -Infinity");
	CHECK(isnan(num_of("NaN")) && isnan(num_of("-NaN")) && isnan(num_of("+NaN")),
	      "numbers: NaN");
	root = parse("[Infinity, -Infinity, NaN, 3000000000, 7]");
	CHECK(root && cJSON_GetArrayItem(root, 0)->valueint == INT32_MAX &&
		      cJSON_GetArrayItem(root, 1)->valueint == INT32_MIN &&
		      cJSON_GetArrayItem(root, 2)->valueint == 0 &&
		      cJSON_GetArrayItem(root, 3)->valueint == INT32_MAX &&
		      cJSON_GetArrayItem(root, 4)->valueint == 7,
	      "numbers: valueint is set sensibly");
	cJSON_Delete(root);

	/* The decimal point is '.' whatever the locale says. */
	if (setlocale(LC_NUMERIC, "de_DE.UTF-8") || setlocale(LC_NUMERIC, "fr_FR.UTF-8")) {
		CHECK(num_of("1.5") == 1.5 && num_of(".25e1") == 2.5,
		      "numbers: locale with ',' radix does not matter");
		setlocale(LC_NUMERIC, "C");
	} else {
		printf("# no de_DE/fr_FR locale installed; radix locale check skipped\n");
	}
}

static void test_literals_and_containers(void)
{
	cJSON *root = parse("[true, false, null, [], {}, [ ], { }, [[],{},],]");

	CHECK(cJSON_IsArray(root) && cJSON_GetArraySize(root) == 8,
	      "containers: trailing comma in array");
	CHECK(cJSON_IsTrue(cJSON_GetArrayItem(root, 0)), "literals: true");
	CHECK(cJSON_IsFalse(cJSON_GetArrayItem(root, 1)), "literals: false");
	CHECK(cJSON_IsNull(cJSON_GetArrayItem(root, 2)), "literals: null");
	CHECK(cJSON_IsArray(cJSON_GetArrayItem(root, 3)) &&
		      cJSON_GetArraySize(cJSON_GetArrayItem(root, 3)) == 0,
	      "containers: empty array");
	CHECK(cJSON_IsObject(cJSON_GetArrayItem(root, 4)) && !cJSON_GetArrayItem(root, 4)->child,
	      "containers: empty object");
	CHECK(cJSON_GetArraySize(cJSON_GetArrayItem(root, 7)) == 2,
	      "containers: nested trailing comma");
	cJSON_Delete(root);

	root = parse("{a: 1, b: [1, 2, ], c: { d: 'x', }, }");
	CHECK(num(root, "a") == 1 && cJSON_GetArraySize(get(root, "b")) == 2 &&
		      !strcmp(str(get(root, "c"), "d"), "x"),
	      "containers: trailing commas in objects");
	cJSON_Delete(root);

	root = parse("\"plain JSON still works\"");
	CHECK_STR(cJSON_GetStringValue(root), "plain JSON still works", "containers: scalar root");
	cJSON_Delete(root);
	root = parse("{\"a\": [1, 2.5, \"x\", true, null], \"b\": {\"c\": -3e2}}");
	CHECK(root && num(get(root, "b"), "c") == -300 && cJSON_GetArraySize(get(root, "a")) == 5,
	      "containers: strict JSON");
	cJSON_Delete(root);
}

static void test_whitespace(void)
{
	cJSON *root = parse("\xef\xbb\xbf{\v\fa\xc2\xa0:\xe2\x80\xa8"
			    "1\xe2\x80\xa9,\xe3\x80\x80"
			    "b\xe1\x9a\x80:\xe2\x80\x82"
			    "2\xe2\x80\xaf,\xe2\x81\x9f"
			    "c:\xef\xbb\xbf"
			    "3\r\n}\t");

	CHECK(num(root, "a") == 1, "whitespace: BOM, \\v, \\f, U+00A0, U+2028, U+2029");
	CHECK(num(root, "b") == 2, "whitespace: U+3000, U+1680, U+2002");
	CHECK(num(root, "c") == 3, "whitespace: U+202F, U+205F, U+FEFF inside");
	cJSON_Delete(root);
}

static void test_duplicates(void)
{
	struct json5_lines lines = {0};
	struct json5_error e;
	cJSON *root = parse("{a: 1, b: 2, a: 3}");

	CHECK_INT(cJSON_GetArraySize(root), 2, "duplicates: one member per key");
	CHECK(num(root, "a") == 3, "duplicates: last one wins");
	CHECK(root && !strcmp(root->child->string, "a") && !strcmp(root->child->next->string, "b"),
	      "duplicates: keeps the first position");
	cJSON_Delete(root);

	root = parse("{a: 1, A: 2}");
	CHECK(cJSON_GetArraySize(root) == 2 && num(root, "a") == 1 && num(root, "A") == 2,
	      "duplicates: keys are case-sensitive");
	cJSON_Delete(root);

	{
		const char *text = "{\n a: [1, {y: 2}],\n b: 2,\n a: { x: 1 },\n}";

		root = json5_parse(text, strlen(text), &lines, &e);
	}
	CHECK(root && cJSON_IsObject(get(root, "a")) && num(get(root, "a"), "x") == 1,
	      "duplicates: object replaces array");
	CHECK(root && lines.len == count_nodes(root), "duplicates: old value leaves the line map");
	CHECK_INT(json5_line_of(&lines, get(root, "a")), 4, "duplicates: line of the new value");
	CHECK_INT(json5_line_of(&lines, get(get(root, "a"), "x")), 4, "duplicates: line inside it");
	CHECK_INT(json5_line_of(&lines, get(root, "b")), 3, "duplicates: other lines kept");
	cJSON_Delete(root);
	json5_lines_free(&lines);
}

static void test_config_snippet(void)
{
	static const char text[] =
		"{\n"
		"  // comment\n"
		"  gateway: { auth: { mode: 'token', token: \"${OPENCLAW_GATEWAY_TOKEN}\" }, },\n"
		"  agents: { list: [ { id: \"main\", default: true, }, ], },\n"
		"  n: 0x1F, f: .5, g: +1, h: 5.,\n"
		"}\n";
	struct json5_lines lines = {0};
	struct json5_error e;
	cJSON *root = json5_parse(text, sizeof text - 1, &lines, &e);
	const cJSON *auth = get(get(root, "gateway"), "auth");
	const cJSON *list = get(get(root, "agents"), "list");
	const cJSON *agent = cJSON_GetArrayItem(list, 0);

	CHECK(cJSON_IsObject(root), "config: parses");
	CHECK_STR(str(auth, "mode"), "token", "config: gateway.auth.mode");
	CHECK_STR(str(auth, "token"), "${OPENCLAW_GATEWAY_TOKEN}", "config: gateway.auth.token");
	CHECK_INT(cJSON_GetArraySize(list), 1, "config: agents.list has one entry");
	CHECK_STR(str(agent, "id"), "main", "config: agents.list[0].id");
	CHECK(cJSON_IsTrue(get(agent, "default")), "config: agents.list[0].default");
	CHECK(num(root, "n") == 31 && num(root, "f") == 0.5 && num(root, "g") == 1 &&
		      num(root, "h") == 5,
	      "config: n, f, g, h");
	CHECK_INT(cJSON_GetArraySize(root), 6, "config: six top-level members");
	CHECK_INT(json5_line_of(&lines, root), 1, "config: line of root");
	CHECK_INT(json5_line_of(&lines, get(root, "gateway")), 3, "config: line of gateway");
	CHECK_INT(json5_line_of(&lines, get(auth, "token")), 3, "config: line of token");
	CHECK_INT(json5_line_of(&lines, agent), 4, "config: line of agents.list[0]");
	CHECK_INT(json5_line_of(&lines, get(agent, "default")), 4, "config: line of default");
	CHECK_INT(json5_line_of(&lines, get(root, "h")), 5, "config: line of h");
	CHECK(lines.len == count_nodes(root), "config: one map entry per node");
	cJSON_Delete(root);
	json5_lines_free(&lines);
}

static void test_line_map(void)
{
	static const char *texts[] = {
		"{\n"
		"  a: {\n"
		"    b: [\n"
		"      1,\n"
		"      {\n"
		"        c: 'x',\n"
		"      },\n"
		"    ],\n"
		"  },\n"
		"  d:\n"
		"    true,\n"
		"  /* two\n"
		"     lines */ e: \"line 13\\\n"
		"still 13 for the key\", f: 'line 14',\n"
		"}\n",
		"{\r\n"
		"  a: {\r\n"
		"    b: [\r\n"
		"      1,\r\n"
		"      {\r\n"
		"        c: 'x',\r\n"
		"      },\r\n"
		"    ],\r\n"
		"  },\r\n"
		"  d:\r\n"
		"    true,\r\n"
		"  /* two\r\n"
		"     lines */ e: \"line 13\\\r\n"
		"still 13 for the key\", f: 'line 14',\r\n"
		"}\r\n",
	};

	for (size_t t = 0; t < 2; t++) {
		struct json5_lines lines = {0};
		struct json5_error e;
		const char *eol = t ? " (CRLF)" : " (LF)";
		char name[128];
		cJSON *root = json5_parse(texts[t], strlen(texts[t]), &lines, &e);
		const cJSON *a = get(root, "a"), *b = get(a, "b");
		const cJSON *inner = cJSON_GetArrayItem(b, 1);
		struct {
			const cJSON *node;
			int line;
			const char *what;
		} want[] = {
			{root, 1, "root"},
			{a, 2, "a"},
			{b, 3, "a.b"},
			{cJSON_GetArrayItem(b, 0), 4, "a.b[0]"},
			{inner, 5, "a.b[1]"},
			{get(inner, "c"), 6, "a.b[1].c"},
			{get(root, "d"), 10, "d (the key's line)"},
			{get(root, "e"), 13, "e"},
			{get(root, "f"), 14, "f"},
		};

		snprintf(name, sizeof name, "line map: parses%s", eol);
		CHECK(cJSON_IsObject(root), name);
		for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
			snprintf(name, sizeof name, "line map: %s%s", want[i].what, eol);
			CHECK_INT(json5_line_of(&lines, want[i].node), want[i].line, name);
		}
		snprintf(name, sizeof name, "line map: every node, once%s", eol);
		CHECK(root && lines.len == count_nodes(root) && all_nodes_have_lines(&lines, root),
		      name);
		cJSON_Delete(root);
		json5_lines_free(&lines);
	}

	{
		struct json5_lines lines = {0};
		struct json5_error e;
		cJSON *other = cJSON_CreateNull();
		cJSON *root = json5_parse("[1]", 3, &lines, &e);

		CHECK_INT(json5_line_of(&lines, other), 0, "line map: unknown node is 0");
		CHECK_INT(json5_line_of(NULL, root), 0, "line map: no map is 0");
		CHECK_INT(json5_line_of(&lines, NULL), 0, "line map: NULL node is 0");
		json5_lines_free(&lines);
		json5_lines_free(&lines);
		json5_lines_free(NULL);
		CHECK(lines.len == 0 && lines.pos == NULL, "line map: free twice is harmless");
		cJSON_Delete(root);
		cJSON_Delete(other);
	}
	{
		struct json5_error e;
		cJSON *root = json5_parse("{a: [1, 2]}", 11, NULL, &e);

		CHECK(cJSON_IsObject(root), "line map: optional");
		cJSON_Delete(root);
		root = json5_parse("[1]", 3, NULL, NULL);
		CHECK(cJSON_IsArray(root), "error record: optional");
		cJSON_Delete(root);
	}
}

static void test_errors(void)
{
	check_error("", 1, 1, "empty input");
	check_error("  \n  // just a comment\n", 3, 1, "empty input");
	check_error("{a: 'abc", 1, 5, "unterminated string");
	check_error("{a: 'ab\ncd'}", 1, 5, "unterminated string");
	check_error("{\n  a: \"x\\", 2, 6, "unterminated string");
	check_error("{\n  a: 1,\n  b: 'x\n}", 3, 6, "unterminated string");
	check_error("{\n  /* never closed\n", 2, 3, "unterminated comment");
	check_error("/*/", 1, 1, "unterminated comment");
	check_error("{a:1 b:2}", 1, 6, "expected ',' or '}'");
	check_error("{a:1]", 1, 5, "expected ',' or '}'");
	check_error("[1 2]", 1, 4, "expected ',' or ']'");
	check_error("[1}", 1, 3, "expected ',' or ']'");
	check_error("{a 1}", 1, 4, "expected ':' after key");
	check_error("{'a' = 1}", 1, 6, "expected ':' after key");
	check_error("{a: #}", 1, 5, "unexpected character '#'");
	check_error("[1,,2]", 1, 4, "unexpected character ','");
	check_error("[,]", 1, 2, "unexpected character ','");
	check_error("/", 1, 1, "unexpected character '/'");
	check_error("{1: 2}", 1, 2, "unexpected digit (expected a key)");
	check_error("{,}", 1, 2, "unexpected character ',' (expected a key)");
	check_error("{a: yes}", 1, 5, "unexpected bare word (a string value must be quoted)");
	check_error("tru", 1, 1, "unexpected bare word (a string value must be quoted)");
	check_error("{apiKey: sk_live_abcdef0123456789}", 1, 10,
		    "unexpected bare word (a string value must be quoted)");
	check_error("\xc3\xa9", 1, 1, "unexpected non-ASCII character");
	check_error("\xff", 1, 1, "invalid UTF-8");
	check_error("'\\1'", 1, 2, "invalid escape");
	check_error("'\\01'", 1, 2, "invalid escape");
	check_error("'\\x4g'", 1, 2, "invalid escape");
	check_error("'\\x4'", 1, 2, "invalid escape");
	check_error("'\\u12'", 1, 2, "invalid escape");
	check_error("'ab\\uD800'", 1, 4, "invalid escape");
	check_error("'\\uDC00'", 1, 2, "invalid escape");
	check_error("'\\uD800\\u0041'", 1, 2, "invalid escape");
	check_error("{\\u0031: 1}", 1, 2, "invalid escape");
	check_error("{a\\u0020b: 1}", 1, 3, "invalid escape");
	check_error("{\\x61: 1}", 1, 2, "invalid escape");
	check_error("'\\0'", 1, 2, "string contains a NUL character");
	check_error("'a\\u0000'", 1, 3, "string contains a NUL character");
	check_error("{'\\x00': 1}", 1, 3, "string contains a NUL character");
	check_error("'\xff'", 1, 2, "invalid UTF-8 in string");
	check_error("'ab\xc3'", 1, 4, "invalid UTF-8 in string");
	check_error("'\xed\xa0\x80'", 1, 2, "invalid UTF-8 in string");
	check_error("'\xc0\xaf'", 1, 2, "invalid UTF-8 in string");
	check_error("01", 1, 1, "invalid number");
	check_error("[1, -01]", 1, 5, "invalid number");
	check_error("1e", 1, 1, "invalid number");
	check_error("1e+", 1, 1, "invalid number");
	check_error("0x", 1, 1, "invalid number");
	check_error("0xg", 1, 1, "invalid number");
	check_error("0x1g", 1, 1, "invalid number");
	check_error(".", 1, 1, "invalid number");
	check_error("-", 1, 1, "invalid number");
	check_error("+-1", 1, 1, "invalid number");
	check_error("1x", 1, 1, "invalid number");
	check_error("-Inf", 1, 1, "invalid number");
	check_error("{n: -Infinityx}", 1, 5, "invalid number");
	check_error("[-]", 1, 2, "invalid number");
	check_error("[1,2", 1, 5, "unexpected end of input");
	check_error("{a:", 1, 4, "unexpected end of input");
	check_error("{a", 1, 3, "unexpected end of input");
	check_error("{", 1, 2, "unexpected end of input");
	check_error("{a:1,", 1, 6, "unexpected end of input");
	check_error("{\n  gateway: {\n    auth: { mode: 'token' \n  }\n", 5, 1,
		    "unexpected end of input");
	check_error("1 2", 1, 3, "trailing content after value");
	check_error("{}}", 1, 3, "trailing content after value");
	check_error("1.2.3", 1, 4, "trailing content after value");
	check_error("{\r\n a: @}", 2, 5, "unexpected character '@'");
	check_error("{\r a: @}", 2, 5, "unexpected character '@'");
	check_error("\t\t@", 1, 3, "unexpected character '@'");
	check_error("{\n  'caf\xc3\xa9': 1, b: ~\n}", 2, 18, "unexpected character '~'");
	/* the length is respected: only "[1," is read */
	check_error_len("[1, 2]", 3, 1, 4, "unexpected end of input");
}

static void test_embedded_nul(void)
{
	cJSON *root;

	check_error_len("{a:1}\0", 6, 1, 6, "trailing content after value");
	check_error_len("\0", 1, 1, 1, "unexpected character U+0000");
	check_error_len("[1,\0]", 5, 1, 4, "unexpected character U+0000");
	check_error_len("'a\0b'", 5, 1, 3, "string contains a NUL character");
	check_error_len("{a\0: 1}", 7, 1, 3, "expected ':' after key");

	root = parse_len("// x\0y\n[1, /* \0 */ 2]", 21);
	CHECK(cJSON_IsArray(root) && cJSON_GetArraySize(root) == 2,
	      "embedded NUL: allowed inside comments");
	cJSON_Delete(root);
}

static char *repeat(const char *unit, size_t times, size_t *len)
{
	size_t ul = strlen(unit);
	char *s = malloc(ul * times);

	for (size_t i = 0; i < times; i++)
		memcpy(s + i * ul, unit, ul);
	*len = ul * times;
	return s;
}

static void test_nesting(void)
{
	struct json5_lines lines = {0};
	struct json5_error e;
	size_t len;
	char *s;
	cJSON *root;
	int depth = 0;

	s = repeat("[", 100000, &len);
	check_error_len(s, len, 1, 513, "nesting too deep");
	free(s);
	s = repeat("{a:", 100000, &len);
	check_error_len(s, len, 1, 512 * 3 + 1, "nesting too deep");
	free(s);
	s = repeat("[", 513, &len);
	check_error_len(s, len, 1, 513, "nesting too deep");
	free(s);

	/* exactly 512 levels is fine */
	s = malloc(1024);
	memset(s, '[', 512);
	memset(s + 512, ']', 512);
	root = json5_parse(s, 1024, &lines, &e);
	free(s);
	for (const cJSON *n = root; n; n = n->child)
		depth++;
	CHECK_INT(depth, 512, "nesting: 512 levels parse");
	CHECK(root && lines.len == 512, "nesting: 512 map entries");
	cJSON_Delete(root);
	json5_lines_free(&lines);
}

/* cJSON allocations fail once this many have succeeded (-1: never). */
static long oom_budget = -1;

static void *oom_malloc(size_t n)
{
	if (oom_budget == 0)
		return NULL;
	if (oom_budget > 0)
		oom_budget--;
	return malloc(n);
}

static void test_out_of_memory(void)
{
	static const char text[] = "{ a: 'x', b: [1, {c: true}], a: \"dup\", 'd\\u00e9': null }";
	cJSON_Hooks hooks = {oom_malloc, free};
	int failed_cleanly = 0, bad = 0, succeeded = 0;

	cJSON_InitHooks(&hooks);
	for (long budget = 0; budget < 100 && !succeeded; budget++) {
		struct json5_lines lines = {0};
		struct json5_error e;
		cJSON *root;

		oom_budget = budget;
		root = json5_parse(text, sizeof text - 1, &lines, &e);
		oom_budget = -1;
		if (root) {
			succeeded = 1;
			if (lines.len != count_nodes(root))
				bad++;
		} else if (strcmp(e.message, "out of memory") == 0 && lines.len == 0) {
			failed_cleanly++;
		} else {
			printf("# budget %ld: %s\n", budget, e.message);
			bad++;
		}
		cJSON_Delete(root);
		json5_lines_free(&lines);
	}
	cJSON_InitHooks(NULL);
	CHECK(failed_cleanly >= 10, "out of memory: every allocation failure is reported");
	CHECK(succeeded && !bad,
	      "out of memory: \"out of memory\", then success with enough memory");
}

/* xorshift64*: deterministic across runs and platforms */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint32_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545F4914F6CDD1Dull) >> 32);
}

/*
 * Parse one input from an exact-size heap copy and check the contract:
 * either a tree whose every node is in the map, or an error with a position
 * and message and an empty map.  Returns 1 if the contract held.
 */
static int fuzz_one(const unsigned char *data, size_t len, int *parsed)
{
	struct json5_lines lines = {0};
	struct json5_error e;
	char *copy = malloc(len ? len : 1);
	cJSON *root;
	int ok;

	if (len)
		memcpy(copy, data, len);
	root = json5_parse(copy, len, &lines, &e);
	if (root) {
		ok = lines.len == count_nodes(root) && all_nodes_have_lines(&lines, root);
		(*parsed)++;
	} else {
		ok = e.line >= 1 && e.column >= 1 && (size_t)e.column <= len + 1 && e.message[0] &&
		     lines.len == 0 && lines.pos == NULL;
	}
	if (!ok)
		printf("# contract broken for a %zu-byte input\n", len);
	cJSON_Delete(root);
	json5_lines_free(&lines);
	free(copy);
	return ok;
}

static void test_random(void)
{
	static const char alphabet[] = "{}[],:'\"\\/*\n\r\t 0123456789abcdefxXuUeE+-.$_"
				       "truefalsnIityNaN";
	static const char *seeds[] = {
		("{\n  // comment\n  gateway: { auth: { mode: 'token', token: "
		 "\"${OPENCLAW_GATEWAY_TOKEN}\" }, },\n  agents: { list: [ { id: \"main\", "
		 "default: true, }, ], },\n  n: 0x1F, f: .5, g: +1, h: 5.,\n}\n"),
		("['\\x41\\u00e9\\uD83D\\uDE00\\\n', \"\\q\", -Infinity, NaN, +.5e-3, /* c */ "
		 "{a:1,a:{b:[1,2,],},}, \xc2\xa0\xef\xbb\xbf true, null, false]"),
		"{\"strict\": [1, 2.5e10, \"x\\ny\", {\"k\": null}], \"e\": {}}",
	};
	unsigned char buf[512];
	int bad = 0, parsed_random = 0, parsed_mutated = 0;
	int runs = 0;

	for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
		cJSON *root = parse(seeds[i]);

		CHECK(root != NULL, "random: seed document parses unmodified");
		cJSON_Delete(root);
	}
	for (int i = 0; i < 10000; i++, runs++) {
		size_t len = rng() % 64;

		for (size_t k = 0; k < len; k++) {
			uint32_t r = rng();
			buf[k] =
				r % 8 == 0
					? (unsigned char)(r >> 8)
					: (unsigned char)alphabet[(r >> 8) % (sizeof alphabet - 1)];
		}
		if (!fuzz_one(buf, len, &parsed_random))
			bad++;
	}
	for (int i = 0; i < 10000; i++, runs++) {
		const char *seed = seeds[rng() % 3];
		size_t len = strlen(seed);
		int edits = 1 + (int)(rng() % 4);

		memcpy(buf, seed, len);
		for (int k = 0; k < edits && len > 0; k++) {
			size_t at = rng() % len;

			switch (rng() % 5) {
			case 0: /* overwrite with anything */
				buf[at] = (unsigned char)rng();
				break;
			case 1: /* delete */
				memmove(buf + at, buf + at + 1, len - at - 1);
				len--;
				break;
			case 2: /* insert syntax */
				if (len < sizeof buf) {
					memmove(buf + at + 1, buf + at, len - at);
					buf[at] = (unsigned char)
						alphabet[rng() % (sizeof alphabet - 1)];
					len++;
				}
				break;
			case 3: /* truncate */
				len = at;
				break;
			default: /* insert a NUL */
				if (len < sizeof buf) {
					memmove(buf + at + 1, buf + at, len - at);
					buf[at] = 0;
					len++;
				}
				break;
			}
		}
		if (!fuzz_one(buf, len, &parsed_mutated))
			bad++;
	}
	printf("# random: %d inputs, %d + %d parsed\n", runs, parsed_random, parsed_mutated);
	CHECK_INT(bad, 0, "random: 20000 random and mutated inputs keep the contract");
	CHECK(parsed_mutated > 100, "random: mutated inputs sometimes still parse");
}

int main(void)
{
	test_comments();
	test_keys();
	test_strings();
	test_numbers();
	test_literals_and_containers();
	test_whitespace();
	test_duplicates();
	test_config_snippet();
	test_line_map();
	test_errors();
	test_embedded_nul();
	test_nesting();
	test_out_of_memory();
	test_random();
	return check_done();
}
