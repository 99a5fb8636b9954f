/* Unit tests of embeddings (src/embeddings.c and the embedding halves of
 * src/provider.c, src/provider_echo.c, src/provider_openai.c): the request
 * body's checks, the embedding values (numbers and base64), the echo
 * provider's vectors, and the openai-completions body and answer mapping,
 * with no network. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "embeddings.h"
#include "provider_http.h"

static struct cfg_provider echo = {.name = "echo", .api = CFG_API_ECHO, .timeout_seconds = 5};
static struct cfg_provider openai = {.name = "fake", .api = CFG_API_OPENAI};
static struct cfg_provider claude = {.name = "claude", .api = CFG_API_ANTHROPIC};

/* The message of parsing body: "" when it parses. */
static const char *parse_error(const char *body)
{
	static struct err e;
	struct embeddings_request rq;
	int rc;

	err_clear(&e);
	rc = embeddings_request_parse(body, strlen(body), &rq, &e);
	embeddings_request_free(&rq);
	return rc == 0 ? "" : e.message;
}

/* A body whose input is n copies of item (JSON text). */
static char *many(int n, const char *item)
{
	size_t len = strlen(item) + 1;
	char *s = malloc(16 + (size_t)n * len), *p = s;

	p += sprintf(p, "{\"input\":[");
	for (int i = 0; i < n; i++)
		p += sprintf(p, "%s%s", i ? "," : "", item);
	strcpy(p, "]}");
	return s;
}

