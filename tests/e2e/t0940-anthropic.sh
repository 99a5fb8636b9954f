#!/bin/sh
test_description='the anthropic-messages provider against a scripted Messages API'
# servers: lighttpd cgi
. ./lib.sh

export OPENCLAW_GATEWAY_TOKEN=test-token-anthropic
tok=$OPENCLAW_GATEWAY_TOKEN
start_upstream
write_config "$T/clawcgi.json5" <<'CONF'
{
  gateway: { auth: { token: "${OPENCLAW_GATEWAY_TOKEN}" },
             http: { endpoints: { chatCompletions: { enabled: true }, metrics: { enabled: true } } } },
  agents: { list: [ { id: "main", model: "claude/claude-test", systemPrompt: "You are Claude-ish." },
                    { id: "big", model: "claudebig/claude-test" },
                    { id: "tools", model: "claude/tools" },
                    { id: "cache", model: "claude/cached" }, { id: "cachem", model: "claude/cached" } ] },
  models: { providers: {
    claude: { api: "anthropic-messages", baseUrl: "@UPSTREAM@", apiKey: "sk-ant-test-key", retries: 0 },
    claudebig: { api: "anthropic-messages", baseUrl: "@UPSTREAM@", apiKey: "sk-ant-test-key", maxTokens: 777 },
  } },
  session: { store: "@T@/sessions.db" },
}
CONF
# the fake serves the Messages API at <base>/v1/messages: point baseUrl at its root
sed -i "s|$UPSTREAM_URL|${UPSTREAM_URL%/v1}|g" "$T/clawcgi.json5"
start_stack "$T/clawcgi.json5"
ask() { post /v1/chat/completions "$tok" "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]${1:-}}" ${2:+-H "$2"}; }

test_expect 'non-streaming: the answer, usage and stop reason mapped back' '
	ask && expect_status 200 && expect_json ".choices[0].message.content" "fake: hi" &&
	expect_json ".choices[0].finish_reason" stop && expect_json .usage.prompt_tokens 13 &&
	expect_json .usage.completion_tokens 9 && expect_json .usage.total_tokens 22
'
test_expect 'the request: /v1/messages, x-api-key, anthropic-version, system on top, max_tokens' '
	upstream_last_json .path /v1/messages && upstream_last_json .headers.x-api-key sk-ant-test-key &&
	upstream_last_json ".headers[\"anthropic-version\"]" 2023-06-01 &&
	upstream_last_json .headers.authorization "(absent)" &&
	upstream_last_json .body.system "You are Claude-ish." &&
	upstream_last_json ".body.messages[0].role" user &&
	upstream_last_json ".body.messages[0].content[0].text" hi &&
	upstream_last_json .body.max_tokens 4096 && ! grep -q test-token-anthropic "$UPSTREAM_LOG"
'
test_expect 'max_tokens: the request, else the provider maxTokens' '
	ask ",\"max_tokens\":55" && upstream_last_json .body.max_tokens 55 &&
	post /v1/chat/completions "$tok" "{\"model\":\"openclaw:big\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}" &&
	upstream_last_json .body.max_tokens 777
'
test_expect 'parameters mapped: temperature, top_p, stop -> stop_sequences; no seed' '
	ask ",\"temperature\":0.2,\"top_p\":0.9,\"stop\":\"END\",\"seed\":4" && expect_status 200 &&
	upstream_last_json .body.temperature 0.2 && upstream_last_json .body.top_p 0.9 &&
	upstream_last_json ".body.stop_sequences[0]" END && upstream_last_json .body.seed "(absent)"
