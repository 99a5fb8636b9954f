/*
 * json5.c - a JSON5 reader (https://spec.json5.org) that builds a cJSON tree.
 *
 * This is the only JSON parser the project writes by hand: requests are
 * plain JSON and go through cJSON, but the configuration file is JSON5 and
 * no packaged C library reads that.  The reader takes a byte count, never
 * looks past it (embedded NULs are ordinary bytes), and reports the first
 * error with a 1-based line and byte column, and the kind of token found
 * there, never its text: the file holds API keys and passwords, and one
 * written unquoted must not reach check-config's output or a log.
 *
 * It is a recursive-descent parser whose recursion is bounded by the
 * nesting limit (J5_MAX_DEPTH containers), so hostile input cannot exhaust
 * the stack.  It is not a JSON5 writer, and it does not keep comments.
 *
 * Deliberate limits, all reported as errors rather than guessed at:
 * - strings must be valid UTF-8 and may not contain U+0000 (\0, \x00,
 *   \u0000 or a raw NUL byte), because cJSON strings end at the first NUL;
 * - a \u escape must not leave a lone surrogate (it has no UTF-8 form);
 * - unquoted keys are ASCII identifiers ([A-Za-z_$][A-Za-z0-9_$]*), with
 *   \uXXXX escapes allowed when they spell such characters.
 *
 * Line numbers count "\n", "\r\n" and a lone "\r" as line ends, as an editor
 * does; U+2028 and U+2029 are treated as whitespace but do not start a line
 * in error positions.
 */
#include "json5.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

#define J5_MAX_DEPTH 512

struct j5 {
	const unsigned char *s;
	size_t len;
	size_t pos;
	struct json5_lines *lines;
	struct json5_error *err;
	int failed;
	/* Cache for j5_line_at: nodes are recorded in increasing offsets. */
	size_t lc_off;
	int lc_line;
};

static int j5_value(struct j5 *p, int depth, size_t rec_off, cJSON **out);

