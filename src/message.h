/*
 * message.h - helpers for OpenAI chat messages as cJSON trees: the shape
 * every layer passes around (the request, the store, the providers).
 *
 * A message is an object {"role", "content", ...} where content is a
 * string, null, or an array of content parts ({"type":"text","text"},
 * {"type":"image_url","image_url":{"url"}}, ...), as in the OpenAI API
 * reference, "Create chat completion", messages.
 *
 * Nothing here validates: the request parser (chat_request.c) does that
 * before a message reaches anyone else.  Returned trees belong to the
 * caller (cJSON_Delete); pointers into arguments live as long as those.
 */
#ifndef CLAW_MESSAGE_H
#define CLAW_MESSAGE_H

#include <cjson/cJSON.h>

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

/* The last message of array messages with that role, or NULL. */
const cJSON *msg_last_with_role(const cJSON *messages, const char *role);

#endif
