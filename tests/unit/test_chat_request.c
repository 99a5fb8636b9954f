/* Unit tests for src/chat_request.c: request validation, each 400 naming its field. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_request.h"
#include "check.h"

static struct err e;

static int parse(const char *body, struct chat_request *rq)
{
	err_clear(&e);
	return chat_request_parse(body, strlen(body), false, rq, &e);
}

/* 1 when body is refused with 400 and a message containing want. */
static int bad(const char *body, const char *want)
{
	struct chat_request rq;
	int ok = parse(body, &rq) < 0 && e.status == 400 && strstr(e.message, want) &&
		 !strcmp(err_type_name(e.type), "invalid_request_error");
	if (!ok)
		printf("#   status %d message '%s', wanted '%s'\n", e.status, e.message, want);
	chat_request_free(&rq);
	return ok;
}

#define HI "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]"
#define TOOL(name)                                                                                 \
	"{\"type\":\"function\",\"function\":{\"name\":\"" name                                    \
	"\",\"parameters\":{\"type\":\"object\"}}}"
static void tools_checks(void)
{
	struct chat_request rq;

	CHECK(bad("{\"n\":\"two\"," HI "}", "`n` must be an integer from 1 to 128"),
	      "n of the wrong type");
	CHECK(bad("{\"n\":0," HI "}", "`n` must be an integer from 1 to 128"), "n of 0");
	CHECK(bad("{\"n\":129," HI "}", "`n` must be an integer from 1 to 128"), "n over 128");
	CHECK(bad("{\"seed\":1e300," HI "}", "`seed` must be an integer"),
	      "a seed past long long is no integer (and no undefined conversion)");
	CHECK(bad("{\"logprobs\":1," HI "}", "`logprobs` must be a boolean"), "logprobs type");
	CHECK(bad("{\"top_logprobs\":21," HI "}", "`top_logprobs` must be an integer from 0 to 20"),
	      "top_logprobs range");
	CHECK(bad("{\"reasoning_effort\":1," HI "}", "`reasoning_effort` must be a string"),
	      "reasoning_effort type");
	CHECK(bad("{\"modalities\":\"text\"," HI "}", "`modalities` must be an array of strings"),
	      "modalities type");
	CHECK(bad("{\"parallel_tool_calls\":\"no\"," HI "}",
		  "`parallel_tool_calls` must be a boolean"),
	      "parallel_tool_calls type");
	CHECK(bad("{\"tools\":{}," HI "}", "`tools` must be an array"), "tools not an array");
	CHECK(bad("{\"tools\":[" TOOL(
			  "ok") ",{\"type\":\"function\",\"function\":{\"name\":\"bad name\"}}]," HI
				"}",
		  "`tools[1].function.name` must be 1-64 letters"),
	      "a tool name with a space: 400 naming tools[1]");
	CHECK(bad("{\"tools\":[{\"type\":\"web_search\"}]," HI "}",
		  "`tools[0].type` must be \"function\""),
	      "a non-function tool");
	CHECK(bad("{\"tools\":[{\"type\":\"function\"}]," HI "}",
		  "`tools[0].function` must be an object"),
	      "a tool without its function");
	CHECK(bad("{\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":["
		  "]}}]," HI "}",
		  "`tools[0].function.parameters` must be a JSON Schema object"),
	      "parameters not an object");
	CHECK(bad("{\"tools\":[" TOOL("f") "],\"tool_choice\":\"always\"," HI "}",
		  "`tool_choice` must be"),
	      "an unknown tool_choice");
	CHECK(bad("{\"tool_choice\":\"required\"," HI "}", "needs `tools`"),
	      "required without tools");
	CHECK(bad("{\"tools\":[" TOOL("f") "],\"tool_choice\":{\"type\":\"function\",\"function\":{"
					   "\"name\":\"g\"}}," HI "}",
		  "'g' is not one of `tools`"),
	      "a named tool_choice not in tools");
	CHECK(parse("{\"tools\":[" TOOL("get_weather") "],\"tool_choice\":{\"type\":\"function\","
						       "\"function\":{\"name\":\"get_weather\"}},"
						       "\"parallel_tool_calls\":false,\"n\":2," HI
						       "}",
		    &rq) == 0 &&
		      cJSON_GetArraySize(cJSON_GetObjectItem(rq.params, "tools")) == 1 &&
		      cJSON_GetObjectItem(rq.params, "tool_choice") &&
		      cJSON_IsFalse(cJSON_GetObjectItem(rq.params, "parallel_tool_calls")) &&
		      cJSON_GetObjectItem(rq.params, "n")->valueint == 2,
	      "tools, a named tool_choice, parallel_tool_calls and n are accepted and passed on");
	chat_request_free(&rq);
}

#define RF(json_schema)                                                                            \
	"{\"response_format\":{\"type\":\"json_schema\",\"json_schema\":" json_schema "}," HI "}"
static void response_format_checks(void)
{
	struct chat_request rq;

	CHECK(bad("{\"response_format\":{\"type\":\"yaml\"}," HI "}",
		  "`response_format.type` must be \"text\", \"json_object\" or \"json_schema\""),
	      "an unknown response_format type");
	CHECK(bad("{\"response_format\":{}," HI "}", "`response_format.type` must be"),
	      "a response_format without a type");
	CHECK(bad("{\"response_format\":{\"type\":\"json_schema\"}," HI "}",
		  "`response_format.json_schema` must be an object"),
	      "json_schema missing");
	CHECK(bad(RF("{}"), "`response_format.json_schema.name` must be 1-64 letters"),
	      "a schema without a name");
	CHECK(bad(RF("{\"name\":\"a b\"}"), "`response_format.json_schema.name` must be"),
	      "a schema name with a space");
	CHECK(bad(RF("{\"name\":\"x\",\"schema\":true}"),
		  "`response_format.json_schema.schema` must be a JSON Schema object"),
	      "a schema that is no object");
	CHECK(bad(RF("{\"name\":\"x\",\"strict\":\"yes\"}"),
		  "`response_format.json_schema.strict` must be a boolean"),
	      "strict of the wrong type");
	CHECK(bad(RF("{\"name\":\"x\",\"description\":1}"),
		  "`response_format.json_schema.description` must be a string"),
	      "description of the wrong type");
	CHECK(parse(RF("{\"name\":\"reply\",\"strict\":true,\"schema\":{\"type\":\"object\"}}"),
		    &rq) == 0 &&
		      cJSON_GetObjectItem(cJSON_GetObjectItem(rq.params, "response_format"),
					  "json_schema"),
	      "a json_schema response_format is accepted and passed on");
	chat_request_free(&rq);
	CHECK(parse("{\"response_format\":{\"type\":\"json_object\"}," HI "}", &rq) == 0,
	      "json_object is accepted");
	chat_request_free(&rq);
	CHECK(parse("{\"response_format\":{\"type\":\"text\"}," HI "}", &rq) == 0,
	      "text is accepted");
	chat_request_free(&rq);
}

int main(void)
{
	struct chat_request rq;

	CHECK(bad("not json", "not valid JSON"), "not JSON");
	CHECK(bad("", "not valid JSON"), "empty body");
	CHECK(bad("[1]", "must be a JSON object"), "not an object");
	CHECK(bad("{}", "Missing `messages`"), "messages missing");
	CHECK(bad("{\"messages\":{}}", "`messages` must be an array"), "messages not an array");
	CHECK(bad("{\"messages\":[]}", "`messages` must not be empty"), "messages empty");
	CHECK(bad("{\"messages\":[\"hi\"]}", "`messages[0]` must be an object"),
	      "message not an object");
	CHECK(bad("{\"messages\":[{\"content\":\"hi\"}]}", "`messages[0].role` must be a string"),
	      "role missing");
	CHECK(bad("{\"messages\":[{\"role\":\"user\",\"content\":5}]}",
		  "`messages[0].content` must be a string or an array"),
	      "content of the wrong type");
	CHECK(bad("{\"messages\":[{\"role\":\"user\",\"content\":[5]}]}",
		  "`messages[0].content[0]` must be an object"),
	      "part not an object");
	CHECK(bad("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\"}]}]}",
		  "`messages[0].content[0].text` must be a string"),
	      "text part without text");
	CHECK(bad("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"audio\"}]}]}",
		  "type` 'audio' is not supported"),
	      "unknown part type");
	CHECK(bad("{\"messages\":[{\"role\":\"system\",\"content\":\"x\"}]}",
		  "Missing user message in `messages`."),
	      "no user message");
	CHECK(bad("{\"messages\":[{\"role\":\"user\",\"content\":\"\"}]}", "Missing user message"),
	      "empty user text is no user message");
	CHECK(bad("{\"messages\":[{\"role\":\"assistant\",\"content\":\"hi\"}]}",
		  "Missing user message"),
	      "assistant only");
	CHECK(bad("{\"stream\":\"yes\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
		  "`stream` must be a boolean"),
	      "stream type");
	CHECK(bad("{\"model\":5,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
		  "`model` must be a string"),
	      "model type");
	CHECK(bad("{\"user\":{},\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
		  "`user` must be a string"),
	      "user type");
	CHECK(bad("{\"temperature\":\"hot\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
		  "`temperature` must be a number"),
	      "temperature type");
	CHECK(bad("{\"max_tokens\":1.5,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
		  "`max_tokens` must be an integer"),
	      "max_tokens type");
	CHECK(bad("{\"stop\":[1],\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
		  "`stop` must be a string or an array of strings"),
	      "stop type");
	CHECK(bad("{\"response_format\":\"json\",\"messages\":[{\"role\":\"user\",\"content\":"
		  "\"hi\"}]}",
		  "`response_format` must be an object"),
	      "response_format type");
	CHECK(bad("{\"stream_options\":{\"include_usage\":1},\"messages\":[{\"role\":\"user\","
		  "\"content\":\"hi\"}]}",
		  "include_usage` must be a boolean"),
	      "include_usage type");
	CHECK(bad("{\"messages\":[{\"role\":\"user\",\"content\":\"\xff\xfe\"}]}",
		  "not valid UTF-8"),
	      "invalid UTF-8");
	CHECK(bad("{\"messages\":[{\"role\":\"user\",\"content\":\"\xed\xa0\x80\"}]}",
		  "not valid UTF-8"),
	      "UTF-8 surrogate");
	CHECK(bad("{\"messages\":[{\"role\":\"user\",\"content\":\"\xc0\xaf\"}]}",
		  "not valid UTF-8"),
	      "UTF-8 overlong");
	CHECK(bad("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_"
		  "url\":{}}]}]}",
		  "image_url.url"),
	      "image without url");

	CHECK(parse("{\"messages\":[{\"role\":\"user\",\"content\":\"h\xc3\xa9llo "
		    "\xf0\x9f\x98\x80\"}]}",
		    &rq) == 0,
	      "valid multi-byte UTF-8 accepted");
	chat_request_free(&rq);

	CHECK(parse("{\"model\":\"openclaw\",\"messages\":["
		    "{\"role\":\"system\",\"content\":\"Sys one.\"},"
		    "{\"role\":\"developer\",\"content\":[{\"type\":\"text\",\"text\":\"Dev "
		    "two.\"}]},"
		    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},{\"type\":"
		    "\"input_text\",\"text\":\"b\"}]},"
		    "{\"role\":\"assistant\",\"content\":\"ok\"},"
		    "{\"role\":\"function\",\"name\":\"f\",\"content\":\"42\"},"
		    "{\"role\":\"critic\",\"content\":\"ignored\"},"
		    "{\"role\":\"user\",\"content\":\"again\"}],"
		    "\"temperature\":0.5,\"stop\":\"\\n\",\"seed\":-3,\"foo\":1}",
		    &rq) == 0,
	      "a full request parses");
	CHECK_STR(buf_str(&rq.system_text), "Sys one.\n\nDev two.",
		  "system and developer text joined");
	CHECK_INT(cJSON_GetArraySize(rq.messages), 4,
		  "user/assistant/tool kept, system and unknown roles dropped");
	{
		cJSON *m0 = cJSON_GetArrayItem(rq.messages, 0);
		cJSON *m2 = cJSON_GetArrayItem(rq.messages, 2);
		CHECK(cJSON_IsArray(cJSON_GetObjectItem(m0, "content")), "parts structure kept");
		CHECK_STR(cJSON_GetObjectItem(m2, "role")->valuestring, "tool",
			  "function becomes tool");
		CHECK_STR(cJSON_GetObjectItem(m2, "name")->valuestring, "f", "tool name kept");
	}
	CHECK(rq.params && cJSON_GetObjectItem(rq.params, "temperature") &&
		      cJSON_GetObjectItem(rq.params, "stop") &&
		      cJSON_GetObjectItem(rq.params, "seed") &&
		      cJSON_GetObjectItem(rq.params, "foo"),
	      "every field clawcgi does not own is passed on, extras too");
	CHECK(!cJSON_GetObjectItem(rq.params, "model") &&
		      !cJSON_GetObjectItem(rq.params, "messages"),
	      "model and messages are clawcgi's own");
	chat_request_free(&rq);

	CHECK(parse("{\"messages\":[{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":"
		    "\"result\"}]}",
		    &rq) == 0,
	      "a tool message counts as input");
	chat_request_free(&rq);
	CHECK(parse("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
		    "\"image_url\":{\"url\":\"data:image/png;base64,AAAA\"}}]}]}",
		    &rq) == 0,
	      "an image counts as user input");
	chat_request_free(&rq);
#define IMG(u)                                                                                     \
	"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{"   \
	"\"url\":\"" u "\"}}]}]}"
	CHECK(bad(IMG("https://example.com/cat.png"), "Image URLs are not allowed"),
	      "image URL refused by default");
	CHECK(bad(IMG("ftp://example.com/cat.png"), "must be a data: URI or an http(s) URL"),
	      "other URL schemes refused");
	CHECK(bad(IMG("data:image/png;base64,AAA"), "not a valid data:image"),
	      "data URI: base64 length");
	CHECK(bad(IMG("data:image/png;base64,AA!A"), "not a valid data:image"),
	      "data URI: bad character");
	CHECK(bad(IMG("data:text/plain;base64,AAAA"), "not a valid data:image"),
	      "data URI: not an image");
	CHECK(bad(IMG("data:image/png,AAAA"), "not a valid data:image"), "data URI: not base64");
	CHECK(bad(IMG("data:image/png;base64,"), "not a valid data:image"), "data URI: empty");
	{
		struct buf b = BUF_INIT;
		buf_append_str(&b, "{\"messages\":[{\"role\":\"user\",\"content\":[");
		for (int k = 0; k < 9; k++)
			buf_printf(&b,
				   "%s{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/"
				   "png;base64,AAAA\"}}",
				   k ? "," : "");
		buf_append_str(&b, "]}]}");
		CHECK(bad(b.data, "Too many images"), "nine images: 400");
		buf_free(&b);
	}
	{
		size_t n = 21u * 1024 * 1024 / 3 * 4;
		char *body = malloc(n + 200);
		int len = sprintf(body,
				  "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
				  "\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,");
		memset(body + len, 'A', n);
		strcpy(body + len + n, "\"}}]}]}");
		err_clear(&e);
		CHECK(chat_request_parse(body, strlen(body), false, &rq, &e) < 0 && e.status == 413,
		      "images over 20 MiB in all: 413");
		chat_request_free(&rq);
		free(body);
	}
	tools_checks();
	response_format_checks();
	return check_done();
}
