/*
 * provider_http.h - the HTTP transport shared by the upstream providers
 * (openai-completions, anthropic-messages): one POST over the worker's curl
 * handle, the stream started at the upstream's 2xx headers, SSE parsed as
 * bytes arrive, idle ticks and cancellation, and the mapping of transport
 * failures to 502/504.  A backend supplies the URL, headers and body, and
 * two hooks that turn upstream JSON into deltas and metadata (or, for
 * embeddings, into the backend's own answer through h->ctx).
 */
#ifndef CLAW_PROVIDER_HTTP_H
#define CLAW_PROVIDER_HTTP_H

#include <stdbool.h>
#include <time.h>

#include "provider.h"
#include "sse.h"

struct phttp;

#define PHTTP_MAX_BLOCKS 64
#define PHTTP_BLOCK_CONTENT (-1)

struct phttp_ops {
	/* One streamed event (not "[DONE]"), its data parsed.  Non-zero stops. */
	int (*event)(struct phttp *h, const char *event, const cJSON *data);
	/* A whole non-streaming answer.  0, or -1 after phttp_fail. */
	int (*answer)(struct phttp *h, const cJSON *answer);
};

struct phttp {
	const struct prov_request *rq;
	struct prov_sink *sink;
	struct prov_result *res;
	struct err *e;
	const struct phttp_ops *ops;
	CURL *curl;
	struct sse_parser parser;
	struct buf body; /* non-streaming answer, or an error body */
	long status;	 /* HTTP status, once known */
	bool status_checked;
	bool sse_reply; /* the 2xx answer is an event stream (by its Content-Type; as
			   asked when it has none), else one JSON document */
	bool done;	/* the stream's end marker was seen */
	bool finished;	/* a finish/stop reason was seen */
	bool failed;	/* e is set; stop the transfer */
	time_t last_idle;
	/* For a backend whose stream numbers content blocks (Anthropic's): the
	 * tool call each block is, plus one (0: not a call; PHTTP_BLOCK_CONTENT:
	 * a block whose input streams as the content), and the calls so far,
	 * so calls are numbered 0, 1, ... as OpenAI numbers them. */
	int block_call[PHTTP_MAX_BLOCKS];
	int ncalls;
	/* For each block that is a call (or the answer tool's content): some of
	 * its input was relayed (a block that ends without any is given "{}",
	 * as a whole answer's empty input is). */
	bool block_args[PHTTP_MAX_BLOCKS];
	void *ctx; /* the backend's own state for its ops (phttp_post_ctx), or NULL */
};

/*
 * POST body as JSON to the provider's baseUrl + path, with Content-Type,
 * Accept, the API key as key_prefix + key (when one is set), fixed_header
 * (or NULL) and the provider's extra headers.  Takes body (NULL: building
 * it ran out of memory, a 500).  The contract of prov_run.
 */
int phttp_post(const struct prov_request *rq, struct prov_sink *sink, struct prov_result *res,
	       struct err *e, const struct phttp_ops *ops, const char *path, cJSON *body,
	       const char *key_prefix, const char *fixed_header);
/* The same, with ctx for the ops as h->ctx (an answer that is not deltas:
 * the embeddings). */
int phttp_post_ctx(const struct prov_request *rq, struct prov_sink *sink, struct prov_result *res,
		   struct err *e, const struct phttp_ops *ops, void *ctx, const char *path,
		   cJSON *body, const char *key_prefix, const char *fixed_header);

/* A piece of the answer to the sink; -1 (and cancelled) when the client left. */
int phttp_deliver(struct phttp *h, const struct prov_delta *d);
/* The same for a piece of choice 0's text (nothing when len is 0). */
int phttp_text(struct phttp *h, const char *text, size_t len);
/* Fail the transfer with status (502, 504) and an upstream_error message;
 * the first failure wins. */
void phttp_fail(struct phttp *h, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The finish reason, and that the answer ended properly. */
void phttp_finish(struct phttp *h, const char *reason);

/* An upstream error body's message (error.message, error, message) or its start. */
void phttp_error_message(const char *body, size_t len, char *out, size_t outlen);

/* The SSE callback (sse_event_fn) of h's stream, ctx being h: "[DONE]", an
 * event that is no JSON object or carries "error" (a 502), else the event
 * to h->ops->event.  Apart for the fuzz target (fuzz/fuzz-anthropic.c). */
int phttp_event(void *ctx, const char *event, const char *data, size_t len);

/*
 * The two HTTP backends' halves, which their run functions join with
 * phttp_post; apart, for the unit tests of each mapping.
 *
 * prov_openai_body: the POST /chat/completions body for rq (the OpenAI API
 * reference, "Create chat completion"): the system text as the first
 * message, rq's messages normalised for OpenAI-compatible servers, every
 * parameter as sent.  Caller owns it; NULL when out of memory.
 *
 * prov_anthropic_body: the POST /v1/messages body for rq (the Anthropic
 * Messages API).  Caller owns it; NULL with e: 400 naming the message or
 * field it cannot map, 500 out of memory.
 *
 * The ops turn each one's answers (streamed events or a whole JSON body)
 * into deltas on h->sink and h->res.
 */
cJSON *prov_openai_body(const struct prov_request *rq);
extern const struct phttp_ops prov_openai_ops;
cJSON *prov_anthropic_body(const struct prov_request *rq, struct err *e);
extern const struct phttp_ops prov_anthropic_ops;

/*
 * prov_openai_embed's halves, apart for the unit tests.
 *
 * prov_openai_embed_body: the POST /embeddings body for rq (the OpenAI API
 * reference, "Create embeddings"): model, input as the client sent it, and
 * encoding_format and dimensions when the client gave them.  Caller owns
 * it; NULL when out of memory.
 *
 * prov_openai_embed_ops: its answer's `data` into embedding objects (see
 * prov_embed): h->ctx is a struct phttp_embed, whose data the caller then
 * owns (also after a failure: a part may be there).  The upstream's vectors
 * pass as sent; numbers become base64 when the client asked it of an
 * upstream that ignored it.  A count of items other than rq->ninputs, or
 * an item with no array of numbers (nor a string, for base64), is a 502.
 * An event stream is a 502.
 */
struct phttp_embed {
	const struct prov_embed_request *rq;
	cJSON *data; /* out */
};
cJSON *prov_openai_embed_body(const struct prov_embed_request *rq);
extern const struct phttp_ops prov_openai_embed_ops;

#endif
