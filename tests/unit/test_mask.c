/* Unit tests for src/mask.c: secrets masked in texts, and the process-wide
 * set that err_set and log lines use. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "check.h"
#include "err.h"
#include "log.h"
#include "mask.h"

#define KEY "sk-test-0123456789abcdef"
#define ELL "\xe2\x80\xa6"

static struct mask_set *set_of(const char *const *secrets)
{
	struct mask_set *s = mask_set_new();
	for (; *secrets; secrets++)
		mask_set_add(s, *secrets, strlen(*secrets));
	return s;
}

/* text masked with s, as a new string in a static buffer. */
static const char *masked(const struct mask_set *s, const char *text, bool truncated)
{
	static char out[4096];
	struct buf b = BUF_INIT;

	if (mask_buf(s, text, strlen(text), truncated, &b) < 0)
		snprintf(out, sizeof out, "(failed)");
	else
		snprintf(out, sizeof out, "%s", buf_str(&b));
	buf_free(&b);
	return out;
}

static int captured_n;
static char captured[4096];
static int capture(void *ctx, const char *line, size_t n)
{
	(void)ctx;
	captured_n = snprintf(captured, sizeof captured, "%.*s", (int)n, line);
	return 0;
}

static void test_masking(void)
{
	const char *const one[] = {KEY, NULL};
	struct mask_set *s = set_of(one);
	char str[64];

	CHECK_STR(masked(s, "Incorrect API key provided: " KEY ".", false),
		  "Incorrect API key provided: sk-t" ELL ".",
		  "a secret reads as its first 4 characters and an ellipsis");
	CHECK_STR(masked(s, KEY KEY " and " KEY, false), "sk-t" ELL " and sk-t" ELL,
		  "every occurrence; two touching ones are one run");
	CHECK_STR(masked(s, "nothing to see", false), "nothing to see",
		  "a text without a secret is unchanged");
	CHECK_STR(masked(NULL, KEY, false), KEY, "no set: copied as is");
	CHECK_STR(masked(s, "sk-test-0123456789abcde", false), "sk-test-0123456789abcde",
		  "only the whole secret is masked, not a part of it");
	CHECK_INT(mask_set_count(s), 1, "one secret");
	mask_set_add(s, KEY, strlen(KEY));
	mask_set_add(s, "", 0);
	CHECK_INT(mask_set_count(s), 1, "a duplicate or an empty secret is not added");

	snprintf(str, sizeof str, "key %s!", KEY);
	CHECK(mask_str(s, str, sizeof str, false), "mask_str says it masked");
	CHECK_STR(str, "key sk-t" ELL "!", "mask_str masks in place");
	mask_set_add(s, "ab", 2);
	snprintf(str, 9, "ab ab ab");
	CHECK(mask_str(s, str, 9, false) && !strcmp(str, ELL " " ELL " "),
	      "mask_str cuts a masked text that grew to its buffer, on a character boundary");
	mask_set_free(s);
}

static void test_overlap_and_short(void)
{
	const char *const two[] = {"abcdefgh12345678", "12345678zzzzzzzz", NULL};
	const char *const nested[] = {"password-long-one", "long", NULL};
	const char *const shorts[] = {"pw1", "xyzzy12", NULL};
	const char *const utf[] = {"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9-secret-value", NULL};
	struct mask_set *s = set_of(two);

	CHECK_STR(masked(s, "[abcdefgh12345678zzzzzzzz]", false), "[abcd" ELL "]",
		  "overlapping secrets are one run: no tail of the second is left");
	mask_set_free(s);
	s = set_of(nested);
	CHECK_STR(masked(s, "x password-long-one y long", false), "x pass" ELL " y " ELL,
		  "the longest secret first; a short one inside it does not split it");
	mask_set_free(s);
	s = set_of(shorts);
	CHECK_STR(masked(s, "user pw1 failed", false), "user " ELL " failed",
		  "a short secret as a whole word is masked, with no prefix shown");
	CHECK_STR(masked(s, "pw10 and apw1 stay", false), "pw10 and apw1 stay",
		  "a short secret inside a longer word is left (it would wreck every text)");
	CHECK_STR(masked(s, "password=xyzzy12\"", false), "password=" ELL "\"",
		  "a 7-character secret: whole word, no prefix");
	mask_set_free(s);
	s = mask_set_new();
	mask_set_add(s, "x", 1);
	CHECK_STR(masked(s, "x: 3 x 4 = max x", false), ELL ": 3 " ELL " 4 = max " ELL,
		  "a 1-character secret: each whole word, at the start and the end too");
	mask_set_free(s);
	s = set_of(utf);
	CHECK_STR(masked(s, "k=\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9-secret-value", false),
		  "k=\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9" ELL,
		  "the first 4 characters, not bytes, of a non-ASCII secret");
	mask_set_free(s);
}

static void test_truncated(void)
{
	const char *const one[] = {KEY, NULL};
	struct mask_set *s = set_of(one);
	const char *got;

	got = masked(s, "cut here: sk-test-01234", true);
	CHECK(!strstr(got, "sk-test-0") && strstr(got, ELL),
	      "a cut text: a secret's start at its end is not shown");
	got = masked(s, "cut here: sk-test-01234", false);
	CHECK_STR(got, "cut here: sk-test-01234", "an uncut text is left whole");
	{
		/* The tail dropped is the same whatever it holds: nothing tells
		 * whether it began a secret. */
		char a[64], b[64];
		snprintf(a, sizeof a, "%s", masked(s, "padding padding padding sk-t", true));
		snprintf(b, sizeof b, "%s", masked(s, "padding padding padding xx-x", true));
		CHECK_INT(strlen(a), strlen(b),
			  "a cut text loses the same length whatever its tail");
	}
	mask_set_free(s);
}

static void test_global(void)
{
	const char *const first[] = {KEY, NULL};
	const char *const second[] = {"gateway-token-987654321", NULL};
	struct err e;
	char big[1200];

	mask_install(set_of(first));
	err_set(&e, 502, ERR_UPSTREAM, "upstream error: Incorrect API key provided: %s", KEY);
	CHECK_STR(e.message, "upstream error: Incorrect API key provided: sk-t" ELL,
		  "err_set masks its message with the installed set");
	memset(big, 'x', sizeof big);
	memcpy(big + 500, KEY, strlen(KEY));
	big[sizeof big - 1] = '\0';
	err_set(&e, 502, ERR_UPSTREAM, "%s", big);
	CHECK(!strstr(e.message, "sk-test-0"), "a key across err_set's cut is not shown in part");

	log_set_sink(capture, NULL);
	log_error("upstream said: %s", KEY);
	CHECK(strstr(captured, "upstream said: sk-t" ELL "\n") && !strstr(captured, KEY),
	      "a log line is masked");
	memset(big, 'y', sizeof big);
	big[sizeof big - 1] = '\0';
	log_error("%s%s%s", big, big, KEY);
	CHECK(!strstr(captured, "sk-test") && captured_n < 2048,
	      "a log line cut short does not end in a key's start");

	mask_install(set_of(second));
	err_set(&e, 500, ERR_API, "%s / %s", KEY, "gateway-token-987654321");
	CHECK_STR(e.message, "sk-t" ELL " / gate" ELL,
		  "a newer set keeps the secrets of the one it replaced");
	log_set_sink(NULL, NULL);
	mask_shutdown();
	err_set(&e, 500, ERR_API, "%s", KEY);
	CHECK_STR(e.message, KEY, "after mask_shutdown nothing is masked");
}

int main(void)
{
	test_masking();
	test_overlap_and_short();
	test_truncated();
	test_global();
	return check_done();
}
