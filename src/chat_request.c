/*
 * chat_request.c - the body of POST /v1/chat/completions, parsed and
 * validated (see chat_request.h).  No HTTP here: bytes in, a struct
 * chat_request or a 4xx naming the field out.
 */
#include "chat_request.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_body.h"
#include "message.h"

#define MAX_IMAGES 8
#define MAX_IMAGE_BYTES (20L * 1024 * 1024)

/* What the request's images add up to, and what is allowed. */
struct images {
	bool allow_url;
	int count;
	long bytes; /* decoded size of data URIs */
};

/*
 * A data URI "data:image/<type>;base64,<payload>": 1 and its decoded size,
 * or 0 when malformed.
 */
static int data_uri_size(const char *url, long *size)
{
	const char *comma = strchr(url, ',');
	const char *p;
	size_t n = 0, pad = 0;

	if (strncmp(url, "data:image/", 11) || !comma || comma - url < 19 ||
	    strncmp(comma - 7, ";base64", 7))
		return 0;
	for (p = url + 11; p < comma - 7; p++)
		if (!isalnum((unsigned char)*p) && !strchr("+.-", *p))
			return 0;
	for (p = comma + 1; *p; p++, n++) {
		if (*p == '=') {
			pad++;
			continue;
		}
		if (pad || (!isalnum((unsigned char)*p) && *p != '+' && *p != '/'))
			return 0;
	}
	if (n == 0 || n % 4 || pad > 2)
		return 0;
	*size = (long)(n / 4 * 3 - pad);
	return 1;
}

static int check_image(const char *url, int i, int j, struct images *im, struct err *e)
{
	long size = 0;

	if (++im->count > MAX_IMAGES) {
		err_set(e, 400, ERR_INVALID_REQUEST, "Too many images: at most %d per request.",
			MAX_IMAGES);
		return -1;
	}
	if (!strncmp(url, "data:", 5)) {
		if (!data_uri_size(url, &size)) {
			err_set(e, 400, ERR_INVALID_REQUEST,
				"`messages[%d].content[%d].image_url.url` is not a valid "
				"data:image/...;base64, URI.",
				i, j);
			return -1;
		}
		im->bytes += size;
		if (im->bytes > MAX_IMAGE_BYTES) {
			err_set(e, 413, ERR_INVALID_REQUEST,
				"Images too large: at most 20 MiB in all.");
			return -1;
		}
		return 0;
	}
	if (strncmp(url, "https://", 8) && strncmp(url, "http://", 7)) {
		err_set(e, 400, ERR_INVALID_REQUEST,
			"`messages[%d].content[%d].image_url.url` must be a data: URI "
			"or an http(s) URL.",
			i, j);
		return -1;
	}
	if (!im->allow_url) {
		err_set(e, 400, ERR_INVALID_REQUEST,
			"Image URLs are not allowed here: send the image as a data: URI "
			"(`messages[%d].content[%d]`).",
			i, j);
		return -1;
	}
	return 0;
}

/* Checks one content part; returns -1 with e naming messages[i].content[j]. */
static int check_part(const cJSON *part, int i, int j, bool *has_input, struct images *im,
		      struct err *e)
{
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type");
	const char *t;

