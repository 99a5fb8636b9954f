#!/bin/sh
test_description='the wire against OpenAI'"'"'s own schemas: every endpoint'"'"'s answers, chunks, events and error statuses validated by Ajv against tests/conformance/openapi-schemas.json'
# The answers are clawcgi's own, the same behind every server; behind
# lighttpd and CGI, the two ways clawcgi reads requests and writes answers.
# servers: lighttpd cgi
. ./lib.sh

CONF_DIR=$srcdir/tests/conformance
if ! command -v node >/dev/null 2>&1; then
	echo "not ok - node is installed (apt-get install nodejs npm)"
	exit 1
fi
installed() { [ -f "$1/node_modules/ajv/dist/2020.js" ]; }
npm_install "$CONF_DIR" "ajv (tests/conformance/package.json)" installed
CONF_DIR=$NPM_DIR

start_upstream
conf() { # conf FILE STORE
	write_config "$1" <<CONF
{
  gateway: { auth: { mode: "keys", rateLimit: { maxAttempts: 2 } },
             http: { endpoints: { chatCompletions: { enabled: true, maxBodyBytes: 8192 },
                                  responses: { enabled: true } } } },
  agents: { list: [
    { id: "main", default: true, model: "fake/gpt-test", embeddingModel: "fake/embed-test" },
    { id: "beta", model: "echo/echo" },
    { id: "tools", model: "fake/tools" },
    { id: "reason", model: "fake/reason" },
    { id: "length", model: "fake/length" },
    { id: "cut", model: "fake/cut" },
    { id: "broken", model: "fake/error-500" },
    { id: "hang", model: "slowp/hang" },
    { id: "drip", model: "slowp/drip" },
  ] },
  models: { providers: {
    fake: { api: "openai-completions", baseUrl: "@UPSTREAM@", apiKey: "sk-test-upstream-key", retries: 0 },
    slowp: { api: "openai-completions", baseUrl: "@UPSTREAM@", timeoutSeconds: 1, retries: 0 },
    echo: { api: "echo" },
  } },
  session: { store: "$2" },
}
CONF
}
conf "$T/clawcgi.json5" "@STORE@"
# a store that cannot be opened (its folder is a file): 500 for a turn that keeps a session
: >"$T/not-a-folder"
conf "$T/badstore.json5" "@T@/not-a-folder/sessions.db"
start_stack "$T/clawcgi.json5"

keys() { "$CLAWCGI_BIN" keys --config "$T/clawcgi.json5" "$@"; }
for k in all mainonly; do
	case $k in mainonly) set -- --agents main ;; *) set -- ;; esac
	keys create --name "$k" "$@" >"$T/key.$k" 2>"$T/key.$k.err" ||
		_bail "keys create --name $k" "$T/key.$k.err"
done
keys create --name rpm1 --rpm 1 >"$T/key.rpm1" 2>/dev/null || _bail "keys create --name rpm1"
tok=$(cat "$T/key.all")

