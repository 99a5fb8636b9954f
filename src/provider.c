/*
 * provider.c - the provider registry: api kind -> backend.
 *
 * Retries and model fallbacks wrap the backends here, so each backend is a
 * single attempt.  The same for embeddings (prov_embed), with the embedding
 * objects both of its backends build.
 */
#include "provider.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"

int prov_text(struct prov_sink *s, const char *text, size_t len)
{
	struct prov_delta d = {.content = text, .content_len = len};

	return len ? s->delta(s, &d) : 0;
}

const struct prov_usage_field prov_usage_fields[PROV_USAGE_DETAILS] = {
	[PROV_CACHED_TOKENS] = {"prompt_tokens_details", "cached_tokens"},
	[PROV_PROMPT_AUDIO_TOKENS] = {"prompt_tokens_details", "audio_tokens"},
	[PROV_CACHE_WRITE_TOKENS] = {"prompt_tokens_details", "cache_write_tokens"},
	[PROV_PROMPT_TEXT_TOKENS] = {"prompt_tokens_details", "text_tokens"},
	[PROV_PROMPT_IMAGE_TOKENS] = {"prompt_tokens_details", "image_tokens"},
	[PROV_REASONING_TOKENS] = {"completion_tokens_details", "reasoning_tokens"},
	[PROV_COMPLETION_AUDIO_TOKENS] = {"completion_tokens_details", "audio_tokens"},
	[PROV_ACCEPTED_PREDICTION_TOKENS] = {"completion_tokens_details",
					     "accepted_prediction_tokens"},
	[PROV_REJECTED_PREDICTION_TOKENS] = {"completion_tokens_details",
					     "rejected_prediction_tokens"},
	[PROV_COMPLETION_TEXT_TOKENS] = {"completion_tokens_details", "text_tokens"},
};

void prov_usage_detail_set(struct prov_usage *u, enum prov_usage_detail d, long v)
{
	u->detail[d] = v;
	u->given |= 1u << d;
}

long prov_usage_detail(const struct prov_usage *u, enum prov_usage_detail d)
{
	return u->given & (1u << d) ? u->detail[d] : 0;
}

/* The backends, by provider kind: the one place that maps a kind to code. */
static int (*const backends[])(const struct prov_request *, struct prov_sink *,
			       struct prov_result *, struct err *) = {
	[CFG_API_OPENAI] = prov_openai_run,
	[CFG_API_ANTHROPIC] = prov_anthropic_run,
	[CFG_API_COMMAND] = prov_command_run,
	[CFG_API_ECHO] = prov_echo_run,
};

/* What each kind can honour of the request fields that change an answer's
 * shape: several choices (n), logprobs, calling the client's tools. */
static const struct {
	bool choices, logprobs, tools;
} can[] = {
	[CFG_API_OPENAI] = {true, true, true},
	[CFG_API_ANTHROPIC] = {false, false, true},
	[CFG_API_COMMAND] = {false, false, false},
	[CFG_API_ECHO] = {false, false, false},
};

/* The field of params that p's kind cannot honour, or NULL. */
static const char *unsupported(const struct cfg_provider *p, const cJSON *params)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(params, "n");
	const cJSON *choice = cJSON_GetObjectItemCaseSensitive(params, "tool_choice");
	unsigned kind = (unsigned)p->api;
	const char *field = NULL;

	if (kind >= sizeof can / sizeof *can)
		return NULL;
	if (!can[kind].choices && cJSON_IsNumber(n) && n->valuedouble > 1)
		field = "n";
	else if (!can[kind].logprobs &&
		 cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(params, "logprobs")))
		field = "logprobs";
	else if (!can[kind].tools && choice &&
		 !(cJSON_IsString(choice) &&
		   (!strcmp(choice->valuestring, "none") || !strcmp(choice->valuestring, "auto"))))
		field = "tool_choice";
	return field;
}

int prov_check_params(const struct cfg_provider *p, const cJSON *params, struct err *e)
{
	const char *field = unsupported(p, params);

	if (!field)
		return 0;
	return err_set(e, 400, ERR_INVALID_REQUEST,
		       "`%s` is not supported by this agent's provider kind (%s).", field,
		       cfg_api_name(p->api));
}

/* One attempt of one model. */
static int run_once(const struct prov_request *rq, struct prov_sink *sink, struct prov_result *res,
		    struct err *e)
{
	unsigned kind = (unsigned)rq->provider->api;

