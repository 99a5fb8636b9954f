/*
 * responses_request.h - the request body of POST /v1/responses (the OpenAI
 * API reference, "Create a model response"), validated and turned into
 * the chat completions request the agent turn runs on.
 *
 * Pure: no HTTP, no config, no store.  Every malformed or unsupported
 * input is a 400 invalid_request_error naming the field in Responses API
 * terms (`input[2].type`, `tools[0].type`, `text.format.name`); the
 * translated request then passes chat_request's own checks, whose errors
 * are renamed to the Responses fields they came from
 * (responses_request_rename).
 *
 * The translation:
 *   input (a string, or message / function_call / function_call_output /
 *   reasoning items)          -> messages (reasoning items are dropped:
 *                                the upstream reasons afresh)
 *   instructions              -> the first system text, after the agent's
 *   tools (flat function tools)-> tools [{type, function: {...}}]
 *   tool_choice {type:"function", name} -> {type, function: {name}}
 *   max_output_tokens         -> max_completion_tokens
 *   reasoning.effort          -> reasoning_effort
 *   text.format               -> response_format
 *   temperature, top_p, parallel_tool_calls, user, stream: as they are.
 * Other fields are not sent upstream.
 *
 * Ownership: a struct responses_request owns root and chat;
 * responses_request_free() releases both.  Pointers into root stay valid
 * until then.
 */
#ifndef CLAW_RESPONSES_REQUEST_H
#define CLAW_RESPONSES_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#include "chat_request.h"
#include "err.h"

struct responses_request {
	cJSON *root;			  /* the parsed body, as sent */
	struct chat_request chat;	  /* the turn, as a chat completions request */
	const char *model;		  /* "openclaw" when absent or empty */
	bool stream;			  /* stream: true */
	bool store;			  /* store, default true */
	const char *previous_response_id; /* NULL when absent */
	const char *instructions;	  /* NULL when absent */
	const cJSON *metadata;		  /* an object, or NULL */
	long max_output_tokens;		  /* 0 when absent */
};

/*
 * Parse, validate and translate body (len bytes, UTF-8 JSON).  Image URLs
 * other than data: URIs need allow_image_urls.  Returns 0, or -1 with e
 * (400, 413 for images, 500 out of memory); rq must be freed either way.
 */
int responses_request_parse(const char *body, size_t len, bool allow_image_urls,
			    struct responses_request *rq, struct err *e);
void responses_request_free(struct responses_request *rq);

/*
 * A 4xx invalid_request_error e whose message and param name fields of the
 * chat request this translation made (`response_format.json_schema.name`,
 * `tools[0].function.name`, `reasoning_effort`, `messages[2]...`) renamed
 * to the Responses fields they came from (`text.format.name`,
 * `tools[0].name`, `reasoning.effort`, `input[1]...`).  A message index is
 * mapped through input_of (n long: the chat message index -> the input
 * item), or left when input_of is NULL or does not know it; a call's
 * arguments that the turn named `input[N].tool_calls[K].function.arguments`
 * (the message input item N made) are that function_call item's
 * `input[M].arguments` in rq's input.  Any other
 * error is left as it is.  Returns 0, or -1 with e a 500 out of memory.
 * responses_request_parse applies it to its own errors; the handler to
 * the turn's (a provider's mapping names the fields it was given).
 */
int responses_request_rename(const struct responses_request *rq, const int *input_of, int n,
			     struct err *e);

#endif