'
test_expect 'history, tool calls and results and images in the Messages API shape (fault 3)' '
	post /v1/chat/completions "$tok" "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"},{\"role\":\"assistant\",\"content\":\"a\",\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"calc\",\"arguments\":\"{\\\"x\\\":6}\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"42\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"see\"},{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,iVBORw0KGgo=\"}}]}]}" &&
	expect_status 200 &&
	upstream_last_json ".body.messages[1].role" assistant &&
	upstream_last_json ".body.messages[1].content[0].text" a &&
	upstream_last_json ".body.messages[1].content[1].type" tool_use &&
	upstream_last_json ".body.messages[1].content[1].input.x" 6 &&
	upstream_last_json ".body.messages[2].content[0].type" tool_result &&
	upstream_last_json ".body.messages[2].content[0].tool_use_id" call_1 &&
	upstream_last_json ".body.messages[3].content[1].source.type" base64 &&
	upstream_last_json ".body.messages[3].content[1].source.media_type" image/png &&
	upstream_last_json ".body.messages[3].content[1].source.data" iVBORw0KGgo=
'
weather='{"type":"function","function":{"name":"get_weather","description":"Weather now","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}'
calls='{"role":"user","content":"weather?"},{"role":"assistant","content":null,"tool_calls":[{"id":"toolu_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},{"id":"toolu_2","type":"function","function":{"name":"get_weather","arguments":""}}]},{"role":"tool","tool_call_id":"toolu_1","content":"sunny"},{"role":"tool","tool_call_id":"toolu_2","content":"rainy"}'
test_expect 'a tool call and two results: tool_use blocks, then one user turn of tool_result blocks (fault 3)' '
	post /v1/chat/completions "$tok" "{\"model\":\"openclaw:tools\",\"tools\":[$weather],\"messages\":[$calls]}" &&
	expect_status 200 && expect_json ".choices[0].message.content" "fake: the tool said rainy" &&
	upstream_last_json ".body.messages[1].content[0].type" tool_use &&
	upstream_last_json ".body.messages[1].content[0].id" toolu_1 &&
	upstream_last_json ".body.messages[1].content[1].input" "{}" &&
	upstream_last_json ".body.messages[2].role" user &&
	upstream_last_json ".body.messages[2].content[1].tool_use_id" toolu_2 &&
	upstream_last_json ".body.messages[3]" "(absent)"
'
test_expect 'an empty assistant text never becomes an empty text block (fault 4)' '
	post /v1/chat/completions "$tok" "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"},{\"role\":\"assistant\",\"content\":\"\"},{\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"\"},{\"type\":\"input_text\",\"text\":\"again\"}]}]}" &&
	expect_status 200 && upstream_last_json ".body.messages[1].content[0].text" again
'
test_expect 'tools and tool_choice in the Messages API terms' '
	post /v1/chat/completions "$tok" "{\"tools\":[$weather],\"tool_choice\":\"required\",\"parallel_tool_calls\":false,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" &&
	expect_status 200 && upstream_last_json ".body.tools[0].name" get_weather &&
	upstream_last_json ".body.tools[0].description" "Weather now" &&
	upstream_last_json ".body.tools[0].input_schema.type" object &&
	upstream_last_json .body.tool_choice.type any &&
	upstream_last_json .body.tool_choice.disable_parallel_tool_use true &&
	post /v1/chat/completions "$tok" "{\"tools\":[$weather],\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}},\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" &&
	upstream_last_json .body.tool_choice.type tool && upstream_last_json .body.tool_choice.name get_weather
'
test_expect 'a tool_use answer becomes OpenAI tool calls, finish_reason tool_calls' '
	post /v1/chat/completions "$tok" "{\"model\":\"openclaw:tools\",\"tools\":[$weather],\"messages\":[{\"role\":\"user\",\"content\":\"weather?\"}]}" &&
	expect_status 200 && expect_json ".choices[0].finish_reason" tool_calls &&
	expect_json ".choices[0].message.content" "Let me look." &&
	expect_json_match ".choices[0].message.tool_calls[0].id" "^toolu_fake_[0-9]+$" &&
	expect_json ".choices[0].message.tool_calls[0].function.name" get_weather &&
	expect_json ".choices[0].message.tool_calls[0].function.arguments" "{\"city\":\"Paris\"}"
'
test_expect 'a streamed tool_use: delta.tool_calls by index, thinking as reasoning_content' '
	stream /v1/chat/completions "$tok" "{\"model\":\"openclaw:tools\",\"stream\":true,\"tools\":[$weather],\"messages\":[{\"role\":\"user\",\"content\":\"weather?\"}]}" &&
	expect_status 200 && python3 "$srcdir/tests/e2e/sse_accumulate.py" "$T/stream.txt" >"$T/acc.json" &&
	test "$(_json "$T/acc.json" ".choices[0].tool_calls[0].function.arguments")" = "{\"city\": \"Paris\"}" &&
	test "$(_json "$T/acc.json" ".choices[0].tool_calls[0].function.name")" = get_weather &&
	_json "$T/acc.json" ".choices[0].tool_calls[0].id" | grep -qE "^toolu_fake_[0-9]+$" &&
	test "$(_json "$T/acc.json" ".choices[0].finish_reason")" = tool_calls &&
	test "$(_json "$T/acc.json" ".choices[0].reasoning_content")" = pondering
'
test_expect 'a tool result answering no earlier call, and arguments that are no JSON object, are 400' '
	post /v1/chat/completions "$tok" "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"},{\"role\":\"tool\",\"tool_call_id\":\"nope\",\"content\":\"x\"}]}" &&
	expect_status 400 && expect_body_contains "messages[1].tool_call_id" &&
	post /v1/chat/completions "$tok" "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"},{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"[1]\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"c\",\"content\":\"x\"}]}" &&
	expect_status 400 && expect_body_contains "tool_calls[0].function.arguments"
'
test_expect 'on a session, a mapping 400 names the message as the request numbers it, not counting the history' '
	ask ",\"user\":\"numbered\"" && expect_status 200 &&
	post /v1/chat/completions "$tok" "{\"user\":\"numbered\",\"messages\":[{\"role\":\"system\",\"content\":\"s\"},{\"role\":\"user\",\"content\":\"q\"},{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"[1]\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"c\",\"content\":\"x\"}]}" &&
	expect_status 400 && expect_body_contains "\`messages[2].tool_calls[0].function.arguments\`"
'
test_expect 'reasoning_effort: a thinking budget on top of the default max_tokens; thinking comes back as reasoning' '
	ask ",\"reasoning_effort\":\"medium\",\"temperature\":0.2,\"top_p\":0.5" && expect_status 200 &&
	upstream_last_json .body.thinking.type enabled && upstream_last_json .body.thinking.budget_tokens 8192 &&
	upstream_last_json .body.max_tokens 12288 &&
	upstream_last_json .body.temperature "(absent)" && upstream_last_json .body.top_p "(absent)" &&
	expect_json ".choices[0].message.reasoning_content" "a budget of 8192 tokens" &&
	expect_json ".choices[0].message.content" "fake: hi"
'
test_expect 'reasoning_effort: a client max_tokens bounds the budget; streamed thinking is delta.reasoning_content' '
	stream /v1/chat/completions "$tok" "{\"stream\":true,\"reasoning_effort\":\"high\",\"max_completion_tokens\":3000,\"messages\":[{\"role\":\"user\",\"content\":\"yo\"}]}" &&
	expect_status 200 && upstream_last_json .body.max_tokens 3000 &&
	upstream_last_json .body.thinking.budget_tokens 2999 &&
	python3 "$srcdir/tests/e2e/sse_accumulate.py" "$T/stream.txt" >"$T/acc.json" &&
	test "$(_json "$T/acc.json" ".choices[0].reasoning_content")" = "a budget of 2999 tokens" &&
	test "$(_json "$T/acc.json" ".choices[0].content")" = "fake: yo" &&
	ask ",\"reasoning_effort\":\"none\"" && expect_status 200 && upstream_last_json .body.thinking "(absent)"
'
test_expect 'reasoning_effort it cannot honour: 400 naming the field, nothing sent upstream' '
	n=$(upstream_count) &&
	ask ",\"reasoning_effort\":\"maximal\"" && expect_status 400 &&
	expect_body_contains "\`reasoning_effort\` must be" && expect_body_contains anthropic-messages &&
	ask ",\"reasoning_effort\":\"low\",\"max_tokens\":1024" && expect_status 400 &&
	expect_body_contains "\`max_tokens\` must be above 1024" &&
	ask ",\"reasoning_effort\":\"low\",\"tool_choice\":\"required\",\"tools\":[$weather]" && expect_status 400 &&
	expect_body_contains "forced tool" &&
	ask ",\"reasoning_effort\":\"low\",\"response_format\":{\"type\":\"json_object\"}" && expect_status 400 &&
	test "$(upstream_count)" = "$n"
'
test_expect 'reasoning_effort inside a tool use cycle: no thinking (its signed blocks are not kept)' '
	post /v1/chat/completions "$tok" "{\"reasoning_effort\":\"low\",\"tools\":[$weather],\"messages\":[{\"role\":\"user\",\"content\":\"q\"},{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_9\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"{}\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"call_9\",\"content\":\"sunny\"}]}" &&
	expect_status 200 && upstream_last_json .body.thinking "(absent)" &&
	expect_json ".choices[0].message.content" "fake: the tool said sunny"
'
schema='{"type":"object","properties":{"answer":{"type":"string"},"n":{"type":"integer"}},"required":["answer","n"]}'
rf_schema="\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"reply\",\"strict\":true,\"schema\":$schema}}"
test_expect 'response_format json_schema: one forced tool; its input is the content, finish_reason stop' '
	ask ",$rf_schema" && expect_status 200 &&
	upstream_last_json ".body.tools[0].name" reply &&
	upstream_last_json ".body.tools[0].input_schema.required[1]" n &&
	upstream_last_json ".body.tools[1]" "(absent)" &&
	upstream_last_json .body.tool_choice.type tool && upstream_last_json .body.tool_choice.name reply &&
	expect_json ".choices[0].message.content" "{\"answer\":\"fake: hi\",\"n\":42}" &&
	expect_json ".choices[0].message.tool_calls" "(absent)" &&
	expect_json ".choices[0].finish_reason" stop
'
test_expect 'response_format json_schema streamed: the input fragments are content deltas' '
	stream /v1/chat/completions "$tok" "{\"stream\":true,$rf_schema,\"messages\":[{\"role\":\"user\",\"content\":\"yo\"}]}" &&
	expect_status 200 &&
	python3 "$srcdir/tests/e2e/sse_accumulate.py" "$T/stream.txt" >"$T/acc.json" &&
	test "$(_json "$T/acc.json" ".choices[0].content")" = "{\"answer\": \"fake: yo\", \"n\": 42}" &&
	test "$(_json "$T/acc.json" ".choices[0].tool_calls")" = "[]" &&
	test "$(_json "$T/acc.json" ".choices[0].finish_reason")" = stop
'
test_expect 'response_format json_object: a tool taking any object; beside client tools, some tool must be called' '
	ask ",\"response_format\":{\"type\":\"json_object\"}" && expect_status 200 &&
	upstream_last_json ".body.tools[0].name" json_object &&
	upstream_last_json ".body.tools[0].input_schema.type" object &&
	expect_json ".choices[0].message.content" "{\"answer\":\"fake: hi\",\"n\":42}" &&
	ask ",$rf_schema,\"tools\":[$weather]" && expect_status 200 &&
	upstream_last_json ".body.tools[0].name" get_weather && upstream_last_json ".body.tools[1].name" reply &&
	upstream_last_json .body.tool_choice.type any &&
	ask ",$rf_schema,\"tools\":[$weather],\"tool_choice\":\"none\"" && expect_status 200 &&
	upstream_last_json ".body.tools[1]" "(absent)" && upstream_last_json .body.tool_choice.name reply
'
test_expect 'response_format: a schema named as a client tool, and a malformed one, are 400' '
	ask ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"get_weather\"}},\"tools\":[$weather]" &&
	expect_status 400 && expect_body_contains "response_format.json_schema.name" &&
	ask ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"a b\"}}" &&
	expect_status 400 && expect_body_contains "response_format.json_schema.name" &&
	ask ",\"response_format\":{\"type\":\"yaml\"}" &&
	expect_status 400 && expect_body_contains "response_format.type"
'
test_expect 'streaming: deltas, finish, usage chunk, [DONE]' '
	stream /v1/chat/completions "$tok" "{\"stream\":true,\"stream_options\":{\"include_usage\":true},\"messages\":[{\"role\":\"user\",\"content\":\"yo\"}]}" &&
	expect_status 200 &&
	python3 "$LIBDIR/sse_check.py" "$T/stream.txt" --content "fake: yo" --deltas 3 --finish stop --usage 13,9,22
'
test_expect 'max_tokens stop reason is finish_reason length' '
	ask "" "x-openclaw-model: claude/length" && expect_json ".choices[0].finish_reason" length &&
	stream /v1/chat/completions "$tok" "{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"yo\"}]}" -H "x-openclaw-model: claude/length" &&
	python3 "$LIBDIR/sse_check.py" "$T/stream.txt" --finish length
'
test_expect 'stop entries that are only whitespace are left out, the others sent: 200, never a 502' '
	ask ",\"stop\":[\" \",\"END\",\"\\n\\t\",\"\"]" && expect_status 200 &&
	expect_json ".choices[0].message.content" "fake: hi" &&
	upstream_last_json ".body.stop_sequences[0]" END &&
	upstream_last_json ".body.stop_sequences[1]" "(absent)" &&
	ask ",\"stop\":\"\\n\"" && expect_status 200 && upstream_last_json .body.stop_sequences "(absent)"
'
test_expect 'stop_reason refusal is finish_reason content_filter, whole and streamed' '
	ask "" "x-openclaw-model: claude/refusal" && expect_status 200 &&
	expect_json ".choices[0].finish_reason" content_filter &&
	stream /v1/chat/completions "$tok" "{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"yo\"}]}" -H "x-openclaw-model: claude/refusal" &&
	python3 "$LIBDIR/sse_check.py" "$T/stream.txt" --finish content_filter
'
test_expect 'a streamed call with no arguments reassembles to {} as the whole one does, and is stored so' '
	post /v1/chat/completions "$tok" "{\"tools\":[$weather],\"messages\":[{\"role\":\"user\",\"content\":\"w\"}]}" -H "x-openclaw-model: claude/noargs" &&
	expect_status 200 && expect_json ".choices[0].message.tool_calls[0].function.arguments" "{}" &&
	stream /v1/chat/completions "$tok" "{\"stream\":true,\"user\":\"noargs\",\"tools\":[$weather],\"messages\":[{\"role\":\"user\",\"content\":\"w\"}]}" -H "x-openclaw-model: claude/noargs" &&
	expect_status 200 && python3 "$srcdir/tests/e2e/sse_accumulate.py" "$T/stream.txt" >"$T/acc.json" &&
	test "$(_json "$T/acc.json" ".choices[0].tool_calls[0].function.arguments")" = "{}" &&
	test "$(_json "$T/acc.json" ".choices[0].tool_calls[1].function.arguments")" = "{}" &&
	test "$(_json "$T/acc.json" ".choices[0].finish_reason")" = tool_calls &&
	test "$(db_value "$T/sessions.db" "select count(*) from messages where session_key like '"'"'%:noargs'"'"' and role = '"'"'assistant'"'"' and message like '"'"'%\"arguments\":\"{}\"%\"arguments\":\"{}\"%'"'"'")" = 1
'
test_expect 'an error event mid-stream: error event, then [DONE]' '
	stream /v1/chat/completions "$tok" "{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"yo\"}]}" -H "x-openclaw-model: claude/midfail" &&
	python3 "$LIBDIR/sse_check.py" "$T/stream.txt" --error upstream_error --content fake &&
	grep -q Overloaded "$T/stream.txt"
'
test_expect 'an HTTP error from the Messages API: 502 with its message' '
	ask "" "x-openclaw-model: claude/error-529" && expect_status 502 &&
	expect_body_contains "fake anthropic says 529"
'
# the model "cached": 13 input tokens, 2000 read from the prompt cache, 500 written to it
cached_usage='"prompt_tokens": 2513, "completion_tokens": 9, "total_tokens": 2522, "prompt_tokens_details": {"cached_tokens": 2000, "cache_write_tokens": 500}'
test_expect 'a cached prompt: prompt_tokens counts the tokens read from and written to the cache, prompt_tokens_details says which' '
	post /v1/chat/completions "$tok" "{\"model\":\"openclaw:cache\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" &&
	expect_status 200 && expect_json .usage "{$cached_usage}"
'
test_expect 'a cached prompt, streamed: the usage chunk counts it the same' '
	stream /v1/chat/completions "$tok" "{\"model\":\"openclaw:cache\",\"stream\":true,\"stream_options\":{\"include_usage\":true},\"messages\":[{\"role\":\"user\",\"content\":\"yo\"}]}" &&
	expect_status 200 && python3 "$LIBDIR/sse_check.py" "$T/stream.txt" --usage-json "{$cached_usage}"
'
test_expect '/metrics counts a cached prompt whole' '
	post /v1/chat/completions "$tok" "{\"model\":\"openclaw:cachem\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" &&
	expect_status 200 && get /metrics "" && expect_status 200 &&
	test "$(python3 "$LIBDIR/prom_check.py" "$T/last.body" "clawcgi_input_tokens_total{agent=\"cachem\"}")" = 2513 &&
	test "$(python3 "$LIBDIR/prom_check.py" "$T/last.body" "clawcgi_output_tokens_total{agent=\"cachem\"}")" = 9
'
test_done
