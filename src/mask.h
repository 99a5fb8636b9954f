/*
 * mask.h - configured secrets kept out of every text that leaves the
 * process: error messages (err_set), log lines (log.c), and the texts that
 * come from outside before they are relayed or logged (an upstream's error
 * body, a command provider's stderr, PostgreSQL's messages).
 *
 * A mask set is a list of secrets (provider API keys and header values,
 * the gateway token or password, the store's password).  Masking rewrites a
 * text so that every occurrence of a secret reads as its first 4 characters
 * and "…" (U+2026); a secret shorter than MASK_SHOW_MIN characters reads as
 * "…" alone (4 characters of an 8-character password are half of it).
 * Occurrences that overlap or touch are one masked run, shown from the
 * start of the first.  A secret shorter than MASK_MIN_LEN bytes is masked
 * only where it stands as a whole word (no letter, digit or '_' right
 * before or after it): a 3-character "secret" masked inside every word
 * would leave no text readable, while as a word of its own it is still
 * never shown.
 *
 * A text that was cut short (the caller says so) may end in the start of a
 * secret.  Its last (longest secret - 1) bytes are then dropped, whatever
 * they hold, and "…" put in their place: a test of which tails begin a
 * secret would tell a client who can make its own text be cut the secret
 * one character at a time.
 *
 * The process-wide set is what masks err_set's messages and log lines;
 * config.c installs it when a configuration loads.  Installing keeps the
 * secrets of the configurations loaded before (a request still running on
 * an older snapshot may meet its key), so a secret once configured stays
 * masked for the process's life.  Masking costs only where a text is
 * masked: error messages and log lines, never an answer's deltas.
 */
#ifndef CLAW_MASK_H
#define CLAW_MASK_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

#define MASK_MIN_LEN 8	 /* bytes: shorter secrets are masked as whole words only */
#define MASK_SHOW_MIN 12 /* characters: shorter secrets show no prefix */
#define MASK_SHOW 4	 /* characters shown of a longer secret */

struct mask_set;

/* An empty set (caller frees with mask_set_free), or NULL out of memory. */
struct mask_set *mask_set_new(void);
/* Add a copy of secret[0..n) to s.  Empty secrets and ones already in s
 * are ignored.  0, or -1 out of memory (s unchanged). */
int mask_set_add(struct mask_set *s, const char *secret, size_t n);
/* Secrets in s (0 for NULL). */
size_t mask_set_count(const struct mask_set *s);
void mask_set_free(struct mask_set *s);

/*
 * Append text[0..n) to out with every secret of s masked (s may be NULL:
 * copied as is).  truncated: the text was cut at its end, so a tail that
 * may begin a secret is dropped (see above).  0, or -1 out of memory (out holds a
 * part, never an unmasked secret).
 */
int mask_buf(const struct mask_set *s, const char *text, size_t n, bool truncated, struct buf *out);
/*
 * Mask the NUL-terminated text in place; cap is the size of its buffer,
 * and the masked text is cut to fit it (on a character boundary).  Never
 * allocates for cap <= 4096; past that, when memory runs out, the text is
 * emptied rather than left unmasked.  Returns true when something was
 * masked.
 */
bool mask_str(const struct mask_set *s, char *text, size_t cap, bool truncated);

/* Make s (taken, may be NULL) the process-wide set, with the secrets of the
 * set it replaces added to it.  0, or -1 out of memory (then s is freed and
 * the set before stays). */
int mask_install(struct mask_set *s);
/* mask_str and mask_buf with the process-wide set; safe from any thread. */
bool mask_global(char *text, size_t cap, bool truncated);
int mask_global_buf(const char *text, size_t n, bool truncated, struct buf *out);
/* At exit (and in tests): forget the process-wide set. */
void mask_shutdown(void);

#endif