static int j5_is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int j5_hex_val(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int j5_is_ident_start(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$';
}

static int j5_is_ident_part(int c)
{
	return j5_is_ident_start(c) || j5_is_digit(c);
}

/* True when the byte at i ends a line for line counting ("\r\n" counts once). */
static int j5_is_line_end(const unsigned char *s, size_t len, size_t i)
{
	return s[i] == '\n' || (s[i] == '\r' && (i + 1 >= len || s[i + 1] != '\n'));
}

/*
 * Record the first error only.  Returns -1 so callers can write
 * "return j5_fail(...)".
 */
static int j5_fail(struct j5 *p, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int j5_fail(struct j5 *p, size_t off, const char *fmt, ...)
{
	va_list ap;
	size_t i, line_start = 0;
	int line = 1;

	if (p->failed)
		return -1;
	p->failed = 1;
	if (off > p->len)
		off = p->len;
	for (i = 0; i < off; i++) {
		if (j5_is_line_end(p->s, p->len, i)) {
			if (line < INT_MAX)
				line++;
			line_start = i + 1;
		}
	}
	p->err->line = line;
	p->err->column = off - line_start < INT_MAX ? (int)(off - line_start) + 1 : INT_MAX;
	va_start(ap, fmt);
	vsnprintf(p->err->message, sizeof p->err->message, fmt, ap);
	va_end(ap);
	return -1;
}

/* "unexpected ..." naming the kind of what is at off: a punctuation or
 * control character itself, but a letter, a digit or any other character only by
 * its kind, since it may be the start of a secret written unquoted. */
static int j5_fail_char(struct j5 *p, size_t off, const char *suffix)
{
	unsigned long cp;
	int c;

	if (off >= p->len)
		return j5_fail(p, off, "unexpected end of input");
	c = p->s[off];
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return j5_fail(p, off, "unexpected letter%s", suffix);
	if (c >= '0' && c <= '9')
		return j5_fail(p, off, "unexpected digit%s", suffix);
	if (c > 0x20 && c < 0x7F)
		return j5_fail(p, off, "unexpected character '%c'%s", c, suffix);
	if (c <= 0x20 || c == 0x7F) /* a control character: no secret's text */
		return j5_fail(p, off, "unexpected character U+%04X%s", (unsigned)c, suffix);
	if (utf8_decode((const char *)p->s + off, p->len - off, &cp))
		return j5_fail(p, off, "unexpected non-ASCII character%s", suffix);
	return j5_fail(p, off, "invalid UTF-8");
}

/* Line of byte offset off; cheap when offsets only grow, as they do here. */
static int j5_line_at(struct j5 *p, size_t off)
{
	size_t i;

	if (off < p->lc_off) {
		p->lc_off = 0;
		p->lc_line = 1;
	}
	for (i = p->lc_off; i < off && i < p->len; i++) {
		if (j5_is_line_end(p->s, p->len, i) && p->lc_line < INT_MAX)
			p->lc_line++;
	}
	p->lc_off = off;
	return p->lc_line;
}

/* Append {node, line of off} to the line map, if there is one. */
static int j5_record(struct j5 *p, const cJSON *node, size_t off)
{
	struct json5_lines *L = p->lines;

	if (!L)
		return 0;
	if (L->len == L->cap) {
		size_t cap = L->cap ? L->cap * 2 : 64;
		struct json5_pos *np;

		if (cap < L->cap || cap > SIZE_MAX / sizeof *np)
			return j5_fail(p, off, "out of memory");
		np = realloc(L->pos, cap * sizeof *np);
		if (!np)
			return j5_fail(p, off, "out of memory");
		L->pos = np;
		L->cap = cap;
	}
	L->pos[L->len].node = node;
	L->pos[L->len].line = j5_line_at(p, off);
	L->len++;
	return 0;
}

static size_t j5_count_nodes(const cJSON *node)
{
	size_t n = 1;
	const cJSON *c;

	for (c = node->child; c; c = c->next)
		n += j5_count_nodes(c);
	return n;
}

/*
 * Drop the map entries of a subtree about to be freed (a duplicate key's
 * old value), so a later node at the same address is not shadowed.  The
 * subtree was parsed in one go, so its entries are contiguous and start
 * with its root.
 */
static void j5_unrecord(struct j5 *p, const cJSON *node)
{
	struct json5_lines *L = p->lines;
	size_t i, n;

	if (!L)
		return;
	for (i = L->len; i > 0; i--) {
		if (L->pos[i - 1].node == node)
			break;
	}
	if (i == 0)
		return;
	i--;
	n = j5_count_nodes(node);
	if (n > L->len - i)
		n = L->len - i;
	memmove(L->pos + i, L->pos + i + n, (L->len - i - n) * sizeof *L->pos);
	L->len -= n;
}

/*
 * Length of the whitespace character at s[i], or 0.  JSON5 whitespace is
 * ASCII space, \t \n \v \f \r, U+00A0, U+FEFF, U+2028, U+2029 and the other
 * Unicode space separators (Zs).
 */
static size_t j5_space_len(const unsigned char *s, size_t len, size_t i)
{
	unsigned char c = s[i], b1, b2;

	if (c == ' ' || (c >= '\t' && c <= '\r'))
		return 1;
	if (c == 0xC2 && len - i >= 2 && s[i + 1] == 0xA0)
		return 2;
	if (len - i < 3)
		return 0;
	b1 = s[i + 1];
	b2 = s[i + 2];
	if (c == 0xE1 && b1 == 0x9A && b2 == 0x80) /* U+1680 */
		return 3;
	if (c == 0xE2 && b1 == 0x80 &&
	    ((b2 >= 0x80 && b2 <= 0x8A) || b2 == 0xA8 || b2 == 0xA9 || b2 == 0xAF))
		return 3;			   /* U+2000..200A, U+2028, U+2029, U+202F */
	if (c == 0xE2 && b1 == 0x81 && b2 == 0x9F) /* U+205F */
		return 3;
	if (c == 0xE3 && b1 == 0x80 && b2 == 0x80) /* U+3000 */
		return 3;
	if (c == 0xEF && b1 == 0xBB && b2 == 0xBF) /* U+FEFF */
		return 3;
	return 0;
}

/* A JSON5 LineTerminator: \n, \r, U+2028, U+2029. */
static int j5_is_terminator(const unsigned char *s, size_t len, size_t i)
{
	if (s[i] == '\n' || s[i] == '\r')
		return 1;
	return s[i] == 0xE2 && len - i >= 3 && s[i + 1] == 0x80 &&
	       (s[i + 2] == 0xA8 || s[i + 2] == 0xA9);
}

/* Skip whitespace and comments. */
static int j5_skip_ws(struct j5 *p)
{
	const unsigned char *s = p->s;
	size_t len = p->len;

	while (p->pos < len) {
		size_t k = j5_space_len(s, len, p->pos);

		if (k) {
			p->pos += k;
		} else if (s[p->pos] == '/' && p->pos + 1 < len && s[p->pos + 1] == '/') {
			p->pos += 2;
			while (p->pos < len && !j5_is_terminator(s, len, p->pos))
				p->pos++;
		} else if (s[p->pos] == '/' && p->pos + 1 < len && s[p->pos + 1] == '*') {
			size_t start = p->pos;

			p->pos += 2;
			while (p->pos + 1 < len && !(s[p->pos] == '*' && s[p->pos + 1] == '/'))
				p->pos++;
			if (p->pos + 1 >= len) {
				p->pos = len;
				return j5_fail(p, start, "unterminated comment");
			}
			p->pos += 2;
		} else {
			break;
		}
	}
	return 0;
}

/* Four hex digits at s[i..]: the value, or -1. */
static long j5_hex4(const unsigned char *s, size_t len, size_t i)
{
	long v = 0;
	size_t k;

	if (i > len || len - i < 4)
		return -1;
	for (k = 0; k < 4; k++) {
		int h = j5_hex_val(s[i + k]);

		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

/*
 * \uXXXX at s[i] (the backslash), combining a surrogate pair written as two
 * escapes.  Returns the code point and advances *ip, or -1.
 */
static long j5_unicode_escape(const unsigned char *s, size_t len, size_t *ip)
{
	size_t i = *ip;
	long hi, lo;

	if (len - i < 2 || s[i + 1] != 'u')
		return -1;
	hi = j5_hex4(s, len, i + 2);
	if (hi < 0 || (hi >= 0xDC00 && hi <= 0xDFFF))
		return -1;
	i += 6;
	if (hi >= 0xD800 && hi <= 0xDBFF) {
		if (len - i < 2 || s[i] != '\\' || s[i + 1] != 'u')
			return -1;
		lo = j5_hex4(s, len, i + 2);
		if (lo < 0xDC00 || lo > 0xDFFF)
			return -1;
		i += 6;
		hi = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
	}
	*ip = i;
	return hi;
}

/*
 * One escape sequence at s[*ip] (the backslash) inside the string opened at
 * quote.  Returns 1 with *cp set, 0 for a line continuation (no character),
 * or -1 on error.
 */
static int j5_escape(struct j5 *p, size_t quote, size_t *ip, unsigned long *cp)
{
	const unsigned char *s = p->s;
	size_t len = p->len, i = *ip;
	unsigned char c;
	long v;
	size_t k;

	if (i + 1 >= len)
		return j5_fail(p, quote, "unterminated string");
	c = s[i + 1];
	switch (c) {
	case '\n':
		*ip = i + 2;
		return 0;
	case '\r':
		*ip = i + 2 < len && s[i + 2] == '\n' ? i + 3 : i + 2;
		return 0;
	case 'b':
		*cp = '\b';
		break;
	case 'f':
		*cp = '\f';
		break;
	case 'n':
		*cp = '\n';
		break;
	case 'r':
		*cp = '\r';
		break;
	case 't':
		*cp = '\t';
		break;
	case 'v':
		*cp = '\v';
		break;
	case '0':
		if (i + 2 < len && j5_is_digit(s[i + 2]))
			return j5_fail(p, i, "invalid escape");
		*cp = 0;
		break;
	case 'x':
		if (len - i < 4 || j5_hex_val(s[i + 2]) < 0 || j5_hex_val(s[i + 3]) < 0)
			return j5_fail(p, i, "invalid escape");
		*cp = (unsigned long)(j5_hex_val(s[i + 2]) * 16 + j5_hex_val(s[i + 3]));
		*ip = i + 4;
		return 1;
	case 'u':
		v = j5_unicode_escape(s, len, ip);
		if (v < 0)
			return j5_fail(p, i, "invalid escape");
		*cp = (unsigned long)v;
		return 1;
	default:
		if (j5_is_digit(c))
			return j5_fail(p, i, "invalid escape");
		if (c < 0x80) {
			/* \' \" \\ \/ and any other character stand for themselves */
			*cp = c;
			break;
		}
		k = utf8_decode((const char *)s + i + 1, len - i - 1, cp);
		if (!k)
			return j5_fail(p, i + 1, "invalid UTF-8 in string");
		*ip = i + 1 + k;
		return *cp == 0x2028 || *cp == 0x2029 ? 0 : 1;
	}
	*ip = i + 2;
	return 1;
}

/*
 * Scan the string literal at p->pos.  With out == NULL it only validates and
 * measures (*outlen = decoded bytes); with out it also decodes.  *endp is
 * the offset after the closing quote.
 */
static int j5_scan_string(struct j5 *p, char *out, size_t *outlen, size_t *endp)
{
	const unsigned char *s = p->s;
	size_t len = p->len, quote = p->pos, i = p->pos + 1, n = 0;
	unsigned char q = s[quote];

	for (;;) {
		size_t at = i;
		unsigned long cp;
		int r;

		if (i >= len || s[i] == '\n' || s[i] == '\r')
			return j5_fail(p, quote, "unterminated string");
		if (s[i] == q)
			break;
		if (s[i] == '\\') {
			r = j5_escape(p, quote, &i, &cp);
			if (r < 0)
				return -1;
			if (r == 0)
				continue;
		} else {
			size_t k = utf8_decode((const char *)s + i, len - i, &cp);

			if (!k)
				return j5_fail(p, i, "invalid UTF-8 in string");
			i += k;
		}
		if (cp == 0)
			return j5_fail(p, at, "string contains a NUL character");
		n += utf8_encode(out ? out + n : NULL, cp);
	}
	*outlen = n;
	*endp = i + 1;
	return 0;
}

/* Same contract as j5_scan_string, for an unquoted key. */
static int j5_scan_ident(struct j5 *p, char *out, size_t *outlen, size_t *endp)
{
	const unsigned char *s = p->s;
	size_t len = p->len, i = p->pos, n = 0;

	while (i < len) {
		size_t at = i;
		long c = s[i];

		if (c == '\\') {
			c = j5_unicode_escape(s, len, &i);
			if (c < 0 || c > 0x7F ||
			    !(n ? j5_is_ident_part((int)c) : j5_is_ident_start((int)c)))
				return j5_fail(p, at, "invalid escape");
		} else if (n ? j5_is_ident_part((int)c) : j5_is_ident_start((int)c)) {
			i++;
		} else {
			break;
		}
		if (out)
			out[n] = (char)c;
		n++;
	}
	*outlen = n;
	*endp = i;
	return 0;
}

/*
 * Decode a string literal or identifier at p->pos into a new string from
 * cJSON_malloc (the caller frees it with cJSON_free or hands it to a node).
 */
static int j5_text(struct j5 *p, int ident, char **out)
{
	int (*scan)(struct j5 *, char *, size_t *, size_t *) =
		ident ? j5_scan_ident : j5_scan_string;
	size_t n, end;
	char *str;

	*out = NULL;
	if (scan(p, NULL, &n, &end) < 0)
		return -1;
	str = cJSON_malloc(n + 1);
	if (!str)
		return j5_fail(p, p->pos, "out of memory");
	(void)scan(p, str, &n, &end); /* cannot fail: same input */
	str[n] = '\0';
	p->pos = end;
	*out = str;
	return 0;
}

static int j5_make_number(struct j5 *p, double v, size_t at, size_t rec_off, cJSON **out)
{
	cJSON *n;

	if (isfinite(v)) {
		n = cJSON_CreateNumber(v);
	} else {
		/* cJSON would convert NaN to int for valueint: set it ourselves. */
		n = cJSON_CreateNumber(0);
		if (n) {
			n->valuedouble = v;
			n->valueint = isnan(v) ? 0 : v > 0 ? INT_MAX : INT_MIN;
		}
	}
	if (!n)
		return j5_fail(p, at, "out of memory");
	if (j5_record(p, n, rec_off) < 0) {
		cJSON_Delete(n);
		return -1;
	}
	*out = n;
	return 0;
}

/*
 * Decimal digits at s[*ip] with an optional fraction and exponent.  The
 * digits are rewritten as "DIGITSeEXP" with no decimal point, so strtod
 * rounds correctly whatever the locale's radix character is.
 */
static int j5_decimal(struct j5 *p, size_t at, size_t *ip, double *v)
{
	const unsigned char *s = p->s;
	size_t len = p->len, i = *ip, int_start = i, nint = 0, frac_start = 0, nfrac = 0;
	long long exp = 0;
	int exp_neg = 0;
	char small[128], *buf = small;
	size_t need;

	if (i < len && s[i] == '0') {
		i++;
		nint = 1;
		if (i < len && j5_is_digit(s[i]))
			return j5_fail(p, at, "invalid number");
	} else {
		while (i < len && j5_is_digit(s[i])) {
			i++;
			nint++;
		}
	}
	if (i < len && s[i] == '.') {
		frac_start = ++i;
		while (i < len && j5_is_digit(s[i])) {
			i++;
			nfrac++;
		}
	}
	if (nint + nfrac == 0)
		return j5_fail(p, at, "invalid number");
	if (i < len && (s[i] | 0x20) == 'e') {
		size_t nexp = 0;

		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			exp_neg = s[i++] == '-';
		while (i < len && j5_is_digit(s[i])) {
			if (exp < 1000000000)
				exp = exp * 10 + (s[i] - '0');
			i++;
			nexp++;
		}
		if (!nexp)
			return j5_fail(p, at, "invalid number");
	}
	if (exp_neg)
		exp = -exp;
	exp -= (long long)nfrac;

	need = nint + nfrac + 32;
	if (need > sizeof small) {
		buf = malloc(need);
		if (!buf)
			return j5_fail(p, at, "out of memory");
	}
	memcpy(buf, s + int_start, nint);
	if (nfrac)
		memcpy(buf + nint, s + frac_start, nfrac);
	snprintf(buf + nint + nfrac, 32, "e%lld", exp);
	*v = strtod(buf, NULL);
	*ip = i;
	if (buf != small)
		free(buf);
	return 0;
}

static int j5_number(struct j5 *p, size_t rec_off, cJSON **out)
{
	const unsigned char *s = p->s;
	size_t len = p->len, at = p->pos, i = p->pos;
	int neg = 0;
	double v = 0;

	if (s[i] == '+' || s[i] == '-')
		neg = s[i++] == '-';
	if (len - i >= 8 && memcmp(s + i, "Infinity", 8) == 0) {
		v = INFINITY;
		i += 8;
	} else if (len - i >= 3 && memcmp(s + i, "NaN", 3) == 0) {
		v = NAN;
		i += 3;
	} else if (len - i >= 2 && s[i] == '0' && (s[i + 1] | 0x20) == 'x') {
		uint64_t u = 0;
		double d = 0;
		int big = 0;
		size_t start;

		i += 2;
		start = i;
		for (; i < len && j5_hex_val(s[i]) >= 0; i++) {
			int h = j5_hex_val(s[i]);

			if (!big && u > (UINT64_MAX >> 4)) {
				big = 1;
				d = (double)u;
			}
			if (big)
				d = d * 16 + h;
			else
				u = u * 16 + (uint64_t)h;
		}
		if (i == start)
			return j5_fail(p, at, "invalid number");
		v = big ? d : (double)u;
	} else if (j5_decimal(p, at, &i, &v) < 0) {
		return -1;
	}
	/* "3in" and "0x1g" are errors, not a number followed by junk. */
	if (i < len && (j5_is_ident_part(s[i]) || s[i] == '\\'))
		return j5_fail(p, at, "invalid number");
	p->pos = i;
	return j5_make_number(p, neg ? -v : v, at, rec_off, out);
}

/* A bare word in value position: true, false, null, Infinity or NaN. */
static int j5_word(struct j5 *p, size_t rec_off, cJSON **out)
{
	const unsigned char *s = p->s;
	size_t at = p->pos, i = p->pos, n;
	cJSON *node;

	while (i < p->len && j5_is_ident_part(s[i]))
		i++;
	n = i - at;
	if (n == 8 && memcmp(s + at, "Infinity", 8) == 0) {
		p->pos = i;
		return j5_make_number(p, INFINITY, at, rec_off, out);
	}
	if (n == 3 && memcmp(s + at, "NaN", 3) == 0) {
		p->pos = i;
		return j5_make_number(p, NAN, at, rec_off, out);
	}
	if (n == 4 && memcmp(s + at, "true", 4) == 0)
		node = cJSON_CreateTrue();
	else if (n == 5 && memcmp(s + at, "false", 5) == 0)
		node = cJSON_CreateFalse();
	else if (n == 4 && memcmp(s + at, "null", 4) == 0)
		node = cJSON_CreateNull();
	else
		return j5_fail(p, at, "unexpected bare word (a string value must be quoted)");
	if (!node)
		return j5_fail(p, at, "out of memory");
	if (j5_record(p, node, rec_off) < 0) {
		cJSON_Delete(node);
		return -1;
	}
	p->pos = i;
	*out = node;
	return 0;
}

static int j5_string_value(struct j5 *p, size_t rec_off, cJSON **out)
{
	size_t at = p->pos;
	char *str = NULL;
	cJSON *node = NULL;
	int rc = -1;

	if (j5_text(p, 0, &str) < 0)
		goto out;
	node = cJSON_CreateString(str);
	if (!node) {
		j5_fail(p, at, "out of memory");
		goto out;
	}
	if (j5_record(p, node, rec_off) < 0)
		goto out;
	*out = node;
	node = NULL;
	rc = 0;
out:
	cJSON_free(str);
	cJSON_Delete(node);
	return rc;
}

/*
 * Add item under key to obj, taking ownership of both (they are NULLed).
 * A repeated key replaces the earlier value in place, as JSON.parse does.
 */
static int j5_add_member(struct j5 *p, cJSON *obj, char **key, cJSON **item, size_t at)
{
	cJSON *old = cJSON_GetObjectItemCaseSensitive(obj, *key);

	if (old) {
		j5_unrecord(p, old);
		(*item)->string = *key; /* from cJSON_malloc: cJSON_Delete frees it */
		*key = NULL;
		cJSON_ReplaceItemViaPointer(obj, old, *item);
		*item = NULL;
		return 0;
	}
	if (!cJSON_AddItemToObject(obj, *key, *item))
		return j5_fail(p, at, "out of memory");
	*item = NULL;
	cJSON_free(*key);
	*key = NULL;
	return 0;
}

/* At EOF say so; otherwise report what was expected. */
static int j5_expected(struct j5 *p, const char *what)
{
	if (p->pos >= p->len)
		return j5_fail(p, p->pos, "unexpected end of input");
	return j5_fail(p, p->pos, "%s", what);
}

static int j5_object(struct j5 *p, int depth, size_t rec_off, cJSON **out)
{
	const unsigned char *s = p->s;
	size_t open = p->pos;
	cJSON *obj = NULL, *item = NULL;
	char *key = NULL;
	int rc = -1;

	if (depth > J5_MAX_DEPTH) {
		j5_fail(p, open, "nesting too deep");
		goto out;
	}
	obj = cJSON_CreateObject();
	if (!obj) {
		j5_fail(p, open, "out of memory");
		goto out;
	}
	if (j5_record(p, obj, rec_off) < 0)
		goto out;
	p->pos++;
	for (;;) {
		size_t key_off;

		if (j5_skip_ws(p) < 0)
			goto out;
		if (p->pos < p->len && s[p->pos] == '}')
			break;
		key_off = p->pos;
		if (p->pos >= p->len) {
			j5_expected(p, "");
			goto out;
		} else if (s[p->pos] == '"' || s[p->pos] == '\'') {
			if (j5_text(p, 0, &key) < 0)
				goto out;
		} else if (j5_is_ident_start(s[p->pos]) || s[p->pos] == '\\') {
			if (j5_text(p, 1, &key) < 0)
				goto out;
		} else {
			j5_fail_char(p, p->pos, " (expected a key)");
			goto out;
		}
		if (j5_skip_ws(p) < 0)
			goto out;
		if (p->pos >= p->len || s[p->pos] != ':') {
			j5_expected(p, "expected ':' after key");
			goto out;
		}
		p->pos++;
		if (j5_skip_ws(p) < 0)
			goto out;
		if (j5_value(p, depth, key_off, &item) < 0)
			goto out;
		if (j5_add_member(p, obj, &key, &item, key_off) < 0)
			goto out;
		if (j5_skip_ws(p) < 0)
			goto out;
		if (p->pos < p->len && s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->pos < p->len && s[p->pos] == '}')
			break;
		j5_expected(p, "expected ',' or '}'");
		goto out;
	}
	p->pos++;
	*out = obj;
	obj = NULL;
	rc = 0;
out:
	cJSON_free(key);
	cJSON_Delete(item);
	cJSON_Delete(obj);
	return rc;
}

static int j5_array(struct j5 *p, int depth, size_t rec_off, cJSON **out)
{
	const unsigned char *s = p->s;
	size_t open = p->pos;
	cJSON *arr = NULL, *item = NULL;
	int rc = -1;

	if (depth > J5_MAX_DEPTH) {
		j5_fail(p, open, "nesting too deep");
		goto out;
	}
	arr = cJSON_CreateArray();
	if (!arr) {
		j5_fail(p, open, "out of memory");
		goto out;
	}
	if (j5_record(p, arr, rec_off) < 0)
		goto out;
	p->pos++;
	for (;;) {
		if (j5_skip_ws(p) < 0)
			goto out;
		if (p->pos < p->len && s[p->pos] == ']')
			break;
		if (j5_value(p, depth, p->pos, &item) < 0)
			goto out;
		cJSON_AddItemToArray(arr, item);
		item = NULL;
		if (j5_skip_ws(p) < 0)
			goto out;
		if (p->pos < p->len && s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->pos < p->len && s[p->pos] == ']')
			break;
		j5_expected(p, "expected ',' or ']'");
		goto out;
	}
	p->pos++;
	*out = arr;
	arr = NULL;
	rc = 0;
out:
	cJSON_Delete(item);
	cJSON_Delete(arr);
	return rc;
}

/*
 * The value at p->pos (whitespace already skipped).  depth is the number of
 * containers around it; rec_off is the offset whose line the node gets in
 * the map (its key's, for an object member).
 */
static int j5_value(struct j5 *p, int depth, size_t rec_off, cJSON **out)
{
	int c;

	*out = NULL;
	if (p->pos >= p->len)
		return j5_fail(p, p->pos, "unexpected end of input");
	c = p->s[p->pos];
	if (c == '{')
		return j5_object(p, depth + 1, rec_off, out);
	if (c == '[')
		return j5_array(p, depth + 1, rec_off, out);
	if (c == '"' || c == '\'')
		return j5_string_value(p, rec_off, out);
	if (j5_is_digit(c) || c == '-' || c == '+' || c == '.')
		return j5_number(p, rec_off, out);
	if (j5_is_ident_start(c))
		return j5_word(p, rec_off, out);
	return j5_fail_char(p, p->pos, "");
}

cJSON *json5_parse(const char *text, size_t len, struct json5_lines *lines, struct json5_error *err)
{
	struct json5_error spare;
	struct j5 p = {
		.s = (const unsigned char *)text,
		.len = text ? len : 0,
		.lines = lines,
		.err = err ? err : &spare,
		.lc_line = 1,
	};
	cJSON *root = NULL;
	int rc = -1;

	p.err->line = 0;
	p.err->column = 0;
	p.err->message[0] = '\0';
	if (j5_skip_ws(&p) < 0)
		goto out;
	if (p.pos >= p.len) {
		j5_fail(&p, p.pos, "empty input");
		goto out;
	}
	if (j5_value(&p, 0, p.pos, &root) < 0)
		goto out;
	if (j5_skip_ws(&p) < 0)
		goto out;
	if (p.pos < p.len) {
		j5_fail(&p, p.pos, "trailing content after value");
		goto out;
	}
	rc = 0;
out:
	if (rc < 0) {
		/* a partial tree and its map entries are never handed out */
		cJSON_Delete(root);
		root = NULL;
		json5_lines_free(lines);
	}
	return root;
}

int json5_line_of(const struct json5_lines *lines, const cJSON *node)
{
	size_t i;

	if (!lines || !node)
		return 0;
	for (i = lines->len; i > 0; i--) {
		if (lines->pos[i - 1].node == node)
			return lines->pos[i - 1].line;
	}
	return 0;
}

void json5_lines_free(struct json5_lines *lines)
{
	if (!lines)
		return;
	free(lines->pos);
	lines->pos = NULL;
	lines->len = 0;
	lines->cap = 0;
}
