#!/bin/sh
test_description='non-streaming chat: agents, prompts, parameters, upstream failures'
. ./lib.sh

export OPENCLAW_GATEWAY_TOKEN=test-token-chat
tok=$OPENCLAW_GATEWAY_TOKEN
start_upstream
down=$(free_port)
write_config "$T/clawcgi.json5" <<CONF
{
  gateway: { auth: { token: "\${OPENCLAW_GATEWAY_TOKEN}" },
             http: { endpoints: { chatCompletions: { enabled: true } } } },
  agents: { list: [
    { id: "main", default: true, model: "fake/gpt-test", systemPrompt: "You are the main test agent." },
    { id: "beta", model: "fake/beta-model", systemPrompt: "You are beta." },
    { id: "echo", model: "echo/echo" },
    { id: "down", model: "nowhere/m" },
    { id: "slow", model: "quick/hang" },
    { id: "cached", model: "fake/cached" },
  ] },
  models: { providers: {
    fake: { api: "openai-completions", baseUrl: "@UPSTREAM@", apiKey: "sk-test-upstream-key",
            headers: { "X-Test-Header": "from-config" } },
    other: { api: "openai-completions", baseUrl: "@UPSTREAM@", apiKey: "sk-other" },
    nowhere: { api: "openai-completions", baseUrl: "http://127.0.0.1:$down/v1", connectTimeoutSeconds: 2 },
    quick: { api: "openai-completions", baseUrl: "@UPSTREAM@", timeoutSeconds: 1 },
    echo: { api: "echo" },
  } },
  session: { store: "@T@/sessions.db" },
}
CONF
start_stack "$T/clawcgi.json5"
msg() { printf '{"model":"%s","messages":[{"role":"user","content":"%s"}]%s}' "$1" "$2" "${3:-}"; }

test_expect 'an answer in the OpenAI shape' '
	post /v1/chat/completions "$tok" "$(msg openclaw hello)" && expect_status 200 &&
	expect_header Content-Type application/json &&
	expect_json .object chat.completion && expect_json .model openclaw &&
	expect_json ".choices[0].message.role" assistant &&
	expect_json ".choices[0].message.content" "fake: hello" &&
	expect_json ".choices[0].finish_reason" stop &&
	expect_json_match .id "^chatcmpl_[0-9a-f-]{36}$" && expect_json_match .created "^[0-9]+$"
'
test_expect 'usage carries the upstream counts' '
	expect_json .usage.prompt_tokens 11 && expect_json .usage.completion_tokens 7 &&
	expect_json .usage.total_tokens 18
'
test_expect 'the agent system prompt arrives upstream first, then the user message' '
	upstream_last_json ".body.messages[0].role" system &&
	upstream_last_json ".body.messages[0].content" "You are the main test agent." &&
	upstream_last_json ".body.messages[1].role" user &&
	upstream_last_json ".body.messages[1].content" hello &&
	upstream_last_json ".body.model" gpt-test && upstream_last_json ".body.stream" false
'
test_expect 'the provider key and configured headers arrive upstream' '
	upstream_last_json ".headers.authorization" "Bearer sk-test-upstream-key" &&
	upstream_last_json ".headers[\"x-test-header\"]" from-config
'
test_expect 'ids are unique per request' '
	post /v1/chat/completions "$tok" "$(msg openclaw a)" && id1=$(json_get .id) &&
	post /v1/chat/completions "$tok" "$(msg openclaw a)" && id2=$(json_get .id) &&
	test "$id1" != "$id2"
'
test_expect 'request system and developer messages follow the agent prompt' '
	post /v1/chat/completions "$tok" "{\"messages\":[{\"role\":\"system\",\"content\":\"Answer in French.\"},{\"role\":\"developer\",\"content\":[{\"type\":\"text\",\"text\":\"Be short.\"}]},{\"role\":\"user\",\"content\":\"hi\"}]}" &&
	expect_status 200 &&
	upstream_last_json ".body.messages[0].content" "You are the main test agent.

