/*
 * provider.c - the provider registry: api kind -> backend, and helpers
 * every backend shares.
 *
 * Retries and model fallbacks will wrap prov_run here, so backends stay a
 * single attempt each.
 */
#include "provider.h"

#include <string.h>

int prov_content_text(const cJSON *content, struct buf *out)
{
	const cJSON *part;
	bool first = true;

	if (cJSON_IsString(content))
		return buf_append_str(out, content->valuestring);
	if (!cJSON_IsArray(content))
		return 0;
	cJSON_ArrayForEach(part, content) {
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type");
		const cJSON *text = cJSON_GetObjectItemCaseSensitive(part, "text");
		if (!cJSON_IsString(type) || !cJSON_IsString(text))
			continue;
		if (strcmp(type->valuestring, "text") && strcmp(type->valuestring, "input_text"))
			continue;
		if ((!first && buf_append(out, "\n", 1) < 0) ||
		    buf_append_str(out, text->valuestring) < 0)
			return -1;
		first = false;
	}
	return 0;
}

int prov_run(const struct prov_request *rq, struct prov_sink *sink,
	     struct prov_result *res, struct err *e)
{
	switch (rq->provider->api) {
	case CFG_API_ECHO:
		return prov_echo_run(rq, sink, res, e);
	case CFG_API_OPENAI:
		return prov_openai_run(rq, sink, res, e);
	case CFG_API_ANTHROPIC:
	case CFG_API_COMMAND:
		break;
	}
	err_set(e, 502, "upstream_error",
		"Provider '%s' (%s) is not supported by this build yet.",
		rq->provider->name, cfg_api_name(rq->provider->api));
	return -1;
}
