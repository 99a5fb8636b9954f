/*
 * utf8.c - UTF-8 decoding, encoding and validation (see utf8.h).
 */
#include "utf8.h"

#include <string.h>

size_t utf8_decode(const char *str, size_t avail, unsigned long *cp)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned long c = s[0], min;
	size_t n;

	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
		c &= 0x1F;
		min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		c &= 0x0F;
		min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		c &= 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (avail < n)
		return 0;
	for (size_t k = 1; k < n; k++) {
		if ((s[k] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[k] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return n;
}

size_t utf8_encode(char *out, unsigned long cp)
{
	unsigned char b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (unsigned char)(0xC0 | (cp >> 6));
		b[1] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (unsigned char)(0xE0 | (cp >> 12));
		b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		b[2] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		b[0] = (unsigned char)(0xF0 | (cp >> 18));
		b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
		b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		b[3] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	if (out)
		memcpy(out, b, n);
	return n;
}

bool utf8_valid(const char *s, size_t len)
{
	size_t i = 0;
	unsigned long cp;

	while (i < len) {
		size_t k;
		if ((unsigned char)s[i] < 0x80) { /* the common case, without a call */
			i++;
			continue;
		}
		k = utf8_decode(s + i, len - i, &cp);
		if (!k)
			return false;
		i += k;
	}
	return true;
}

size_t utf8_incomplete_tail(const char *s, size_t n)
{
	for (size_t back = 1; back <= 3 && back <= n; back++) {
		unsigned char c = (unsigned char)s[n - back];
		if ((c & 0xc0) == 0x80)
			continue; /* continuation byte: look further back */
		if (c >= 0xc0) {
			size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
			return len > back ? back : 0;
		}
		return 0;
	}
	return 0;
}
