#!/bin/sh
test_description='failed-auth throttling shared by every worker process'
# stores: sqlite postgresql
. ./lib.sh

export OPENCLAW_GATEWAY_TOKEN=test-token-throttle
tok=$OPENCLAW_GATEWAY_TOKEN
body='{"messages":[{"role":"user","content":"hi"}]}'
write_config "$T/clawcgi.json5" <<'CONF'
{
  gateway: { auth: { token: "${OPENCLAW_GATEWAY_TOKEN}",
                     rateLimit: { maxAttempts: 10, windowMs: 60000, lockoutMs: 20000, exemptLoopback: false } },
             http: { endpoints: { chatCompletions: { enabled: true } } } },
  agents: { list: [ { id: "main", model: "echo/echo" } ] },
  models: { providers: { echo: { api: "echo" } } },
  session: { store: "@STORE@" },
}
CONF
start_stack "$T/clawcgi.json5"
cgi() { # a separate clawcgi process (CGI), as another worker would be
	printf '%s' "$body" | env -i GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=POST \
		SCRIPT_NAME=/v1/chat/completions REMOTE_ADDR=127.0.0.1 CONTENT_LENGTH=${#body} \
		HTTP_AUTHORIZATION="Bearer $1" OPENCLAW_GATEWAY_TOKEN=$tok \
		CLAWCGI_CONFIG="$T/clawcgi.json5" "$CLAWCGI_BIN"
}

test_expect '9 wrong tokens are 401 each, and the right one still works' '
	for i in 1 2 3 4 5 6 7 8 9; do post /v1/chat/completions wrong-$i "$body" && expect_status 401 || return 1; done &&
	post /v1/chat/completions "$tok" "$body" && expect_status 200
'
test_expect 'the 10th failure locks the address out: 429 rate_limited with Retry-After' '
	post /v1/chat/completions wrong-10 "$body" && expect_status 401 &&
	post /v1/chat/completions wrong-11 "$body" && expect_status 429 &&
	expect_json .error.type rate_limited &&
	expect_json .error.message "Too many failed authentication attempts. Please try again later." &&
	{ expect_header Retry-After 20 || expect_header Retry-After 19; }
'
test_expect 'a right token does not lift the lockout, in any worker process' '
	for i in 1 2 3 4; do post /v1/chat/completions "$tok" "$body" && expect_status 429 || return 1; done
'
test_expect 'another clawcgi process sees the same lockout' '
	cgi "$tok" >"$T/cgi.out" && grep -q "^Status: 429" "$T/cgi.out" && grep -q "^Retry-After: " "$T/cgi.out"
'
# The lockout is long enough for the checks above on a loaded machine; its
# end is awaited as the last 429 said (Retry-After rounds up).
test_expect 'the lockout ends after lockoutMs' '
	wait_s=$(sed -n "s/^Retry-After: \([0-9]*\).*/\1/p" "$T/cgi.out") &&
	test -n "$wait_s" && sleep "$wait_s.2" && post /v1/chat/completions "$tok" "$body" && expect_status 200
'
test_expect 'requests with no Authorization header are 401 but tried no secret: not counted' '
	for i in 1 2 3 4 5 6 7 8 9 10 11 12; do post /v1/chat/completions "" "$body" && expect_status 401 || return 1; done &&
	post /v1/chat/completions "$tok" "$body" && expect_status 200
'
test_expect 'failures counted by several processes add up' '
	for i in 1 2 3 4 5; do cgi wrong >/dev/null || return 1; done &&
	for i in 1 2 3 4 5; do post /v1/chat/completions wrong "$body" || return 1; done &&
	post /v1/chat/completions "$tok" "$body" && expect_status 429
'
test_expect 'the throttle table stays small' '
	test "$(store_value "select count(*) from auth_failures")" -le 1
'
test_done
