/*
 * provider_echo.c - the "echo" provider: answers with the last user
 * message's text.  A diagnostic for checking a deployment (web server,
 * auth, streaming) without a model or an API key; not a model.
 *
 * When streaming, each word (with the space after it) is its own delta, so
 * a client sees several chunks as it would from a model.
 *
 * Its embeddings are as deterministic: a vector derived from a hash of the
 * text (echo_vector, README "POST /v1/embeddings"), the same on every
 * machine, so a client's handling of vectors can be checked with no model.
 * They mean nothing.
 */
#include "provider.h"

#include "message.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ECHO_EMBED_DIMENSIONS 8		 /* without `dimensions` */
#define ECHO_EMBED_MAX_NUMBERS (1 << 20) /* inputs x dimensions in one answer */

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

/* FNV-1a, 64 bits, of n bytes. */
static uint64_t fnv1a64(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325u;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 0x100000001b3u;
	}
	return h;
}

/* The next output of SplitMix64 (Steele, Lea and Flood, 2014). */
static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15u);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

/* Component values before scaling: the generator's top 24 bits, in [-1, 1). */
static double echo_component(uint64_t *state)
{
	return (double)(splitmix64(state) >> 40) / 8388608.0 - 1.0;
}

/*
 * text's vector into v[0..n): SplitMix64 seeded with the FNV-1a hash of
 * the text gives n values in [-1, 1), which are scaled (in double) to
 * length 1.  Two passes over the same sequence, so nothing is allocated.
 */
static void echo_vector(const char *text, size_t len, float *v, size_t n)
{
	uint64_t seed = fnv1a64(text, len), state = seed;
	double sum = 0, norm;

	for (size_t i = 0; i < n; i++) {
		double x = echo_component(&state);
		sum += x * x;
	}
	norm = sum > 0 ? sqrt(sum) : 1;
	state = seed;
	for (size_t i = 0; i < n; i++)
		v[i] = (float)(echo_component(&state) / norm);
}

/*
 * One input as the text its vector is made of (a string as it is, a token
 * array as its ids in decimal separated by single spaces), and what it
 * counts for usage: a string's whitespace-separated words, an array's ids.
 * 0, or -1 when out of memory.
 */
static int echo_text(const cJSON *item, struct buf *text, long *tokens)
{
	const cJSON *id;

	buf_reset(text);
	if (buf_append(text, "", 0) < 0)
		return -1;
	if (cJSON_IsString(item)) {
		bool in_word = false;
		for (const char *p = item->valuestring; *p; p++) {
			bool space = isspace((unsigned char)*p);
			if (!space && !in_word)
				(*tokens)++;
			in_word = !space;
		}
		return buf_append_str(text, item->valuestring) < 0 ? -1 : 0;
	}
	cJSON_ArrayForEach(id, item) {
		if (buf_printf(text, id == item->child ? "%.0f" : " %.0f", id->valuedouble) < 0)
			return -1;
		(*tokens)++;
	}
	return 0;
}

int prov_echo_embed(const struct prov_embed_request *rq, struct prov_sink *sink,
		    struct prov_result *res, cJSON **data, struct err *e)
{
	size_t dims = rq->dimensions > 0 ? (size_t)rq->dimensions : ECHO_EMBED_DIMENSIONS;
	bool base64 = rq->encoding_format && !strcmp(rq->encoding_format, "base64");
	/* one input (a string, a token array) or an array of them */
	bool one = cJSON_IsString(rq->input) || cJSON_IsNumber(cJSON_GetArrayItem(rq->input, 0));
	const cJSON *item = one ? rq->input : rq->input->child;
	struct buf text = BUF_INIT;
	cJSON *out = NULL;
	float *v = NULL;
	long tokens = 0;
	int rc = -1;

	(void)sink; /* nothing to wait for */
	*data = NULL;
	if (rq->ninputs * dims > ECHO_EMBED_MAX_NUMBERS) {
		err_set(e, 400, ERR_INVALID_REQUEST,
			"The echo provider makes at most %d numbers per request (inputs x "
			"`dimensions`); this asks for %zu.",
			ECHO_EMBED_MAX_NUMBERS, rq->ninputs * dims);
		goto out;
	}
	if (!(out = cJSON_CreateArray()) || !(v = malloc(dims * sizeof *v)))
		goto nomem;
	for (int i = 0; item; i++, item = one ? NULL : item->next) {
		cJSON *value;
		if (echo_text(item, &text, &tokens) < 0)
			goto nomem;
		echo_vector(text.data, text.len, v, dims);
		if (!(value = prov_embedding_value(v, dims, base64)) ||
		    prov_embedding_add(out, i, value) < 0)
			goto nomem;
	}
	res->usage.prompt_tokens = res->usage.total_tokens = tokens;
	res->started = true;
	*data = out;
	out = NULL;
	rc = 0;
	goto out;
nomem:
	err_nomem(e);
out:
	cJSON_Delete(out);
	free(v);
	buf_free(&text);
	return rc;
}
