#!/bin/sh
test_description='clawcgi log lines reach the web server error log: one line each, no secrets'
. ./lib.sh

export OPENCLAW_GATEWAY_TOKEN=test-token-logging-0a1b2c3d
export OPENAI_API_KEY=sk-made-up-logging-key-9z8y7x
tok=$OPENCLAW_GATEWAY_TOKEN
start_upstream
down=$(free_port)
write_config "$T/clawcgi.json5" <<CONF
{
  gateway: { auth: { token: "\${OPENCLAW_GATEWAY_TOKEN}" },
             http: { endpoints: { chatCompletions: { enabled: true } } } },
  agents: { list: [
    { id: "main", model: { primary: "once/error-503", fallbacks: ["nowhere/m", "fake/gpt-test"] } },
  ] },
  models: { providers: {
    fake: { api: "openai-completions", baseUrl: "@UPSTREAM@", apiKey: "\${OPENAI_API_KEY}" },
    once: { api: "openai-completions", baseUrl: "@UPSTREAM@", apiKey: "\${OPENAI_API_KEY}", retries: 0 },
    nowhere: { api: "openai-completions", baseUrl: "http://127.0.0.1:$down/v1", apiKey: "\${OPENAI_API_KEY}", retries: 0 },
  } },
  session: { store: "@T@/sessions.db" },
}
CONF
start_stack "$T/clawcgi.json5"

# the three lines one turn logs: the 503, the refused connection, the fallback
markers="once/error-503 nowhere/m served.by.fallback.fake/gpt-test"

test_expect 'a turn that falls back twice: 200, and the key reached the upstream' '
	post /v1/chat/completions "$tok" "{\"user\":\"logged\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" &&
	expect_status 200 && expect_json ".choices[0].message.content" "fake: hi" &&
	upstream_last_json .headers.authorization "Bearer $OPENAI_API_KEY"
'
test_expect "each failure and the fallback are in the $SERVER error log, while the request runs" '
	for m in $markers; do
		grep -q "$m" "$SERVER_LOG" || { echo "# no line with $m"; return 1; }
	done
'
test_expect 'one line each: no log line holds two of them' '
	for a in $markers; do
		for b in $markers; do
			[ "$a" = "$b" ] && continue
			! grep "$a" "$SERVER_LOG" | grep -q "$b" || { echo "# $a and $b on one line"; return 1; }
		done
	done
'
test_expect 'wrong tokens and a bad request: 401 and 400' '
	post /v1/chat/completions "wrong-token-logging-5e6f" "{\"messages\":[]}" && expect_status 401 &&
	post /v1/chat/completions "$tok" "{\"messages\":\"$OPENAI_API_KEY\"}" && expect_status 400
'
test_expect 'no token, key or password is in the error log' '
	grep -rn "$OPENCLAW_GATEWAY_TOKEN" "$SERVER_LOG" "$APP_LOG" $T/sanitizer* 2>/dev/null | head -n 3 | sed "s/^/# /";
	! grep -rq -e "$OPENCLAW_GATEWAY_TOKEN" -e "$OPENAI_API_KEY" -e "wrong-token-logging" "$SERVER_LOG" "$APP_LOG" $T/sanitizer* 2>/dev/null
'
test_done
