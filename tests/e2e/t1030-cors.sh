#!/bin/sh
test_description='CORS: gateway.http.cors.allowedOrigins, the headers on every answer, OPTIONS preflights'
. ./lib.sh

export OPENCLAW_GATEWAY_TOKEN=test-token-cors
tok=$OPENCLAW_GATEWAY_TOKEN
app=https://app.example
conf() { # FILE CORS-SETTING
	write_config "$1" <<CONF
{
  gateway: { auth: { token: "\${OPENCLAW_GATEWAY_TOKEN}",
                     rateLimit: { maxAttempts: 3, exemptLoopback: false } },
             http: { endpoints: { chatCompletions: { enabled: true }, responses: { enabled: true } },
                     $2 } },
  agents: { list: [ { id: "main", model: "echo/echo", embeddingModel: "echo/echo" } ] },
  models: { providers: { echo: { api: "echo" } } },
  session: { store: "@T@/sessions.db" },
}
CONF
}
chat='{"messages":[{"role":"user","content":"hi"}]}'
cors_of() { grep -i "^Access-Control-Allow-Origin:" "$T/last.headers" | tr -d '\r' | sed 's/^[^:]*: *//'; }
no_cors() { ! grep -qi "^Access-Control-" "$T/last.headers" || { echo "# CORS headers:"; grep -i "^Access-Control-" "$T/last.headers"; return 1; }; }

conf "$T/on.json5" "cors: { allowedOrigins: [\"$app\", \"http://127.0.0.1:9\"] },"
start_stack "$T/on.json5"

test_expect 'a listed origin gets Access-Control-Allow-Origin and Vary: Origin' '
	post /v1/chat/completions "$tok" "$chat" -H "Origin: $app" && expect_status 200 &&
	[ "$(cors_of)" = "$app" ] && expect_header Vary Origin
'
test_expect 'on streams, errors, models, responses, embeddings and healthz too' '
	stream /v1/chat/completions "$tok" "{\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" -H "Origin: $app" &&
	expect_status 200 && [ "$(cors_of)" = "$app" ] &&
	post /v1/chat/completions "$tok" "{" -H "Origin: $app" && expect_status 400 && [ "$(cors_of)" = "$app" ] &&
	get /v1/models "$tok" -H "Origin: $app" && [ "$(cors_of)" = "$app" ] &&
	post /v1/responses "$tok" "{\"input\":\"hi\"}" -H "Origin: $app" && expect_status 200 && [ "$(cors_of)" = "$app" ] &&
	post /v1/embeddings "$tok" "{\"input\":\"hi\"}" -H "Origin: $app" && expect_status 200 && [ "$(cors_of)" = "$app" ] &&
	get /healthz "" -H "Origin: $app" && [ "$(cors_of)" = "$app" ]
'
test_expect 'a 401 carries it too, so that the page can read the error' '
	post /v1/chat/completions "wrong-token" "$chat" -H "Origin: $app" && expect_status 401 &&
	[ "$(cors_of)" = "$app" ]
'
test_expect 'origins compare case-insensitively, and exactly (no other port, no prefix)' '
	post /v1/chat/completions "$tok" "$chat" -H "Origin: HTTPS://APP.EXAMPLE" && [ -n "$(cors_of)" ] &&
	post /v1/chat/completions "$tok" "$chat" -H "Origin: https://app.example:8443" && expect_status 200 && no_cors &&
	post /v1/chat/completions "$tok" "$chat" -H "Origin: https://app.example.evil" && no_cors
'
test_expect 'no Origin, or an unlisted one: no CORS headers, the answer as before' '
	post /v1/chat/completions "$tok" "$chat" && expect_status 200 && no_cors &&
	post /v1/chat/completions "$tok" "$chat" -H "Origin: https://other.example" && expect_status 200 && no_cors
