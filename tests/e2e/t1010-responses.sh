#!/bin/sh
test_description='POST /v1/responses, GET and DELETE /v1/responses/{id}: items, events, continuing by id'
# the mapping is clawcgi's own, the same behind every server: behind
# lighttpd and CGI (the two ways clawcgi reads requests) and nginx
# servers: lighttpd nginx cgi
. ./lib.sh

export OPENCLAW_GATEWAY_TOKEN=test-token-responses
tok=$OPENCLAW_GATEWAY_TOKEN
cmds=$srcdir/tests/commands
start_upstream
write_config "$T/clawcgi.json5" <<CONF
{
  gateway: { auth: { token: "\${OPENCLAW_GATEWAY_TOKEN}" },
             http: { endpoints: { chatCompletions: { enabled: true, keepAliveSeconds: 1 },
                                  responses: { enabled: true, maxBodyBytes: 65536 } } } },
  agents: { list: [
    { id: "main", default: true, model: "fake/gpt-test", systemPrompt: "You are the main test agent." },
    { id: "slow", model: "fake/slow" },
    { id: "tools", model: "fake/tools" },
    { id: "tools2", model: "fake/tools2" },
    { id: "reason", model: "fake/reason" },
    { id: "length", model: "fake/length" },
    { id: "broken", model: "fake/error-500" },
    { id: "cut", model: "fake/cut" },
    { id: "claude", model: "claude/claude-test" },
    { id: "claudetools", model: "claude/tools" },
    { id: "cmd", model: "words/w1" },
    { id: "echo", model: "echo/echo" },
    { id: "think", model: "fake/think" },
    { id: "drip", model: "fake/drip" },
    { id: "silent", model: "silent/x" },
    { id: "cached", model: "fake/cached" },
    { id: "claudecached", model: "claude/cached" },
  ] },
  models: { providers: {
    fake: { api: "openai-completions", baseUrl: "@UPSTREAM@", apiKey: "sk-test-upstream-key", retries: 0 },
    claude: { api: "anthropic-messages", baseUrl: "@UPSTREAM@", apiKey: "sk-ant-test-key" },
    words: { api: "command", command: ["/usr/bin/python3", "$cmds/words.py"] },
    silent: { api: "command", command: ["true"] },
    echo: { api: "echo" },
  } },
  session: { store: "@T@/sessions.db" },
}
CONF
start_stack "$T/clawcgi.json5"
q() { printf '{"model":"%s","input":"%s"%s}' "$1" "$2" "${3:-}"; }
check() { python3 "$LIBDIR/responses_check.py" "$T/stream.txt" "$@"; }
# tests run in subshells: ids one test keeps for the next go through files
keep() { json_get .id >"$T/$1.id"; }
id_of() { cat "$T/$1.id"; }

test_expect 'a response object: a message item with output_text, usage, status completed' '
	post /v1/responses "$tok" "$(q openclaw hello)" && expect_status 200 &&
	expect_json .object response && expect_json .status completed &&
	expect_json_match .id "^resp_[0-9a-f]{32}$" && expect_json_match .created_at "^[0-9]+$" &&
	expect_json .model openclaw &&
	expect_json ".output[0].type" message && expect_json ".output[0].role" assistant &&
	expect_json ".output[0].status" completed && expect_json_match ".output[0].id" "^msg_" &&
	expect_json ".output[0].content[0].type" output_text &&
	expect_json ".output[0].content[0].text" "fake: hello" &&
	expect_json ".output[0].content[0].annotations" "[]" &&
	expect_json .output_text "fake: hello" &&
	expect_json .usage.input_tokens 11 && expect_json .usage.output_tokens 7 &&
	expect_json .usage.total_tokens 18 && expect_json .previous_response_id null &&
	expect_json .store true && expect_json .error null && expect_json .incomplete_details null
'
test_expect 'upstream got a chat completion: the agent prompt, then the input as a user message' '
	upstream_last_json ".body.messages[0].content" "You are the main test agent." &&
	upstream_last_json ".body.messages[1].role" user &&
	upstream_last_json ".body.messages[1].content" hello && upstream_last_json ".body.stream" false
