/*
 * provider.h - the one interface every model backend implements:
 * run(request, sink).
 *
 * A provider turns a prov_request (system text, structured messages,
 * parameters) into calls on a prov_sink: start() once the upstream has
 * accepted the request (HTTP 2xx, or the command started), then delta() for
 * each piece of the answer (text, reasoning, tool calls) as it arrives.  It knows nothing of our
 * HTTP side: the sink decides whether a delta becomes an SSE chunk, a buffer, or terminal output.
 *
 * Cancellation: a sink callback returning < 0 means the client is gone; the
 * provider stops at once (aborts the transfer, kills the command) and returns
 * -1 with res->cancelled set.
 *
 * Errors before start(): a real HTTP status in e (502 unreachable or upstream
 * error, 504 timeout, 500 out of memory or no HTTP client; 499 when the
 * client left).  Errors after start(): e is filled the same way and
 * res->started tells the caller to send an error event instead.
 *
 * Embeddings are a call of their own, prov_embed (below), on the same
 * transport, retries and errors.
 */
#ifndef CLAW_PROVIDER_H
#define CLAW_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "buf.h"
#include "err.h"
#include "config.h"

/*
 * One piece of an answer as it arrives, shaped as a choice of an OpenAI
 * chat completion chunk (the OpenAI API reference, "The chat completion
 * chunk object"): any of its fields may be absent.  Pointers are valid for
 * the call only.
 */
struct prov_delta {
	int choice;	     /* the choice's index: 0 unless the client asked n > 1 */
	const char *content; /* text, UTF-8, content_len bytes (no NUL), or NULL */
	size_t content_len;
	const char *reasoning; /* reasoning text (reasoning_content), or NULL */
	size_t reasoning_len;
	const cJSON *tool_calls;   /* delta.tool_calls: [{index, id, type, function:
				      {name, arguments}}], a call's later pieces with
				      index and arguments only; or NULL */
	const cJSON *logprobs;	   /* the choice's logprobs for this piece, or NULL */
	const char *finish_reason; /* on the piece that ends the choice, else NULL */
};

struct prov_sink {
	/* Provider accepted the request.  < 0: client gone. */
	int (*start)(struct prov_sink *s);
	/* A piece of the answer.  < 0: client gone. */
	int (*delta)(struct prov_sink *s, const struct prov_delta *d);
	/* Called about once a second while the provider waits; may be NULL. */
	int (*idle)(struct prov_sink *s);
	void *ctx;
};

/* A piece of choice 0's text (len bytes; nothing when len is 0), for the
 * backends that answer in text only.  The sink's result. */
int prov_text(struct prov_sink *s, const char *text, size_t len);

struct prov_request {
	const struct cfg_provider *provider;
	const char *model; /* model id sent upstream */
	/* tried in order when the model above fails before any byte went out */
	const struct cfg_model *fallbacks;
	size_t nfallbacks;
	const char *system_text; /* agent prompt + request system messages, or NULL */
	/*
	 * The conversation, OpenAI-shaped: an array of objects with "role"
	 * ("user", "assistant" or "tool") and "content" (a string or an array
	 * of parts), plus "tool_call_id"/"name" where the client sent them.
	 * The session's history comes as stored messages (message.h): a
	 * backend that reads a field of one opens it first.
	 */
	cJSON *messages;
	const cJSON *params; /* pass-through parameters object, or NULL */
	bool stream;	     /* the client asked for a stream */
	CURL **curl;	     /* the worker thread's handle: made on first
				use (loading libcurl), then reused */
	/* Set by prov_run for the backends: when the whole request began and
	 * when it must end (clock_mono_ms, clock.h), the first model's
	 * timeoutSeconds after its start; each attempt ends by then. */
	long long started_ms, deadline_ms;
};

/* What is left of rq's deadline for an attempt whose own limit is
 * timeout_seconds, in milliseconds (at least 1). */
long long prov_attempt_ms(const struct prov_request *rq, int timeout_seconds);

/*
 * The breakdowns of an answer's token counts, as OpenAI's CompletionUsage
 * names them: the first PROV_PROMPT_DETAILS are fields of
 * prompt_tokens_details, the rest of completion_tokens_details (the names in
 * prov_usage_fields).
 */
enum prov_usage_detail {
	PROV_CACHED_TOKENS, /* prompt tokens read from the provider's cache */
	PROV_PROMPT_AUDIO_TOKENS,
	PROV_CACHE_WRITE_TOKENS, /* prompt tokens written to the cache */
	PROV_PROMPT_TEXT_TOKENS,
	PROV_PROMPT_IMAGE_TOKENS,
	PROV_PROMPT_DETAILS,
	PROV_REASONING_TOKENS = PROV_PROMPT_DETAILS,
	PROV_COMPLETION_AUDIO_TOKENS,
	PROV_ACCEPTED_PREDICTION_TOKENS,
	PROV_REJECTED_PREDICTION_TOKENS,
	PROV_COMPLETION_TEXT_TOKENS,
	PROV_USAGE_DETAILS
};

/* Detail d's object ("prompt_tokens_details" or "completion_tokens_details")
 * and field name in OpenAI's usage. */
struct prov_usage_field {
	const char *object, *field;
};
extern const struct prov_usage_field prov_usage_fields[PROV_USAGE_DETAILS];

struct prov_usage {
	long prompt_tokens; /* every token of the prompt, those read from or
			       written to a cache included */
	long completion_tokens;
	long total_tokens;
	long detail[PROV_USAGE_DETAILS]; /* meaningful where given says so */
	unsigned given;			 /* bit 1u << d: the upstream gave detail[d] */
};