	if (!cJSON_IsObject(part)) {
		err_set(e, 400, ERR_INVALID_REQUEST,
			"`messages[%d].content[%d]` must be an object.", i, j);
		return -1;
	}
	if (!cJSON_IsString(type)) {
		err_set(e, 400, ERR_INVALID_REQUEST,
			"`messages[%d].content[%d].type` must be a string.", i, j);
		return -1;
	}
	t = type->valuestring;
	if (!strcmp(t, "text") || !strcmp(t, "input_text")) {
		const cJSON *text = cJSON_GetObjectItemCaseSensitive(part, "text");
		if (!cJSON_IsString(text)) {
			err_set(e, 400, ERR_INVALID_REQUEST,
				"`messages[%d].content[%d].text` must be a string.", i, j);
			return -1;
		}
		if (text->valuestring[0])
			*has_input = true;
		return 0;
	}
	if (!strcmp(t, "image_url")) {
		const cJSON *img = cJSON_GetObjectItemCaseSensitive(part, "image_url");
		const cJSON *url = cJSON_GetObjectItemCaseSensitive(img, "url");
		if (!cJSON_IsObject(img)) {
			err_set(e, 400, ERR_INVALID_REQUEST,
				"`messages[%d].content[%d].image_url` must be an object with "
				"`url`.",
				i, j);
			return -1;
		}
		if (!cJSON_IsString(url) || !url->valuestring[0]) {
			err_set(e, 400, ERR_INVALID_REQUEST,
				"`messages[%d].content[%d].image_url.url` must be a non-empty "
				"string.",
				i, j);
			return -1;
		}
		*has_input = true;
		return check_image(url->valuestring, i, j, im, e);
	}
	err_set(e, 400, ERR_INVALID_REQUEST,
		"`messages[%d].content[%d].type` '%.40s' is not supported "
		"(text, input_text or image_url).",
		i, j, t);
	return -1;
}

/* Validates messages[i].content; *has_input when it has text or an image. */
static int check_content(const cJSON *content, int i, bool *has_input, struct images *im,
			 struct err *e)
{
	const cJSON *part;
	int j = 0;

	*has_input = false;
	if (!content || cJSON_IsNull(content))
		return 0;
	if (cJSON_IsString(content)) {
		*has_input = content->valuestring[0] != '\0';
		return 0;
	}
	if (!cJSON_IsArray(content)) {
		err_set(e, 400, ERR_INVALID_REQUEST,
			"`messages[%d].content` must be a string or an array of content parts.", i);
		return -1;
	}
	cJSON_ArrayForEach(part, content) {
		if (check_part(part, i, j++, has_input, im, e) < 0)
			return -1;
	}
	return 0;
}

/* The system text and the conversation from `messages`, validated. */
static int parse_messages(const cJSON *msgs, struct chat_request *rq, struct images *im,
			  struct err *e)
{
	const cJSON *m;
	bool have_user = false;
	int i = 0, kept = 0;

	if (!msgs) {
		err_set(e, 400, ERR_INVALID_REQUEST, "Missing `messages` array.");
		return -1;
	}
	if (!cJSON_IsArray(msgs)) {
		err_set(e, 400, ERR_INVALID_REQUEST, "`messages` must be an array.");
		return -1;
	}
	if (cJSON_GetArraySize(msgs) == 0) {
		err_set(e, 400, ERR_INVALID_REQUEST, "`messages` must not be empty.");
		return -1;
	}
	if (!(rq->messages = cJSON_CreateArray()) ||
	    !(rq->origin = calloc((size_t)cJSON_GetArraySize(msgs), sizeof *rq->origin)))
		goto nomem;
	cJSON_ArrayForEach(m, msgs) {
		const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
		const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
		const char *r;
		bool has_input;

		if (!cJSON_IsObject(m)) {
			err_set(e, 400, ERR_INVALID_REQUEST, "`messages[%d]` must be an object.",
				i);
			return -1;
		}
		if (!cJSON_IsString(role)) {
			err_set(e, 400, ERR_INVALID_REQUEST,
				"`messages[%d].role` must be a string.", i);
			return -1;
		}
		if (check_content(content, i, &has_input, im, e) < 0)
			return -1;
		r = role->valuestring;
		if (!strcmp(r, "system") || !strcmp(r, "developer")) {
			size_t before = rq->system_text.len;
			if (before && buf_append_str(&rq->system_text, "\n\n") < 0)
				goto nomem;
			if (msg_content_text(content, &rq->system_text) < 0)
				goto nomem;
			if (rq->system_text.len == before + (before ? 2 : 0)) /* empty: undo */
				buf_truncate(&rq->system_text, before);
		} else if (!strcmp(r, "user") || !strcmp(r, "assistant") || !strcmp(r, "tool") ||
			   !strcmp(r, "function")) {
			const char *as = !strcmp(r, "function") ? "tool" : r;
			cJSON *copy = msg_copy(m, as);
			if (!copy)
				goto nomem;
			rq->origin[kept++] = i;
			cJSON_AddItemToArray(rq->messages, copy);
			if (has_input && strcmp(as, "assistant"))
				have_user = true;
		}
		/* other roles are ignored (SPEC 6) */
		i++;
	}
	if (!have_user) {
		err_set(e, 400, ERR_INVALID_REQUEST, "Missing user message in `messages`.");
		return -1;
	}
	return 0;
nomem:
	err_nomem(e);
	return -1;
}

