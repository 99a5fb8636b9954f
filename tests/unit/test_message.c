/* Unit tests for src/message.c: the OpenAI message helpers. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "message.h"

static char *text_of(const char *json)
{
	cJSON *content = cJSON_Parse(json);
	struct buf b = BUF_INIT;
	char *s;

	msg_content_text(content, &b);
	s = buf_detach(&b);
	cJSON_Delete(content);
	return s;
}

#define CHECK_TEXT(json, want, name)                                                               \
	do {                                                                                       \
		char *got_ = text_of(json);                                                        \
		CHECK_STR(got_, want, name);                                                       \
		free(got_);                                                                        \
	} while (0)

int main(void)
{
	cJSON *msgs, *m, *copy;
	struct buf b = BUF_INIT;

	CHECK_TEXT("\"plain\"", "plain", "a string is its own text");
	CHECK_TEXT("null", "", "null content has no text");
	CHECK_TEXT("5", "", "a number has no text");
	CHECK_TEXT("[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"input_text\",\"text\":\"b\"}]",
		   "a\nb", "text and input_text parts joined by a newline");
	CHECK_TEXT("[{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:x\"}},{\"type\":"
		   "\"text\",\"text\":\"c\"}]",
		   "c", "other parts skipped, no leading newline");
	CHECK_TEXT("[{\"type\":\"text\"},{\"text\":\"no type\"},\"str\"]", "",
		   "malformed parts skipped");

	msgs = cJSON_Parse(
		"[{\"role\":\"user\",\"content\":\"one\"},"
		"{\"role\":\"assistant\",\"content\":\"two\"},"
		"{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"three\"}]},"
		"{\"content\":\"no role\"}]");
	CHECK_STR(msg_role(cJSON_GetArrayItem(msgs, 1)), "assistant", "msg_role");
	CHECK(msg_role(cJSON_GetArrayItem(msgs, 3)) == NULL, "msg_role of a message without one");
	m = (cJSON *)msg_last_with_role(msgs, "user");
	CHECK(m == cJSON_GetArrayItem(msgs, 2), "the last user message");
	CHECK(msg_last_with_role(msgs, "tool") == NULL, "no message with that role");
	msg_text(m, &b);
	CHECK_STR(buf_str(&b), "three", "msg_text reads the content");
	buf_free(&b);
	cJSON_Delete(msgs);

	m = msg_new("assistant", "hi");
	CHECK(m && !strcmp(msg_role(m), "assistant") &&
		      !strcmp(cJSON_GetObjectItem(m, "content")->valuestring, "hi"),
	      "msg_new");
	cJSON_Delete(m);

	m = cJSON_Parse("{\"role\":\"function\",\"name\":\"f\",\"tool_call_id\":\"c1\","
			"\"tool_calls\":[{\"id\":\"c1\"}],\"extra\":1}");
	copy = msg_copy(m, "tool");
	CHECK_STR(msg_role(copy), "tool", "msg_copy takes the role given");
	CHECK(cJSON_IsNull(cJSON_GetObjectItem(copy, "content")), "absent content becomes null");
	CHECK(cJSON_GetObjectItem(copy, "name") && cJSON_GetObjectItem(copy, "tool_call_id") &&
		      cJSON_IsArray(cJSON_GetObjectItem(copy, "tool_calls")),
	      "tool fields kept");
	CHECK(!cJSON_GetObjectItem(copy, "extra"), "other fields dropped");
	cJSON_Delete(copy);
	cJSON_Delete(m);
	return check_done();
}
