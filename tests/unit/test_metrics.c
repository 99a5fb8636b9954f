/* Unit tests for src/metrics.c: label escaping, counters and histograms in
 * the exposition format, one view over two mappings and over processes,
 * the overflow series when the table is full, and a file of another size. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "metrics.h"

static int has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return 1;
	return 0;
}

int main(void)
{
	char dir[] = "/tmp/test_metrics.XXXXXX", path[256], bad[256], why[512], labels[64];
	struct metrics_seg *a, *b;
	struct buf out = BUF_INIT;
	pid_t pid;
	int status;

	CHECK(mkdtemp(dir) != NULL, "a scratch directory");
	snprintf(path, sizeof path, "%s/seg", dir);

	labels[0] = '\0';
	CHECK(metrics_label(labels, sizeof labels, "agent", "a\"b\\c\nd") == 0, "label fits");
	CHECK_STR(labels, "agent=\"a\\\"b\\\\c\\nd\"", "label value escaped");
	CHECK(metrics_label(labels, sizeof labels, "status", "200") == 0, "second label");
	CHECK_STR(labels, "agent=\"a\\\"b\\\\c\\nd\",status=\"200\"", "labels joined by a comma");
	CHECK(metrics_label(labels, 30, "x", "a very long value that cannot fit") == -1,
	      "a label that does not fit: -1");
	CHECK_STR(labels, "agent=\"a\\\"b\\\\c\\nd\",status=\"200\"", "and the list unchanged");

	a = metrics_open(path, why, sizeof why);
	b = metrics_open(path, why, sizeof why);
	CHECK(a && b, "two mappings of one file");
	metrics_add(a, METRICS_REQUESTS, "endpoint=\"models\",agent=\"\",status=\"200\"", 1, 0);
	metrics_add(b, METRICS_REQUESTS, "endpoint=\"models\",agent=\"\",status=\"200\"", 2, 0);
	metrics_add(a, METRICS_DURATION, "endpoint=\"models\"", 0, 0.003);
	metrics_add(b, METRICS_DURATION, "endpoint=\"models\"", 0, 0.2);
	metrics_add(a, METRICS_DURATION, "endpoint=\"models\"", 0, 500);
	metrics_streams_add(a, 1);
	metrics_auth_failed(b);
	metrics_auth_locked(b);

	pid = fork();
	if (pid == 0) {
		struct metrics_seg *c = metrics_open(path, why, sizeof why);
		int rc = c ? 0 : 1;
		for (int i = 0; i < 1000; i++)
			metrics_add(c, METRICS_TOKENS_IN, "agent=\"main\"", 2, 0);
		/* and leaves nothing behind, for valgrind's leak check at its
		 * exit (the parent's mappings are this copy's to close) */
		metrics_close(c);
		metrics_close(a);
		metrics_close(b);
		_exit(rc);
	}
	for (int i = 0; i < 1000; i++)
		metrics_add(a, METRICS_TOKENS_IN, "agent=\"main\"", 3, 0);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && !WEXITSTATUS(status),
	      "a second process counts too");

	CHECK(metrics_render(b, &out) == 0, "render");
	CHECK(has_line(out.data, "# TYPE clawcgi_http_requests_total counter"), "TYPE line");
	CHECK(has_line(out.data, "clawcgi_http_requests_total{endpoint=\"models\",agent=\"\","
				 "status=\"200\"} 3"),
	      "one counter summed over both mappings");
	CHECK(has_line(out.data, "clawcgi_http_request_duration_seconds_bucket{endpoint="
				 "\"models\",le=\"0.005\"} 1"),
	      "first bucket");
	CHECK(has_line(out.data, "clawcgi_http_request_duration_seconds_bucket{endpoint="
				 "\"models\",le=\"0.25\"} 2"),
	      "buckets are cumulative");
	CHECK(has_line(out.data, "clawcgi_http_request_duration_seconds_bucket{endpoint="
				 "\"models\",le=\"120\"} 2"),
	      "a value past the last bucket is only in +Inf");
	CHECK(has_line(out.data, "clawcgi_http_request_duration_seconds_bucket{endpoint="
				 "\"models\",le=\"+Inf\"} 3"),
	      "+Inf bucket is the count");
	CHECK(has_line(out.data,
		       "clawcgi_http_request_duration_seconds_sum{endpoint=\"models\"} 500.203000"),
	      "sum in seconds");
	CHECK(has_line(out.data,
		       "clawcgi_http_request_duration_seconds_count{endpoint=\"models\"} 3"),
	      "count");
	CHECK(has_line(out.data, "clawcgi_input_tokens_total{agent=\"main\"} 5000"),
	      "atomic across processes: 1000*2 + 1000*3");
	CHECK(has_line(out.data, "clawcgi_open_streams 1"), "gauge");
	CHECK(has_line(out.data, "clawcgi_auth_failures_total 1"), "auth failures");
	CHECK(has_line(out.data, "clawcgi_auth_lockouts_total 1"), "auth lockouts");
	CHECK(!strstr(out.data, "\"other\""), "no overflow series while nothing overflowed");

	/* Fill the table: a label set past its capacity lands in "other". */
	for (int i = 0; i < METRICS_SLOTS + 10; i++) {
		char l[64];
		snprintf(l, sizeof l, "provider=\"p%d\"", i);
		metrics_add(a, METRICS_UPSTREAM_ERRORS, l, 1, 0);
	}
	metrics_add(a, METRICS_UPSTREAM_RETRIES, NULL, 4, 0);
	buf_reset(&out);
	CHECK(metrics_render(a, &out) == 0, "render a full table");
	CHECK(has_line(out.data, "clawcgi_upstream_errors_total{provider=\"other\"} 22"),
	      "the series past the table's capacity count under other");
	CHECK(has_line(out.data, "clawcgi_upstream_retries_total{provider=\"other\"} 4"),
	      "NULL labels count under other");
	CHECK(has_line(out.data, "clawcgi_input_tokens_total{agent=\"main\"} 5000"),
	      "the series claimed before stay");
	metrics_add(a, METRICS_TOKENS_IN, "agent=\"main\"", 1, 0);
	buf_reset(&out);
	metrics_render(a, &out);
	CHECK(has_line(out.data, "clawcgi_input_tokens_total{agent=\"main\"} 5001"),
	      "and still count when the table is full");
	metrics_close(a);
	metrics_close(b);

	snprintf(bad, sizeof bad, "%s/bad", dir);
	{
		FILE *f = fopen(bad, "w");
		fputs("not a segment", f);
		fclose(f);
	}
	CHECK(metrics_open(bad, why, sizeof why) == NULL, "a file of another size is refused");
	CHECK(strstr(why, "another layout") != NULL, "saying why");
	CHECK(metrics_open("/nonexistent-dir/seg", why, sizeof why) == NULL,
	      "an unusable path is refused");

	metrics_path_for("/etc/none.json5", path, sizeof path);
	CHECK(!strncmp(path, "/dev/shm/clawcgi-metrics-", 25) && strlen(path) == 25 + 16,
	      "the path derives from the config path");

	buf_free(&out);
	unlink(bad);
	snprintf(path, sizeof path, "%s/seg", dir);
	unlink(path);
	rmdir(dir);
	return check_done();
}
