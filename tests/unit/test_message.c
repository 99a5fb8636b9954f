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

	/* stored messages: text until opened, opened in place */
	msgs = cJSON_CreateArray();
	cJSON_AddItemToArray(msgs, msg_stored("{\"role\":\"user\",\"content\":\"one\"}"));
	cJSON_AddItemToArray(msgs, msg_stored("not json"));
	cJSON_AddItemToArray(msgs, msg_stored("{\"role\":\"assistant\",\"content\":\"two\"}"));
	cJSON_AddItemToArray(msgs, msg_stored("{\"role\":\"tool\",\"content\":\"three\"}"));
	CHECK(msg_is_stored(cJSON_GetArrayItem(msgs, 0)) &&
		      msg_role(cJSON_GetArrayItem(msgs, 0)) == NULL,
	      "a stored message is text: no role before it is opened");
	m = (cJSON *)msg_last_with_role(msgs, "assistant");
	CHECK(m == cJSON_GetArrayItem(msgs, 2) && !msg_is_stored(m) &&
		      msg_is_stored(cJSON_GetArrayItem(msgs, 0)),
	      "msg_last_with_role opens from the end up to the one it finds, no further");
	CHECK(msg_is_stored(cJSON_GetArrayItem(msgs, 3)) == false,
	      "the message after it was read on the way");
	CHECK(msg_open(cJSON_GetArrayItem(msgs, 1)) < 0 &&
		      msg_is_stored(cJSON_GetArrayItem(msgs, 1)),
	      "msg_open of text that is not JSON: -1, the message unchanged");
	m = cJSON_GetArrayItem(msgs, 0);
	CHECK(msg_open(m) == 0 && m == cJSON_GetArrayItem(msgs, 0) && cJSON_IsObject(m) &&
		      !strcmp(msg_role(m), "user") && msg_open(m) == 0,
	      "msg_open parses in place; opening again changes nothing");
	msg_last_with_role(msgs, "user");
	CHECK(msg_last_with_role(msgs, "system") == NULL, "no message with that role among stored");
	msg_open_all(msgs);
	CHECK_INT(cJSON_GetArraySize(msgs), 3, "msg_open_all drops the text that is not JSON");
	CHECK(!strcmp(msg_role(cJSON_GetArrayItem(msgs, 1)), "assistant") &&
		      !strcmp(msg_role(cJSON_GetArrayItem(msgs, 2)), "tool"),
	      "msg_open_all keeps the order");
	cJSON_Delete(msgs);

	/* tool results against the calls before them; stored ones opened */
	msgs = cJSON_Parse("[{\"role\":\"user\",\"content\":\"q\"}]");
	cJSON_AddItemToArray(msgs, msg_stored("{\"role\":\"assistant\",\"tool_calls\":[{\"id\":"
					      "\"c2\"},{\"id\":\"c1\"}]}"));
	cJSON_AddItemToArray(msgs, cJSON_Parse("{\"role\":\"tool\",\"tool_call_id\":\"c1\"}"));
	cJSON_AddItemToArray(msgs, cJSON_Parse("{\"role\":\"tool\",\"tool_call_id\":\"c9\"}"));
	CHECK_INT(msg_unanswered_result(msgs, 2), 3,
		  "a result answering no call: its position; a stored call is found");
	CHECK_INT(msg_unanswered_result(msgs, 4), -1, "nothing from there on: -1");
	cJSON_DeleteItemFromArray(msgs, 3);
	CHECK_INT(msg_unanswered_result(msgs, 0), -1, "every result answers a call before it: -1");
	cJSON_AddItemToArray(msgs, cJSON_Parse("{\"role\":\"tool\",\"tool_call_id\":\"c3\"}"));
	cJSON_AddItemToArray(msgs, cJSON_Parse("{\"role\":\"assistant\",\"tool_calls\":[{\"id\":"
					       "\"c3\"}]}"));
	CHECK_INT(msg_unanswered_result(msgs, 0), 3, "a call after its result does not answer it");
	cJSON_AddItemToArray(msgs, cJSON_Parse("{\"role\":\"tool\"}"));
	CHECK_INT(msg_unanswered_result(msgs, 4), 5, "a result with no tool_call_id answers none");
	cJSON_Delete(msgs);
	return check_done();
}
