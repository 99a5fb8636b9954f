#!/bin/sh
test_description='retries and model fallbacks before any byte reached the client'
# servers: lighttpd cgi
. ./lib.sh

export OPENCLAW_GATEWAY_TOKEN=test-token-fallback
tok=$OPENCLAW_GATEWAY_TOKEN
start_upstream
down=$(free_port)
write_config "$T/clawcgi.json5" <<CONF
{
  gateway: { auth: { token: "\${OPENCLAW_GATEWAY_TOKEN}" },
             http: { endpoints: { chatCompletions: { enabled: true } } } },
  agents: { list: [
    { id: "main", model: { primary: "nowhere/m", fallbacks: ["fake/gpt-test"] } },
    { id: "busy", model: { primary: "once/error-503", fallbacks: ["fake/from-fallback"] } },
    { id: "badkey", model: { primary: "once/error-401", fallbacks: ["fake/never"] } },
    { id: "flaky", model: "fake/flaky" },
    { id: "flaky0", model: "once/flaky" },
    { id: "alldown", model: { primary: "nowhere/a", fallbacks: ["once/error-500"] } },
    { id: "shape", model: { primary: "once/error-503", fallbacks: ["echo/echo", "fake/second"] } },
    { id: "hang", model: { primary: "quick/hang", fallbacks: ["fake/never"] } },
    { id: "hangfast", model: { primary: "nowhere/x", fallbacks: ["quick/hang"] } },
  ] },
  models: { providers: {
    fake: { api: "openai-completions", baseUrl: "@UPSTREAM@", retries: 1 },
    once: { api: "openai-completions", baseUrl: "@UPSTREAM@", retries: 0 },
    nowhere: { api: "openai-completions", baseUrl: "http://127.0.0.1:$down/v1", retries: 0 },
    echo: { api: "echo" },
    quick: { api: "openai-completions", baseUrl: "@UPSTREAM@", retries: 2, timeoutSeconds: 2 },
  } },
  session: { store: "@T@/sessions.db" },
}
CONF
start_stack "$T/clawcgi.json5"
ask() { post /v1/chat/completions "$tok" "{\"model\":\"openclaw:$1\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]${2:-}}"; }

test_expect 'a primary that refuses connections is served by its fallback' '
	ask main && expect_status 200 && expect_json ".choices[0].message.content" "fake: hi" &&
	expect_json .model openclaw:main && upstream_last_json .body.model gpt-test
'
test_expect 'the log names the model that served the turn' '
	grep -q "served by fallback fake/gpt-test" "$SERVER_LOG"
'
test_expect 'a primary answering 503 is served by its fallback, streaming too' '
	n=$(upstream_count) && ask busy && expect_status 200 &&
	test "$(upstream_count)" = $((n + 2)) && upstream_last_json .body.model from-fallback &&
	stream /v1/chat/completions "$tok" "{\"model\":\"openclaw:busy\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"s\"}]}" &&
	expect_status 200 && python3 "$LIBDIR/sse_check.py" "$T/stream.txt" --content "fake: s" --finish stop
'
test_expect 'a 401 from the primary does not fall through: 502 with its message' '
	n=$(upstream_count) && ask badkey && expect_status 502 &&
	expect_body_contains "Incorrect API key" && test "$(upstream_count)" = $((n + 1))
'
test_expect 'retries: a 503 then a success, within one model' '
	n=$(upstream_count) && ask flaky && expect_status 200 && test "$(upstream_count)" = $((n + 2))
'
test_expect 'retries: 0 means one attempt (the 503 is reported, the next call works)' '
	ask flaky0 && expect_status 502 && expect_body_contains "try again" &&
	ask flaky0 && expect_status 200
'
test_expect 'every model failing: the last error' '
	ask alldown && expect_status 502 && expect_body_contains "fake upstream exploded"
'
test_expect 'a fallback whose kind cannot give the asked shape (n: 2) is skipped, with a warning' '
	ask shape ",\"n\":2" && expect_status 200 && upstream_last_json .body.model second &&
	expect_json ".choices[2]" "(absent)" && expect_json ".choices[1].message.content" "fake: hi (choice 1)" &&
	grep -q "fallback echo/echo skipped" "$SERVER_LOG" &&
	ask shape && expect_status 200 && expect_json ".choices[0].message.content" "hi"
'
test_expect 'timeoutSeconds bounds the whole request: a hung model is not tried again, its fallback gets no time left' '
	n=$(upstream_count) && t0=$(date +%s%N) && ask hang && t1=$(date +%s%N) &&
	expect_status 504 && expect_body_contains "after 2 s" &&
	ms=$(( (t1 - t0) / 1000000 )) && echo "# 504 after $ms ms" &&
	test "$ms" -ge 1800 && test "$ms" -lt 3500 &&
	test "$(upstream_count)" = $((n + 1)) && upstream_last_json .body.model hang
'
test_expect 'a fast failure leaves the fallback the rest of the time' '
	n=$(upstream_count) && ask hangfast && expect_status 504 && expect_body_contains "after 2 s" &&
	test "$(upstream_count)" = $((n + 1))
'
test_done
