/*
 * test_curl_load.c - libcurl loaded on first use, and each kind of
 * curl_easy_setopt argument (long, pointer, function, curl_off_t) passed
 * on as its own type: libcurl's own checks answer for the value it got.
 */
#include "../../src/curl_load.h"
#include "check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

/* A 127.0.0.1 port nothing listens on: one the kernel picked, released. */
static int closed_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t n = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = 0;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &n) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
	(void)p;
	(void)ctx;
	return size * n;
}

int main(void)
{
	CURL *h;
	struct curl_slist *l;
	long code = -1;
	char url[64];

	CHECK_INT(curl_is_loaded(), 0, "libcurl is not loaded at start");
	l = curl_slist_append(NULL, "X-One: 1");
	CHECK(l != NULL && curl_is_loaded(), "the first curl call loads it");
	l = curl_slist_append(l, "X-Two: 2");
	CHECK_STR(l && l->next ? l->next->data : NULL, "X-Two: 2", "curl_slist_append appends");
	curl_slist_free_all(l);
	CHECK_INT(curl_load(), 0, "curl_load again: loaded once, 0");

	h = curl_easy_init();
	CHECK(h != NULL, "curl_easy_init gives a handle");
	CHECK_INT(curl_easy_setopt(h, CURLOPT_TIMEOUT, 5L), CURLE_OK, "a long option: accepted");
	CHECK_INT(curl_easy_setopt(h, CURLOPT_TIMEOUT, -1L), CURLE_BAD_FUNCTION_ARGUMENT,
		  "a negative long reaches libcurl as negative");
	CHECK_INT(curl_easy_setopt(h, CURLOPT_URL, "http://127.0.0.1/"), CURLE_OK,
		  "a string option: accepted");
	CHECK(curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "no-such-protocol") != CURLE_OK,
	      "a string libcurl refuses is refused: the pointer arrived");
	CHECK_INT(curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard), CURLE_OK,
		  "a function option: accepted");
	CHECK_INT(curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)5000000000LL),
		  CURLE_OK, "a curl_off_t over 32 bits: accepted");
	CHECK_INT(curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)-2),
		  CURLE_BAD_FUNCTION_ARGUMENT, "a curl_off_t of -2 reaches libcurl as -2");
	CHECK_INT(curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code), CURLE_OK,
		  "curl_easy_getinfo answers");
	CHECK_INT(code, 0, "no response yet: code 0");
	curl_easy_reset(h);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/", closed_port());
	curl_easy_setopt(h, CURLOPT_URL, url);
	CHECK_INT(curl_easy_perform(h), CURLE_COULDNT_CONNECT,
		  "after curl_easy_reset, curl_easy_perform runs (a closed port refuses)");
	CHECK_STR(curl_easy_strerror(CURLE_OK), "No error", "curl_easy_strerror is libcurl's");
	curl_easy_cleanup(h);
	curl_easy_cleanup(NULL);
	curl_unload();
	return check_done();
}