# Each case keeps its answer for the validator: $T/conf/N, one line of
# $T/manifest (NAME, KIND, FILE, SCHEMA; see tests/conformance/validate.mjs).
mkdir -p "$T/conf"
: >"$T/manifest"
keep() { # keep NAME KIND [SCHEMA]
	_f=$T/conf/$(wc -l <"$T/manifest" | tr -d ' ')
	cp "$T/last.body" "$_f" &&
		printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$_f" "${3:-}" >>"$T/manifest"
}
# from_base64: the last answer'"'"'s base64 embeddings (each a string) as the
# float arrays they encode.  The reference'"'"'s Embedding schema has only the
# number array, though it documents encoding_format base64 as returning a
# string; decoded, the rest of the answer is checked all the same.
from_base64() {
	python3 - "$T/last.body" <<'PY'
import base64, json, struct, sys
b = json.load(open(sys.argv[1]))
for d in b["data"]:
    assert isinstance(d["embedding"], str), "embedding %r is not a base64 string" % (d["embedding"],)
    raw = base64.b64decode(d["embedding"])
    d["embedding"] = list(struct.unpack("<%df" % (len(raw) // 4), raw))
json.dump(b, open(sys.argv[1], "w"))
PY
}
msg() { printf '{"model":"%s","messages":[{"role":"user","content":"%s"}]%s}' "$1" "$2" "${3:-}"; }
inp() { printf '{"model":"%s","input":"%s"%s}' "$1" "$2" "${3:-}"; }
tools='"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]'
rtools='"tools":[{"type":"function","name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}]'

# ---- /v1/chat/completions ----
test_expect 'chat completions: the answers of every kind are kept' '
	post /v1/chat/completions "$tok" "$(msg openclaw hello)" && expect_status 200 &&
	keep "chat completion" json CreateChatCompletionResponse &&
	post /v1/chat/completions "$tok" "$(msg openclaw:tools weather? ",$tools")" && expect_status 200 &&
	expect_json ".choices[0].finish_reason" tool_calls &&
	keep "chat completion with tool calls" json CreateChatCompletionResponse &&
	post /v1/chat/completions "$tok" "$(msg openclaw:reason hi)" && expect_status 200 &&
	keep "chat completion with reasoning" json CreateChatCompletionResponse &&
	post /v1/chat/completions "$tok" "$(msg openclaw hi ",\"logprobs\":true,\"n\":2")" && expect_status 200 &&
	keep "chat completion with logprobs, n 2" json CreateChatCompletionResponse &&
	stream /v1/chat/completions "$tok" "$(msg openclaw hi ",\"stream\":true,\"stream_options\":{\"include_usage\":true}")" &&
	expect_status 200 && keep "chat stream" chat-sse &&
	stream /v1/chat/completions "$tok" "$(msg openclaw:tools weather? ",\"stream\":true,$tools")" &&
	expect_status 200 && keep "chat stream with tool calls" chat-sse &&
	stream /v1/chat/completions "$tok" "$(msg openclaw:reason hi ",\"stream\":true,\"logprobs\":true")" &&
	expect_status 200 && keep "chat stream with reasoning and logprobs" chat-sse &&
	stream /v1/chat/completions "$tok" "$(msg openclaw:cut hi ",\"stream\":true")" &&
	expect_status 200 && grep -q "\"error\"" "$T/last.body" &&
	keep "chat stream failing mid-way" chat-sse &&
	stream /v1/chat/completions "$tok" "$(msg openclaw:drip hi ",\"stream\":true")" &&
	expect_status 200 && grep -q "\"error\"" "$T/last.body" &&
	keep "chat stream timing out mid-way" chat-sse
'

# ---- /v1/responses ----
test_expect 'responses: the answers of every kind are kept' '
	post /v1/responses "$tok" "$(inp openclaw hello)" && expect_status 200 && json_get .id >"$T/resp.id" &&
	keep "response" json Response &&
	post /v1/responses "$tok" "$(inp openclaw:tools weather? ",$rtools")" && expect_status 200 &&
	keep "response with a function call" json Response &&
	post /v1/responses "$tok" "$(inp openclaw:reason hi)" && expect_status 200 &&
	keep "response with reasoning" json Response &&
	post /v1/responses "$tok" "$(inp openclaw:length hi ",\"max_output_tokens\":16")" && expect_status 200 &&
	expect_json .status incomplete && keep "response cut by max_output_tokens" json Response &&
	stream /v1/responses "$tok" "$(inp openclaw hi ",\"stream\":true")" && expect_status 200 &&
	keep "response stream" responses-sse &&
	stream /v1/responses "$tok" "$(inp openclaw:tools weather? ",\"stream\":true,$rtools")" &&
	expect_status 200 && keep "response stream with a function call" responses-sse &&
	stream /v1/responses "$tok" "$(inp openclaw:reason hi ",\"stream\":true")" && expect_status 200 &&
	keep "response stream with reasoning" responses-sse &&
	stream /v1/responses "$tok" "$(inp openclaw:length hi ",\"stream\":true,\"max_output_tokens\":16")" &&
	expect_status 200 && keep "response stream cut by max_output_tokens" responses-sse &&
	stream /v1/responses "$tok" "$(inp openclaw:cut hi ",\"stream\":true")" && expect_status 200 &&
	grep -q "response.failed" "$T/last.body" && keep "response stream failing mid-way" responses-sse &&
	stream /v1/responses "$tok" "$(inp openclaw:drip hi ",\"stream\":true")" && expect_status 200 &&
	grep -q "response.failed" "$T/last.body" && keep "response stream timing out mid-way" responses-sse
