/*
 * message.h - helpers for OpenAI chat messages as cJSON trees: the shape
 * every layer passes around (the request, the store, the providers).
 *
 * A message is an object {"role", "content", ...} where content is a
 * string, null, or an array of content parts ({"type":"text","text"},
 * {"type":"image_url","image_url":{"url"}}, ...), as in the OpenAI API
 * reference, "Create chat completion", messages.
 *
 * A stored message (msg_stored) is one the session store read back: its
 * JSON text as written, in a cJSON_Raw node, not parsed yet.  A session's
 * history comes so, because most turns need none of its fields: the
 * openai-completions provider sends it on as text, the echo provider reads
 * the last user message only.  Whatever reads a field of a message that
 * may be stored opens it first (msg_open, msg_open_all).
 *
 * Nothing here validates: the request parser (chat_request.c) does that
 * before a message reaches anyone else.  Returned trees belong to the
 * caller (cJSON_Delete); pointers into arguments live as long as those.
 */
#ifndef CLAW_MESSAGE_H
#define CLAW_MESSAGE_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "buf.h"

/* The message's role, or NULL when it has no string role. */
const char *msg_role(const cJSON *message);

/*
 * Append the text of content to out: a string as is, an array of parts as
 * its text parts ("text" / "input_text") joined with "\n"; anything else
 * adds nothing.  Returns 0, or a buf_append error.
 */
int msg_content_text(const cJSON *content, struct buf *out);

/* msg_content_text of message's "content". */
int msg_text(const cJSON *message, struct buf *out);

/* A new {"role": role, "content": text}, or NULL when out of memory. */
cJSON *msg_new(const char *role, const char *text);

/*
 * A copy of m keeping what the providers use: role (given), content (null
 * when absent), name, tool_call_id, tool_calls.  NULL when out of memory.
 */
cJSON *msg_copy(const cJSON *m, const char *role);

/*
 * The last message of array messages with that role, or NULL.  Looks from
 * the end, opening each stored message it reads; one whose text does not
 * parse is passed over.
 */
const cJSON *msg_last_with_role(cJSON *messages, const char *role);

/*
 * A stored message: a new cJSON_Raw node holding a copy of json (the
 * message's JSON text, as the store wrote it).  NULL when out of memory.
 */
cJSON *msg_stored(const char *json);

/* Whether m is a stored message not opened yet. */
bool msg_is_stored(const cJSON *m);

/*
 * Parse stored message m in place: it becomes the parsed value and keeps
 * its place in its array.  Any other m is left as it is.  Returns 0, or -1
 * when the text does not parse or memory ran out (m is then unchanged).
 */
int msg_open(cJSON *m);

/*
 * The position of the first tool message of array messages, at position
 * from or after, whose tool_call_id is no id of a tool call of an
 * assistant message before it (one with no string tool_call_id counts so
 * too); -1 when every one answers a call, -2 when memory ran out.  Opens
 * the stored messages, but only when there is a tool message from `from`
 * on; one that does not parse has no calls.  n log n in the messages and
 * calls, whatever a request holds.
 */
int msg_unanswered_result(cJSON *messages, int from);
/*
 * msg_open every message of array messages.  One that does not parse is
 * deleted from the array, as a stored row that is not JSON is no message.
 */
void msg_open_all(cJSON *messages);

#endif