'
test_expect 'instructions follow the agent prompt; items, parts and parameters are translated' '
	post /v1/responses "$tok" "{\"model\":\"openclaw\",\"instructions\":\"Be brief.\",\"max_output_tokens\":50,\"temperature\":0.5,\"top_p\":0.9,\"reasoning\":{\"effort\":\"low\"},\"input\":[{\"role\":\"developer\",\"content\":\"Dev note.\"},{\"type\":\"message\",\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"look\"},{\"type\":\"input_image\",\"image_url\":\"data:image/png;base64,iVBORw0KGgo=\"}]},{\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"seen\"}]},{\"role\":\"user\",\"content\":\"and?\"}]}" &&
	expect_status 200 && expect_json .instructions "Be brief." && expect_json .max_output_tokens 50 &&
	upstream_last_json ".body.messages[0].content" "You are the main test agent.

Be brief.

Dev note." &&
	upstream_last_json ".body.messages[1].content[0].type" text &&
	upstream_last_json ".body.messages[1].content[1].type" image_url &&
	upstream_last_json ".body.messages[1].content[1].image_url.url" "data:image/png;base64,iVBORw0KGgo=" &&
	upstream_last_json ".body.messages[2].role" assistant &&
	upstream_last_json ".body.messages[2].content" seen &&
	upstream_last_json ".body.max_completion_tokens" 50 && upstream_last_json ".body.temperature" 0.5 &&
	upstream_last_json ".body.top_p" 0.9 && upstream_last_json ".body.reasoning_effort" low &&
	upstream_last_json ".body.input" "(absent)" && upstream_last_json ".body.instructions" "(absent)"
'
test_expect 'a stream: named events in order, sequence numbers, the text whole at the end' '
	stream /v1/responses "$tok" "$(q openclaw hello ",\"stream\":true")" && expect_status 200 &&
	expect_header Content-Type text/event-stream &&
	check --text "fake: hello" --status completed --terminal response.completed
'
test_expect 'the stream announces message, part, deltas, done events' '
	grep -c "^[0-9.]*	event: response.output_text.delta" "$T/stream.txt" | grep -qx 3 &&
	for e in response.output_item.added response.content_part.added response.output_text.done response.content_part.done response.output_item.done; do
		grep -q "	event: $e\$" "$T/stream.txt" || { echo "# no $e"; return 1; }; done
'
test_expect 'deltas 300 ms apart upstream arrive spread out' '
	stream /v1/responses "$tok" "$(q openclaw:slow hi ",\"stream\":true")" && check --spread 0.45
'
test_expect 'function call out, function_call_output in, the answer uses it' '
	post /v1/responses "$tok" "{\"model\":\"openclaw:tools\",\"input\":\"weather?\",\"tools\":[{\"type\":\"function\",\"name\":\"get_weather\",\"description\":\"d\",\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}},\"strict\":true}]}" &&
	expect_status 200 && expect_json ".output[0].type" function_call &&
	expect_json ".output[0].name" get_weather && expect_json ".output[0].arguments" "{\"city\":\"Paris\"}" &&
	expect_json_match ".output[0].call_id" "^call_fake_" && expect_json_match ".output[0].id" "^fc_" &&
	upstream_last_json ".body.tools[0].function.name" get_weather &&
	upstream_last_json ".body.tools[0].function.strict" true &&
	call=$(json_get ".output[0].call_id") && prev=$(json_get .id) &&
	post /v1/responses "$tok" "{\"model\":\"openclaw:tools\",\"previous_response_id\":\"$prev\",\"input\":[{\"type\":\"function_call_output\",\"call_id\":\"$call\",\"output\":\"sunny\"}],\"tools\":[{\"type\":\"function\",\"name\":\"get_weather\"}]}" &&
	expect_status 200 && expect_json .output_text "fake: the tool said sunny" &&
	expect_json .previous_response_id "$prev" &&
	upstream_last_json ".body.messages[1].tool_calls[0].id" "$call" &&
	upstream_last_json ".body.messages[2].role" tool &&
	upstream_last_json ".body.messages[2].tool_call_id" "$call"
