#!/bin/sh
test_description='client tools, tool calls, reasoning, logprobs, several choices and every field relayed'
# servers: lighttpd cgi
. ./lib.sh

export OPENCLAW_GATEWAY_TOKEN=test-token-tools
tok=$OPENCLAW_GATEWAY_TOKEN
start_upstream
write_config "$T/clawcgi.json5" <<'CONF'
{
  gateway: { auth: { token: "${OPENCLAW_GATEWAY_TOKEN}" },
             http: { endpoints: { chatCompletions: { enabled: true } } } },
  agents: { list: [
    { id: "main", default: true, model: "fake/gpt-test" },
    { id: "tools", model: "fake/tools" },
    { id: "tools2", model: "fake/tools2" },
    { id: "slowtools", model: "fake/slowtools" },
    { id: "reason", model: "fake/reason" },
    { id: "reason2", model: "fake/reason2" },
    { id: "ssejson", model: "fake/sse-json" },
    { id: "echo", model: "echo/echo" },
  ] },
  models: { providers: {
    fake: { api: "openai-completions", baseUrl: "@UPSTREAM@" },
    echo: { api: "echo" },
  } },
  session: { store: "@T@/sessions.db" },
}
CONF
start_stack "$T/clawcgi.json5"

weather='{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}'
clock='{"type":"function","function":{"name":"get_time","parameters":{"type":"object"}}}'
hi='"messages":[{"role":"user","content":"hi"}]'
acc() { python3 "$srcdir/tests/e2e/sse_accumulate.py" "$T/stream.txt" >"$T/acc.json" && _json "$T/acc.json" "$1"; }
acc_is() { _got=$(acc "$1"); [ "$_got" = "$2" ] || { echo "# $1: got '$_got', wanted '$2'"; return 1; }; }

test_expect 'tools, tool_choice and parallel_tool_calls reach the upstream (fault 1)' '
	post /v1/chat/completions "$tok" "{\"model\":\"openclaw\",\"tool_choice\":\"required\",\"parallel_tool_calls\":false,\"tools\":[$weather],$hi}" &&
	expect_status 200 && upstream_last_json ".body.tools[0].function.name" get_weather &&
	upstream_last_json .body.tool_choice required && upstream_last_json .body.parallel_tool_calls false
'
test_expect 'a tool call answer keeps its calls, content null (fault 2)' '
	post /v1/chat/completions "$tok" "{\"model\":\"openclaw:tools\",\"tools\":[$weather],$hi}" &&
	expect_status 200 && expect_json ".choices[0].finish_reason" tool_calls &&
	expect_json ".choices[0].message.content" null &&
	expect_json ".choices[0].message.tool_calls[0].type" function &&
	expect_json ".choices[0].message.tool_calls[0].function.name" get_weather &&
	expect_json ".choices[0].message.tool_calls[0].function.arguments" "{\"city\":\"Paris\"}" &&
	expect_json_match ".choices[0].message.tool_calls[0].id" "^call_fake_"
'
test_expect 'streamed tool calls arrive as delta.tool_calls, two in parallel by index (fault 2)' '
	stream /v1/chat/completions "$tok" "{\"model\":\"openclaw:tools2\",\"stream\":true,\"tools\":[$weather,$clock],$hi}" &&
	expect_status 200 && acc_is ".choices[0].finish_reason" tool_calls &&
	acc_is ".choices[0].tool_calls[0].function.name" get_weather &&
	acc_is ".choices[0].tool_calls[0].function.arguments" "{\"city\":\"Paris\"}" &&
	acc_is ".choices[0].tool_calls[1].function.name" get_time &&
	acc_is ".choices[0].tool_calls[1].function.arguments" "{\"city\":\"Rome\"}" &&
	acc_is ".choices[0].tool_calls[1].type" function && acc_is ".choices[0].content" ""
'
test_expect 'the tool result goes back upstream after the call, and the answer uses it' '
	post /v1/chat/completions "$tok" "{\"model\":\"openclaw:tools\",\"tools\":[$weather],\"messages\":[{\"role\":\"user\",\"content\":\"weather?\"},{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"{}\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"sunny\"}]}" &&
	expect_status 200 && expect_json ".choices[0].message.content" "fake: the tool said sunny" &&
	upstream_last_json ".body.messages[1].tool_calls[0].id" call_1 &&
	upstream_last_json ".body.messages[2].role" tool && upstream_last_json ".body.messages[2].tool_call_id" call_1