	if (kind >= sizeof backends / sizeof *backends || !backends[kind])
		return err_set(e, 500, ERR_API, "Internal error: unknown provider kind.");
	return backends[kind](rq, sink, res, e);
}

long long prov_attempt_ms(const struct prov_request *rq, int timeout_seconds)
{
	long long ms = (long long)timeout_seconds * 1000;
	long long left = rq->deadline_ms ? rq->deadline_ms - clock_mono_ms() : ms;

	if (left < ms)
		ms = left;
	return ms > 0 ? ms : 1;
}

/* A failed attempt's metrics: an upstream error (502/504: the upstream's
 * fault, not the request's or the client's), and a timeout (504). */
static void count_failure(const char *provider, const struct err *e, const struct prov_result *res)
{
	if (res->cancelled || (e->status != 502 && e->status != 504))
		return;
	metrics_upstream(METRICS_UPSTREAM_ERRORS, provider);
	if (e->status == 504)
		metrics_upstream(METRICS_UPSTREAM_TIMEOUTS, provider);
}

/* Worth another attempt or the next model: the upstream's fault, not ours. */
static bool retryable(const struct err *e, const struct prov_result *res)
{
	if (res->started || res->cancelled)
		return false;
	if (e->status == 504)
		return true;
	if (e->status != 502)
		return false;
	return res->upstream_status == 0 || res->upstream_status == 429 ||
	       res->upstream_status >= 500;
}

int prov_run(const struct prov_request *rq, struct prov_sink *sink, struct prov_result *res,
	     struct err *e)
{
	struct cfg_model primary = {rq->provider, (char *)rq->model};
	struct prov_request one = *rq;

	one.started_ms = clock_mono_ms();
	one.deadline_ms = one.started_ms + (long long)rq->provider->timeout_seconds * 1000;
	for (size_t m = 0; m <= rq->nfallbacks; m++) {
		const struct cfg_model *model = m ? &rq->fallbacks[m - 1] : &primary;
		int attempts = 1 + (model->provider->retries > 0 ? model->provider->retries : 0);

		one.provider = model->provider;
		one.model = model->model;
		if (m && unsupported(model->provider, rq->params)) {
			log_warn("fallback %s/%s skipped: its kind (%s) cannot answer this "
				 "request's "
				 "shape",
				 model->provider->name, model->model,
				 cfg_api_name(model->provider->api));
			continue;
		}
		for (int a = 0; a < attempts; a++) {
			int rc;
			if (clock_mono_ms() >= one.deadline_ms && (m || a))
				return err_set(e, 504, ERR_UPSTREAM,
					       "upstream timed out after %d s (timeoutSeconds; "
					       "every attempt and fallback included)",
					       rq->provider->timeout_seconds);
			if (a)
				metrics_upstream(METRICS_UPSTREAM_RETRIES, model->provider->name);
			else if (m)
				metrics_upstream(METRICS_FALLBACKS, model->provider->name);
			memset(res, 0, sizeof *res);
			snprintf(res->finish_reason, sizeof res->finish_reason, "stop");
			err_clear(e);
			rc = run_once(&one, sink, res, e);
			if (rc < 0)
				count_failure(model->provider->name, e, res);
			if (rc == 0) {
				res->served_by = *model;
				if (m)
					log_warn("served by fallback %s/%s", model->provider->name,
						 model->model);
				return 0;
			}
			if (!retryable(e, res))
				return -1;
			log_warn("model %s/%s, attempt %d of %d failed: %s", model->provider->name,
				 model->model, a + 1, attempts, e->message);
			if (e->status == 504)
				break; /* waiting as long again on the same model rarely helps */
		}
	}
	return -1;
}

/* The embedding backends, by provider kind; a kind without one has no
 * embeddings API. */
static int (*const embedders[])(const struct prov_embed_request *, struct prov_sink *,
				struct prov_result *, cJSON **, struct err *) = {
	[CFG_API_OPENAI] = prov_openai_embed,
	[CFG_API_ECHO] = prov_echo_embed,
};