enum ptype { P_NUMBER, P_INT, P_POSITIVE, P_BOOL, P_STRING, P_STOP, P_OBJECT, P_STRINGS };

/* The parameters clawcgi knows, with their types (the OpenAI API reference,
 * "Create chat completion"); tools are checked apart (check_tools). */
static const struct {
	const char *name;
	enum ptype type;
	long max; /* for whole numbers; 0: none */
} known_params[] = {
	{"temperature", P_NUMBER, 0},
	{"top_p", P_NUMBER, 0},
	{"max_tokens", P_POSITIVE, 0},
	{"max_completion_tokens", P_POSITIVE, 0},
	{"stop", P_STOP, 0},
	{"presence_penalty", P_NUMBER, 0},
	{"frequency_penalty", P_NUMBER, 0},
	{"seed", P_INT, 0},
	{"response_format", P_OBJECT, 0},
	{"n", P_POSITIVE, 128},
	{"logprobs", P_BOOL, 0},
	{"top_logprobs", P_INT, 20},
	{"reasoning_effort", P_STRING, 0},
	{"metadata", P_OBJECT, 0},
	{"store", P_BOOL, 0},
	{"service_tier", P_STRING, 0},
	{"prediction", P_OBJECT, 0},
	{"modalities", P_STRINGS, 0},
	{"parallel_tool_calls", P_BOOL, 0},
	{"logit_bias", P_OBJECT, 0},
};

/* The fields clawcgi owns; every other top-level field is passed on. */
static const char *const owned[] = {"model", "messages", "stream", "stream_options", "user"};

/* A whole number within long long's range (converting a double beyond it
 * is undefined, so the range is checked first; NaN fails both). */
static bool is_int(const cJSON *v)
{
	return cJSON_IsNumber(v) && v->valuedouble >= -0x1p63 && v->valuedouble < 0x1p63 &&
	       v->valuedouble == (double)(long long)v->valuedouble;
}

static bool all_strings(const cJSON *v)
{
	const cJSON *s;

	if (!cJSON_IsArray(v))
		return false;
	cJSON_ArrayForEach(s, v) {
		if (!cJSON_IsString(s))
			return false;
	}
	return true;
}

/* What v should be, or NULL when it is that; range holds the words for a
 * bounded whole number. */
static const char *type_mismatch(const cJSON *v, enum ptype type, long max, char *range, size_t n)
{
	long min = type == P_POSITIVE ? 1 : 0;

	switch (type) {
	case P_NUMBER:
		return cJSON_IsNumber(v) ? NULL : "a number";
	case P_BOOL:
		return cJSON_IsBool(v) ? NULL : "a boolean";
	case P_STRING:
		return cJSON_IsString(v) ? NULL : "a string";
	case P_OBJECT:
		return cJSON_IsObject(v) ? NULL : "an object";
	case P_STOP:
		return cJSON_IsString(v) || all_strings(v) ? NULL
							   : "a string or an array of strings";
	case P_STRINGS:
		return all_strings(v) ? NULL : "an array of strings";
	case P_INT:
	case P_POSITIVE:
		snprintf(range, n, "an integer from %ld to %ld", min, max);
		if (!is_int(v))
			return max ? range : "an integer";
		if (max && (v->valuedouble < (double)min || v->valuedouble > (double)max))
			return range;
		if (type == P_POSITIVE && v->valuedouble < 1)
			return "a positive integer";
		return NULL;
	}
	return NULL;
}

