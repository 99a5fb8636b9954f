#!/bin/sh
test_description='request bodies: limits, malformed input, each a clear 4xx; the worker lives'
. ./lib.sh

export OPENCLAW_GATEWAY_TOKEN=test-token-body
tok=$OPENCLAW_GATEWAY_TOKEN
start_upstream
write_config "$T/clawcgi.json5" <<'CONF'
{
  gateway: { auth: { token: "${OPENCLAW_GATEWAY_TOKEN}" },
             http: { endpoints: { chatCompletions: { enabled: true, maxBodyBytes: 65536 } } } },
  agents: { list: [ { id: "main", model: "fake/gpt-test" } ] },
  models: { providers: { fake: { api: "openai-completions", baseUrl: "@UPSTREAM@" } } },
  session: { store: "@T@/sessions.db" },
}
CONF
start_stack "$T/clawcgi.json5"
# mod_fcgid starts clawcgi with the first request
get /healthz ""
pids_before=$(stack_pids)

bad() { # bad BODY MESSAGE-PART
	post /v1/chat/completions "$tok" "$1" && expect_status 400 &&
	expect_json .error.type invalid_request_error && expect_body_contains "$2"
}
test_expect 'not JSON: 400' 'bad "{not json" "not valid JSON"'
test_expect 'JSON but not an object: 400' 'bad "[1,2]" "must be a JSON object"'
test_expect 'messages missing: 400 naming messages' 'bad "{\"model\":\"openclaw\"}" "Missing \`messages\`"'
test_expect 'messages not an array: 400' 'bad "{\"messages\":\"hi\"}" "\`messages\` must be an array"'
test_expect 'messages empty: 400' 'bad "{\"messages\":[]}" "must not be empty"'
test_expect 'a message that is not an object: 400 naming its index' \
	'bad "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},7]}" "\`messages[1]\` must be an object"'
test_expect 'content of the wrong type: 400 naming the field' \
	'bad "{\"messages\":[{\"role\":\"user\",\"content\":{\"a\":1}}]}" "\`messages[0].content\` must be a string or an array"'
test_expect 'no user message: 400 with the OpenClaw message' \
	'bad "{\"messages\":[{\"role\":\"system\",\"content\":\"be nice\"}]}" "Missing user message in \`messages\`."'
test_expect 'wrong parameter type: 400 naming it' \
	'bad "{\"temperature\":\"warm\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}" "\`temperature\` must be a number"'
test_expect 'non-UTF-8 content: 400' '
	printf "{\"messages\":[{\"role\":\"user\",\"content\":\"\377\376 bad\"}]}" >"$T/latin1.json" &&
	post /v1/chat/completions "$tok" "@$T/latin1.json" && expect_status 400 &&
	expect_body_contains "UTF-8"
'
test_expect 'body over maxBodyBytes: 413 from Content-Length' '
	python3 -c "import sys; sys.stdout.write(\"{\\\"messages\\\":[{\\\"role\\\":\\\"user\\\",\\\"content\\\":\\\"\" + \"x\" * 70000 + \"\\\"}]}\")" >"$T/big.json" &&
	post /v1/chat/completions "$tok" "@$T/big.json" && expect_status 413 &&
	expect_json .error.type invalid_request_error && expect_body_contains "Payload too large"
'
test_expect 'a 100 MB body: 413, and nothing crashes' '
	head -c 104857600 /dev/zero | tr "\0" "x" >"$T/huge.json" &&
	post /v1/chat/completions "$tok" "@$T/huge.json" && expect_status 413 &&
	rm -f "$T/huge.json"
'
test_expect 'a body cut short of its Content-Length: the server drops it, the workers live' '
	raw_request "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $tok\r\nContent-Type: application/json\r\nContent-Length: 500\r\nConnection: close\r\n\r\n{\"messages\":[]}" &&
	test "$(stack_pids)" = "$pids_before"
'
test_expect 'a body shorter than its CONTENT_LENGTH reaching clawcgi (CGI): 400' '
	printf "{\"messages\":[]}" | env -i GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=POST \
		SCRIPT_NAME=/v1/chat/completions CONTENT_LENGTH=500 HTTP_AUTHORIZATION="Bearer $tok" \
		OPENCLAW_GATEWAY_TOKEN=$tok CLAWCGI_CONFIG="$T/clawcgi.json5" \
		"$CLAWCGI_BIN" >"$T/cgi.out" 2>"$T/cgi.err" &&
	grep -q "^Status: 400" "$T/cgi.out" && grep -q "shorter than its Content-Length" "$T/cgi.out" &&
	grep -q "\"type\":\"invalid_request_error\"" "$T/cgi.out"
'
# (a shared host's Apache answers a header over 8 KB itself, also 400)
test_expect 'a 10 KB x-openclaw-session-key: 400' '
	big=$(python3 -c "print(\"k\" * 10240)") &&
	post /v1/chat/completions "$tok" "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}" -H "x-openclaw-session-key: $big" &&
	expect_status 400 && { [ "$SERVER" = cgi ] || expect_body_contains "x-openclaw-session-key"; }
'
test_expect 'a bad x-openclaw-agent-id: 400' '
	post /v1/chat/completions "$tok" "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}" -H "x-openclaw-agent-id: no such/agent" &&
	expect_status 400
'
test_expect 'after all that, a normal request is served by the same workers' '
	post /v1/chat/completions "$tok" "{\"messages\":[{\"role\":\"user\",\"content\":\"still here\"}]}" &&
	expect_status 200 && expect_json ".choices[0].message.content" "fake: still here" &&
	test "$(stack_pids)" = "$pids_before"
'
test_expect 'no rejected request reached the upstream' '
	test "$(upstream_count)" = 1
'
test_done
