/*
 * fuzz-chat-request.c - libFuzzer target: the chat request parser
 * (src/json_body.c and src/chat_request.c).
 *
 * Feeds the input as the body of POST /v1/chat/completions to
 * chat_request_parse, as chat_handle does with the body it read; image
 * URLs are allowed when the body's length is odd (the setting
 * chatCompletions.images.allowUrl), so both ways are taken.
 *
 * Checks beyond "no crash, no leak":
 * - success (chat_request.h): root is a JSON object that prints as JSON
 *   which json_body_parse takes again; model is root's non-empty "model"
 *   or "openclaw"; stream and include_usage are as sent; user is root's
 *   non-empty "user" or NULL; messages is a non-empty array of objects
 *   whose role is user, assistant or tool, at least one of them not the
 *   assistant's; system_text is a NUL-terminated string of its length and
 *   valid UTF-8; params is NULL or an object with none of the fields
 *   clawcgi owns and no null; what goes upstream (messages, params,
 *   system text) prints as valid UTF-8;
 * - failure: a 400 or 413 invalid_request_error with a message that is
 *   valid UTF-8 (it goes into the JSON error body).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_request.h"
#include "json_body.h"
#include "utf8.h"

#define TARGET "fuzz-chat-request"

/* A broken promise: say which, then abort (libFuzzer keeps the input). */
static void must(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "%s: broken: %s\n", TARGET, what);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* tree printed: valid UTF-8, and strict JSON again (an object when object). */
static void check_prints(const cJSON *tree, int object)
{
	char *text = cJSON_PrintUnformatted(tree);
	struct err e;

	if (!text)
		abort(); /* out of memory */
	must(utf8_valid(text, strlen(text)), "what goes on prints as valid UTF-8");
	if (object) {
		cJSON *again = json_body_parse(text, strlen(text), &e);
		must(again != NULL, "an object prints as a body json_body_parse takes");
		cJSON_Delete(again);
	}
	cJSON_free(text);
}

static void check_request(const struct chat_request *rq)
{
	static const char *const owned[] = {"model", "messages", "stream", "stream_options",
					    "user"};
	const cJSON *model = cJSON_GetObjectItemCaseSensitive(rq->root, "model");
	const cJSON *user = cJSON_GetObjectItemCaseSensitive(rq->root, "user");
	const cJSON *so = cJSON_GetObjectItemCaseSensitive(rq->root, "stream_options");
	const cJSON *m, *p;
	const char *sys = buf_str(&rq->system_text);
	bool have_user = false;

	must(cJSON_IsObject(rq->root), "root is an object");
	check_prints(rq->root, 1);
	must(cJSON_IsString(model) && model->valuestring[0] ? rq->model == model->valuestring
							    : !strcmp(rq->model, "openclaw"),
	     "model is the body's, or openclaw");
	must(rq->stream == cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rq->root, "stream")),
	     "stream as sent");
	must(rq->include_usage ==
		     cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(so, "include_usage")),
	     "include_usage as sent");
	must(cJSON_IsString(user) && user->valuestring[0] ? rq->user == user->valuestring
							  : rq->user == NULL,
	     "user is the body's, or NULL");
	must(strlen(sys) == rq->system_text.len && utf8_valid(sys, rq->system_text.len),
	     "the system text is a string of its length, valid UTF-8");
	must(cJSON_IsArray(rq->messages) && rq->messages->child, "messages is a non-empty array");
	cJSON_ArrayForEach(m, rq->messages) {
		const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
		must(cJSON_IsObject(m) && cJSON_IsString(role),
		     "a message is an object with a role");
		must(!strcmp(role->valuestring, "user") ||
			     !strcmp(role->valuestring, "assistant") ||
			     !strcmp(role->valuestring, "tool"),
		     "a message's role is user, assistant or tool");
		if (strcmp(role->valuestring, "assistant"))
			have_user = true;
	}
	must(have_user, "a message that is not the assistant's");
	check_prints(rq->messages, 0);
	if (rq->params) {
		must(cJSON_IsObject(rq->params), "params is an object");
		cJSON_ArrayForEach(p, rq->params) {
			must(!cJSON_IsNull(p), "no null among the params");
			for (size_t k = 0; k < sizeof owned / sizeof *owned; k++)
				must(strcmp(p->string, owned[k]),
				     "none of the owned fields in params");
		}
		check_prints(rq->params, 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct chat_request rq;
	struct err e;
	bool allow_urls = size % 2;

	err_clear(&e);
	if (chat_request_parse((const char *)data, size, allow_urls, &rq, &e) == 0) {
		must(!e.status, "no error on success");
		check_request(&rq);
	} else {
		must((e.status == 400 || e.status == 413) && e.type == ERR_INVALID_REQUEST &&
			     e.message[0],
		     "a failure is a 400 or 413 invalid_request_error with a message");
		must(utf8_valid(e.message, strlen(e.message)), "an error message is valid UTF-8");
	}
	chat_request_free(&rq);
	return 0;
}