/* A tool's or a JSON schema's name: ^[A-Za-z0-9_-]{1,64}$ (the OpenAI API
 * reference). */
static bool valid_name(const cJSON *name)
{
	size_t n = cJSON_IsString(name) ? strlen(name->valuestring) : 0;

	return n >= 1 && n <= 64 &&
	       strspn(name->valuestring, "abcdefghijklmnopqrstuvwxyz"
					 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

/* response_format: {"type":"text"}, {"type":"json_object"}, or
 * {"type":"json_schema","json_schema":{"name","description","schema",
 * "strict"}} (the OpenAI API reference, "Structured Outputs"). */
static int check_response_format(const cJSON *rf, struct err *e)
{
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(rf, "type");
	const cJSON *js = cJSON_GetObjectItemCaseSensitive(rf, "json_schema");
	const cJSON *v;

	if (!rf || cJSON_IsNull(rf))
		return 0;
	if (!cJSON_IsString(type) ||
	    (strcmp(type->valuestring, "text") && strcmp(type->valuestring, "json_object") &&
	     strcmp(type->valuestring, "json_schema")))
		return err_set(e, 400, ERR_INVALID_REQUEST,
			       "`response_format.type` must be \"text\", \"json_object\" or "
			       "\"json_schema\".");
	if (strcmp(type->valuestring, "json_schema"))
		return 0;
	if (!cJSON_IsObject(js))
		return err_set(e, 400, ERR_INVALID_REQUEST,
			       "`response_format.json_schema` must be an object.");
	if (!valid_name(cJSON_GetObjectItemCaseSensitive(js, "name")))
		return err_set(e, 400, ERR_INVALID_REQUEST,
			       "`response_format.json_schema.name` must be 1-64 letters, digits, "
			       "'_' or '-'.");
	if ((v = cJSON_GetObjectItemCaseSensitive(js, "description")) && !cJSON_IsString(v))
		return err_set(e, 400, ERR_INVALID_REQUEST,
			       "`response_format.json_schema.description` must be a string.");
	if ((v = cJSON_GetObjectItemCaseSensitive(js, "schema")) && !cJSON_IsObject(v))
		return err_set(
			e, 400, ERR_INVALID_REQUEST,
			"`response_format.json_schema.schema` must be a JSON Schema object.");
	if ((v = cJSON_GetObjectItemCaseSensitive(js, "strict")) && !cJSON_IsBool(v) &&
	    !cJSON_IsNull(v))
		return err_set(e, 400, ERR_INVALID_REQUEST,
			       "`response_format.json_schema.strict` must be a boolean.");
	return 0;
}

/* A function tool: {"type":"function","function":{"name","description",
 * "parameters","strict"}}. */
static int check_tool(const cJSON *tool, int i, struct err *e)
{
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(tool, "type");
	const cJSON *fn = cJSON_GetObjectItemCaseSensitive(tool, "function");
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(fn, "name");
	const cJSON *v;

	if (!cJSON_IsObject(tool))
		return err_set(e, 400, ERR_INVALID_REQUEST, "`tools[%d]` must be an object.", i);
	if (!cJSON_IsString(type) || strcmp(type->valuestring, "function"))
		return err_set(e, 400, ERR_INVALID_REQUEST,
			       "`tools[%d].type` must be \"function\" (the only tool type "
			       "supported).",
			       i);
	if (!cJSON_IsObject(fn))
		return err_set(e, 400, ERR_INVALID_REQUEST,
			       "`tools[%d].function` must be an object.", i);
	if (!valid_name(name))
		return err_set(
			e, 400, ERR_INVALID_REQUEST,
			"`tools[%d].function.name` must be 1-64 letters, digits, '_' or '-'.", i);
	if ((v = cJSON_GetObjectItemCaseSensitive(fn, "description")) && !cJSON_IsString(v))
		return err_set(e, 400, ERR_INVALID_REQUEST,
			       "`tools[%d].function.description` must be a string.", i);
	if ((v = cJSON_GetObjectItemCaseSensitive(fn, "parameters")) && !cJSON_IsObject(v))
		return err_set(e, 400, ERR_INVALID_REQUEST,
			       "`tools[%d].function.parameters` must be a JSON Schema object.", i);
	if ((v = cJSON_GetObjectItemCaseSensitive(fn, "strict")) && !cJSON_IsBool(v) &&
	    !cJSON_IsNull(v))
		return err_set(e, 400, ERR_INVALID_REQUEST,
			       "`tools[%d].function.strict` must be a boolean.", i);
	return 0;
}

/* tool_choice: "none", "auto", "required", or a named tool of tools. */
static int check_tool_choice(const cJSON *choice, const cJSON *tools, struct err *e)
{
	const cJSON *fn = cJSON_GetObjectItemCaseSensitive(choice, "function");
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(fn, "name");
	const cJSON *tool;

	if (cJSON_IsString(choice)) {
		const char *c = choice->valuestring;
		if (strcmp(c, "none") && strcmp(c, "auto") && strcmp(c, "required"))
			return err_set(e, 400, ERR_INVALID_REQUEST,
				       "`tool_choice` must be \"none\", \"auto\", \"required\" or "
				       "{\"type\":\"function\",\"function\":{\"name\":...}}.");
		if (strcmp(c, "none") && !cJSON_GetArraySize(tools))
			return err_set(e, 400, ERR_INVALID_REQUEST,
				       "`tool_choice` \"%s\" needs `tools`.", c);
		return 0;
	}
	if (!cJSON_IsObject(choice) || !cJSON_IsString(name))
		return err_set(e, 400, ERR_INVALID_REQUEST,
			       "`tool_choice.function.name` must name one of `tools`.");
	cJSON_ArrayForEach(tool, tools) {
		const cJSON *tn = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(tool, "function"), "name");
		if (cJSON_IsString(tn) && !strcmp(tn->valuestring, name->valuestring))
			return 0;
	}
	return err_set(e, 400, ERR_INVALID_REQUEST,
		       "`tool_choice.function.name` '%.64s' is not one of `tools`.",
		       name->valuestring);
}

/* tools and tool_choice, when present. */
static int check_tools(const cJSON *root, struct err *e)
{
	const cJSON *tools = cJSON_GetObjectItemCaseSensitive(root, "tools");
	const cJSON *choice = cJSON_GetObjectItemCaseSensitive(root, "tool_choice");
	const cJSON *tool;
	int i = 0;

	if (cJSON_IsNull(tools))
		tools = NULL;
	if (tools && !cJSON_IsArray(tools))
		return err_set(e, 400, ERR_INVALID_REQUEST, "`tools` must be an array.");
	cJSON_ArrayForEach(tool, tools) {
		if (check_tool(tool, i++, e) < 0)
			return -1;
	}
	if (choice && !cJSON_IsNull(choice) && check_tool_choice(choice, tools, e) < 0)
		return -1;
	return 0;
}

static bool is_owned(const char *name)
{
	for (size_t k = 0; k < sizeof owned / sizeof *owned; k++)
		if (!strcmp(owned[k], name))
			return true;
	return false;
}

/* Every field clawcgi does not own goes to the provider as sent; the known
 * ones are checked for their type first. */
static int parse_params(const cJSON *root, struct chat_request *rq, struct err *e)
{
	const cJSON *v;

	for (size_t k = 0; k < sizeof known_params / sizeof *known_params; k++) {
		const char *bad;
		char range[64];
		v = cJSON_GetObjectItemCaseSensitive(root, known_params[k].name);
		if (!v || cJSON_IsNull(v))
			continue;
		bad = type_mismatch(v, known_params[k].type, known_params[k].max, range,
				    sizeof range);
		if (bad)
			return err_set(e, 400, ERR_INVALID_REQUEST, "`%s` must be %s.",
				       known_params[k].name, bad);
	}
	if (check_tools(root, e) < 0 ||
	    check_response_format(cJSON_GetObjectItemCaseSensitive(root, "response_format"), e) < 0)
		return -1;
	cJSON_ArrayForEach(v, root) {
		cJSON *dup;
		if (is_owned(v->string) || cJSON_IsNull(v))
			continue;
		if ((!rq->params && !(rq->params = cJSON_CreateObject())) ||
		    !(dup = cJSON_Duplicate(v, 1)))
			return err_nomem(e);
		cJSON_AddItemToObject(rq->params, v->string, dup);
	}
	return 0;
}

int chat_request_parse(const char *body, size_t len, bool allow_image_urls, struct chat_request *rq,
		       struct err *e)
{
	cJSON *root = json_body_parse(body, len, e);

	if (!root) {
		memset(rq, 0, sizeof *rq);
		return -1;
	}
	return chat_request_take(root, allow_image_urls, rq, e);
}

int chat_request_take(cJSON *root, bool allow_image_urls, struct chat_request *rq, struct err *e)
{
	struct images im = {allow_image_urls, 0, 0};
	const cJSON *v, *so;

	memset(rq, 0, sizeof *rq);
	rq->root = root;

	v = cJSON_GetObjectItemCaseSensitive(rq->root, "model");
	if (v && !cJSON_IsNull(v) && !cJSON_IsString(v)) {
		err_set(e, 400, ERR_INVALID_REQUEST, "`model` must be a string.");
		return -1;
	}
	rq->model = cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : "openclaw";

	v = cJSON_GetObjectItemCaseSensitive(rq->root, "stream");
	if (v && !cJSON_IsNull(v) && !cJSON_IsBool(v)) {
		err_set(e, 400, ERR_INVALID_REQUEST, "`stream` must be a boolean.");
		return -1;
	}
	rq->stream = cJSON_IsTrue(v);

	so = cJSON_GetObjectItemCaseSensitive(rq->root, "stream_options");
	if (so && !cJSON_IsNull(so)) {
		if (!cJSON_IsObject(so)) {
			err_set(e, 400, ERR_INVALID_REQUEST, "`stream_options` must be an object.");
			return -1;
		}
		v = cJSON_GetObjectItemCaseSensitive(so, "include_usage");
		if (v && !cJSON_IsBool(v)) {
			err_set(e, 400, ERR_INVALID_REQUEST,
				"`stream_options.include_usage` must be a boolean.");
			return -1;
		}
		rq->include_usage = cJSON_IsTrue(v);
	}

	v = cJSON_GetObjectItemCaseSensitive(rq->root, "user");
	if (v && !cJSON_IsNull(v) && !cJSON_IsString(v)) {
		err_set(e, 400, ERR_INVALID_REQUEST, "`user` must be a string.");
		return -1;
	}
	if (cJSON_IsString(v) && v->valuestring[0])
		rq->user = v->valuestring; /* checked as a session key (agent.c) */

	if (parse_params(rq->root, rq, e) < 0)
		return -1;
	return parse_messages(cJSON_GetObjectItemCaseSensitive(rq->root, "messages"), rq, &im, e);
}

void chat_request_free(struct chat_request *rq)
{
	cJSON_Delete(rq->root);
	buf_free(&rq->system_text);
	cJSON_Delete(rq->messages);
	free(rq->origin);
	cJSON_Delete(rq->params);
	memset(rq, 0, sizeof *rq);
}