static void request_checks(void)
{
	struct embeddings_request rq;
	struct err e;
	char *big;

	err_clear(&e);
	CHECK_INT(embeddings_request_parse("{\"input\":\"hi\"}", 14, &rq, &e), 0,
		  "a string parses");
	CHECK_STR(rq.model, "openclaw", "no model is \"openclaw\", as for chat");
	CHECK_INT(rq.ninputs, 1, "a string is one input");
	CHECK(rq.encoding_format == NULL && rq.dimensions == 0, "no format, no dimensions");
	embeddings_request_free(&rq);

	const char *full = "{\"model\":\"openclaw:e\",\"input\":[[1,2],[3]],\"encoding_format\":"
			   "\"base64\",\"dimensions\":256,\"user\":\"u\",\"extra\":1}";
	CHECK_INT(embeddings_request_parse(full, strlen(full), &rq, &e), 0, "every field parses");
	CHECK_STR(rq.model, "openclaw:e", "model kept");
	CHECK_INT(rq.ninputs, 2, "two token arrays are two inputs");
	CHECK_STR(rq.encoding_format, "base64", "encoding_format kept");
	CHECK_INT(rq.dimensions, 256, "dimensions kept");
	CHECK(cJSON_IsArray(rq.input), "input points at the array");
	embeddings_request_free(&rq);

	CHECK_INT(embeddings_request_parse("{\"input\":[5,6,7]}", 17, &rq, &e), 0,
		  "token ids parse");
	CHECK_INT(rq.ninputs, 1, "an array of token ids is one input");
	embeddings_request_free(&rq);

	const char *nulls = "{\"model\":null,\"input\":[\"a\",\"b\",\"c\"],\"encoding_format\":"
			    "null,\"dimensions\":null,\"user\":null}";
	CHECK_INT(embeddings_request_parse(nulls, strlen(nulls), &rq, &e), 0,
		  "null fields are absent ones");
	CHECK_INT(rq.ninputs, 3, "three strings are three inputs");
	embeddings_request_free(&rq);

	CHECK_STR(parse_error("{}"),
		  "Missing `input`: a string, an array of strings, or an array of token ids (or "
		  "of such arrays).",
		  "no input");
	CHECK_STR(parse_error("{\"input\":\"\"}"), "`input` must not be an empty string.",
		  "an empty string");
	CHECK_STR(parse_error("{\"input\":[]}"), "`input` must not be an empty array.",
		  "an empty array");
	CHECK_STR(parse_error("{\"input\":7}"),
		  "`input` must be a string, an array of strings, or an array of token ids (or "
		  "of such arrays).",
		  "a number");
	CHECK_STR(parse_error("{\"input\":[\"a\",\"b\",\"c\",false]}"),
		  "`input[3]` must be a string or an array of token ids.", "a boolean item");
	CHECK_STR(parse_error("{\"input\":[\"a\",\"\"]}"),
		  "`input[1]` must not be an empty string.", "an empty string item");
	CHECK_STR(parse_error("{\"input\":[\"a\",[1]]}"),
		  "`input[1]` must be a string, as `input[0]` is: one request embeds strings or "
		  "token arrays, not both.",
		  "strings then a token array");
	CHECK_STR(parse_error("{\"input\":[[1],\"a\"]}"),
		  "`input[1]` must be an array of token ids, as `input[0]` is: one request "
		  "embeds strings or token arrays, not both.",
		  "a token array then a string");
	CHECK_STR(parse_error("{\"input\":[[1],[]]}"), "`input[1]` must not be an empty array.",
		  "an empty token array");
	CHECK_STR(parse_error("{\"input\":[[1],[2,-1]]}"),
		  "`input[1][1]` must be a token id (an integer from 0 to 2147483647).",
		  "a negative token id");
	CHECK_STR(parse_error("{\"input\":[2147483648]}"),
		  "`input[0]` must be a token id (an integer from 0 to 2147483647).",
		  "a token id past int32");
	CHECK_STR(parse_error("{\"input\":[1,0.5]}"),
		  "`input[1]` must be a token id (an integer from 0 to 2147483647).", "a fraction");
	CHECK_STR(parse_error("{\"input\":[1,1e400]}"),
		  "`input[1]` must be a token id (an integer from 0 to 2147483647).",
		  "an infinity");
	CHECK_STR(parse_error("{\"input\":[0,2147483647]}"), "", "the extreme token ids pass");

	big = many(2048, "\"w\"");
	CHECK_STR(parse_error(big), "", "2048 strings pass");
	free(big);
	big = many(2049, "\"w\"");
	CHECK_STR(parse_error(big), "`input` must have at most 2048 items.", "2049 strings");
	free(big);
	big = many(2049, "1");
	CHECK_STR(parse_error(big), "`input` must have at most 2048 items.", "2049 token ids");
	free(big);

	CHECK_STR(parse_error("{\"input\":\"a\",\"encoding_format\":\"int8\"}"),
		  "`encoding_format` must be \"float\" or \"base64\".", "an unknown format");
	CHECK_STR(parse_error("{\"input\":\"a\",\"encoding_format\":[]}"),
		  "`encoding_format` must be \"float\" or \"base64\".",
		  "a format that is no string");
	CHECK_STR(parse_error("{\"input\":\"a\",\"dimensions\":0}"),
		  "`dimensions` must be an integer from 1 to 65536.", "dimensions 0");
	CHECK_STR(parse_error("{\"input\":\"a\",\"dimensions\":65537}"),
		  "`dimensions` must be an integer from 1 to 65536.", "dimensions past the bound");
	CHECK_STR(parse_error("{\"input\":\"a\",\"dimensions\":2.5}"),
		  "`dimensions` must be an integer from 1 to 65536.", "fractional dimensions");
	CHECK_STR(parse_error("{\"input\":\"a\",\"dimensions\":\"8\"}"),
		  "`dimensions` must be an integer from 1 to 65536.", "dimensions as a string");
	CHECK_STR(parse_error("{\"input\":\"a\",\"dimensions\":65536}"), "",
		  "dimensions at the bound");
	CHECK_STR(parse_error("{\"input\":\"a\",\"user\":1}"), "`user` must be a string.",
		  "a user that is no string");
	CHECK_STR(parse_error("{\"input\":\"a\",\"model\":{}}"), "`model` must be a string.",
		  "a model that is no string");
	CHECK_STR(parse_error("{\"input\":\"a\"} x"),
		  "The request body is not valid JSON: something follows its value (at byte 14).",
		  "the body is json_body_parse's");
}

/* The text of an embedding value (a raw array's, or a string's). */
static const char *text_of(const cJSON *v)
{
	return cJSON_IsRaw(v) || cJSON_IsString(v) ? v->valuestring : NULL;
}

