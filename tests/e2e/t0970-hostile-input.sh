#!/bin/sh
test_description='hostile input: one strict JSON object per body, no NUL anywhere, user under the session key rules'
# servers: lighttpd cgi
. ./lib.sh

export OPENCLAW_GATEWAY_TOKEN=test-token-hostile
tok=$OPENCLAW_GATEWAY_TOKEN
start_upstream
write_config "$T/clawcgi.json5" <<'CONF'
{
  gateway: { auth: { token: "${OPENCLAW_GATEWAY_TOKEN}" },
             http: { endpoints: { chatCompletions: { enabled: true } } } },
  agents: { list: [ { id: "main", default: true, model: "fake/gpt-test" } ] },
  models: { providers: { fake: { api: "openai-completions", baseUrl: "@UPSTREAM@" } } },
  session: { store: "@T@/sessions.db" },
}
CONF
start_stack "$T/clawcgi.json5"
db=$T/sessions.db
hi='"messages":[{"role":"user","content":"hi"}]'
# unchanged CMD...: CMD leaves the upstream and the store as they were
unchanged() {
	_un=$(upstream_count) _um=$(db_value "$db" "select count(*) from messages")
	"$@" && test "$(upstream_count)" = "$_un" &&
		test "$(db_value "$db" "select count(*) from messages")" = "$_um"
}
refused() { # refused BODY PART: 400 whose message holds PART, nothing sent or stored
	unchanged post /v1/chat/completions "$tok" "$1" && expect_status 400 &&
		expect_json .error.type invalid_request_error && expect_body_contains "$2"
}

test_expect 'alice has a stored session' '
	post /v1/chat/completions "$tok" "{\"user\":\"alice\",\"messages\":[{\"role\":\"user\",\"content\":\"my secret\"}]}" &&
	expect_status 200 && test "$(db_value "$db" "select count(*) from messages")" = 2
'
test_expect 'bytes after the JSON object: 400 (was 200)' '
	refused "{\"model\":\"openclaw\",$hi}xyz" "something follows its value"
'
test_expect 'a raw NUL byte inside a string: 400 (was cut there, 200)' '
	printf "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\0there\"}]}" >"$T/nul.json" &&
	refused "@$T/nul.json" "NUL byte"
'
test_expect '"alice\u0000mallory" never reaches alice'"'"'s session: 400' '
	refused "{\"user\":\"alice\\u0000mallory\",$hi}" "\\u0000" &&
	refused "{\"messages\":[{\"role\":\"user\",\"content\":\"a\\u0000b\"}]}" "\\u0000"
'
test_expect 'user under the session key rules: control characters, over 256 bytes: 400 naming `user`' '
	refused "{\"user\":\"al\\u0001ice\",$hi}" "Invalid \`user\`: control characters" &&
	long=$(printf "%0257d" 0) &&
	refused "{\"user\":\"$long\",$hi}" "Invalid \`user\`: it must be 1-256 bytes" &&
	long=$(printf "%0256d" 0) &&
	post /v1/chat/completions "$tok" "{\"user\":\"$long\",$hi}" && expect_status 200
'
test_expect 'an image_url given as a string: 400 naming it (was dropped silently)' '
	refused "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"see\"},{\"type\":\"image_url\",\"image_url\":\"data:image/png;base64,iVBORw0KGgo=\"}]}]}" \
		"\`messages[0].content[1].image_url\` must be an object"
'
test_expect 'a key given twice: 400 naming it, deep ones by their path' '
	refused "{\"model\":\"openclaw\",\"model\":\"openclaw:other\",$hi}" "\`model\` appears twice" &&
	refused "{\"messages\":[{\"role\":\"user\",\"content\":\"a\",\"content\":\"b\"}]}" "\`messages[0].content\` appears twice"
'
test_expect 'a body nested 900 deep is taken whole (a worker thread'"'"'s stack holds it); 5000 deep is a 400' '
	deep() { python3 -c "import sys; n=int(sys.argv[1]); print(\"{\\\"x_deep\\\":\" + \"[\" * n + \"]\" * n + \",\" + sys.argv[2] + \"}\")" "$1" "$hi"; } &&
	post /v1/chat/completions "$tok" "$(deep 900)" && expect_status 200 &&
	upstream_last_json ".body.messages[0].content" "hi" &&
	refused "$(deep 5000)" "JSON"
'
test_expect 'alice'"'"'s session holds only her own turn, and her next one replays it' '
	test "$(db_value "$db" "select count(*) from messages where session_key = '"'"'agent:main:openai-user:alice'"'"'")" = 2 &&
	test "$(db_value "$db" "select count(*) from sessions where session_key like '"'"'%alice%'"'"'")" = 1 &&
	post /v1/chat/completions "$tok" "{\"user\":\"alice\",$hi}" && expect_status 200 &&
	upstream_last_json ".body.messages[0].content" "my secret"
'
test_done