'
test_expect 'a client that keeps the items sends function_call and function_call_output itself' '
	post /v1/responses "$tok" "{\"model\":\"openclaw:tools\",\"store\":false,\"input\":[{\"role\":\"user\",\"content\":\"weather?\"},{\"type\":\"function_call\",\"call_id\":\"c1\",\"name\":\"get_weather\",\"arguments\":\"{}\"},{\"type\":\"function_call_output\",\"call_id\":\"c1\",\"output\":\"rain\"}],\"tools\":[{\"type\":\"function\",\"name\":\"get_weather\"}]}" &&
	expect_status 200 && expect_json .output_text "fake: the tool said rain" && expect_json .store false
'
test_expect 'streamed function calls: added, argument deltas, done, in parallel' '
	stream /v1/responses "$tok" "{\"model\":\"openclaw:tools2\",\"stream\":true,\"input\":\"w\",\"tools\":[{\"type\":\"function\",\"name\":\"a\"},{\"type\":\"function\",\"name\":\"b\"}]}" &&
	check --calls 2 --status completed &&
	grep -q "event: response.function_call_arguments.delta" "$T/stream.txt"
'
test_expect 'reasoning comes out as a reasoning item before the message' '
	post /v1/responses "$tok" "$(q openclaw:reason hi)" && expect_status 200 &&
	expect_json ".output[0].type" reasoning &&
	expect_json ".output[0].content[0].text" "thinking about it" &&
	expect_json ".output[1].type" message &&
	stream /v1/responses "$tok" "$(q openclaw:reason hi ",\"stream\":true")" &&
	check --reasoning "thinking about it" &&
	grep -c "	event: response.content_part.added\$" "$T/stream.txt" | grep -qx 2 &&
	grep -c "	event: response.content_part.done\$" "$T/stream.txt" | grep -qx 2
'
test_expect 'cut by the limit: incomplete, reason max_output_tokens (and response.incomplete)' '
	post /v1/responses "$tok" "$(q openclaw:length hi)" && expect_json .status incomplete &&
	expect_json .incomplete_details.reason max_output_tokens &&
	stream /v1/responses "$tok" "$(q openclaw:length hi ",\"stream\":true")" &&
	check --status incomplete --terminal response.incomplete
'
test_expect 'an Anthropic refusal: incomplete, reason content_filter (and response.incomplete)' '
	post /v1/responses "$tok" "$(q openclaw:claude hi)" -H "x-openclaw-model: claude/refusal" &&
	expect_status 200 && expect_json .status incomplete &&
	expect_json .incomplete_details.reason content_filter &&
	stream /v1/responses "$tok" "$(q openclaw:claude hi ",\"stream\":true")" -H "x-openclaw-model: claude/refusal" &&
	check --status incomplete --terminal response.incomplete &&
	grep "\"type\":\"response.incomplete\"" "$T/stream.txt" | grep -q "\"reason\":\"content_filter\""
'
test_expect 'previous_response_id continues the conversation' '
	post /v1/responses "$tok" "$(q openclaw first)" && keep first &&
	post /v1/responses "$tok" "$(q openclaw second ",\"previous_response_id\":\"$(id_of first)\"")" &&
	expect_status 200 && keep second &&
	upstream_last_json ".body.messages[1].content" first &&
	upstream_last_json ".body.messages[2].content" "fake: first" &&
	upstream_last_json ".body.messages[3].content" second &&
	post /v1/responses "$tok" "$(q openclaw third ",\"previous_response_id\":\"$(id_of second)\"")" &&
	upstream_last_json ".body.messages[5].content" third
'
test_expect 'continuing from an earlier response branches: the later turns are not in it' '
	post /v1/responses "$tok" "$(q openclaw other ",\"previous_response_id\":\"$(id_of first)\"")" &&
	expect_status 200 && upstream_last_json ".body.messages[3].content" other &&
	upstream_last_json ".body.messages[4]" "(absent)" && keep branch &&
	post /v1/responses "$tok" "$(q openclaw more ",\"previous_response_id\":\"$(id_of branch)\"")" &&
	upstream_last_json ".body.messages[3].content" other &&
	upstream_last_json ".body.messages[5].content" more
