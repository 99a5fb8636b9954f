/*
 * answer.h - an answer put together from the deltas a provider streams:
 * per choice, its text, reasoning, tool calls (their arguments joined by
 * index, as OpenAI's own client libraries join them), logprobs and finish
 * reason.  The non-streaming response and the stored assistant message are
 * read from here.
 *
 * Ownership: a struct answer owns everything in it; answer_free() releases
 * it.  Messages returned are new trees for the caller to cJSON_Delete.
 */
#ifndef CLAW_ANSWER_H
#define CLAW_ANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#include "buf.h"
#include "provider.h"

/* Choices beyond this index are refused (OpenAI's n is at most 128). */
#define ANSWER_MAX_CHOICES 128

struct answer_choice {
	struct buf content;
	bool has_content; /* some content arrived (possibly "") */
	struct buf reasoning;
	cJSON *tool_calls;	/* [{id, type, function:{name, arguments}}], or NULL */
	cJSON *logprobs;	/* {"content": [...]} joined, or NULL */
	char finish_reason[24]; /* "" until the provider says */
};

struct answer {
	struct answer_choice *choices;
	size_t nchoices; /* 1 + the highest choice index seen (0 before any) */
};

void answer_init(struct answer *a);
void answer_free(struct answer *a);

/* Add d to its choice.  0, or -1 when out of memory or d->choice is out of
 * range (0 to ANSWER_MAX_CHOICES - 1). */
int answer_add(struct answer *a, const struct prov_delta *d);

/* Choice i's text so far ("" when none or i out of range; never NULL). */
const char *answer_text(const struct answer *a, size_t i);

/*
 * Choice i as an assistant message: {"role":"assistant", "content": the
 * text, or null when there is none and tool calls are, "tool_calls": [...]
 * when any}, with "reasoning_content" when with_reasoning and there is
 * some.  NULL when out of memory.
 */
cJSON *answer_message(const struct answer *a, size_t i, bool with_reasoning);

#endif