'
test_expect 'a preflight from a listed origin: 204, methods, headers, max age, no token needed' '
	_curl OPTIONS /v1/chat/completions "" "" -H "Origin: $app" -H "Access-Control-Request-Method: POST" \
		-H "Access-Control-Request-Headers: authorization, content-type, x-openclaw-session-key" &&
	expect_status 204 && [ "$(cors_of)" = "$app" ] && expect_header Vary Origin &&
	expect_header Access-Control-Allow-Methods POST &&
	expect_header Access-Control-Allow-Headers "Authorization, Content-Type, x-openclaw-agent-id, x-openclaw-session-key, x-openclaw-model" &&
	expect_header Access-Control-Max-Age 600 &&
	_curl OPTIONS /v1/responses/resp_x "" "" -H "Origin: $app" -H "Access-Control-Request-Method: DELETE" &&
	expect_status 204 && expect_header Access-Control-Allow-Methods DELETE
'
test_expect 'a preflight allows the headers a client asks for (the OpenAI SDK sends x-stainless-*), unless they are not header names' '
	_curl OPTIONS /v1/chat/completions "" "" -H "Origin: $app" -H "Access-Control-Request-Method: POST" \
		-H "Access-Control-Request-Headers: authorization, x-stainless-os, x-stainless-retry-count" &&
	expect_status 204 &&
	expect_header Access-Control-Allow-Headers "x-openclaw-model, authorization, x-stainless-os, x-stainless-retry-count" &&
	expect_header Vary Access-Control-Request-Headers &&
	_curl OPTIONS /v1/chat/completions "" "" -H "Origin: $app" -H "Access-Control-Request-Method: POST" \
		-H "Access-Control-Request-Headers: x-a;b=c" &&
	expect_status 204 && expect_header Access-Control-Allow-Headers "x-openclaw-model" &&
	! grep -qi "x-a;b" "$T/last.headers" && ! grep -qi "^Vary: Access-Control-Request-Headers" "$T/last.headers"
'
test_expect 'a preflight from an unlisted origin: 403 with no CORS headers' '
	_curl OPTIONS /v1/chat/completions "" "" -H "Origin: https://other.example" -H "Access-Control-Request-Method: POST" &&
	expect_status 403 && no_cors && expect_json .error.type invalid_request_error
'
test_expect 'preflights never count as failed auth (3 failures lock out here)' '
	for i in 1 2 3 4 5 6; do
		_curl OPTIONS /v1/chat/completions "" "" -H "Origin: https://other.example" || return 1
		_curl OPTIONS /v1/chat/completions "" "" -H "Origin: $app" || return 1
	done &&
	post /v1/chat/completions "$tok" "$chat" && expect_status 200
'
test_expect 'OPTIONS without an Origin: 204 with Allow; OPTIONS of an unknown path: 404' '
	_curl OPTIONS /v1/chat/completions "" "" && expect_status 204 && expect_header Allow POST && no_cors &&
	_curl OPTIONS /v1/nothing "" "" -H "Origin: $app" && expect_status 404
'
stop_stack

conf "$T/any.json5" 'cors: { allowedOrigins: ["*"] },'
start_stack "$T/any.json5"
test_expect '"*" allows every origin with Access-Control-Allow-Origin: *' '
	post /v1/chat/completions "$tok" "$chat" -H "Origin: https://anything.example" &&
	[ "$(cors_of)" = "*" ] &&
	_curl OPTIONS /v1/models "" "" -H "Origin: https://x.example" -H "Access-Control-Request-Method: GET" &&
	expect_status 204 && [ "$(cors_of)" = "*" ]
'
stop_stack

conf "$T/off.json5" ""
start_stack "$T/off.json5"
test_expect 'by default no origin is allowed: no CORS headers, preflights 403' '
	post /v1/chat/completions "$tok" "$chat" -H "Origin: $app" && expect_status 200 && no_cors &&
	_curl OPTIONS /v1/chat/completions "" "" -H "Origin: $app" -H "Access-Control-Request-Method: POST" &&
	expect_status 403 && no_cors
'
stop_stack

test_expect 'check-config refuses an origin with a path, and shows the list' '
	conf "$T/bad.json5" "cors: { allowedOrigins: [\"https://app.example/\"] }," &&
	! "$CLAWCGI_BIN" check-config "$T/bad.json5" >"$T/out" 2>&1 &&
	grep -q "allowedOrigins" "$T/out" &&
	"$CLAWCGI_BIN" check-config "$T/on.json5" >"$T/out" 2>&1 &&
	grep -q "^cors: https://app.example, http://127.0.0.1:9" "$T/out"
'
test_done