/* Detail d as the upstream gave it (v: 0 .. 1e15). */
void prov_usage_detail_set(struct prov_usage *u, enum prov_usage_detail d, long v);
/* Detail d, 0 when the upstream did not give it. */
long prov_usage_detail(const struct prov_usage *u, enum prov_usage_detail d);

struct prov_result {
	char finish_reason[16]; /* "stop" unless the provider says otherwise */
	struct prov_usage usage;
	bool started;		    /* sink->start() was called and succeeded */
	bool cancelled;		    /* a sink callback reported the client gone */
	int upstream_status;	    /* the upstream's HTTP error status, 0 if none */
	struct cfg_model served_by; /* set by prov_run: the model that answered (its
				     * provider NULL until one did; both point into
				     * the config) */
};

/*
 * Run the request: each model (rq's, then its fallbacks) gets 1 + its
 * provider's `retries` attempts, as long as nothing reached the client and
 * the failure is the upstream's (unreachable, HTTP 429 or 5xx; after a
 * timeout the next model is tried, not the same one again).  The first
 * model's timeoutSeconds bounds the whole run, every attempt included: once
 * it is spent, the answer is 504.
 * Another 4xx is reported at once: it is the operator's error.  A fallback
 * whose kind cannot honour the request's shape (prov_check_params) is
 * skipped, with a warning in the log.  Returns 0,
 * or -1 with the last error in e.
 */
int prov_run(const struct prov_request *rq, struct prov_sink *sink, struct prov_result *res,
	     struct err *e);

/*
 * Whether p's kind can honour what params ask for that changes the
 * answer's shape: n > 1 and logprobs need an openai-completions provider,
 * tool_choice "required" or a named tool a provider that calls tools.
 * Returns 0, or -1 with e: 400 naming the field and the kind.
 */
int prov_check_params(const struct cfg_provider *p, const cJSON *params, struct err *e);

/*
 * Embeddings (POST /v1/embeddings; the OpenAI API reference, "Create
 * embeddings"): one model, no fallbacks, no stream.  Only the
 * openai-completions and echo kinds have them.
 */
#define PROV_EMBED_MAX_ITEMS 2048	/* items of any one `input` array */
#define PROV_EMBED_MAX_DIMENSIONS 65536 /* `dimensions`, a bound against nonsense */

struct prov_embed_request {
	const struct cfg_provider *provider;
	const char *model; /* model id sent upstream */
	/*
	 * The client's `input`, already checked (embeddings.c): a non-empty
	 * string, an array of 1-2048 token ids (one input), or an array of
	 * 1-2048 items that are all non-empty strings or all non-empty arrays
	 * of token ids.  A token id is an integer from 0 to INT32_MAX.
	 */
	const cJSON *input;
	size_t ninputs;			   /* the inputs in it: 1, or the array's items */
	const char *encoding_format;	   /* "float", "base64", or NULL when not given */
	int dimensions;			   /* 1-PROV_EMBED_MAX_DIMENSIONS, 0 when not given */
	CURL **curl;			   /* the worker thread's handle, as in prov_request */
	long long started_ms, deadline_ms; /* set by prov_embed, as by prov_run */
};

/*
 * Compute the embeddings of rq: the provider's 1 + `retries` attempts
 * within its timeoutSeconds, retried as prov_run retries (unreachable, 429,
 * 5xx, before the upstream accepted).  Only sink->idle is called (about
 * once a second while waiting; < 0 cancels, as in prov_run).  res: usage
 * (prompt_tokens, total_tokens), started, cancelled, upstream_status.
 * Returns 0 with *data a new array of rq->ninputs OpenAI embedding objects
 * {"object":"embedding","index","embedding"}, each embedding an array of
 * numbers or, when rq asks "base64", a base64 string of little-endian
 * float32 values; the caller owns *data.  Or -1 with *data NULL and e: 400
 * for a provider kind with no embeddings (naming it) or an echo request
 * past its size; 502/504/499/500 as prov_run's.
 */
int prov_embed(const struct prov_embed_request *rq, struct prov_sink *sink, struct prov_result *res,
	       cJSON **data, struct err *e);

/*
 * One embedding value from n floats: a JSON array of the numbers (each
 * printed with the 9 significant digits that give back the same float; one
 * that is not finite as 0), or with base64 the standard base64 (RFC 4648,
 * padded) of their little-endian float32 bytes.  A new item (a raw one for
 * the array) for the caller; NULL when out of memory.
 */
cJSON *prov_embedding_value(const float *v, size_t n, bool base64);

/* Append {"object":"embedding","index":index,"embedding":value} to data;
 * takes value (also on failure).  0, or -1 when out of memory. */
int prov_embedding_add(cJSON *data, int index, cJSON *value);

/* Backends (one file each). Same contract as prov_run. */
int prov_echo_run(const struct prov_request *rq, struct prov_sink *sink, struct prov_result *res,
		  struct err *e);
int prov_openai_run(const struct prov_request *rq, struct prov_sink *sink, struct prov_result *res,
		    struct err *e);
int prov_anthropic_run(const struct prov_request *rq, struct prov_sink *sink,
		       struct prov_result *res, struct err *e);
int prov_command_run(const struct prov_request *rq, struct prov_sink *sink, struct prov_result *res,
		     struct err *e);

/* Embedding backends: one attempt each, the contract of prov_embed. */
int prov_openai_embed(const struct prov_embed_request *rq, struct prov_sink *sink,
		      struct prov_result *res, cJSON **data, struct err *e);
int prov_echo_embed(const struct prov_embed_request *rq, struct prov_sink *sink,
		    struct prov_result *res, cJSON **data, struct err *e);

#endif