static void value_checks(void)
{
	const float one[] = {1.0f}, two[] = {1.0f, -2.5f}, three[] = {1.0f, -2.5f, 0.1f};
	const float odd[] = {0.1f, NAN};
	cJSON *v, *data = cJSON_CreateArray();
	char *s;

	/* expected values from Python: base64.b64encode(struct.pack("<3f", ...)) */
	v = prov_embedding_value(one, 1, true);
	CHECK_STR(text_of(v), "AACAPw==", "base64 of one float: two '='");
	cJSON_Delete(v);
	v = prov_embedding_value(two, 2, true);
	CHECK_STR(text_of(v), "AACAPwAAIMA=", "base64 of two floats: one '='");
	cJSON_Delete(v);
	v = prov_embedding_value(three, 3, true);
	CHECK_STR(text_of(v), "AACAPwAAIMDNzMw9", "base64 of three floats: no '='");
	cJSON_Delete(v);
	v = prov_embedding_value(three, 3, false);
	CHECK_STR(text_of(v), "[1,-2.5,0.100000001]", "numbers: the float's 9 digits");
	cJSON_Delete(v);
	v = prov_embedding_value(odd, 2, false);
	CHECK_STR(text_of(v), "[0.100000001,0]", "a NaN is written as 0, never as nan");

	CHECK_INT(prov_embedding_add(data, 4, v), 0, "an embedding object is added");
	s = cJSON_PrintUnformatted(data);
	CHECK_STR(s, "[{\"object\":\"embedding\",\"index\":4,\"embedding\":[0.100000001,0]}]",
		  "the embedding object's shape");
	free(s);
	cJSON_Delete(data);
}

/* Embed input (JSON text) with p: the call's status (0 for success), and
 * *data (NULL on failure). */
static int embed(const struct cfg_provider *p, const char *input, const char *format, int dims,
		 cJSON **data, struct prov_result *res, struct err *e)
{
	struct embeddings_request rq;
	char body[512];
	int rc;

	snprintf(body, sizeof body, "{\"input\":%s}", input);
	err_clear(e);
	*data = NULL;
	if (embeddings_request_parse(body, strlen(body), &rq, e) < 0) {
		embeddings_request_free(&rq);
		return -1;
	}
	struct prov_embed_request erq = {
		.provider = p,
		.model = "m",
		.input = rq.input,
		.ninputs = rq.ninputs,
		.encoding_format = format,
		.dimensions = dims,
	};
	rc = prov_embed(&erq, NULL, res, data, e);
	embeddings_request_free(&rq);
	return rc < 0 ? e->status : 0;
}

static const cJSON *vector_of(const cJSON *data, int i)
{
	return cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(data, i), "embedding");
}

/* The numbers of a raw array value, parsed; n of them. */
static int numbers(const cJSON *raw, double *out, int max)
{
	cJSON *a = cJSON_Parse(text_of(raw));
	const cJSON *x;
	int n = 0;

	cJSON_ArrayForEach(x, a) {
		if (n < max)
			out[n] = x->valuedouble;
		n++;
	}
	cJSON_Delete(a);
	return n;
}