'
test_expect 'an unknown previous_response_id: 404 naming the param, nothing stored' '
	before=$(db_value "$T/sessions.db" "SELECT count(*) FROM messages") &&
	post /v1/responses "$tok" "$(q openclaw x ",\"previous_response_id\":\"resp_nope\"")" &&
	expect_status 404 && expect_json .error.type invalid_request_error &&
	expect_json .error.param previous_response_id &&
	[ "$(db_value "$T/sessions.db" "SELECT count(*) FROM messages")" = "$before" ]
'
test_expect 'a response of another agent cannot be continued by this one: 400' '
	post /v1/responses "$tok" "$(q openclaw:echo x ",\"previous_response_id\":\"$(id_of first)\"")" &&
	expect_status 400 && expect_json .error.param previous_response_id
'
test_expect 'GET returns the stored response, DELETE forgets it' '
	second=$(id_of second) &&
	get "/v1/responses/$second" "$tok" && expect_status 200 && expect_json .id "$second" &&
	expect_json .output_text "fake: second" && expect_json .previous_response_id "$(id_of first)" &&
	_curl DELETE "/v1/responses/$second" "$tok" "" && expect_status 200 &&
	expect_json .id "$second" && expect_json .deleted true && expect_json .object response &&
	get "/v1/responses/$second" "$tok" && expect_status 404 &&
	_curl DELETE "/v1/responses/$second" "$tok" "" && expect_status 404 &&
	post /v1/responses "$tok" "$(q openclaw x ",\"previous_response_id\":\"$second\"")" &&
	expect_status 404
'
test_expect 'store:false: answered, never kept, cannot be continued' '
	before=$(db_value "$T/sessions.db" "SELECT count(*) FROM messages") &&
	post /v1/responses "$tok" "$(q openclaw nostore ",\"store\":false")" && expect_status 200 &&
	expect_json .store false && id=$(json_get .id) &&
	get "/v1/responses/$id" "$tok" && expect_status 404 &&
	[ "$(db_value "$T/sessions.db" "SELECT count(*) FROM messages")" = "$before" ]
'
test_expect 'a stored response with a session key continues that session' '
	post /v1/responses "$tok" "$(q openclaw k1)" -H "x-openclaw-session-key: resp-key" &&
	post /v1/chat/completions "$tok" "{\"model\":\"openclaw\",\"messages\":[{\"role\":\"user\",\"content\":\"k2\"}]}" -H "x-openclaw-session-key: resp-key" &&
	upstream_last_json ".body.messages[1].content" k1 &&
	upstream_last_json ".body.messages[3].content" k2
'
test_expect 'GET and DELETE of a response need the token' '
	get "/v1/responses/$(id_of first)" "" && expect_status 401 &&
	_curl DELETE "/v1/responses/$(id_of first)" "" "" && expect_status 401
'
test_expect 'wrong methods: 405 with Allow' '
	get /v1/responses "$tok" && expect_status 405 && expect_header Allow POST &&
	post "/v1/responses/$(id_of first)" "$tok" "{}" && expect_status 405 && expect_header Allow DELETE
'
test_expect 'the Anthropic provider behind /v1/responses, plain and streamed' '
	post /v1/responses "$tok" "$(q openclaw:claude hi)" && expect_status 200 &&
	expect_json_match .output_text "hi" &&
	stream /v1/responses "$tok" "$(q openclaw:claude hi ",\"stream\":true")" && check --status completed
'
test_expect 'the Anthropic provider: a tool call as a function_call item' '
	post /v1/responses "$tok" "{\"model\":\"openclaw:claudetools\",\"input\":\"w\",\"tools\":[{\"type\":\"function\",\"name\":\"get_weather\",\"parameters\":{\"type\":\"object\"}}]}" &&
	expect_status 200 && expect_json ".output[0].type" function_call &&
	expect_json ".output[0].name" get_weather
'
test_expect 'the command provider behind /v1/responses, streamed word by word' '
	stream /v1/responses "$tok" "$(q openclaw:cmd "one two" ",\"stream\":true")" && expect_status 200 &&
	check --text "cmd: one two" --status completed
'
test_expect 'a model that says nothing: one empty message item, plain and streamed' '
	post /v1/responses "$tok" "$(q openclaw:silent x)" && expect_status 200 &&
	expect_json ".output[0].type" message && expect_json ".output[0].content[0].text" "" &&
	expect_json ".output[1]" "(absent)" &&
	stream /v1/responses "$tok" "$(q openclaw:silent x ",\"stream\":true")" &&
	check --text "" --status completed &&
	grep -q "	event: response.output_item.added\$" "$T/stream.txt"