'
test_expect 'a session stores the tool call structured and replays it' '
	post /v1/chat/completions "$tok" "{\"model\":\"openclaw:tools\",\"user\":\"toolie\",\"tools\":[$weather],$hi}" &&
	expect_status 200 && call=$(json_get ".choices[0].message.tool_calls[0].id") &&
	post /v1/chat/completions "$tok" "{\"model\":\"openclaw:tools\",\"user\":\"toolie\",\"tools\":[$weather],\"messages\":[{\"role\":\"tool\",\"tool_call_id\":\"$call\",\"content\":\"cloudy\"}]}" &&
	expect_status 200 && expect_json ".choices[0].message.content" "fake: the tool said cloudy" &&
	upstream_last_json ".body.messages[0].role" user &&
	upstream_last_json ".body.messages[1].tool_calls[0].function.name" get_weather &&
	upstream_last_json ".body.messages[1].content" null &&
	upstream_last_json ".body.messages[2].role" tool &&
	test "$(db_value "$T/sessions.db" "select count(*) from messages where role = '"'"'assistant'"'"' and message like '"'"'%tool_calls%get_weather%'"'"'")" = 1
'
orphan='{"role":"system","content":"s"},{"role":"user","content":"weather?"},{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{}"}}]},{"role":"tool","tool_call_id":"call_nope","content":"sunny"}'
test_expect 'a tool result answering no tool call: 400 naming messages[3].tool_call_id, nothing sent upstream or stored' '
	n=$(upstream_count) && before=$(db_value "$T/sessions.db" "select count(*) from messages") &&
	post /v1/chat/completions "$tok" "{\"model\":\"openclaw:tools\",\"user\":\"orphan\",\"tools\":[$weather],\"messages\":[$orphan]}" &&
	expect_status 400 && expect_json .error.type invalid_request_error &&
	expect_json .error.param "messages[3].tool_call_id" && expect_body_contains call_nope &&
	stream /v1/chat/completions "$tok" "{\"model\":\"openclaw:tools\",\"stream\":true,\"tools\":[$weather],\"messages\":[$orphan]}" &&
	expect_status 400 && grep -q "messages\[3\].tool_call_id" "$T/last.body" &&
	post /v1/chat/completions "$tok" "{\"model\":\"openclaw:echo\",\"messages\":[$orphan]}" &&
	expect_status 400 && expect_json .error.param "messages[3].tool_call_id" &&
	test "$(upstream_count)" = "$n" &&
	test "$(db_value "$T/sessions.db" "select count(*) from messages")" = "$before"
'
test_expect 'a tool result on a session answers only a call of its history or the request, not a later one' '
	post /v1/chat/completions "$tok" "{\"model\":\"openclaw:tools\",\"user\":\"orphan2\",\"tools\":[$weather],$hi}" &&
	expect_status 200 && n=$(upstream_count) &&
	post /v1/chat/completions "$tok" "{\"model\":\"openclaw:tools\",\"user\":\"orphan2\",\"tools\":[$weather],\"messages\":[{\"role\":\"tool\",\"tool_call_id\":\"call_fake_x\",\"content\":\"cloudy\"}]}" &&
	expect_status 400 && expect_json .error.param "messages[0].tool_call_id" &&
	expect_body_contains "history" &&
	post /v1/chat/completions "$tok" "{\"model\":\"openclaw:tools\",\"tools\":[$weather],\"messages\":[{\"role\":\"user\",\"content\":\"q\"},{\"role\":\"tool\",\"tool_call_id\":\"call_2\",\"content\":\"x\"},{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_2\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"{}\"}}]}]}" &&
	expect_status 400 && expect_json .error.param "messages[1].tool_call_id" &&
	test "$(upstream_count)" = "$n"
'
test_expect 'a client leaving mid tool call: the turn is stored interrupted, without the broken call' '
	leave "{\"model\":\"openclaw:slowtools\",\"stream\":true,\"user\":\"leaver\",\"tools\":[$weather],$hi}" after1 &&
	n=0 && while [ "$(db_value "$T/sessions.db" "select count(*) from messages where session_key like '"'"'%:leaver'"'"' and role = '"'"'assistant'"'"'")" != 1 ]; do
		n=$((n + 1)); [ $n -lt 100 ] || return 1; sleep 0.1; done &&
	test "$(db_value "$T/sessions.db" "select interrupted from messages where session_key like '"'"'%:leaver'"'"' and role = '"'"'assistant'"'"'")" = 1 &&
	test "$(db_value "$T/sessions.db" "select count(*) from messages where session_key like '"'"'%:leaver'"'"' and message like '"'"'%tool_calls%'"'"'")" = 0 &&
	post /v1/chat/completions "$tok" "{\"model\":\"openclaw\",\"user\":\"leaver\",$hi}" && expect_status 200