'
test_expect 'GET and DELETE /v1/responses/{id}: the answers are kept' '
	id=$(cat "$T/resp.id") &&
	get "/v1/responses/$id" "$tok" && expect_status 200 &&
	keep "GET /v1/responses/{id}" json Response &&
	_curl DELETE "/v1/responses/$id" "$tok" "" && expect_status 200 && expect_json .deleted true &&
	expect_json .id "$id" &&
	get "/v1/responses/$id" "$tok" && expect_status 404 &&
	keep "404 for a deleted response" json ErrorResponse &&
	_curl DELETE "/v1/responses/$id" "$tok" "" && expect_status 404 &&
	keep "404 for DELETE of a deleted response" json ErrorResponse
'

# what a schema lets through but the reference says otherwise
test_expect 'Responses: a message cut by max_output_tokens is status incomplete (JSON, output_item.done, response.incomplete)' '
	post /v1/responses "$tok" "$(inp openclaw:length hi ",\"max_output_tokens\":16")" && expect_status 200 &&
	expect_json .status incomplete && expect_json ".output[0].type" message &&
	expect_json ".output[0].status" incomplete &&
	stream /v1/responses "$tok" "$(inp openclaw:length hi ",\"stream\":true,\"max_output_tokens\":16")" &&
	grep "^data: {\"type\":\"response.output_item.done\"" "$T/last.body" | grep -q "\"status\":\"incomplete\"" &&
	grep "^data: {\"type\":\"response.incomplete\"" "$T/last.body" |
		grep -q "\"output\":\[{\"id\":\"msg_[^\"]*\",\"type\":\"message\",\"status\":\"incomplete\""
'
test_expect 'Responses: the partial message of a stream that fails is status incomplete (output_item.done, response.failed)' '
	stream /v1/responses "$tok" "$(inp openclaw:cut hi ",\"stream\":true")" && expect_status 200 &&
	grep "^data: {\"type\":\"response.output_item.done\"" "$T/last.body" | grep -q "\"status\":\"incomplete\"" &&
	grep "^data: {\"type\":\"response.failed\"" "$T/last.body" |
		grep -q "\"output\":\[{\"id\":\"msg_[^\"]*\",\"type\":\"message\",\"status\":\"incomplete\""
'
test_expect 'Responses: a function tool sent without strict is echoed with strict false, one with strict as sent' '
	post /v1/responses "$tok" "$(inp openclaw:tools weather? ",$rtools")" && expect_status 200 &&
	expect_json ".tools[0].strict" false &&
	upstream_last_json ".body.tools[0].function.strict" "(absent)" &&
	post /v1/responses "$tok" "$(inp openclaw:tools weather? ",\"tools\":[{\"type\":\"function\",\"name\":\"f\",\"parameters\":{\"type\":\"object\"},\"strict\":true}]")" &&
	expect_status 200 && expect_json ".tools[0].strict" true
'
test_expect 'errors carry param (the field at fault, else null) and code (else null), mid-stream too' '
	post /v1/chat/completions "$tok" "{\"messages\":[{\"role\":\"user\",\"content\":7}]}" && expect_status 400 &&
	expect_json .error.param "messages[0].content" && expect_json .error.code null &&
	post /v1/chat/completions "$tok" "{not json" && expect_status 400 && expect_json .error.param null &&
	post /v1/chat/completions "$tok" "$(msg openclaw:nobody hi)" && expect_status 404 &&
	expect_json .error.param null && expect_json .error.code model_not_found &&
	stream /v1/chat/completions "$tok" "$(msg openclaw:cut hi ",\"stream\":true")" &&
	grep "^data: {\"error\"" "$T/last.body" >"$T/err.json" && sed -i "s/^data: //" "$T/err.json" &&
	test "$(_json "$T/err.json" .error.param)" = null && test "$(_json "$T/err.json" .error.code)" = null
'

# ---- /v1/embeddings, /v1/models ----
test_expect 'embeddings and models: the answers are kept' '
	post /v1/embeddings "$tok" "{\"model\":\"openclaw\",\"input\":[\"a\",\"bc\"]}" && expect_status 200 &&
	keep "embeddings" json CreateEmbeddingResponse &&
	post /v1/embeddings "$tok" "{\"input\":\"a\",\"encoding_format\":\"base64\"}" && expect_status 200 &&
	from_base64 && keep "embeddings in base64 (decoded)" json CreateEmbeddingResponse &&
	get /v1/models "$tok" && expect_status 200 &&
	keep "GET /v1/models" json ListModelsResponse &&
	get /v1/models/openclaw:main "$tok" && expect_status 200 &&
	keep "GET /v1/models/{id}" json Model
