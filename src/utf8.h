/*
 * utf8.h - the one UTF-8 decoder, encoder and validator (RFC 3629): the
 * request body check, the JSON5 reader and the command provider's output
 * relay all use these.
 *
 * Well-formed means: no overlong forms, no surrogates (U+D800-U+DFFF),
 * nothing beyond U+10FFFF, no truncated sequence.
 */
#ifndef CLAW_UTF8_H
#define CLAW_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Decode the character at s (avail bytes readable, avail >= 1).  Returns
 * its length 1-4 and sets *cp, or 0 when the bytes there are not a
 * well-formed character.
 */
size_t utf8_decode(const char *s, size_t avail, unsigned long *cp);

/* Write cp (<= U+10FFFF) as UTF-8 into out (when non-NULL, room for 4);
 * returns the byte count 1-4. */
size_t utf8_encode(char *out, unsigned long cp);

/* true when s[0..len) is well-formed UTF-8 throughout. */
bool utf8_valid(const char *s, size_t len);

/*
 * The bytes at the end of s[0..n) that start a character not complete yet
 * (0-3): a stream cut before them cuts no character in two.  Looks only at
 * the lead byte's announced length, not at validity.
 */
size_t utf8_incomplete_tail(const char *s, size_t n);

#endif