'
test_expect 'n: 2 answers two choices, streamed by index too (fault 5)' '
	post /v1/chat/completions "$tok" "{\"model\":\"openclaw\",\"n\":2,$hi}" && expect_status 200 &&
	expect_json ".choices[1].index" 1 && expect_json ".choices[1].message.content" "fake: hi (choice 1)" &&
	expect_json ".choices[0].message.content" "fake: hi" && upstream_last_json .body.n 2 &&
	stream /v1/chat/completions "$tok" "{\"model\":\"openclaw\",\"stream\":true,\"n\":2,$hi}" &&
	acc_is ".choices[1].content" "fake: hi (choice 1)" && acc_is ".choices[1].role" assistant &&
	acc_is ".choices[1].finish_reason" stop && acc_is ".choices[0].content" "fake: hi"
'
test_expect 'wrong types and ranges are 400 naming the field (fault 5)' '
	post /v1/chat/completions "$tok" "{\"model\":\"openclaw\",\"n\":\"two\",$hi}" &&
	expect_status 400 && expect_body_contains "\`n\` must be" &&
	post /v1/chat/completions "$tok" "{\"model\":\"openclaw\",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"no spaces\"}}],$hi}" &&
	expect_status 400 && expect_body_contains "tools[0].function.name" &&
	post /v1/chat/completions "$tok" "{\"model\":\"openclaw\",\"top_logprobs\":50,$hi}" &&
	expect_status 400 && expect_body_contains top_logprobs
'
test_expect 'n: 2, logprobs and a required tool_choice are 400 for a provider that cannot (echo)' '
	post /v1/chat/completions "$tok" "{\"model\":\"openclaw:echo\",\"n\":2,$hi}" &&
	expect_status 400 && expect_body_contains "\`n\`" && expect_body_contains echo &&
	post /v1/chat/completions "$tok" "{\"model\":\"openclaw:echo\",\"logprobs\":true,$hi}" &&
	expect_status 400 && expect_body_contains logprobs &&
	post /v1/chat/completions "$tok" "{\"model\":\"openclaw:echo\",\"tools\":[$weather],\"tool_choice\":\"required\",$hi}" &&
	expect_status 400 && expect_body_contains tool_choice &&
	post /v1/chat/completions "$tok" "{\"model\":\"openclaw:echo\",\"tools\":[$weather],$hi}" &&
	expect_status 200 && expect_json ".choices[0].message.content" hi
'
test_expect 'logprobs, reasoning_effort, metadata, store, service_tier, prediction, modalities reach the upstream; logprobs come back (fault 5)' '
	post /v1/chat/completions "$tok" "{\"model\":\"openclaw\",\"logprobs\":true,\"top_logprobs\":2,\"reasoning_effort\":\"low\",\"metadata\":{\"k\":\"v\"},\"store\":false,\"service_tier\":\"auto\",\"prediction\":{\"type\":\"content\",\"content\":\"x\"},\"modalities\":[\"text\"],\"top_k\":5,$hi}" &&
	expect_status 200 && upstream_last_json .body.logprobs true && upstream_last_json .body.top_logprobs 2 &&
	upstream_last_json .body.reasoning_effort low && upstream_last_json .body.metadata.k v &&
	upstream_last_json .body.store false && upstream_last_json .body.service_tier auto &&
	upstream_last_json .body.prediction.type content && upstream_last_json ".body.modalities[0]" text &&
	upstream_last_json .body.top_k 5 &&
	expect_json ".choices[0].logprobs.content[0].logprob" -0.25 &&
	stream /v1/chat/completions "$tok" "{\"model\":\"openclaw\",\"stream\":true,\"logprobs\":true,$hi}" &&
	acc_is ".choices[0].logprobs[0].token" fake
'
test_expect 'reasoning_content (and an upstream'"'"'s "reasoning") reaches the client (fault 5)' '
	post /v1/chat/completions "$tok" "{\"model\":\"openclaw:reason\",$hi}" && expect_status 200 &&
	expect_json ".choices[0].message.reasoning_content" "thinking about it" &&
	expect_json ".choices[0].message.content" "fake: hi" &&
	post /v1/chat/completions "$tok" "{\"model\":\"openclaw:reason2\",$hi}" &&
	expect_json ".choices[0].message.reasoning_content" "thinking about it" &&
	stream /v1/chat/completions "$tok" "{\"model\":\"openclaw:reason\",\"stream\":true,$hi}" &&
	acc_is ".choices[0].reasoning_content" "thinking about it" && acc_is ".choices[0].content" "fake: hi"
'
test_expect 'an event stream answering a non-streaming request becomes one completion (fault 6)' '
	post /v1/chat/completions "$tok" "{\"model\":\"openclaw:ssejson\",$hi}" && expect_status 200 &&
	expect_json .object chat.completion && expect_json ".choices[0].message.content" "fake: hi" &&
	expect_json ".choices[0].finish_reason" stop && upstream_last_json .body.stream false
'
stop_stack
test_done