Answer in French.

Be short."
'
test_expect 'a user message of text parts (input_text too) reaches the upstream as one string (fault 4)' '
	post /v1/chat/completions "$tok" "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"one\"},{\"type\":\"input_text\",\"text\":\"two\"}]}]}" &&
	expect_status 200 && expect_json ".choices[0].message.content" "fake: one
two" && upstream_last_json ".body.messages[1].content" "one
two"
'
test_expect 'input_text parts beside an image reach the upstream as text parts (fault 4)' '
	post /v1/chat/completions "$tok" "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"see\"},{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,iVBORw0KGgo=\"}}]}]}" &&
	expect_status 200 && upstream_last_json ".body.messages[1].content[0].type" text &&
	upstream_last_json ".body.messages[1].content[1].type" image_url
'
test_expect 'assistant and tool history keep their structure upstream' '
	post /v1/chat/completions "$tok" "{\"messages\":[{\"role\":\"user\",\"content\":\"q1\"},{\"role\":\"assistant\",\"content\":\"a1\"},{\"role\":\"user\",\"content\":\"q2\"}]}" &&
	expect_status 200 && upstream_last_json ".body.messages[2].role" assistant &&
	upstream_last_json ".body.messages[2].content" a1 && upstream_last_json ".body.messages[3].content" q2
'
test_expect 'model openclaw:beta selects agent beta' '
	post /v1/chat/completions "$tok" "$(msg openclaw:beta hi)" && expect_status 200 &&
	expect_json .model openclaw:beta &&
	upstream_last_json ".body.model" beta-model &&
	upstream_last_json ".body.messages[0].content" "You are beta."
'
test_expect 'agent:beta and openclaw/beta select beta too' '
	post /v1/chat/completions "$tok" "$(msg agent:BETA hi)" && upstream_last_json ".body.model" beta-model &&
	post /v1/chat/completions "$tok" "$(msg openclaw/beta hi)" && upstream_last_json ".body.model" beta-model
'
test_expect 'the x-openclaw-agent-id header wins over the model' '
	post /v1/chat/completions "$tok" "$(msg openclaw:main hi)" -H "x-openclaw-agent-id: beta" &&
	expect_status 200 && upstream_last_json ".body.model" beta-model
'
test_expect 'an unknown agent is 404 model_not_found naming it' '
	post /v1/chat/completions "$tok" "$(msg openclaw:ghost hi)" && expect_status 404 &&
	expect_json .error.code model_not_found && expect_json .error.type invalid_request_error &&
	expect_body_contains ghost
'
test_expect 'an unknown agent in the header is 404 too' '
	post /v1/chat/completions "$tok" "$(msg openclaw hi)" -H "x-openclaw-agent-id: ghost" &&
	expect_status 404 && expect_json .error.code model_not_found
'
test_expect 'x-openclaw-model overrides the model for one request' '
	post /v1/chat/completions "$tok" "$(msg openclaw hi)" -H "x-openclaw-model: other/override-m" &&
	expect_status 200 && upstream_last_json ".body.model" override-m &&
	upstream_last_json ".headers.authorization" "Bearer sk-other"
'
test_expect 'x-openclaw-model naming an unknown provider is 400' '
	post /v1/chat/completions "$tok" "$(msg openclaw hi)" -H "x-openclaw-model: ghost/m" &&
	expect_status 400 && expect_body_contains ghost
'
test_expect 'parameters and provider extras pass through upstream' '
	post /v1/chat/completions "$tok" "$(msg openclaw hi ",\"temperature\":0.25,\"top_p\":0.5,\"max_tokens\":42,\"stop\":[\"END\"],\"seed\":7,\"presence_penalty\":0.1,\"frequency_penalty\":0.2,\"response_format\":{\"type\":\"json_object\"},\"max_completion_tokens\":40,\"bogus\":1")" &&
	expect_status 200 && upstream_last_json .body.temperature 0.25 &&
	upstream_last_json .body.top_p 0.5 && upstream_last_json .body.max_tokens 42 &&
	upstream_last_json ".body.stop[0]" END && upstream_last_json .body.seed 7 &&
	upstream_last_json .body.presence_penalty 0.1 && upstream_last_json .body.frequency_penalty 0.2 &&
	upstream_last_json .body.response_format.type json_object &&
	upstream_last_json .body.max_completion_tokens 40 && upstream_last_json .body.bogus 1