'

# ---- every error status ----
test_expect 'the error statuses: the answers are kept' '
	post /v1/chat/completions "$tok" "{not json" && expect_status 400 && keep "400 for bad JSON" json ErrorResponse &&
	post /v1/chat/completions "$tok" "{\"messages\":[{\"role\":\"user\",\"content\":7}]}" && expect_status 400 &&
	keep "400 for a bad chat field" json ErrorResponse &&
	post /v1/responses "$tok" "{\"input\":7}" && expect_status 400 && keep "400 for a bad Responses field" json ErrorResponse &&
	post /v1/embeddings "$tok" "{\"input\":[]}" && expect_status 400 && keep "400 for a bad embeddings field" json ErrorResponse &&
	post /v1/chat/completions "" "$(msg openclaw hi)" && expect_status 401 && keep "401 without a key" json ErrorResponse &&
	post /v1/chat/completions "$(cat "$T/key.mainonly")" "$(msg openclaw:beta hi)" && expect_status 403 &&
	keep "403 for an agent not the key'"'"'s" json ErrorResponse &&
	get /v1/nothing "$tok" && expect_status 404 && keep "404 for an unknown path" json ErrorResponse &&
	post /v1/chat/completions "$tok" "$(msg openclaw:nobody hi)" && expect_status 404 &&
	keep "404 for an unknown agent" json ErrorResponse &&
	get /v1/models/openclaw:nobody "$tok" && expect_status 404 &&
	keep "404 for an unknown model" json ErrorResponse &&
	get /v1/chat/completions "$tok" && expect_status 405 &&
	keep "405 for a wrong method" json ErrorResponse &&
	head -c 9000 /dev/zero | tr "\0" x >"$T/big" &&
	post /v1/chat/completions "$tok" "@$T/big" && expect_status 413 && keep "413 for a body too large" json ErrorResponse &&
	minute_room 5 &&
	post /v1/chat/completions "$(cat "$T/key.rpm1")" "$(msg openclaw hi)" && expect_status 200 &&
	post /v1/chat/completions "$(cat "$T/key.rpm1")" "$(msg openclaw hi)" && expect_status 429 &&
	keep "429 for a key over its rpm" json ErrorResponse &&
	for i in 1 2; do
		cgi_call POST /v1/chat/completions "$(msg openclaw hi)" REMOTE_ADDR=192.0.2.7 \
			HTTP_AUTHORIZATION="Bearer ck-$(printf "%064d" $i)" && expect_status 401 || return 1
	done &&
	cgi_call POST /v1/chat/completions "$(msg openclaw hi)" REMOTE_ADDR=192.0.2.7 HTTP_AUTHORIZATION="Bearer $tok" &&
	expect_status 429 && keep "429 after failed attempts" json ErrorResponse &&
	CGI_CONFIG=$T/badstore.json5 cgi_call POST /v1/chat/completions "$(msg openclaw hi)" HTTP_AUTHORIZATION="Bearer $tok" &&
	expect_status 500 && keep "500 for a store that cannot be used" json ErrorResponse &&
	post /v1/chat/completions "$tok" "$(msg openclaw:broken hi)" && expect_status 502 &&
	keep "502 for an upstream error" json ErrorResponse &&
	post /v1/responses "$tok" "$(inp openclaw:broken hi)" && expect_status 502 &&
	keep "502 for an upstream error (Responses)" json ErrorResponse &&
	post /v1/chat/completions "$tok" "$(msg openclaw:hang hi)" && expect_status 504 &&
	keep "504 for an upstream timeout" json ErrorResponse
'

# ---- the validator: one case per answer, and per kind of chunk or event ----
node "$CONF_DIR/validate.mjs" "$T/manifest" >"$T/validate.out" 2>&1
cat "$T/validate.out"
_passed=$((_passed + $(grep -c '^ok - ' "$T/validate.out")))
_failed=$((_failed + $(grep -c '^not ok - ' "$T/validate.out")))
grep -q '^\(not \)\?ok - ' "$T/validate.out" || {
	echo "not ok - the validator ran"
	_failed=$((_failed + 1))
}
test_done