'
test_expect 'an upstream failure before the stream: 502 in the error shape' '
	post /v1/responses "$tok" "$(q openclaw:broken x)" && expect_status 502 &&
	expect_json .error.type upstream_error
'
test_expect 'a failure mid-stream: response.failed with the error, last' '
	stream /v1/responses "$tok" "$(q openclaw:cut x ",\"stream\":true")" &&
	check --terminal response.failed &&
	grep "\"type\":\"response.failed\"" "$T/stream.txt" | grep "\"status\":\"failed\"" |
		grep -q "\"error\":{\"code\":\"server_error\""
'
test_expect 'a silent model: ": keep-alive" comments before the first event after in_progress' '
	stream /v1/responses "$tok" "$(q openclaw:think hmm ",\"stream\":true")" && expect_status 200 &&
	n=$(awk -F "\t" "\$2 == \": keep-alive\"" "$T/stream.txt" | wc -l) && echo "# $n keep-alive comments" &&
	test "$n" -ge 2 && check --text "fake: hmm" --status completed
'
test_expect 'the client leaving mid-stream: the upstream is cut, what it got is kept as cancelled' '
	before=$(upstream_stat aborted) &&
	LEAVE_PATH=/v1/responses leave "{\"model\":\"openclaw:drip\",\"stream\":true,\"user\":\"quitter\",\"input\":\"long\"}" after1 &&
	i=0; while [ "$(db_value "$T/sessions.db" "select count(*) from responses where session_key like \"%quitter\"")" = 0 ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done &&
	body=$(db_value "$T/sessions.db" "select body from responses where session_key like \"%quitter\"") &&
	case $body in *"\"status\":\"cancelled\""*"\"text\":\"w0 "*) ;; *) echo "# stored: $body"; false;; esac &&
	case $body in *w23*) echo "# the whole answer was stored"; false;; esac &&
	{ test "$(db_value "$T/sessions.db" "select interrupted from messages where role = \"assistant\" and session_key like \"%quitter\"")" = 1 ||
		{ echo "# the answer is not marked interrupted"; false; }; } &&
	# the upstream counts the abort when its next write fails, which can
	# come after the turn is stored (seen with three files at once)
	i=0 && while [ "$(upstream_stat aborted)" = "$before" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done &&
	{ test "$(upstream_stat aborted)" -gt "$before" || { echo "# the upstream saw no abort"; false; }; }
'
test_expect 'a function_call_output answering no function_call: 400 naming input[N].call_id, nothing called or stored' '
	n=$(upstream_count) && before=$(db_value "$T/sessions.db" "SELECT count(*) FROM messages") &&
	post /v1/responses "$tok" "{\"model\":\"openclaw:tools\",\"instructions\":\"i\",\"input\":[{\"role\":\"user\",\"content\":\"weather?\"},{\"type\":\"function_call\",\"call_id\":\"c1\",\"name\":\"get_weather\",\"arguments\":\"{}\"},{\"type\":\"reasoning\",\"summary\":[]},{\"type\":\"function_call_output\",\"call_id\":\"c1\",\"output\":\"rain\"},{\"type\":\"function_call_output\",\"call_id\":\"c_nope\",\"output\":\"x\"}]}" &&
	expect_status 400 && expect_json .error.type invalid_request_error &&
	expect_json .error.param "input[4].call_id" && expect_body_contains "\`input[4].call_id\`" &&
	post /v1/responses "$tok" "{\"model\":\"openclaw:claude\",\"stream\":true,\"input\":[{\"type\":\"function_call_output\",\"call_id\":\"c_nope\",\"output\":\"x\"}]}" &&
	expect_status 400 && expect_json .error.param "input[0].call_id" &&
	post /v1/responses "$tok" "$(q openclaw first)" && expect_status 200 && prev=$(json_get .id) &&
	n=$(upstream_count) && before=$(db_value "$T/sessions.db" "SELECT count(*) FROM messages") &&
	post /v1/responses "$tok" "{\"previous_response_id\":\"$prev\",\"input\":[{\"role\":\"user\",\"content\":\"and\"},{\"type\":\"function_call_output\",\"call_id\":\"c_nope\",\"output\":\"x\"}]}" &&
	expect_status 400 && expect_json .error.param "input[1].call_id" &&
	expect_body_contains "history" &&
	test "$(upstream_count)" = "$n" &&
	test "$(db_value "$T/sessions.db" "SELECT count(*) FROM messages")" = "$before"
'
test_expect 'a function_call_output on an earlier response (a branch): 400, and no branch is stored' '
	post /v1/responses "$tok" "$(q openclaw one)" && expect_status 200 && one=$(json_get .id) &&
	post /v1/responses "$tok" "$(q openclaw two ",\"previous_response_id\":\"$one\"")" && expect_status 200 &&
	n=$(upstream_count) && before=$(db_value "$T/sessions.db" "SELECT count(*) FROM messages") &&
	post /v1/responses "$tok" "{\"previous_response_id\":\"$one\",\"input\":[{\"type\":\"function_call_output\",\"call_id\":\"c_nope\",\"output\":\"x\"}]}" &&
	expect_status 400 && expect_json .error.param "input[0].call_id" &&
	test "$(upstream_count)" = "$n" &&
	test "$(db_value "$T/sessions.db" "SELECT count(*) FROM messages")" = "$before"