'
test_expect 'the echo agent answers with the last user message' '
	post /v1/chat/completions "$tok" "$(msg openclaw:echo "echo me")" && expect_status 200 &&
	expect_json ".choices[0].message.content" "echo me" && expect_json .usage.total_tokens 0
'
test_expect 'upstream HTTP 500: 502 upstream_error carrying its message' '
	post /v1/chat/completions "$tok" "$(msg openclaw hi)" -H "x-openclaw-model: fake/error-500" &&
	expect_status 502 && expect_json .error.type upstream_error &&
	expect_body_contains "fake upstream exploded"
'
test_expect 'upstream HTTP 200 whose body is an error: 502 upstream_error carrying its message, not an empty answer' '
	post /v1/chat/completions "$tok" "$(msg openclaw hi)" -H "x-openclaw-model: fake/error-200" &&
	expect_status 502 && expect_json .error.type upstream_error &&
	expect_body_contains "fake upstream error 200"
'
test_expect 'upstream refusing connections: 502 fast, no address in the message' '
	start=$(date +%s) &&
	post /v1/chat/completions "$tok" "$(msg openclaw:down hi)" && expect_status 502 &&
	expect_json .error.type upstream_error && ! expect_body_contains "127.0.0.1" &&
	test $(( $(date +%s) - start )) -le 3
'
test_expect 'upstream hanging past timeoutSeconds: 504' '
	post /v1/chat/completions "$tok" "$(msg openclaw:slow hi)" && expect_status 504 &&
	expect_json .error.type upstream_error
'
test_expect 'upstream sending garbage: 502' '
	post /v1/chat/completions "$tok" "$(msg openclaw hi ",\"stream\":false")" -H "x-openclaw-model: fake/garbage" &&
	expect_status 502
'
test_expect 'an upstream finish_reason of length is passed on' '
	post /v1/chat/completions "$tok" "$(msg openclaw hi)" -H "x-openclaw-model: fake/length" &&
	expect_status 200 && expect_json ".choices[0].finish_reason" length
'
test_expect 'an image as a data URI reaches the upstream as an image_url part' '
	post /v1/chat/completions "$tok" "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"what is this\"},{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,iVBORw0KGgo=\"}}]}]}" &&
	expect_status 200 && upstream_last_json ".body.messages[1].content[1].image_url.url" "data:image/png;base64,iVBORw0KGgo="
'
test_expect 'a remote image URL is 400 unless images.allowUrl' '
	post /v1/chat/completions "$tok" "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://example.com/a.png\"}}]}]}" &&
	expect_status 400 && expect_body_contains "Image URLs are not allowed"
'
test_expect 'usage: prompt_tokens_details and completion_tokens_details relayed with the upstream values' '
	post /v1/chat/completions "$tok" "$(msg openclaw:cached hi)" && expect_status 200 &&
	expect_json .usage.prompt_tokens 2011 && expect_json .usage.completion_tokens 7 &&
	expect_json .usage.total_tokens 2018 &&
	expect_json .usage.prompt_tokens_details "{\"cached_tokens\": 2000, \"audio_tokens\": 3}" &&
	expect_json .usage.completion_tokens_details "{\"reasoning_tokens\": 5, \"audio_tokens\": 0, \"accepted_prediction_tokens\": 1, \"rejected_prediction_tokens\": 2}" &&
	post /v1/chat/completions "$tok" "$(msg openclaw hi)" && expect_status 200 &&
	expect_json .usage.prompt_tokens_details "(absent)" &&
	expect_json .usage.completion_tokens_details "(absent)"
'
test_done
