#!/bin/sh
test_description='config: disabled endpoint, prefix mount, broken file, reload on change'
. ./lib.sh

export OPENCLAW_GATEWAY_TOKEN=test-token-config
tok=$OPENCLAW_GATEWAY_TOKEN
body='{"messages":[{"role":"user","content":"hi"}]}'
start_upstream
good() { # good ENABLED SYSTEM-PROMPT
	write_config "$T/clawcgi.json5" <<CONF
{
  gateway: { auth: { token: "\${OPENCLAW_GATEWAY_TOKEN}" },
             http: { endpoints: { chatCompletions: { enabled: $1 } } } },
  agents: { list: [ { id: "main", model: "fake/gpt-test", systemPrompt: "$2" } ] },
  models: { providers: { fake: { api: "openai-completions", baseUrl: "@UPSTREAM@" } } },
  session: { store: "@T@/sessions.db" },
}
CONF
}
# a later mtime, so a rewrite within the same second is still seen as a change
touch_later() { touch -d "@$(( $(date +%s) + $1 ))" "$T/clawcgi.json5"; }

good false "v1"
start_stack "$T/clawcgi.json5"
test_expect 'enabled: false (the default) makes the endpoint 404' '
	post /v1/chat/completions "$tok" "$body" && expect_status 404 && expect_json .error.type not_found
'
test_expect 'a disabled endpoint does not even ask for auth' '
	post /v1/chat/completions "" "$body" && expect_status 404
'
test_expect '/healthz still answers when the endpoint is disabled' '
	get /healthz "" && expect_status 200
'
test_expect 'enabling it in the file takes effect without a restart' '
	good true "v2" && touch_later 2 &&
	post /v1/chat/completions "$tok" "$body" && expect_status 200 &&
	upstream_last_json ".body.messages[0].content" v2
'
test_expect 'a change is picked up by the next request' '
	good true "v3" && touch_later 4 &&
	post /v1/chat/completions "$tok" "$body" && expect_status 200 &&
	upstream_last_json ".body.messages[0].content" v3
'
# Each process keeps the last good config it loaded itself: behind
# spawn-fcgi the kernel hands connections to either process, and one that
# served no request under v3 still has v2.  A CGI process lives for one
# request, so there is no last good config to keep: the answer is 500.
if [ "$SERVER" = cgi ]; then
	test_expect 'a broken new file: 500 under CGI (no earlier config in memory) and the log says why' '
		printf "{ gateway: { auth: { mode: \"magic\" } } }" >"$T/clawcgi.json5" && touch_later 6 &&
		post /v1/chat/completions "$tok" "$body" && expect_status 500 &&
		grep -q "unknown gateway.auth.mode .magic." "$SERVER_LOG"
	'
else
	test_expect 'a broken new file keeps the last good config and logs why' '
		printf "{ gateway: { auth: { mode: \"magic\" } } }" >"$T/clawcgi.json5" && touch_later 6 &&
		post /v1/chat/completions "$tok" "$body" && expect_status 200 &&
		case $(upstream_last_json ".body.messages[0].content") in
		v3) ;; v2) [ "$SERVER" = nginx ] ;; *) false ;; esac &&
		grep -q "unknown gateway.auth.mode .magic." "$SERVER_LOG" &&
		grep -q "keeping the last good configuration" "$SERVER_LOG"
	'
fi
stop_stack

printf "{ this is not json5 " >"$T/clawcgi.json5"
start_stack "$T/clawcgi.json5"
test_expect 'a config that fails to parse at start: 500 with a generic message' '
	post /v1/chat/completions "$tok" "$body" && expect_status 500 &&
	expect_json .error.type api_error && ! expect_body_contains "clawcgi.json5"
'
test_expect 'the parse error with line and column is in the error log, with the request' '
	grep -q "clawcgi.json5:1:[0-9]*:" "$SERVER_LOG"
'
test_expect '/healthz reports the broken config as 500' '
	get /healthz "" && expect_status 500
'
test_expect 'fixing the file brings the service back' '
	good true "fixed" && touch_later 8 &&
	post /v1/chat/completions "$tok" "$body" && expect_status 200
'
stop_stack

good true "prefixed"
start_stack "$T/clawcgi.json5" /api
test_expect 'mounted under /api: chat works' '
	post /v1/chat/completions "$tok" "$body" && expect_status 200 &&
	case "$BASE" in */api) true ;; *) false ;; esac
'
test_expect 'mounted under /api: healthz and models work' '
	get /healthz "" && expect_status 200 && get /v1/models "$tok" && expect_status 200
'
test_done