'
bad() { # BODY PARAM-TEXT
	post /v1/responses "$tok" "$1" && expect_status 400 &&
	expect_json .error.type invalid_request_error &&
	case $(json_get .error.message) in *"$2"*) ;; *) echo "# message: $(json_get .error.message)"; return 1;; esac
}
test_expect 'every bad input is a 400 naming the field' '
	bad "{\"model\":\"openclaw\"}" "\`input\`" &&
	bad "{\"input\":[]}" "\`input\`" &&
	bad "{\"input\":5}" "\`input\`" &&
	bad "{\"input\":[{\"type\":\"file_search_call\"}]}" "\`input[0].type\` '"'"'file_search_call'"'"'" &&
	bad "{\"input\":[{\"role\":\"robot\",\"content\":\"x\"}]}" "\`input[0].role\`" &&
	bad "{\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_file\"}]}]}" "\`input[0].content[0].type\`" &&
	bad "{\"input\":[{\"type\":\"function_call_output\",\"output\":\"x\"}]}" "call_id" &&
	bad "{\"input\":\"x\",\"tools\":[{\"type\":\"web_search\"}]}" "\`tools[0].type\` '"'"'web_search'"'"'" &&
	bad "{\"input\":\"x\",\"tools\":[{\"type\":\"file_search\",\"vector_store_ids\":[]}]}" "file_search" &&
	bad "{\"input\":\"x\",\"tools\":[{\"type\":\"computer_use_preview\"}]}" "computer_use_preview" &&
	bad "{\"input\":\"x\",\"tools\":[{\"type\":\"function\"}]}" "\`tools[0].name\`" &&
	bad "{\"input\":\"x\",\"tool_choice\":{\"type\":\"web_search_preview\"}}" "tool_choice.type" &&
	bad "{\"input\":\"x\",\"max_output_tokens\":0}" "\`max_output_tokens\`" &&
	bad "{\"input\":\"x\",\"temperature\":\"hot\"}" "\`temperature\`" &&
	bad "{\"input\":\"x\",\"store\":1}" "\`store\`" &&
	bad "{\"input\":\"x\",\"stream\":\"yes\"}" "\`stream\`" &&
	bad "{\"input\":\"x\",\"metadata\":[]}" "\`metadata\`" &&
	bad "{\"input\":\"x\",\"previous_response_id\":5}" "\`previous_response_id\`" &&
	bad "{\"input\":\"x\",\"text\":{\"format\":{\"type\":\"json_schema\",\"schema\":{}}}}" "\`text.format.name\`" &&
	bad "{\"input\":\"x\",\"text\":{\"format\":{\"type\":\"json_schema\",\"name\":\"n\"}}}" "\`text.format.schema\`" &&
	bad "{\"input\":\"x\",\"reasoning\":{\"effort\":3}}" "\`reasoning.effort\`" &&
	bad "{\"input\":\"x\",\"background\":true}" "\`background\`" &&
	bad "{\"input\":\"x\",\"user\":7}" "\`user\`"