int prov_embed(const struct prov_embed_request *rq, struct prov_sink *sink, struct prov_result *res,
	       cJSON **data, struct err *e)
{
	const struct cfg_provider *pv = rq->provider;
	unsigned kind = (unsigned)pv->api;
	int attempts = 1 + (pv->retries > 0 ? pv->retries : 0);
	struct prov_embed_request one = *rq;

	*data = NULL;
	if (kind >= sizeof embedders / sizeof *embedders || !embedders[kind])
		return err_set(e, 400, ERR_INVALID_REQUEST,
			       "Embeddings are not supported by the provider kind %s (provider "
			       "'%s'): the embedding model must be an openai-completions or echo "
			       "provider's.",
			       cfg_api_name(pv->api), pv->name);
	one.started_ms = clock_mono_ms();
	one.deadline_ms = one.started_ms + (long long)pv->timeout_seconds * 1000;
	for (int a = 0; a < attempts; a++) {
		if (a && clock_mono_ms() >= one.deadline_ms)
			return err_set(e, 504, ERR_UPSTREAM,
				       "upstream timed out after %d s (timeoutSeconds; every "
				       "attempt included)",
				       pv->timeout_seconds);
		if (a)
			metrics_upstream(METRICS_UPSTREAM_RETRIES, pv->name);
		memset(res, 0, sizeof *res);
		err_clear(e);
		if (embedders[kind](&one, sink, res, data, e) == 0)
			return 0;
		count_failure(pv->name, e, res);
		cJSON_Delete(*data); /* a backend leaves none, but to be sure */
		*data = NULL;
		if (!retryable(e, res))
			return -1;
		log_warn("embedding model %s/%s, attempt %d of %d failed: %s", pv->name, rq->model,
			 a + 1, attempts, e->message);
		if (e->status == 504)
			break; /* waiting as long again rarely helps (prov_run) */
	}
	return -1;
}

/*
 * base64 (RFC 4648 section 4, padded) of n bytes, appended to out: 0, or
 * -1 when out of memory.  Written here because none of the libraries
 * clawcgi links exports an encoder (libcurl's is internal to it, and
 * libcurl is loaded only for the HTTP providers).
 */
static int base64_append(struct buf *out, const unsigned char *p, size_t n)
{
	static const char digits[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char quad[4];

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		quad[0] = digits[v >> 18 & 63];
		quad[1] = digits[v >> 12 & 63];
		quad[2] = i + 1 < n ? digits[v >> 6 & 63] : '=';
		quad[3] = i + 2 < n ? digits[v & 63] : '=';
		if (buf_append(out, quad, 4) < 0)
			return -1;
	}
	return 0;
}

cJSON *prov_embedding_value(const float *v, size_t n, bool base64)
{
	struct buf text = BUF_INIT;
	unsigned char *bytes = NULL;
	cJSON *value = NULL;
	int rc = 0;

	if (base64) {
		/* little-endian whatever the host's order, as OpenAI sends them */
		if (!(bytes = malloc(n * 4 + 1)))
			goto out;
		for (size_t i = 0; i < n; i++) {
			uint32_t u;
			memcpy(&u, &v[i], 4);
			for (int k = 0; k < 4; k++)
				bytes[i * 4 + (size_t)k] = (unsigned char)(u >> (8 * k));
		}
		if (buf_append(&text, "", 0) == 0 && base64_append(&text, bytes, n * 4) == 0)
			value = cJSON_CreateString(buf_str(&text));
		goto out;
	}
	/* printed once, as raw JSON: a cJSON number per value would take ten
	 * times the memory of the text for a large batch */
	rc = buf_append(&text, "[", 1);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = isfinite(v[i]) ? buf_printf(&text, i ? ",%.9g" : "%.9g", (double)v[i])
				    : buf_append_str(&text, i ? ",0" : "0");
	if (rc == 0 && buf_append(&text, "]", 1) == 0)
		value = cJSON_CreateRaw(text.data);
out:
	free(bytes);
	buf_free(&text);
	return value;
}

int prov_embedding_add(cJSON *data, int index, cJSON *value)
{
	cJSON *item = value ? cJSON_CreateObject() : NULL;

	if (!item || !cJSON_AddStringToObject(item, "object", "embedding") ||
	    !cJSON_AddNumberToObject(item, "index", index)) {
		cJSON_Delete(item);
		cJSON_Delete(value);
		return -1;
	}
	cJSON_AddItemToObject(item, "embedding", value);
	cJSON_AddItemToArray(data, item);
	return 0;
}