static void echo_checks(void)
{
	struct prov_result res;
	struct err e;
	cJSON *a, *b;
	double x[1536], sum = 0;
	int n;

	CHECK_INT(embed(&echo, "\"hello\"", NULL, 0, &a, &res, &e), 0, "echo embeds a string");
	/* from the recipe in README, run in Python */
	CHECK_STR(text_of(vector_of(a, 0)),
		  "[0.491759956,0.129077941,-0.357146502,-0.218820482,-0.15156363,-0.506801367,"
		  "0.349188626,0.405367941]",
		  "echo: \"hello\" is the recipe's vector, 8 numbers");
	CHECK_INT(res.usage.prompt_tokens, 1, "echo: one word");
	CHECK_INT(res.usage.total_tokens, 1, "echo: total as prompt");
	cJSON_Delete(a);

	CHECK_INT(embed(&echo, "\"hello\"", "base64", 0, &a, &res, &e), 0, "echo, base64");
	CHECK_STR(text_of(vector_of(a, 0)), "9sf7PgItBD7o27a+ehJgvn8zG768vQG/2siyPmOMzz4=",
		  "echo: base64 is the same float32s, little-endian");
	cJSON_Delete(a);

	CHECK_INT(embed(&echo, "[\"x y\",\"x  y\",\"x y \"]", NULL, 1536, &a, &res, &e), 0,
		  "echo with dimensions");
	n = numbers(vector_of(a, 0), x, 1536);
	CHECK_INT(n, 1536, "echo: dimensions numbers");
	for (int i = 0; i < n; i++)
		sum += x[i] * x[i];
	CHECK(fabs(sum - 1) < 1e-5, "echo: the vector has length 1");
	CHECK(strcmp(text_of(vector_of(a, 0)), text_of(vector_of(a, 1))),
	      "echo: different text, different vector");
	CHECK_INT(res.usage.prompt_tokens, 6, "echo: whitespace-separated words");
	cJSON_Delete(a);

	CHECK_INT(embed(&echo, "[[1,2,3],[4]]", NULL, 0, &a, &res, &e), 0, "echo token arrays");
	CHECK_INT(embed(&echo, "[\"1 2 3\",\"4\"]", NULL, 0, &b, &res, &e), 0, "echo their text");
	CHECK_STR(text_of(vector_of(a, 0)), text_of(vector_of(b, 0)),
		  "echo: a token array is its ids joined by spaces");
	CHECK_STR(text_of(vector_of(a, 1)), text_of(vector_of(b, 1)), "echo: one id too");
	CHECK_INT(cJSON_GetNumberValue(
			  cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(a, 1), "index")),
		  1, "echo: indexes in order");
	cJSON_Delete(a);
	cJSON_Delete(b);
	CHECK_INT(embed(&echo, "[[1,2,3],[4]]", NULL, 0, &a, &res, &e), 0, "echo again");
	CHECK_INT(res.usage.prompt_tokens, 4, "echo: token ids counted");
	cJSON_Delete(a);

	/* 17 x 65536 numbers */
	CHECK_INT(embed(&echo,
			"[[1],[2],[3],[4],[5],[6],[7],[8],[9],[10],[11],[12],[13],[14],[15],"
			"[16],[17]]",
			NULL, 65536, &a, &res, &e),
		  400, "echo: past 2^20 numbers is a 400");
	CHECK(strstr(e.message, "at most 1048576 numbers") != NULL, "echo: the 400 says why");
	CHECK(a == NULL, "echo: no data after a failure");

	CHECK_INT(embed(&claude, "\"hi\"", NULL, 0, &a, &res, &e), 400, "anthropic-messages: 400");
	CHECK(strstr(e.message, "provider kind anthropic-messages (provider 'claude')") != NULL,
	      "anthropic-messages: the 400 names the kind and the provider");
	CHECK(e.type == ERR_INVALID_REQUEST, "anthropic-messages: invalid_request_error");
}

/* An openai-completions call's halves, without the transport. */
struct oa {
	struct prov_embed_request rq;
	struct embeddings_request parsed;
	struct phttp_embed call;
	struct prov_result res;
	struct err e;
	struct phttp h;
};

static void oa_init(struct oa *o, const char *input, const char *format, int dims)
{
	char body[256];

	memset(o, 0, sizeof *o);
	snprintf(body, sizeof body, "{\"input\":%s}", input);
	embeddings_request_parse(body, strlen(body), &o->parsed, &o->e);
	o->rq = (struct prov_embed_request){
		.provider = &openai,
		.model = "embed-m",
		.input = o->parsed.input,
		.ninputs = o->parsed.ninputs,
		.encoding_format = format,
		.dimensions = dims,
	};
	o->call.rq = &o->rq;
	o->h.res = &o->res;
	o->h.e = &o->e;
	o->h.ctx = &o->call;
}

static void oa_free(struct oa *o)
{
	cJSON_Delete(o->call.data);
	embeddings_request_free(&o->parsed);
}

/* The answer json through the ops: their return. */
static int oa_answer(struct oa *o, const char *json)
{
	cJSON *j = cJSON_Parse(json);
	int rc = prov_openai_embed_ops.answer(&o->h, j);

	cJSON_Delete(j);
	return rc;
}