'
# a 400 naming the Responses field, never the chat request's it was translated to
rbad() { # BODY PARAM-TEXT
	bad "$1" "$2" &&
	! grep -qE 'messages\[|`messages`|image_url\.url|\.function\.|response_format|reasoning_effort|max_completion_tokens' "$T/last.body" ||
		{ echo "# message: $(json_get .error.message)"; return 1; }
}
img() { printf '{"instructions":"i","input":[{"role":"user","content":[{"type":"input_text","text":"see"},{"type":"input_image","image_url":"%s"}]}]}' "$1"; }
f_tool='{"type":"function","name":"f"}'
test_expect 'errors of the translated request name the Responses fields: images, input, tools, tool_choice, text.format' '
	rbad "$(img "")" "\`input[0].content[1].image_url\`" &&
	rbad "$(img "ftp://x/a.png")" "\`input[0].content[1].image_url\`" &&
	rbad "$(img "data:image/png;base64,@@")" "\`input[0].content[1].image_url\`" &&
	rbad "$(img "https://example.com/a.png")" "\`input[0].content[1]\`" &&
	rbad "{\"input\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"b\"}]},{\"role\":\"user\",\"content\":[{\"type\":\"input_image\",\"image_url\":\"\"}]}]}" "\`input[2].content[0].image_url\`" &&
	rbad "{\"input\":[{\"role\":\"assistant\",\"content\":\"x\"}]}" "in \`input\`" &&
	rbad "{\"input\":[{\"type\":\"reasoning\",\"summary\":[]}]}" "\`input\`" &&
	rbad "{\"input\":\"x\",\"tools\":[{\"type\":\"function\",\"name\":\"a b\"}]}" "\`tools[0].name\`" &&
	rbad "{\"input\":\"x\",\"tools\":[$f_tool,{\"type\":\"function\",\"name\":\"g\",\"parameters\":5}]}" "\`tools[1].parameters\`" &&
	rbad "{\"input\":\"x\",\"tools\":[{\"type\":\"function\",\"name\":\"g\",\"description\":5}]}" "\`tools[0].description\`" &&
	rbad "{\"input\":\"x\",\"tools\":[$f_tool],\"tool_choice\":{\"type\":\"function\",\"name\":\"nope\"}}" "\`tool_choice.name\`" &&
	rbad "{\"input\":\"x\",\"text\":{\"format\":{\"type\":\"json_schema\",\"name\":\"a b\",\"schema\":{}}}}" "\`text.format.name\`" &&
	rbad "{\"input\":\"x\",\"text\":{\"format\":{\"type\":\"json_schema\",\"name\":\"n\",\"schema\":{},\"strict\":\"yes\"}}}" "\`text.format.strict\`"
