#!/bin/sh
test_description='bearer auth: token mode, password mode, fail closed, none'
. ./lib.sh

body='{"model":"openclaw","messages":[{"role":"user","content":"hi"}]}'
start_upstream
conf() { # conf AUTH-OBJECT
	write_config "$T/clawcgi.json5" <<CONF
{
  gateway: { auth: $1, http: { endpoints: { chatCompletions: { enabled: true } } } },
  agents: { list: [ { id: "main", model: "fake/gpt-test" } ] },
  models: { providers: { fake: { api: "openai-completions", baseUrl: "@UPSTREAM@", apiKey: "sk-test-upstream" } } },
  session: { store: "@T@/sessions.db" },
}
CONF
}

export OPENCLAW_GATEWAY_TOKEN=test-token-auth
conf '{ mode: "token" }'
start_stack "$T/clawcgi.json5"

test_expect 'token from OPENCLAW_GATEWAY_TOKEN: right token is 200' '
	post /v1/chat/completions test-token-auth "$body" && expect_status 200
'
test_expect 'no Authorization header is 401 with WWW-Authenticate: Bearer' '
	post /v1/chat/completions "" "$body" && expect_status 401 &&
	expect_header WWW-Authenticate Bearer && expect_json .error.type unauthorized &&
	expect_json .error.message Unauthorized
'
test_expect 'wrong token is 401' '
	post /v1/chat/completions wrong-token "$body" && expect_status 401
'
test_expect 'a prefix of the token is 401' '
	post /v1/chat/completions test-token-aut "$body" && expect_status 401
'
test_expect 'empty Authorization header is 401' '
	post /v1/chat/completions "" "$body" -H "Authorization;" && expect_status 401
'
test_expect 'scheme is case-insensitive and spaces are trimmed' '
	post /v1/chat/completions "" "$body" -H "Authorization: bEARer   test-token-auth  " &&
	expect_status 200
'
test_expect 'Basic scheme is 401' '
	post /v1/chat/completions "" "$body" -H "Authorization: Basic dGVzdA==" && expect_status 401
'
# A shared host's Apache keeps its 8 KB LimitRequestFieldSize (.htaccess
# cannot raise it) and answers a longer header with its own 400.
big_header_status=401
[ "$SERVER" = cgi ] && big_header_status=400
test_expect "a 10 KB Authorization header is $big_header_status, and the worker lives" '
	big=$(python3 -c "print(\"x\" * 10240)") &&
	post /v1/chat/completions "$big" "$body" && expect_status $big_header_status &&
	post /v1/chat/completions test-token-auth "$body" && expect_status 200
'
test_expect 'the body is not read before auth passes (bad JSON still 401)' '
	post /v1/chat/completions wrong "not json" && expect_status 401
'
test_expect 'the gateway token never reaches the upstream' '
	post /v1/chat/completions test-token-auth "$body" && expect_status 200 &&
	! grep -q test-token-auth "$UPSTREAM_LOG"
'
stop_stack

export OPENCLAW_GATEWAY_PASSWORD=test-password-1
unset OPENCLAW_GATEWAY_TOKEN
conf '{ mode: "password" }'
start_stack "$T/clawcgi.json5"
test_expect 'password mode: the password as bearer is 200' '
	post /v1/chat/completions test-password-1 "$body" && expect_status 200
'
test_expect 'password mode: a wrong password is 401' '
	post /v1/chat/completions test-token-auth "$body" && expect_status 401
'
stop_stack
unset OPENCLAW_GATEWAY_PASSWORD

conf '{ mode: "token" }'
start_stack "$T/clawcgi.json5"
test_expect 'token mode with no token anywhere fails closed: 500, generic body' '
	post /v1/chat/completions anything "$body" && expect_status 500 &&
	expect_json .error.type api_error && ! grep -qi "OPENCLAW\|gateway.auth" "$T/last.body"
'
test_expect 'the log names the missing setting' '
	grep -q "OPENCLAW_GATEWAY_TOKEN" "$SERVER_LOG"
'
stop_stack

conf '{ mode: "none" }'
start_stack "$T/clawcgi.json5"
test_expect 'mode none: no credentials needed' '
	post /v1/chat/completions "" "$body" && expect_status 200
'
test_done