static void openai_checks(void)
{
	struct oa o;
	cJSON *body;
	char *s;

	oa_init(&o, "[\"a\",\"b\"]", NULL, 0);
	body = prov_openai_embed_body(&o.rq);
	s = cJSON_PrintUnformatted(body);
	CHECK_STR(s, "{\"model\":\"embed-m\",\"input\":[\"a\",\"b\"]}",
		  "openai body: model and input only");
	free(s);
	cJSON_Delete(body);
	oa_free(&o);

	oa_init(&o, "[[1,2]]", "base64", 64);
	body = prov_openai_embed_body(&o.rq);
	s = cJSON_PrintUnformatted(body);
	CHECK_STR(s,
		  "{\"model\":\"embed-m\",\"input\":[[1,2]],\"encoding_format\":\"base64\","
		  "\"dimensions\":64}",
		  "openai body: encoding_format and dimensions when given");
	free(s);
	cJSON_Delete(body);
	oa_free(&o);

	oa_init(&o, "[\"a\",\"b\"]", NULL, 0);
	CHECK_INT(oa_answer(&o,
			    "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":1,"
			    "\"embedding\":[0.25,-1e-05]},{\"index\":0,\"embedding\":[3,4]}],"
			    "\"usage\":{\"prompt_tokens\":4,\"total_tokens\":5}}"),
		  0, "openai answer: taken");
	s = cJSON_PrintUnformatted(o.call.data);
	CHECK_STR(s,
		  "[{\"object\":\"embedding\",\"index\":1,\"embedding\":[0.25,-1e-05]},{\"object\":"
		  "\"embedding\",\"index\":0,\"embedding\":[3,4]}]",
		  "openai answer: vectors and indexes as sent");
	free(s);
	CHECK_INT(o.res.usage.prompt_tokens, 4, "openai answer: prompt_tokens");
	CHECK_INT(o.res.usage.total_tokens, 5, "openai answer: total_tokens");
	oa_free(&o);

	oa_init(&o, "\"a\"", "base64", 0);
	CHECK_INT(oa_answer(&o, "{\"data\":[{\"index\":0,\"embedding\":\"AACAPw==\"}]}"), 0,
		  "openai answer: base64 taken");
	CHECK_STR(text_of(vector_of(o.call.data, 0)), "AACAPw==", "openai answer: base64 as sent");
	oa_free(&o);

	oa_init(&o, "\"a\"", "base64", 0);
	CHECK_INT(oa_answer(&o, "{\"data\":[{\"index\":0,\"embedding\":[1,-2.5]}]}"), 0,
		  "openai answer: numbers to a base64 request taken");
	CHECK_STR(text_of(vector_of(o.call.data, 0)),
		  "AACAPwAAIMA=", "openai answer: numbers become base64 when it was asked");
	oa_free(&o);

	oa_init(&o, "\"a\"", "float", 0);
	CHECK_INT(oa_answer(&o, "{\"data\":[{\"index\":0,\"embedding\":\"AACAPw==\"}]}"), -1,
		  "openai answer: base64 to a float request is refused");
	CHECK_INT(o.e.status, 502, "openai answer: that is a 502");
	CHECK(o.e.type == ERR_UPSTREAM, "openai answer: upstream_error");
	oa_free(&o);

	oa_init(&o, "[\"a\",\"b\"]", NULL, 0);
	CHECK_INT(oa_answer(&o, "{\"data\":[{\"index\":0,\"embedding\":[1]}]}"), -1,
		  "openai answer: too few vectors refused");
	CHECK_STR(o.e.message, "upstream sent 1 embeddings for 2 inputs",
		  "openai answer: the count in the message");
	oa_free(&o);

	oa_init(&o, "\"a\"", NULL, 0);
	CHECK_INT(oa_answer(&o, "{\"data\":[{\"index\":0,\"embedding\":[1,\"x\"]}]}"), -1,
		  "openai answer: a vector with a string refused");
	CHECK_STR(o.e.message,
		  "upstream sent malformed data (data[0].embedding is no array of numbers)",
		  "openai answer: the item in the message");
	oa_free(&o);

	oa_init(&o, "\"a\"", NULL, 0);
	CHECK_INT(oa_answer(&o, "{\"data\":[{\"index\":0,\"embedding\":[]}]}"), -1,
		  "openai answer: an empty vector refused");
	oa_free(&o);

	oa_init(&o, "\"a\"", NULL, 0);
	CHECK_INT(oa_answer(&o, "{\"error\":\"x\"}"), -1, "openai answer: no data refused");
	CHECK_INT(o.e.status, 502, "openai answer: no data is a 502");
	oa_free(&o);

	oa_init(&o, "\"a\"", NULL, 0);
	{
		cJSON *j = cJSON_Parse("{\"data\":[]}");
		CHECK(prov_openai_embed_ops.event(&o.h, "", j) != 0,
		      "openai: an event stream stops the transfer");
		CHECK_INT(o.e.status, 502, "openai: an event stream is a 502");
		cJSON_Delete(j);
	}
	oa_free(&o);
}

int main(void)
{
	request_checks();
	value_checks();
	echo_checks();
	openai_checks();
	return check_done();
}