'
test_expect 'a provider mapping'"'"'s errors name the Responses fields too (anthropic-messages)' '
	n=$(upstream_count) &&
	rbad "$(q openclaw:claude x ",\"reasoning\":{\"effort\":\"maximal\"}")" "\`reasoning.effort\`" &&
	rbad "$(q openclaw:claude x ",\"reasoning\":{\"effort\":\"low\"},\"max_output_tokens\":1000")" "\`max_output_tokens\` must be above 1024" &&
	rbad "$(q openclaw:claude x ",\"tools\":[$f_tool],\"text\":{\"format\":{\"type\":\"json_schema\",\"name\":\"f\",\"schema\":{}}}")" "\`text.format.name\`" &&
	rbad "{\"model\":\"openclaw:claude\",\"instructions\":\"i\",\"input\":[{\"role\":\"user\",\"content\":\"w\"},{\"type\":\"function_call\",\"call_id\":\"c1\",\"name\":\"f\",\"arguments\":\"{}\"},{\"type\":\"reasoning\",\"summary\":[]},{\"type\":\"function_call\",\"call_id\":\"c2\",\"name\":\"f\",\"arguments\":\"[1]\"},{\"type\":\"function_call_output\",\"call_id\":\"c1\",\"output\":\"a\"},{\"type\":\"function_call_output\",\"call_id\":\"c2\",\"output\":\"b\"}]}" "\`input[3].arguments\`" &&
	rbad "{\"model\":\"openclaw:claude\",\"input\":[{\"role\":\"user\",\"content\":\"w\"},{\"role\":\"assistant\",\"content\":\"let me\"},{\"type\":\"function_call\",\"call_id\":\"c1\",\"name\":\"f\",\"arguments\":\"[1]\"},{\"type\":\"function_call_output\",\"call_id\":\"c1\",\"output\":\"a\"}]}" "\`input[2].arguments\`" &&
	test "$(upstream_count)" = "$n"
'
test_expect 'bad inputs stored nothing and reached no upstream' '
	n=$(upstream_count) && bad "{\"input\":\"x\",\"tools\":[{\"type\":\"web_search\"}]}" web_search &&
	[ "$(upstream_count)" = "$n" ]
'
test_expect 'text.format json_schema becomes response_format' '
	post /v1/responses "$tok" "{\"input\":\"x\",\"text\":{\"format\":{\"type\":\"json_schema\",\"name\":\"answer\",\"schema\":{\"type\":\"object\"},\"strict\":true}}}" &&
	expect_status 200 && upstream_last_json ".body.response_format.type" json_schema &&
	upstream_last_json ".body.response_format.json_schema.name" answer &&
	upstream_last_json ".body.response_format.json_schema.strict" true &&
	expect_json .text.format.name answer
'
test_expect 'a body over maxBodyBytes: 413' '
	python3 -c "import json; print(json.dumps({\"input\": \"x\" * 70000}))" >"$T/big.json" &&
	post /v1/responses "$tok" "@$T/big.json" && expect_status 413
'
test_expect 'no token: 401' '
	post /v1/responses "" "$(q openclaw hi)" && expect_status 401
'
# final_usage: the usage of the recorded stream's terminal event
final_usage() {
	python3 -c 'import json, sys
usage = None
for raw in open(sys.argv[1], encoding="utf-8"):
    line = raw.rstrip("\n").partition("\t")[2]
    if line.startswith("data: "):
        r = json.loads(line[6:]).get("response") or {}
        if r.get("status") not in (None, "in_progress"):
            usage = r.get("usage")
print(json.dumps(usage))' "$T/stream.txt"
}
test_expect 'usage details: the upstream cached_tokens and reasoning_tokens, not 0' '
	post /v1/responses "$tok" "$(q openclaw:cached hi)" && expect_status 200 &&
	expect_json .usage "{\"input_tokens\": 2011, \"input_tokens_details\": {\"cached_tokens\": 2000, \"cache_write_tokens\": 0}, \"output_tokens\": 7, \"output_tokens_details\": {\"reasoning_tokens\": 5}, \"total_tokens\": 2018}"
'
test_expect 'usage of a cached Anthropic prompt, streamed: input_tokens counts it whole, cached_tokens and cache_write_tokens say which' '
	stream /v1/responses "$tok" "$(q openclaw:claudecached hi ",\"stream\":true")" && expect_status 200 &&
	test "$(final_usage)" = "{\"input_tokens\": 2513, \"input_tokens_details\": {\"cached_tokens\": 2000, \"cache_write_tokens\": 500}, \"output_tokens\": 9, \"output_tokens_details\": {\"reasoning_tokens\": 0}, \"total_tokens\": 2522}" ||
	{ echo "# usage $(final_usage)"; false; }
'
stop_stack

write_config "$T/off.json5" <<CONF
{
  gateway: { auth: { token: "\${OPENCLAW_GATEWAY_TOKEN}" },
             http: { endpoints: { chatCompletions: { enabled: true } } } },
  agents: { list: [ { id: "main", model: "echo/echo" } ] },
  models: { providers: { echo: { api: "echo" } } },
  session: { store: "@T@/off.db" },
}
CONF
start_stack "$T/off.json5"
test_expect 'responses off by default: 404 for POST, GET and DELETE' '
	post /v1/responses "$tok" "$(q openclaw hi)" && expect_status 404 &&
	get /v1/responses/resp_x "$tok" && expect_status 404 &&
	_curl DELETE /v1/responses/resp_x "$tok" "" && expect_status 404
'
test_done
