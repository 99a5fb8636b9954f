/*
 * provider_echo.c - the "echo" provider: answers with the last user
 * message's text.  A diagnostic for checking a deployment (web server,
 * auth, streaming) without a model or an API key; not a model.
 *
 * When streaming, each word (with the space after it) is its own delta, so
 * a client sees several chunks as it would from a model.
 */
#include "provider.h"

#include "message.h"

#include <string.h>

int prov_echo_run(const struct prov_request *rq, struct prov_sink *sink, struct prov_result *res,
		  struct err *e)
{
	const cJSON *last = msg_last_with_role(rq->messages, "user");
	struct buf text = BUF_INIT;
	int rc = -1;

	if (last && msg_text(last, &text) < 0) {
		err_nomem(e);
		goto out;
	}
	if (sink->start && sink->start(sink) < 0)
		goto gone;
	res->started = true;
	if (!rq->stream) {
		if (prov_text(sink, buf_str(&text), text.len) < 0)
			goto gone;
	} else {
		const char *p = buf_str(&text), *end = p + text.len;
		while (p < end) {
			const char *q = p;
			while (q < end && *q != ' ')
				q++;
			while (q < end && *q == ' ')
				q++;
			if (prov_text(sink, p, (size_t)(q - p)) < 0)
				goto gone;
			p = q;
		}
	}
	strcpy(res->finish_reason, "stop");
	rc = 0;
	goto out;
gone:
	res->cancelled = true;
	err_set(e, 499, ERR_API, "client disconnected");
out:
	buf_free(&text);
	return rc;
}
